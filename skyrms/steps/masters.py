"""The master job: raw calibration frames of one group in, a master with its error maps out.

A group is the raw frames of one type, camera unit and night (darks of one EXPTIME,
flats of one FILTER). They are read a slab of rows at a time (memory-mapped), so a
master of 9 full frames holds one slab of each and the master's own maps:

- bias: the combined frames (ADU); RDNOISE, the read noise of every pixel (e-) from
  the frame-to-frame scatter; ERR, the master's own error (ADU);
- dark: the combined frames minus a master bias (ADU in EXPTIME); ERR (ADU);
- flat: each frame minus a master bias and a master dark scaled to its EXPTIME,
  divided by its own median, combined and normalised to a median of 1; ERR (relative).

The master's header says how it was combined (COMBMETH, CLIPSIG/CLIPLOW/CLIPHIGH, read
back by the propagation), its NCOMBINE, the mean DATE-OBS and MJD-OBS of its frames,
EXPTIME, FILTER and gain, and the masters it was made with; an INPUTS table lists every
raw frame with its SHA-256.
"""

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from astropy.io import fits

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import (
    InputError,
    atomic_write,
    check_frame_shape,
    image_hdu,
    native_float32,
    opened_fits,
    sample_rows,
)
from skyrms.io.header_values import date_obs, mjd_of_datetime, number_of
from skyrms.io.headerindex import sha256_of
from skyrms.io.provenance import product_header
from skyrms.science.combine import CombineParams, combine, read_noise_map

log = logging.getLogger(__name__)

SLAB_ROWS = 128
"""Rows of every raw frame combined at a time (9 frames of 9576 px: 44 MB a slab)."""

MEDIAN_STRIDE = 4
"""Flat frames are normalised by the median of every 4th pixel of sampled rows."""

IDENTITY = (kw.TELESCOP, kw.INSTRUME, kw.OBSERVAT, kw.GAIN, kw.EGAIN, kw.SATURATE)
"""Keywords of the first raw frame copied into the master."""


@dataclass
class Raw:
    """One raw calibration frame, opened (memory-mapped), with its header."""

    path: str
    header: fits.Header
    image: object

    def rows(self, rows: slice) -> np.ndarray:
        """Rows of the frame as native float32 (ADU)."""
        return native_float32(self.image.section[rows])


def open_raws(stack: ExitStack, paths: list[str], imagetyp: str, group: str) -> list[Raw]:
    """Open a group's raw frames and check that they belong together: one shape, and for
    darks one EXPTIME, for flats one FILTER. Errors name the file and the group."""
    raws = []
    for path in paths:
        hdul = stack.enter_context(opened_fits(path, memmap=True))
        image = image_hdu(hdul, path)
        raws.append(Raw(path, image.header, image))
    first = raws[0]
    for raw in raws[1:]:
        check_frame_shape(raw.path, f"raw frame of {group}", raw.image.shape, first.image.shape)
        for keyword in {"DARK": (kw.EXPTIME,), "FLAT": (kw.FILTER,)}.get(imagetyp, ()):
            if raw.header.get(keyword) != first.header.get(keyword):
                raise InputError(
                    f"{raw.path}: {keyword} {raw.header.get(keyword)!r} differs from "
                    f"{first.header.get(keyword)!r} of {first.path} in {group}"
                )
    return raws


def frame_median(raw: Raw, offsets) -> float:
    """Median of a flat frame after ``offsets(rows)`` is subtracted (ADU), over sampled
    rows and every MEDIAN_STRIDE-th column; raises InputError when it is not positive."""
    rows = sample_rows(raw.image.shape[0], MEDIAN_STRIDE)
    sample = np.concatenate([raw.rows(row) - offsets(row) for row in rows])[:, ::MEDIAN_STRIDE]
    level = float(np.nanmedian(sample))
    if not level > 0:
        raise InputError(f"{raw.path}: flat frame's level is {level:.3g} ADU after bias and dark")
    return level


def master_header(imagetyp, raws: list[Raw], params: CombineParams, used: dict) -> fits.Header:
    """The master's header: the first frame's identity, the combination, the mean time of
    the frames, the masters subtracted (IN_BIAS, IN_DARK) and skyrms's provenance."""
    first = raws[0].header
    moments = [date_obs(raw.header, raw.path) for raw in raws]
    mean_moment = min(moments) + sum((m - min(moments) for m in moments), timedelta()) / len(raws)
    cards = [
        kw.IMAGETYP.card(imagetyp, ""),
        kw.NCOMBINE.card(len(raws)),
        kw.COMBMETH.card(params.method),
        kw.CLIPSIG.card(params.sigma),
        kw.CLIPLOW.card(params.nlow),
        kw.CLIPHIGH.card(params.nhigh),
        kw.DATE_OBS.card(mean_moment.isoformat(timespec="seconds"), "mean time of the frames"),
        kw.MJD_OBS.card(round(mjd_of_datetime(mean_moment), 8), "mean MJD of the frames"),
    ]
    if imagetyp == "FLAT":
        cards.append(kw.FILTER.card(str(first[kw.FILTER]).strip()))
    cards += [(key, first[key], first.comments[key]) for key in IDENTITY if key in first]
    unit = "" if imagetyp == "FLAT" else "adu"
    inputs = {kw.IN_MASTER(kind): path for kind, path in used.items()}
    return product_header(first, f"MASTER{imagetyp}", unit, inputs, cards)


