"""Embedded demo survey imitating the 7-Dimensional Telescope (7DT), with truth tables.

:func:`write` creates, under a root folder, calibrated science frames and the calibration library
they were calibrated with (:mod:`skyrms.demo.calibration`), laid out and labelled like the real
survey:

* ``scidata/7DT/7DT_C361K_HIGH_1x1/{object}/{unit}/{filter}/calib_{unit}_{object}_{date}_{time}_
  {filter}_{exptime}.fits``
* ``raw/7DT/7DT_C361K_HIGH_1x1/{unit}/{BIAS,DARK,FLAT}/...``: the raw calibration frames most
  masters are built from (with ``raw_frames``; the workflow then builds those masters), and
  ``calib/7DT/7DT_C361K_HIGH_1x1/{unit}/{BIAS,DARK,FLAT}/...``: the hand-made masters (and, without
  ``raw_frames``, the built ones too, ready-made);
* ``truth/frames.tsv``, ``truth/masters.tsv`` and ``truth/stars/{frame stem}.tsv``;
* ``demo.json``, the stamp ``{"shape": [ny, nx], "seed": seed, "raw_frames": bool, "version":
  DEMO_VERSION}`` written last, by which :func:`ensure` knows a complete survey is there.

Master biases and darks are in ADU; master darks are bias-subtracted with the master bias of their
unit and night. Master flats are dimensionless (median 1) with an ``ERR`` HDU: their 1-sigma error
per pixel.

There are 18 science frames: one per (night, object, unit, filter), 100 s except r on the
second night (60 s), each calibrated with the dark of its own exposure time; and one 30 s m600
frame of T00528 per unit on the second night (``..._m600_30.fits``), calibrated with the 60 s dark
scaled by 0.5 since the library holds no 30 s dark (see :func:`frame_masters`).
:func:`ensure` writes the survey only when it is missing or stale.

Each science frame is simulated as it was really made (see :mod:`skyrms.demo.physics`): a raw frame
of sky + stars (+ a galaxy in one field) through the true flat of its unit's CMOS camera
(:mod:`skyrms.demo.instrument`), with shot, per-pixel dark and read noise, calibrated with the
masters of its unit, those built from raw frames exactly as the workflow builds them.
:func:`true_sky`, :func:`true_sigma`, :func:`true_galaxy`, :func:`stars` and
:func:`skyrms.demo.calibration.true_master` give the truth to test products against.

Randomness: the ``seed`` drives the noise of every frame (``default_rng([seed, frame.index])``)
and calibration frame (see :mod:`skyrms.demo.calibration`), the star catalogues and the
seconds of the science exposure times (``default_rng([seed, 300])``, and ``[seed, 301]`` for the
short frames). The instrument and the observing conditions (cameras, flat fields, sky shape
and level, seeing, dither) are fixed, so the truth functions need no seed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from skyrms.demo import calibration, physics
from skyrms.demo.calibration import FLAT_DATE, NIGHTS, DemoMaster
from skyrms.demo.instrument import (
    FILTERS,
    FIXED,
    OBSERVATORY,
    SATURATE,
    TELKEY,
    UNITS,
    camera,
    camera_cards,
    time_cards,
    true_flat,
)
from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import atomic_path, write_float_map
from skyrms.io.tables import write_tsv

DEMO_VERSION = 3  # bumped whenever the written files change for a given shape and seed
STAMP = "demo.json"
DEFAULT_SHAPE = (683, 1024)
FULL_SHAPE = (6388, 9576)

PIXEL_SCALE = 0.505  # arcsec/px
TILES = {"T00528": (121.3635, -42.1167), "T01462": (49.2125, -27.6500)}  # centre RA, Dec (deg)
CROWDED_OBJECT = "T00528"
SHORT = {"night": NIGHTS[1], "object": CROWDED_OBJECT, "filter": "m600", "exptime": 30.0}

GALAXY = {"object": "T01462", "ra": 49.2235, "dec": -27.6561, "radius_arcsec": 32.0}

SKY_100S = {"m600": 300.0, "r": 1500.0}  # mean calibrated sky (ADU) in 100 s, typical night
THROUGHPUT = {"m600": 1.0, "r": 5.0}  # star and galaxy flux relative to m600 at equal exptime

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

_ROTATION_DEG = {"7DT02": 0.15, "7DT05": -0.28}  # camera angle on the sky


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
    (see :func:`_short_frames`). Masters: :func:`skyrms.demo.calibration.plan_masters`.
    """
    return _frames(seed), calibration.plan_masters()


