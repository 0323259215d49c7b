"""The demo's calibration library: raw bias, dark and flat frames, and the masters made of them.

Per unit there are 3 master biases (the morning after each night, about 10:02 UTC, and one 30
days before the first night), master darks of 60 and 100 s the morning after each night, and a
master flat per filter at morning twilight after the first night (``FLAT_DATE``, before that
morning's biases) and 40 days before.

Most masters are **built from raw frames** (``RAW_FRAMES``: 15 biases, 5 darks or 5 flats; fewer
biases would leave the per-pixel read noise estimated too roughly), stored as the survey stores
them (16-bit integers, ``BZERO`` 32768)::

    raw/7DT/7DT_C361K_HIGH_1x1/{unit}/{BIAS,DARK,FLAT}/{TYPE}_{unit}_{date}_{time}[_{t}s|_{filter}].fits

with the median (:data:`MASTER_COMBINE`) by the workflow's own master step
(:func:`skyrms.steps.masters.build_master`), darks corrected with the bias of their night,
flats with the nearest bias and 60 s dark, each as the workflow's lookup chooses them; they are
named as the workflow names its masters (:func:`skyrms.plan.master_groups.relpath_of`: the night
starting at ``NIGHT_STARTS`` UTC), ``calib/7DT/{TELKEY}/{unit}/{TYPE}/{type}_{unit}_{night}
[_{t}s|_{filter}].fits``, and carry NCOMBINE, their error maps (``ERR``; the bias's read-noise
map ``RDNOISE``) and their raw frames (``INPUTS``).

The others are **hand-made**, as an older library holds them: the biases and flats 30-40 days
old (never chosen: beyond ``max_days``) and 7DT05's bias after the second night (chosen); means
of frames written directly, some without NCOMBINE (``UNRECORDED_NCOMBINE`` frames were averaged),
without error maps except a flat's ``ERR``: ``calib/.../{type}_{unit}_{YYYYMMDD}[...].fits``.

Randomness: raw frame ``i`` of the master at ``position`` in the plan draws its noise from
``default_rng([seed, 100 + position, i])``, a hand-made master from ``[seed, 100 + position]``.
:func:`true_master` gives every master's truth (the level it estimates and its error).
"""

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from astropy.io import fits

from skyrms.demo import physics
from skyrms.demo.instrument import (
    EGAIN,
    FILTERS,
    OBSERVATORY,
    TELKEY,
    UNITS,
    camera,
    camera_cards,
    time_cards,
    true_flat,
)
from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import atomic_write, write_float_map
from skyrms.plan.frame_times import night_of
from skyrms.plan.master_groups import NEEDS, relpath_of
from skyrms.science.combine import CombineParams, variance_factor
from skyrms.steps.masters import build_master

NIGHTS = ("2025-11-20", "2025-11-22")  # UTC dates of the science frames
FLAT_DATE = "2025-11-20"  # UTC date of the flats the science frames are calibrated with
RAW_FRAMES = {"BIAS": 15, "DARK": 5, "FLAT": 5}  # raw frames of a built master, by type
MASTER_COMBINE = CombineParams("median")  # as config.yaml's masters section builds them
NIGHT_STARTS = 12  # UTC hour, as config.yaml's inputs.night_starts
FLAT_EXPTIME = 4.0  # s, every raw flat
FLAT_COUNTS = 10000.0  # e- per pixel at flat 1 in each flat frame (about 39,000 ADU)
READOUT = 20  # s between the end of one raw frame and the start of the next
UNRECORDED_NCOMBINE = 7  # frames averaged into a hand-made master whose header lacks NCOMBINE
HAND_MADE_NCOMBINE = {"BIAS": 15, "FLAT": 11}

_BIAS_DATES = ("2025-10-21",) + NIGHTS  # one 30 days before the first night
_FLAT_DATES = ("2025-10-10", FLAT_DATE)  # one 40 days before FLAT_DATE
_OLD = {"2025-10-21", "2025-10-10"}
_HAND_MADE = {("BIAS", "7DT05", NIGHTS[1])}  # besides the old ones
_NO_NCOMBINE = {  # hand-made masters whose header lacks NCOMBINE: (type, unit, date, filter)
    ("BIAS", "7DT02", "2025-10-21", None),
    ("BIAS", "7DT05", NIGHTS[1], None),
    ("FLAT", "7DT02", "2025-10-10", "r"),
    ("FLAT", "7DT05", "2025-10-10", "r"),
}