def inputs_table(raws: list[Raw], digests: dict[str, str]) -> fits.BinTableHDU:
    """The INPUTS extension: every raw frame's path, SHA-256 and DATE-OBS."""
    columns = {
        "path": [raw.path for raw in raws],
        "sha256": [digests.get(raw.path) or sha256_of(raw.path) for raw in raws],
        "date_obs": [str(raw.header.get(kw.DATE_OBS, "")) for raw in raws],
    }
    width = {name: max(1, *(len(value) for value in values)) for name, values in columns.items()}
    return fits.BinTableHDU.from_columns(
        [fits.Column(name=n, format=f"{width[n]}A", array=v) for n, v in columns.items()],
        name=kw.INPUTS_EXTENSION,
    )


def build_master(
    imagetyp: str, raws: list[str], output, params: CombineParams, *, group: str,
    bias=None, dark=None, digests: dict | None = None, min_frames: int = 3, egain=None,
):  # fmt: skip
    """Combine a group's raw frames (paths) into a master written to ``output``.

    ``bias`` (for darks and flats) and ``dark`` (for flats) are the paths of the masters
    subtracted; ``digests`` the raw frames' SHA-256 if known (else they are hashed);
    ``egain`` (e-/ADU) turns the biases' scatter into the read-noise map (None: the
    frames' EGAIN). ``group`` names the group in messages. Nothing is written on failure.
    """
    if len(raws) < min_frames:
        raise InputError(f"{group}: {len(raws)} raw frames, at least {min_frames} are needed")
    with ExitStack() as stack:
        frames = open_raws(stack, raws, imagetyp, group)
        shape = frames[0].image.shape
        used = {name: path for name, path in (("BIAS", bias), ("DARK", dark)) if path}
        subtract = {name: open_raws(stack, [path], name, group)[0] for name, path in used.items()}
        for name, master in subtract.items():
            check_frame_shape(master.path, f"master {name.lower()}", master.image.shape, shape)
        scales = np.zeros(len(frames), np.float32)  # dark scaled to each frame's EXPTIME
        if "DARK" in subtract:
            dark_master = subtract["DARK"]
            dark_time = number_of(dark_master.header, kw.EXPTIME, dark_master.path)
            scales[:] = [number_of(r.header, kw.EXPTIME, r.path) / dark_time for r in frames]

        def offsets(rows, chosen=slice(None)) -> np.ndarray:
            """What the ``chosen`` raw frames have subtracted in these rows: the bias and
            the dark scaled to each frame (ADU), one map per frame."""
            ny = len(range(*rows.indices(shape[0])))
            total = np.zeros((len(scales[chosen]), ny, shape[1]), np.float32)
            if "BIAS" in subtract:
                total += subtract["BIAS"].rows(rows)
            if "DARK" in subtract:
                total += scales[chosen, None, None] * subtract["DARK"].rows(rows)
            return total

        levels = None
        if imagetyp == "FLAT":
            levels = [frame_median(raw, lambda rows, n=n: offsets(rows, [n])[0])
                      for n, raw in enumerate(frames)]  # fmt: skip
        data, error, scatter = (np.empty(shape, np.float32) for _ in range(3))
        for start in range(0, shape[0], SLAB_ROWS):
            rows = slice(start, start + SLAB_ROWS)
            stack_rows = np.stack([raw.rows(rows) for raw in frames])
            stack_rows -= offsets(rows)
            if levels is not None:
                stack_rows /= np.asarray(levels, np.float32)[:, None, None]
            combined = combine(stack_rows, params)
            data[rows], error[rows], scatter[rows] = combined.data, combined.error, combined.scatter
        header = master_header(imagetyp, frames, params, used)
        if imagetyp == "FLAT":
            norm = float(np.nanmedian(data[::MEDIAN_STRIDE, ::MEDIAN_STRIDE]))
            data /= norm
            error /= norm
        extensions = [fits.ImageHDU(error, name=kw.ERROR_EXTENSION)]
        if imagetyp == "BIAS":
            gain = egain or number_of(frames[0].header, kw.EGAIN, frames[0].path)
            extensions.append(fits.ImageHDU(read_noise_map(scatter, gain),
                                            name=kw.READ_NOISE_EXTENSION))  # fmt: skip
        del scatter
        hdul = fits.HDUList(
            [fits.PrimaryHDU(data, header), *extensions, inputs_table(frames, digests or {})]
        )
        atomic_write(hdul, output)
    log.info(f"{group}: {imagetyp.lower()} master of {len(raws)} frames ({params.method})")


def build_group_master(imagetyp, raws, output, group, prerequisites, digests, settings) -> None:
    """The workflow's master job: :func:`build_master` with the ``masters`` settings.

    ``prerequisites`` is the lookup's (masters by type, None) or (None, why none fits).
    """
    chosen, error = prerequisites
    if error:
        raise InputError(f"{group}: {error}")
    params = CombineParams(
        method=settings["method"], sigma=settings["sigma"], nlow=settings["nlow"],
        nhigh=settings["nhigh"],
    )  # fmt: skip
    build_master(
        imagetyp, list(raws), output, params, group=group, bias=chosen.get("BIAS"),
        dark=chosen.get("DARK"), digests=digests, min_frames=settings["min_frames"],
    )  # fmt: skip