def output_relpaths(seed: int = 7, raw_frames: bool = True) -> list[str]:
    """Every file :func:`write` creates, relative to its root, sorted: with ``raw_frames`` the
    raw frames of the built masters in place of those masters."""
    frames, masters = plan(seed)
    paths = [f.relpath for f in frames] + [_stars_relpath(f) for f in frames]
    for m in masters:
        paths += [raw.relpath for raw in m.raws] if m.raws and raw_frames else [m.relpath]
    paths += ["truth/frames.tsv", "truth/masters.tsv", STAMP]
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


def frame_masters(frame: DemoFrame, masters: list[DemoMaster] | None = None):
    """The (bias, dark, flat) masters ``frame`` was calibrated with (from ``masters``, default
    the plan's).

    All of the frame's unit: the bias of the frame's night (UTC date of DATE-OBS); the dark of
    that night with the frame's exposure time or, if the night has none (the 30 s short frames),
    the shortest dark of that night that is longer (60 s), scaled by k = exptime / t_dark < 1 in
    the calibration; the flat of the frame's filter from FLAT_DATE.
    """
    masters = calibration.plan_masters() if masters is None else masters
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
    rng = np.random.default_rng([FIXED, 1000 + frame.index])
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
    (e-/ADU), the camera's per-pixel dark current D (e-/s) and read noise r (e-), t_dark the
    exposure time of the dark used (:func:`frame_masters`), k = t / t_dark (1, or 0.5 for the
    30 s short frames), n the frames averaged in the science stack (NCOMBINE, 1 if absent), and
    the master bias, dark and flat as they were combined (a median of 5 rounded raw frames with
    its variance factor, or a hand-made mean of NCOMBINE frames, UNRECORDED_NCOMBINE if absent).
    The master dark was bias-subtracted with the same master bias B that calibrates the frame, so
    the calibrated frame is (R - (1 - k) B - k Dmean) / flat and

        sigma**2 = [(F S g + D t + r**2) / n + (1 - k)**2 Var_B(r**2)
                    + k**2 Var_D(D t_dark + r**2)] / (g F)**2  +  S**2 Var_F   [ADU^2]

    (see :func:`skyrms.demo.physics.calibrated_sigma` and
    :func:`skyrms.demo.calibration.flat_variance`).
    """
    bias, dark, flat = frame_masters(frame)
    shape = tuple(shape)
    return physics.calibrated_sigma(
        true_sky(frame, shape),
        true_flat(frame.unit, frame.filter, shape),
        frame.exptime,
        camera(frame.unit, shape),
        nsub=frame.ncombine or 1,
        bias=bias.combination(),
        dark=dark.combination(),
        dark_exptime=dark.exptime,
        flat_variance=calibration.flat_variance(flat, shape),
    )


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


def _calibrated_frame(frame, shape, seed, star_table, paths):
    """Calibrated science pixels (ADU): exposed raw frame minus its masters (read from
    ``paths``, by relpath), clipped."""
    model = true_sky(frame, shape) + true_galaxy(frame, shape)
    s = star_table
    fwhm = _conditions(frame).fwhm
    physics.add_moffat_stars(model, s["x"], s["y"], s["flux"], s["halfsize"], fwhm, PSF_BETA)
    flat = true_flat(frame.unit, frame.filter, tuple(shape))
    rng = np.random.default_rng([seed, frame.index])
    cam = camera(frame.unit, tuple(shape))
    raw = physics.expose(model, flat, cam, frame.exptime, frame.ncombine or 1, rng)
    masters = frame_masters(frame)
    bias, dark, mflat = (_read(paths[m.relpath]) for m in masters)
    cal = physics.calibrate(raw, bias, dark, masters[1].exptime, mflat, frame.exptime)
    return physics.saturate(cal, model, SATURATE)


def _read(path):
    return fits.getdata(path).astype(np.float64)


# --- files ----------------------------------------------------------------------------------------


def write(root, shape=DEFAULT_SHAPE, seed: int = 7, raw_frames: bool = True) -> None:
    """Write the whole demo survey (calibration library, science frames, truth tables) under
    ``root``.

    With ``raw_frames`` the built masters' raw frames are written and the masters themselves
    are not (they are built in a temporary folder to calibrate the science frames and recorded
    in ``truth/masters.tsv``, for the workflow to build again); without, the masters are
    written ready-made and their raw frames are not kept. Any stamp ``demo.json`` is removed
    first and written last, so an interrupted write leaves no stamp. Files of the survey are
    replaced in place (atomically, one by one); other files under ``root`` are left alone.
    """
    root = Path(root)
    shape = tuple(int(n) for n in shape)
    (root / STAMP).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    frames, masters = plan(seed)
    with tempfile.TemporaryDirectory(prefix=".masters-", dir=root) as temporary:
        built = Path(temporary) if raw_frames else root
        paths = calibration.write_library(root, masters, shape, seed, built, raw_frames)
        rows = {}
        for frame in sorted(frames, key=lambda f: (f.unit, f.filter, f.index)):
            table = stars(frame, shape, seed)
            pixels = _calibrated_frame(frame, shape, seed, table, paths)
            header = _frame_header(frame, shape)
            write_float_map(root / frame.relpath, pixels, header, checksum=False)
            write_tsv(root / _stars_relpath(frame), _star_rows(table))
            rows[frame.index] = _truth_row(frame, shape, table)
        write_tsv(root / "truth/masters.tsv", calibration.truth_rows(masters, shape, paths))
    header = ["relpath", "object", "unit", "filter", "exptime", "sky_median", "noise"]
    header += ["n_stars", "n_saturated"]
    write_tsv(root / "truth/frames.tsv", [header] + [rows[k] for k in sorted(rows)])
    with atomic_path(root / STAMP) as tmp:
        tmp.write_text(json.dumps(_stamp(shape, seed, raw_frames)) + "\n")


OWN_FOLDERS = ("scidata", "calib", "raw", "truth")
"""The demo's folders under its root, replaced whole when the survey is rewritten."""