@dataclass(frozen=True)
class DemoRaw:
    """One raw calibration frame (date_obs ISO UTC)."""

    relpath: str
    date_obs: str


@dataclass(frozen=True)
class DemoMaster:
    """One master calibration frame (exptime in s for darks, filter for flats, else None).

    ``raws``: the raw frames it is built from (empty for a hand-made master); ``date_obs``
    the mean of theirs; ``ncombine`` None when the header lacks NCOMBINE.
    """

    relpath: str
    imagetyp: str
    observatory: str
    telkey: str
    unit: str
    date_obs: str
    exptime: float | None
    filter: str | None
    ncombine: int | None
    raws: tuple[DemoRaw, ...] = field(default=())

    def combination(self) -> physics.Combination:
        """How it was combined: the median of its rounded raw frames, or a mean."""
        if self.raws:
            factor = variance_factor(MASTER_COMBINE.method, len(self.raws), MASTER_COMBINE)
            return physics.Combination(len(self.raws), factor, quantised=True)
        return physics.Combination(self.ncombine or UNRECORDED_NCOMBINE)


def raw_exptime(imagetyp: str, exptime: float | None) -> float:
    """EXPTIME (s) of a master's raw frames: 0 for biases, the dark's, FLAT_EXPTIME for flats."""
    return {"BIAS": 0.0, "DARK": exptime, "FLAT": FLAT_EXPTIME}[imagetyp]


def plan_masters() -> list[DemoMaster]:
    """Masters per unit: 3 biases, darks of 60 and 100 s per night, 2 flats per filter, in
    an order where every master comes after those it is corrected with."""
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
                when = f"{date}T09:{31 + 3 * k:02d}:{5 + u:02d}"
                masters.append(_master("FLAT", unit, when, None, filt))
    return masters


def _master(imagetyp, unit, start, exptime, filt):
    date = start[:10]
    if date in _OLD or (imagetyp, unit, date) in _HAND_MADE:
        return _hand_made(imagetyp, unit, start, exptime, filt)
    seconds = raw_exptime(imagetyp, exptime) + READOUT
    first = datetime.fromisoformat(start)
    times = [first + timedelta(seconds=i * seconds) for i in range(RAW_FRAMES[imagetyp])]
    suffix = f"_{exptime:.0f}s" if exptime is not None else f"_{filt}" if filt else ""
    folder = f"raw/{OBSERVATORY}/{TELKEY}/{unit}/{imagetyp}"
    raws = tuple(
        DemoRaw(f"{folder}/{imagetyp}_{unit}_{t:%Y%m%d_%H%M%S}{suffix}.fits", t.isoformat())
        for t in times
    )
    night = night_of(first, NIGHT_STARTS).isoformat()
    key = (OBSERVATORY, TELKEY, unit, imagetyp, night, exptime, filt)
    mean = first + (times[-1] - first) / 2  # whole seconds: every count is odd
    return DemoMaster(
        relpath=f"calib/{relpath_of(key)}.fits", imagetyp=imagetyp, observatory=OBSERVATORY,
        telkey=TELKEY, unit=unit, date_obs=mean.isoformat(), exptime=exptime, filter=filt,
        ncombine=len(raws), raws=raws,
    )  # fmt: skip


def _hand_made(imagetyp, unit, date_obs, exptime, filt):
    date = date_obs[:10]
    name = f"{imagetyp.lower()}_{unit}_{date.replace('-', '')}"
    name += f"_{filt}" if filt is not None else ""
    absent = (imagetyp, unit, date, filt) in _NO_NCOMBINE
    return DemoMaster(
        relpath=f"calib/{OBSERVATORY}/{TELKEY}/{unit}/{imagetyp}/{name}.fits",
        imagetyp=imagetyp, observatory=OBSERVATORY, telkey=TELKEY, unit=unit, date_obs=date_obs,
        exptime=exptime, filter=filt,
        ncombine=None if absent else HAND_MADE_NCOMBINE[imagetyp],
    )  # fmt: skip


