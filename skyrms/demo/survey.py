"""Embedded demo survey imitating the 7-Dimensional Telescope (7DT), with a truth table.

:func:`write` creates, under a root folder, calibrated science frames and the master bias, dark
and flat frames they were calibrated with, laid out and labelled like the real survey:

* ``scidata/7DT/7DT_C361K_HIGH_1x1/{object}/{unit}/{filter}/calib_{unit}_{object}_{date}_{time}_
  {filter}_{exptime}.fits``
* ``calib/7DT/7DT_C361K_HIGH_1x1/{unit}/{BIAS,DARK,FLAT}/{bias,dark,flat}_{unit}_{date}[...].fits``
* ``truth/frames.tsv`` and ``truth/stars/{frame stem}.tsv``
* ``demo.json``, the stamp ``{"shape": [ny, nx], "seed": seed, "version": DEMO_VERSION}`` written
  last, by which :func:`ensure` knows a complete survey of that shape, seed and version is there.

Master biases and darks are in ADU; master darks are bias-subtracted with the master bias of their
unit and night. Master flats are dimensionless (mean about 1) with a second HDU ``ERR``: the
1-sigma error of the master flat per pixel.

There are 18 science frames: one per (night, object, unit, filter), 100 s except r on the
second night (60 s), each calibrated with the dark of its own exposure time; and one 30 s m600
frame of T00528 per unit on the second night (``..._m600_30.fits``), calibrated with the 60 s dark
scaled by 0.5 since the library holds no 30 s dark (see :func:`frame_masters`).
:func:`ensure` writes the survey only when it is missing or stale.

Each science frame is simulated as it was really made (see :mod:`skyrms.demo.physics`): a raw frame
of sky + stars (+ a galaxy in one field) through the true flat, with shot, dark and read noise,
calibrated with the masters written for its unit. :func:`true_sky`, :func:`true_sigma`,
:func:`true_galaxy` and :func:`stars` give the truth to test products against.

Randomness: the ``seed`` drives the noise of every frame (``default_rng([seed, frame.index])``)
and master (``default_rng([seed, 100 + position in the plan])``), the star catalogues and the
seconds of the science exposure times (``default_rng([seed, 300])``, and ``[seed, 301]`` for the
short frames). The instrument and the observing conditions (flat field, bias level, sky shape
and level, seeing, dither) are fixed, so the truth functions need no seed.
Camera: C361K in HIGH mode, 1x1 binning, 0.505 arcsec/px; ``GAIN`` is the camera setting (2750),
``EGAIN`` the electrons per ADU.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skyrms.demo import physics
from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import atomic_path, atomic_write, write_float_map
from skyrms.io.header_values import mjd_of_datetime
from skyrms.io.tables import write_tsv

DEMO_VERSION = 2  # bumped whenever the written files change for a given shape and seed
STAMP = "demo.json"
DEFAULT_SHAPE = (683, 1024)
FULL_SHAPE = (6388, 9576)

OBSERVATORY = "7DT"
CAMERA = "C361K"
TELKEY = f"{OBSERVATORY}_{CAMERA}_HIGH_1x1"
PIXEL_SCALE = 0.505  # arcsec/px
GAIN_SETTING = 2750  # camera gain setting of the HIGH mode (header GAIN), not e-/ADU
DETECTOR = physics.Detector(egain=0.2561, read_noise=6.0, dark_current=0.0008)
SATURATE = 60000.0  # ADU
UNITS = ("7DT02", "7DT05")
FILTERS = ("m600", "r")
NIGHTS = ("2025-11-20", "2025-11-22")
FLAT_DATE = "2025-11-19"  # the flats the science frames are calibrated with
TILES = {"T00528": (121.3635, -42.1167), "T01462": (49.2125, -27.6500)}  # centre RA, Dec (deg)
CROWDED_OBJECT = "T00528"
SHORT = {"night": NIGHTS[1], "object": CROWDED_OBJECT, "filter": "m600", "exptime": 30.0}

GALAXY = {"object": "T01462", "ra": 49.2235, "dec": -27.6561, "radius_arcsec": 32.0}

BIAS_LEVEL = {"7DT02": 502.4, "7DT05": 497.1}  # ADU
SKY_100S = {"m600": 300.0, "r": 1500.0}  # mean calibrated sky (ADU) in 100 s, typical night
THROUGHPUT = {"m600": 1.0, "r": 5.0}  # star and galaxy flux relative to m600 at equal exptime
UNRECORDED_NCOMBINE = 7  # frames averaged into a master whose header lacks NCOMBINE
FLAT_COUNTS = 20000.0  # e- per pixel in each flat frame

PSF_BETA = 3.0
STAR_DENSITY = 150 / (683 * 1024)  # stars per px^2 in the normal field (x3 in the crowded one)
STAR_FLOOR = 0.5  # ADU/px: stars are rendered until their PSF falls below this
STAR_MAX_HALFSIZE = 96  # px
_PEAK_RANGE = (40.0, 2.0e6)  # peak (ADU) of catalogue stars in m600, 100 s, FWHM 4 px
_PEAK_SLOPE = 0.45  # N(> peak) ~ peak ** -0.45
_COLOUR_SCATTER = 0.3  # rms of ln(r flux / (5 m600 flux)) over stars
_CATALOGUE_MARGIN = 120  # px around the frame where catalogue stars are placed

_GALAXY_DISK = {"central": 250.0, "scale": 8.0, "axis_ratio": 0.45, "pa_deg": 35.0}  # m600, 100 s
_GALAXY_HALFSIZE = 150  # px, 9.5 scale lengths

_VIGNETTING = {"m600": 0.04, "r": 0.05}  # fractional light loss in the corners
_OPTICAL_AXIS = {"7DT02": (0.03, -0.02), "7DT05": (-0.04, 0.01)}  # offset / frame width
_PRNU = 0.015  # pixel-to-pixel response rms
_ROTATION_DEG = {"7DT02": 0.15, "7DT05": -0.28}  # camera angle on the sky
_FIXED = 20251120  # RNG key of the fixed instrument and conditions


@dataclass(frozen=True)
class DemoFrame:
    """One calibrated science frame of the plan (exptime in s, date_obs ISO UTC)."""

    relpath: str
    observatory: str
    telkey: str
    object: str
    unit: str
    filter: str
    exptime: float
    date_obs: str
    ncombine: int | None  # None: keyword absent (a single exposure)
    index: int
    crowded: bool


@dataclass(frozen=True)
class DemoMaster:
    """One master calibration frame (exptime in s for darks, filter for flats, else None)."""

    relpath: str
    imagetyp: str
    observatory: str
    telkey: str
    unit: str
    date_obs: str
    exptime: float | None
    filter: str | None
    ncombine: int | None  # None: keyword absent (UNRECORDED_NCOMBINE frames were averaged)


@dataclass(frozen=True)
class _Conditions:
    """Observing conditions of one frame: dither (arcsec), sky shape, seeing FWHM (px)."""

    east: float
    north: float
    sky_factor: float
    gradient: float
    angle: float
    curvature: float
    fwhm: float


# --- plan -----------------------------------------------------------------------------------------


def plan(seed: int = 7) -> tuple[list[DemoFrame], list[DemoMaster]]:
    """The science frames (18) and masters (22) of the demo; pure and independent of shape.

    Frames 0-15 cover every (night, object, unit, filter); frames 16 and 17 are the short frames
    (see :func:`_short_frames`).
    """
    return _frames(seed), _masters()


def output_relpaths(seed: int = 7) -> list[str]:
    """Every file :func:`write` creates, relative to its root, sorted."""
    frames, masters = plan(seed)
    paths = [f.relpath for f in frames] + [m.relpath for m in masters]
    paths += ["truth/frames.tsv", STAMP] + [_stars_relpath(f) for f in frames]
    return sorted(paths)


def _frames(seed):
    """Science frames: every (night, object, unit, filter), r on the second night 60 s, the rest
    100 s; then the short frames."""
    rng = np.random.default_rng([seed, 300])
    frames = []
    for night in NIGHTS:
        for o, obj in enumerate(TILES):
            start = datetime.fromisoformat(night) + timedelta(
                hours=2 + 2 * o, minutes=int(rng.integers(0, 50)), seconds=int(rng.integers(0, 60))
            )
            for u, unit in enumerate(UNITS):
                when = start + timedelta(seconds=11 * u + int(rng.integers(0, 10)))
                for filt in FILTERS:
                    exptime = 60.0 if (night == NIGHTS[1] and filt == "r") else 100.0
                    ncombine = _science_ncombine(night, obj, unit)
                    frames.append(_frame(obj, unit, filt, exptime, when, ncombine, len(frames)))
                    pause = 90 + int(rng.integers(0, 30))
                    when += timedelta(seconds=exptime * (ncombine or 1) + pause)
    return frames + _short_frames(seed, frames)


def _short_frames(seed, frames):
    """One extra frame per unit of ``SHORT["exptime"]`` (30 s) in ``SHORT["filter"]`` (m600) of
    ``SHORT["object"]`` (T00528) on ``SHORT["night"]`` (2025-11-22), started 90-119 s after the
    end of the unit's last frame of that object and night (a second later while another frame
    starts at that second); a single exposure (NCOMBINE = 1).

    The library holds no dark of that exposure time, so these frames were calibrated with the
    60 s dark of their night scaled by k = 0.5 (see :func:`frame_masters`): they exercise the
    (1 - k)**2 bias term of :func:`true_sigma`. They take the next indices, so the frames before
    them keep their noise and conditions.
    """
    rng = np.random.default_rng([seed, 301])
    short = []
    for unit in UNITS:
        last = [
            f
            for f in frames
            if (f.date_obs[:10], f.object, f.unit) == (SHORT["night"], SHORT["object"], unit)
        ][-1]
        when = datetime.fromisoformat(last.date_obs) + timedelta(
            seconds=last.exptime * (last.ncombine or 1) + 90 + int(rng.integers(0, 30))
        )
        taken = {f.date_obs for f in frames + short}
        while when.isoformat(timespec="seconds") in taken:  # keep DATE-OBS unique
            when += timedelta(seconds=1)
        index = len(frames) + len(short)
        short.append(
            _frame(SHORT["object"], unit, SHORT["filter"], SHORT["exptime"], when, 1, index)
        )
    return short


def _science_ncombine(night, obj, unit):
    """NCOMBINE of a science frame: absent on 7DT05's first night, 3-frame stacks of T01462 on
    the second night, else 1."""
    if unit == "7DT05" and night == NIGHTS[0]:
        return None
    return 3 if (obj == GALAXY["object"] and night == NIGHTS[1]) else 1


def _frame(obj, unit, filt, exptime, when, ncombine, index):
    stamp = when.strftime("%Y%m%d_%H%M%S")
    name = f"calib_{unit}_{obj}_{stamp}_{filt}_{exptime:.0f}.fits"
    return DemoFrame(
        relpath=f"scidata/{OBSERVATORY}/{TELKEY}/{obj}/{unit}/{filt}/{name}",
        observatory=OBSERVATORY,
        telkey=TELKEY,
        object=obj,
        unit=unit,
        filter=filt,
        exptime=exptime,
        date_obs=when.isoformat(timespec="seconds"),
        ncombine=ncombine,
        index=index,
        crowded=obj == CROWDED_OBJECT,
    )


_BIAS_DATES = ("2025-10-21",) + NIGHTS  # one 30 days before the first night
_FLAT_DATES = ("2025-10-10", FLAT_DATE)  # one 40 days before FLAT_DATE
_NO_NCOMBINE = {  # masters whose header lacks NCOMBINE: (type, unit, date, exptime or filter)
    ("BIAS", "7DT02", "2025-10-21", None),
    ("BIAS", "7DT05", "2025-11-22", None),
    ("DARK", "7DT02", "2025-11-20", 60.0),
    ("DARK", "7DT05", "2025-11-22", 100.0),
    ("FLAT", "7DT02", "2025-10-10", "r"),
    ("FLAT", "7DT05", "2025-10-10", "r"),
    ("FLAT", "7DT02", FLAT_DATE, "r"),
}
_NCOMBINE = {"BIAS": 15, "DARK": 9, "FLAT": 11}


def _masters():
    """Masters per unit: 3 biases, darks of 60 and 100 s per night, 2 flats per filter."""
    masters = []
    for u, unit in enumerate(UNITS):
        for date in _BIAS_DATES:
            masters.append(_master("BIAS", unit, f"{date}T10:02:{10 + u:02d}", None, None))
        for date in NIGHTS:
            for k, exptime in enumerate((60.0, 100.0)):
                when = f"{date}T10:{20 + 25 * k:02d}:{30 + u:02d}"
                masters.append(_master("DARK", unit, when, exptime, None))
        for date in _FLAT_DATES:
            for k, filt in enumerate(FILTERS):
                when = f"{date}T08:{41 + 3 * k:02d}:{5 + u:02d}"
                masters.append(_master("FLAT", unit, when, None, filt))
    return masters


def _master(imagetyp, unit, date_obs, exptime, filt):
    date = date_obs[:10]
    name = f"{imagetyp.lower()}_{unit}_{date.replace('-', '')}"
    name += f"_{exptime:.0f}s" if exptime is not None else ""
    name += f"_{filt}" if filt is not None else ""
    absent = (imagetyp, unit, date, exptime if imagetyp == "DARK" else filt) in _NO_NCOMBINE
    return DemoMaster(
        relpath=f"calib/{OBSERVATORY}/{TELKEY}/{unit}/{imagetyp}/{name}.fits",
        imagetyp=imagetyp,
        observatory=OBSERVATORY,
        telkey=TELKEY,
        unit=unit,
        date_obs=date_obs,
        exptime=exptime,
        filter=filt,
        ncombine=None if absent else _NCOMBINE[imagetyp],
    )


def frame_masters(frame: DemoFrame, masters: list[DemoMaster] | None = None):
    """The (bias, dark, flat) masters ``frame`` was calibrated with (from ``masters``, default
    the plan's).

    All of the frame's unit: the bias of the frame's night (UTC date of DATE-OBS); the dark of
    that night with the frame's exposure time or, if the night has none (the 30 s short frames),
    the shortest dark of that night that is longer (60 s), scaled by k = exptime / t_dark < 1 in
    the calibration; the flat of the frame's filter from FLAT_DATE.
    """
    masters = _masters() if masters is None else masters
    night = frame.date_obs[:10]

    def pick(imagetyp, date, exptime=None, filt=None):
        (found,) = (
            m
            for m in masters
            if (m.imagetyp, m.unit, m.date_obs[:10], m.exptime, m.filter)
            == (imagetyp, frame.unit, date, exptime, filt)
        )
        return found

    dark_times = {
        m.exptime
        for m in masters
        if (m.imagetyp, m.unit, m.date_obs[:10]) == ("DARK", frame.unit, night)
    }
    if frame.exptime in dark_times:
        dark_exptime = frame.exptime
    else:
        dark_exptime = min(t for t in dark_times if t > frame.exptime)
    return (
        pick("BIAS", night),
        pick("DARK", night, exptime=dark_exptime),
        pick("FLAT", FLAT_DATE, filt=frame.filter),
    )


def _stars_relpath(frame):
    return f"truth/stars/{Path(frame.relpath).stem}.tsv"


# --- truth ----------------------------------------------------------------------------------------


def _conditions(frame):
    """Fixed observing conditions of a frame (independent of seed and shape)."""
    rng = np.random.default_rng([_FIXED, 1000 + frame.index])
    return _Conditions(
        east=rng.uniform(-8, 8),
        north=rng.uniform(-8, 8),
        sky_factor=rng.uniform(0.9, 1.15),
        gradient=rng.uniform(0.05, 0.10),
        angle=rng.uniform(0, 2 * np.pi),
        curvature=rng.choice([-1, 1]) * rng.uniform(0.02, 0.05),
        fwhm=rng.uniform(3.7, 4.4),
    )


def _sky(frame, shape, x, y):
    """Sky of ``frame`` (calibrated ADU) at pixel centres ``(x, y)``."""
    c = _conditions(frame)
    level = SKY_100S[frame.filter] * frame.exptime / 100 * c.sky_factor
    return physics.smooth_sky(x, y, shape, level, c.gradient, c.angle, c.curvature)


def true_sky(frame: DemoFrame, shape) -> np.ndarray:
    """True sky of the calibrated frame, float64 (ny, nx), ADU.

    A linear gradient of 5-10 % across the frame width plus a 2-5 % bowl around a mean of
    ``SKY_100S[filter] * exptime / 100`` times a night factor of 0.9-1.15.
    """
    ny, nx = shape
    return _sky(frame, shape, np.arange(nx)[None, :], np.arange(ny)[:, None])


def true_sigma(frame: DemoFrame, shape) -> np.ndarray:
    """True noise std (ADU) of a sky-only pixel of the calibrated frame, float64 (ny, nx).

    With S = true_sky (ADU), F the true flat of the unit and filter, t = EXPTIME (s), g = EGAIN
    (e-/ADU), D = 0.0008 e-/s dark current, r = 6.0 e- read noise, t_dark the exposure time of
    the dark used (:func:`frame_masters`), k = t / t_dark (1, or 0.5 for the 30 s short
    frames), n the frames averaged in the science stack (NCOMBINE, 1 if absent), N_b, N_d, N_f
    those of the master bias, dark and flat (NCOMBINE, UNRECORDED_NCOMBINE if absent) and
    Q = FLAT_COUNTS e-. The master dark was bias-subtracted with the same master bias B that
    calibrates the frame, so the calibrated frame is (R - (1 - k) B - k Dmean) / flat and

        sigma**2 = [(F S g + D t + r**2) / n + (1 - k)**2 r**2 / N_b
                    + k**2 (D t_dark + r**2) / N_d] / (g F)**2  +  S**2 / (N_f Q F)   [ADU^2]

    (see :func:`skyrms.demo.physics.calibrated_sigma`).
    """
    bias, dark, flat = frame_masters(frame)
    return physics.calibrated_sigma(
        true_sky(frame, shape),
        _true_flat(frame.unit, frame.filter, tuple(shape)),
        frame.exptime,
        DETECTOR,
        nsub=frame.ncombine or 1,
        nbias=_master_count(bias),
        ndark=_master_count(dark),
        dark_exptime=dark.exptime,
        nflat=_master_count(flat),
        flat_counts=FLAT_COUNTS,
    )


def _master_count(master):
    return master.ncombine or UNRECORDED_NCOMBINE


@functools.lru_cache(maxsize=2)
def _true_flat(unit, filt, shape):
    """True flat (mean 1, read-only) of ``unit`` in ``filt``: vignetting times pixel response.

    The pixel response is the unit's, the same in every filter; the vignetting depends on both.
    """
    ny, nx = shape
    dx, dy = _OPTICAL_AXIS[unit]
    centre = ((nx - 1) / 2 + dx * nx, (ny - 1) / 2 + dy * nx)
    rng = np.random.default_rng([_FIXED, 2000 + UNITS.index(unit)])
    flat = physics.flat_field(shape, _VIGNETTING[filt], centre, _PRNU, rng)
    flat.flags.writeable = False
    return flat


def _flux_scale(frame):
    """Flux of a source in ``frame`` relative to m600 in 100 s."""
    return THROUGHPUT[frame.filter] * frame.exptime / 100


def _tan_cards(ra, dec, shape, rotation_deg):
    """TAN WCS cards: CRVAL (ra, dec) deg at the frame centre, 0.505"/px, RA increasing left."""
    ny, nx = shape
    scale, rot = PIXEL_SCALE / 3600, np.radians(rotation_deg)
    cards = [
        ("WCSAXES", 2, "number of WCS axes"),
        ("CTYPE1", "RA---TAN", "gnomonic projection"),
        ("CTYPE2", "DEC--TAN", "gnomonic projection"),
        ("CUNIT1", "deg", ""),
        ("CUNIT2", "deg", ""),
        ("CRVAL1", round(float(ra), 8), "[deg] RA at the reference pixel"),
        ("CRVAL2", round(float(dec), 8), "[deg] Dec at the reference pixel"),
        ("CRPIX1", (nx + 1) / 2, "reference pixel (1-based): frame centre"),
        ("CRPIX2", (ny + 1) / 2, "reference pixel (1-based): frame centre"),
        ("CD1_1", -scale * np.cos(rot), "[deg/px]"),
        ("CD1_2", scale * np.sin(rot), "[deg/px]"),
        ("CD2_1", scale * np.sin(rot), "[deg/px]"),
        ("CD2_2", scale * np.cos(rot), "[deg/px]"),
        ("RADESYS", "ICRS", ""),
    ]
    return fits.Header(cards)


def _frame_wcs_cards(frame, shape):
    """WCS of a frame: tile centre plus the frame's dither, camera angle of its unit."""
    c = _conditions(frame)
    ra, dec = TILES[frame.object]
    ra += c.east / 3600 / np.cos(np.radians(dec))
    dec += c.north / 3600
    return _tan_cards(ra, dec, shape, _ROTATION_DEG[frame.unit])


def frame_wcs(frame: DemoFrame, shape) -> WCS:
    """The WCS written in the header of ``frame`` at ``shape``."""
    return WCS(_frame_wcs_cards(frame, shape))


def _catalogue(obj, shape, seed):
    """Stars of a tile: RA, Dec (deg), m600 100 s flux at FWHM 4 px (ADU), r/m600 colour factor.

    Uniform over the frame area plus a margin (to cover dithers and stamps), so the number of
    stars scales with the frame area; peaks follow a truncated power law N(> peak) ~ peak^-0.45,
    drawn by stratified sampling (one star per quantile bin) so that every frame gets its share
    of bright stars.
    """
    rng = np.random.default_rng([seed, 200 + list(TILES).index(obj)])
    ny, nx = shape
    m = _CATALOGUE_MARGIN
    density = STAR_DENSITY * (3 if obj == CROWDED_OBJECT else 1)
    n = rng.poisson(density * (nx + 2 * m) * (ny + 2 * m))
    x = rng.uniform(-m - 0.5, nx - 0.5 + m, n)
    y = rng.uniform(-m - 0.5, ny - 0.5 + m, n)
    low, high = _PEAK_RANGE
    span = 1 - (high / low) ** -_PEAK_SLOPE
    quantile = (np.arange(n) + rng.uniform(0, 1, n)) / n
    peak = low * (1 - quantile * span) ** (-1 / _PEAK_SLOPE)
    colour = np.exp(_COLOUR_SCATTER * rng.standard_normal(n))
    ra, dec = WCS(_tan_cards(*TILES[obj], shape, 0.0)).wcs_pix2world(x, y, 0)
    flux = peak / physics.moffat_value(0.0, 1.0, 4.0, PSF_BETA)
    return ra, dec, flux, colour


_STAR_DTYPE = [
    ("x", "f8"),
    ("y", "f8"),
    ("peak", "f8"),
    ("flux", "f8"),
    ("saturated", "?"),
    ("halfsize", "i4"),
]


def stars(frame: DemoFrame, shape, seed: int = 7) -> np.ndarray:
    """Stars that add light to ``frame``: a structured array, one row per star.

    x, y: centre (px, 0-based, SEP/numpy convention); flux: total (ADU) in the calibrated frame;
    peak: its brightest in-frame pixel (ADU above sky, before clipping); saturated: peak + sky
    there reach SATURATE, so that pixel reads SATURATE; halfsize: half size (px) of the square
    stamp centred on (rint(x), rint(y)) the star was rendered on; outside it the star adds
    nothing. Includes stars centred just off the frame whose stamps reach into it.
    """
    ra, dec, flux, colour = _catalogue(frame.object, shape, seed)
    x, y = frame_wcs(frame, shape).wcs_world2pix(ra, dec, 0)
    flux = flux * _flux_scale(frame) * (colour if frame.filter == "r" else 1.0)
    fwhm = _conditions(frame).fwhm
    half = physics.moffat_halfsize(flux, fwhm, PSF_BETA, STAR_FLOOR, STAR_MAX_HALFSIZE)
    ny, nx = shape
    ci, cj = np.rint(x), np.rint(y)
    keep = (ci + half >= 0) & (ci - half <= nx - 1) & (cj + half >= 0) & (cj - half <= ny - 1)
    x, y, flux, half = x[keep], y[keep], flux[keep], half[keep]
    i, j = physics.nearest_pixel(x, y, shape)
    peak = physics.moffat_value((i - x) ** 2 + (j - y) ** 2, flux, fwhm, PSF_BETA)
    table = np.zeros(len(x), dtype=_STAR_DTYPE)
    table["x"], table["y"], table["peak"], table["flux"], table["halfsize"] = x, y, peak, flux, half
    table["saturated"] = peak + _sky(frame, shape, i, j) >= SATURATE
    return table


def true_galaxy(frame: DemoFrame, shape) -> np.ndarray:
    """The galaxy's light in the calibrated frame (ADU, float64 (ny, nx); zero in other fields).

    An inclined exponential disk (scale length 8", axis ratio 0.45, PA 35 deg, central surface
    brightness 250 ADU/px in m600 in 100 s, scaled like the stars) at GALAXY["ra"], GALAXY["dec"],
    convolved with the frame's Moffat PSF.
    """
    image = np.zeros(shape)
    if frame.object == GALAXY["object"]:
        wcs = frame_wcs(frame, shape)
        x0, y0 = wcs.wcs_world2pix(GALAXY["ra"], GALAXY["dec"], 0)
        disk = dict(_GALAXY_DISK, central=_GALAXY_DISK["central"] * _flux_scale(frame))
        fwhm = _conditions(frame).fwhm
        cd = wcs.wcs.cd * 3600
        physics.add_galaxy(image, float(x0), float(y0), cd, disk, fwhm, PSF_BETA, _GALAXY_HALFSIZE)
    return image


# --- pixels ---------------------------------------------------------------------------------------


def _master_pixels(master, position, shape, seed, biases):
    """Pixels of the master at ``position`` in the plan, as written: float32, ADU (flats:
    dimensionless).

    ``biases`` maps (unit, date) to the pixels of the master biases already made; a dark is the
    mean of its raw darks minus the bias of its unit and night from there (exactly the array
    written to that bias file).
    """
    rng = np.random.default_rng([seed, 100 + position])
    n = _master_count(master)
    if master.imagetyp == "BIAS":
        pixels = physics.master_bias(shape, BIAS_LEVEL[master.unit], DETECTOR, n, rng)
    elif master.imagetyp == "DARK":
        bias = biases[master.unit, master.date_obs[:10]]
        level = BIAS_LEVEL[master.unit]
        pixels = physics.master_dark(bias, level, master.exptime, DETECTOR, n, rng)
    else:
        flat = _true_flat(master.unit, master.filter, tuple(shape))
        pixels = physics.master_flat(flat, n, FLAT_COUNTS, rng)
    return np.asarray(pixels, dtype=np.float32)


def flat_error(master: DemoMaster, shape) -> np.ndarray:
    """The ``ERR`` HDU of a master flat: its 1-sigma error per pixel, dimensionless like the flat,
    float32 (ny, nx).

    ``sqrt(F / (N_f * FLAT_COUNTS))`` with F the true flat of the unit and filter and N_f the
    frames averaged (NCOMBINE, UNRECORDED_NCOMBINE if absent): the shot noise of the flat
    frames, the only noise the demo gives a master flat (:func:`skyrms.demo.physics.master_flat`).
    """
    flat = _true_flat(master.unit, master.filter, tuple(shape))
    error = physics.master_flat_error(flat, _master_count(master), FLAT_COUNTS)
    return error.astype(np.float32)


def _calibrated_frame(root, frame, shape, seed, star_table):
    """Calibrated science pixels (ADU): exposed raw frame minus the written masters, clipped."""
    model = true_sky(frame, shape) + true_galaxy(frame, shape)
    s = star_table
    fwhm = _conditions(frame).fwhm
    physics.add_moffat_stars(model, s["x"], s["y"], s["flux"], s["halfsize"], fwhm, PSF_BETA)
    flat = _true_flat(frame.unit, frame.filter, tuple(shape))
    rng = np.random.default_rng([seed, frame.index])
    bias_level = BIAS_LEVEL[frame.unit]
    raw = physics.expose(model, flat, bias_level, frame.exptime, DETECTOR, frame.ncombine or 1, rng)
    masters = frame_masters(frame)
    bias, dark, mflat = (_read(root / m.relpath) for m in masters)
    cal = physics.calibrate(raw, bias, dark, masters[1].exptime, mflat, frame.exptime)
    return physics.saturate(cal, model, SATURATE)


def _read(path):
    return fits.getdata(path).astype(np.float64)


# --- files ----------------------------------------------------------------------------------------


def write(root, shape=DEFAULT_SHAPE, seed: int = 7) -> None:
    """Write the whole demo survey (masters, science frames, truth tables) under ``root``.

    Any stamp ``demo.json`` is removed first and written last, so an interrupted write leaves no
    stamp. Files of the survey are replaced in place (atomically, one by one); other files under
    ``root`` are left alone.
    """
    root = Path(root)
    shape = tuple(int(n) for n in shape)
    (root / STAMP).unlink(missing_ok=True)
    frames, masters = plan(seed)
    biases = {}
    for position, master in enumerate(masters):
        pixels = _master_pixels(master, position, shape, seed, biases)
        header = _master_header(master)
        if master.imagetyp == "BIAS":
            biases[master.unit, master.date_obs[:10]] = pixels
        if master.imagetyp == "FLAT":
            _write_flat(root / master.relpath, pixels, header, flat_error(master, shape))
        else:
            write_float_map(root / master.relpath, pixels, header, checksum=False, lossy=False)
    rows = {}
    for frame in sorted(frames, key=lambda f: (f.unit, f.filter, f.index)):
        table = stars(frame, shape, seed)
        pixels = _calibrated_frame(root, frame, shape, seed, table)
        header = _frame_header(frame, shape)
        write_float_map(root / frame.relpath, pixels, header, checksum=False, lossy=False)
        write_tsv(root / _stars_relpath(frame), _star_rows(table))
        rows[frame.index] = _truth_row(frame, shape, table)
    header = ["relpath", "object", "unit", "filter", "exptime", "sky_median", "noise"]
    header += ["n_stars", "n_saturated"]
    write_tsv(root / "truth/frames.tsv", [header] + [rows[k] for k in sorted(rows)])
    with atomic_path(root / STAMP) as tmp:
        tmp.write_text(json.dumps(_stamp(shape, seed)) + "\n")


def ensure(root, shape=DEFAULT_SHAPE, seed: int = 7) -> bool:
    """Write the demo survey under ``root`` unless it is already there; True if it wrote.

    It is there if the stamp ``root/demo.json`` records this shape, seed and DEMO_VERSION (one
    JSON read). Once written, the survey is data like any other: files removed or added by
    hand stay so, as a sync would leave them. Otherwise the files the stamp's survey had and
    this one has not (other seeds name the frames differently) are removed, then :func:`write`
    rewrites everything, stamp last.
    """
    root = Path(root)
    shape = tuple(int(n) for n in shape)
    old = _read_stamp(root)
    if old == _stamp(shape, seed):
        return False
    relpaths = output_relpaths(seed)
    if old is not None and isinstance(old.get("seed"), int):
        for stale in set(output_relpaths(old["seed"])) - set(relpaths):
            (root / stale).unlink(missing_ok=True)
    write(root, shape, seed)
    return True


def _stamp(shape, seed):
    return {"shape": [int(n) for n in shape], "seed": int(seed), "version": DEMO_VERSION}


def _read_stamp(root):
    """The stamp under ``root`` as a dict, or None if it is missing or unreadable."""
    try:
        stamp = json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def _write_flat(path, flat, header, error):
    """Write a master flat: primary HDU the flat, image extension ``ERR`` its 1-sigma error."""
    err_header = fits.Header([("COMMENT", "1-sigma error of the master flat per pixel")])
    hdus = [
        fits.PrimaryHDU(np.asarray(flat, dtype=np.float32), header),
        fits.ImageHDU(np.asarray(error, dtype=np.float32), err_header, name=kw.ERROR_EXTENSION),
    ]
    atomic_write(fits.HDUList(hdus), path, checksum=False)


def _truth_row(frame, shape, table):
    sky = true_sky(frame, shape)
    noise = np.sqrt(np.mean(true_sigma(frame, shape) ** 2))
    return [
        frame.relpath,
        frame.object,
        frame.unit,
        frame.filter,
        f"{frame.exptime:g}",
        f"{np.median(sky):.6f}",
        f"{noise:.6f}",
        str(len(table)),
        str(int(table["saturated"].sum())),
    ]


def _star_rows(table):
    rows = [["x", "y", "peak", "flux", "saturated", "halfsize"]]
    for s in table:
        rows.append(
            [
                f"{s['x']:.4f}",
                f"{s['y']:.4f}",
                f"{s['peak']:.10g}",
                f"{s['flux']:.10g}",
                str(int(s["saturated"])),
                str(s["halfsize"]),
            ]
        )
    return rows


def _camera_cards(unit):
    return [
        kw.TELESCOP.card(unit, "7DT unit"),
        kw.INSTRUME.card(CAMERA, "camera"),
        kw.OBSERVAT.card(OBSERVATORY, "observatory"),
        kw.GAIN.card(GAIN_SETTING, "camera gain setting (HIGH mode)"),
        kw.EGAIN.card(DETECTOR.egain, "[e-/ADU] electrons per ADU"),
        ("XBINNING", 1, "binning"),
        ("YBINNING", 1, "binning"),
        kw.SATURATE.card(SATURATE, "[ADU] saturation level"),
    ]


def _time_cards(date_obs):
    mjd = mjd_of_datetime(datetime.fromisoformat(date_obs))
    return [kw.DATE_OBS.card(date_obs, "UTC start of exposure"), kw.MJD_OBS.card(round(mjd, 8), "")]


def _frame_header(frame, shape):
    cards = [
        kw.IMAGETYP.card("LIGHT", ""),
        kw.OBJECT.card(frame.object, "survey tile"),
        kw.FILTER.card(frame.filter, ""),
        kw.EXPTIME.card(frame.exptime, "[s] exposure time (per frame of a stack)"),
        *_time_cards(frame.date_obs),
        *_camera_cards(frame.unit),
        kw.BUNIT.card("ADU", ""),
    ]
    if frame.ncombine is not None:
        cards.append(kw.NCOMBINE.card(frame.ncombine, "frames mean-combined"))
    header = fits.Header(cards)
    header.extend(_frame_wcs_cards(frame, shape))
    return header


def _master_header(master):
    cards = [kw.IMAGETYP.card(master.imagetyp, ""), *_time_cards(master.date_obs)]
    if master.exptime is not None:
        cards.append(kw.EXPTIME.card(master.exptime, "[s] exposure time"))
    if master.filter is not None:
        cards.append(kw.FILTER.card(master.filter, ""))
    cards += _camera_cards(master.unit)
    if master.imagetyp != "FLAT":
        cards.append(kw.BUNIT.card("ADU", ""))
    if master.ncombine is not None:
        cards.append(kw.NCOMBINE.card(master.ncombine, "frames combined"))
    return fits.Header(cards)