def ensure(root, shape=DEFAULT_SHAPE, seed: int = 7, raw_frames: bool = True) -> bool:
    """Write the demo survey under ``root`` unless it is already there; True if it wrote.

    It is there if the stamp ``root/demo.json`` records this shape, seed, ``raw_frames`` and
    DEMO_VERSION (one JSON read). Once written, the survey is data like any other: files removed
    or added by hand stay so, as a sync would leave them, and masters the workflow builds into
    ``calib`` join it. Otherwise the demo's own folders (:data:`OWN_FOLDERS`, with whatever was
    built or left in them) are removed, then :func:`write` rewrites everything, stamp last.
    """
    root = Path(root)
    shape = tuple(int(n) for n in shape)
    if _read_stamp(root) == _stamp(shape, seed, raw_frames):
        return False
    (root / STAMP).unlink(missing_ok=True)
    for folder in OWN_FOLDERS:
        shutil.rmtree(root / folder, ignore_errors=True)
    write(root, shape, seed, raw_frames)
    return True


def _stamp(shape, seed, raw_frames):
    return {"shape": [int(n) for n in shape], "seed": int(seed), "raw_frames": bool(raw_frames),
            "version": DEMO_VERSION}  # fmt: skip


def _read_stamp(root):
    """The stamp under ``root`` as a dict, or None if it is missing or unreadable."""
    try:
        stamp = json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


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


def _frame_header(frame, shape):
    cards = [
        kw.IMAGETYP.card("LIGHT", ""),
        kw.OBJECT.card(frame.object, "survey tile"),
        kw.FILTER.card(frame.filter, ""),
        kw.EXPTIME.card(frame.exptime, "[s] exposure time (per frame of a stack)"),
        *time_cards(frame.date_obs),
        *camera_cards(frame.unit),
        kw.BUNIT.card("ADU", ""),
    ]
    if frame.ncombine is not None:
        cards.append(kw.NCOMBINE.card(frame.ncombine, "frames mean-combined"))
    header = fits.Header(cards)
    header.extend(_frame_wcs_cards(frame, shape))
    return header