def prerequisites(master: DemoMaster, masters: list[DemoMaster]) -> dict[str, DemoMaster]:
    """The masters a built master is corrected with, by type
    (:data:`skyrms.plan.master_groups.NEEDS`), as the workflow's lookup chooses them: of its
    unit, the nearest in time; a flat's dark among those of the EXPTIME nearest to the
    flats'."""
    when = datetime.fromisoformat(master.date_obs)

    def nearest(imagetyp):
        found = [m for m in masters if (m.imagetyp, m.unit) == (imagetyp, master.unit)]
        if imagetyp == "DARK":
            closest = min(abs(m.exptime - FLAT_EXPTIME) for m in found)
            found = [m for m in found if abs(m.exptime - FLAT_EXPTIME) == closest]
        return min(found, key=lambda m: abs(datetime.fromisoformat(m.date_obs) - when))

    return {kind: nearest(kind) for kind in NEEDS[master.imagetyp]}


# --- truth ----------------------------------------------------------------------------------------


def flat_variance(master: DemoMaster, shape) -> np.ndarray:
    """Relative variance (dimensionless) per pixel of a master flat
    (:func:`skyrms.demo.physics.flat_relative_variance`): built ones with the read noise and
    dark current of their raw frames, hand-made ones from the shot noise alone."""
    flat = true_flat(master.unit, master.filter, tuple(shape))
    combination = master.combination()
    if not master.raws:
        return physics.flat_relative_variance(flat, FLAT_COUNTS, combination)
    cam = camera(master.unit, tuple(shape))
    other = np.square(cam.read_noise, dtype=np.float64) + cam.dark_current * FLAT_EXPTIME
    return physics.flat_relative_variance(flat, FLAT_COUNTS, combination, other, EGAIN)


def true_master(master: DemoMaster, shape) -> tuple[np.ndarray, np.ndarray]:
    """What ``master`` estimates and the true 1-sigma error of its pixels, float64 (ny, nx):
    a bias the camera's bias (ADU); a dark the dark current's signal in its EXPTIME (ADU;
    the error is the raw darks', without that of the bias subtracted, as its ERR states it);
    a flat the true flat (dimensionless)."""
    shape = tuple(shape)
    cam = camera(master.unit, shape)
    r2 = np.square(cam.read_noise, dtype=np.float64)
    combination = master.combination()
    if master.imagetyp == "FLAT":
        flat = true_flat(master.unit, master.filter, shape)
        return np.array(flat), flat * np.sqrt(flat_variance(master, shape))
    if master.imagetyp == "BIAS":
        level, electrons2 = cam.bias.astype(np.float64), r2
    else:
        signal = cam.dark_current.astype(np.float64) * master.exptime
        level, electrons2 = signal / EGAIN, signal + r2
    return level, np.sqrt(combination.variance(electrons2, EGAIN)) / EGAIN


def data_digest(path) -> str:
    """SHA-256 of the pixels of every image HDU of a FITS file (names and data, no headers)."""
    digest = hashlib.sha256()
    with fits.open(path) as hdul:
        for hdu in hdul:
            if hdu.is_image and hdu.data is not None:
                digest.update(hdu.name.encode())
                digest.update(np.ascontiguousarray(hdu.data).tobytes())
    return digest.hexdigest()


def truth_rows(masters: list[DemoMaster], shape, paths: dict) -> list[list[str]]:
    """``truth/masters.tsv``: per master its plan, the medians of its true level and error
    (:func:`true_master`) and the digest of the pixels it has (:func:`data_digest`)."""
    rows = [["relpath", "imagetyp", "unit", "date_obs", "exptime", "filter", "made",
             "ncombine", "combine", "true_level", "true_error", "data_sha256"]]  # fmt: skip
    for m in masters:
        level, error = true_master(m, shape)
        exptime = "" if m.exptime is None else f"{m.exptime:g}"
        made, combine = ("raw frames", MASTER_COMBINE.method) if m.raws else ("hand-made", "mean")
        rows.append(
            [m.relpath, m.imagetyp, m.unit, m.date_obs, exptime, m.filter or "", made]
            + [str(m.ncombine or ""), combine, f"{np.median(level):.6g}"]
            + [f"{np.median(error):.6g}", data_digest(paths[m.relpath])]
        )
    return rows


# --- files ----------------------------------------------------------------------------------------


def write_library(root: Path, masters, shape, seed, built: Path, keep_raws: bool) -> dict:
    """Write every master (and the raw frames of the built ones) for frames of ``shape``.

    Hand-made masters go to ``root``, built ones to ``built``; their raw frames, under
    ``root``, are removed once their master is built unless ``keep_raws``. Returns the path
    of every master by relpath.
    """
    paths = {}
    for position, master in enumerate(masters):
        if not master.raws:
            paths[master.relpath] = root / master.relpath
            _write_hand_made(master, position, paths[master.relpath], shape, seed)
            continue
        raws = [_write_raw(root, master, raw, [seed, 100 + position, i], shape)
                for i, raw in enumerate(master.raws)]  # fmt: skip
        used = {kind: str(paths[m.relpath]) for kind, m in prerequisites(master, masters).items()}
        path = paths[master.relpath] = built / master.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        build_master(
            master.imagetyp, raws, path, MASTER_COMBINE, group=master.relpath,
            bias=used.get("BIAS"), dark=used.get("DARK"), min_frames=len(raws),
        )  # fmt: skip
        for raw in raws if not keep_raws else ():  # one master's worth on disk at a time
            Path(raw).unlink()
    if not keep_raws:
        shutil.rmtree(root / "raw", ignore_errors=True)
    return paths


def _write_raw(root, master, raw, key, shape) -> str:
    """One raw frame of ``master`` (noise from ``default_rng(key)``); returns its path."""
    rng = np.random.default_rng(key)
    cam = camera(master.unit, tuple(shape))
    exptime = raw_exptime(master.imagetyp, master.exptime)
    light = 0.0
    if master.imagetyp == "FLAT":
        light = FLAT_COUNTS * true_flat(master.unit, master.filter, tuple(shape))
    pixels = physics.exposure(light, cam, exptime, rng)
    cards = [kw.IMAGETYP.card(master.imagetyp, ""), *time_cards(raw.date_obs),
             kw.EXPTIME.card(exptime, "[s] exposure time")]  # fmt: skip
    if master.filter is not None:
        cards.append(kw.FILTER.card(master.filter, ""))
    cards += [*camera_cards(master.unit), kw.BUNIT.card("ADU", "")]
    path = root / raw.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    hdu = fits.PrimaryHDU(physics.quantise(pixels), fits.Header(cards))
    atomic_write(fits.HDUList([hdu]), path, checksum=False)
    return str(path)


def _write_hand_made(master, position, path, shape, seed) -> None:
    """A hand-made master: float32 ADU (flats dimensionless, with their ``ERR``)."""
    rng = np.random.default_rng([seed, 100 + position])
    n = master.ncombine or UNRECORDED_NCOMBINE
    cards = [kw.IMAGETYP.card(master.imagetyp, ""), *time_cards(master.date_obs)]
    if master.filter is not None:
        cards.append(kw.FILTER.card(master.filter, ""))
    cards += camera_cards(master.unit)
    if master.imagetyp == "BIAS":
        cards.append(kw.BUNIT.card("ADU", ""))
    if master.ncombine is not None:
        cards.append(kw.NCOMBINE.card(master.ncombine, "frames combined"))
    header = fits.Header(cards)
    if master.imagetyp == "BIAS":
        pixels = physics.master_bias(camera(master.unit, tuple(shape)), n, rng)
        write_float_map(path, pixels, header, checksum=False)
        return
    flat = true_flat(master.unit, master.filter, tuple(shape))
    error = physics.master_flat_error(flat, n, FLAT_COUNTS)
    err_header = fits.Header([("COMMENT", "1-sigma error of the master flat per pixel")])
    hdus = [
        fits.PrimaryHDU(physics.master_flat(flat, n, FLAT_COUNTS, rng).astype(np.float32), header),
        fits.ImageHDU(error.astype(np.float32), err_header, name=kw.ERROR_EXTENSION),
    ]
    atomic_write(fits.HDUList(hdus), path, checksum=False)
