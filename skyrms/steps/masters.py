"""The master job: raw calibration frames of one group in, a master with its error maps out.

A group is the raw frames of one type, camera unit and night (darks of one EXPTIME,
flats of one FILTER). They are read a slab of rows at a time (not memory-mapped), so a
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
from datetime import timedelta

import numpy as np
from astropy.io import fits

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import (
    InputError,
    RowReader,
    atomic_write,
    check_frame_shape,
    open_for_rows,
    sample_rows,
)
from skyrms.io.header_values import date_obs, mjd_of_datetime, number_of
from skyrms.io.headerindex import sha256_of
from skyrms.io.provenance import product_header
from skyrms.plan.master_lookup import MasterChoice
from skyrms.science.combine import CombineParams, combine, read_noise_map
from skyrms.settings import MastersSection

log = logging.getLogger(__name__)

SLAB_ROWS = 128
"""Rows of every raw frame combined at a time (9 frames of 9576 px: 44 MB a slab)."""

MEDIAN_STRIDE = 4
"""Flat frames are normalised by the median of every 4th pixel of sampled rows."""

IDENTITY = (kw.TELESCOP, kw.INSTRUME, kw.OBSERVAT, kw.GAIN, kw.EGAIN, kw.SATURATE)
"""Keywords of the first raw frame copied into the master."""


FLAT_SATURATION = 0.9
"""A flat frame whose median reaches this fraction of its SATURATE level is saturated."""


def check_member(raw: RowReader, first: RowReader, imagetyp: str, group: str) -> None:
    """Raise InputError unless ``raw`` belongs with ``first``: one shape, and for darks one
    EXPTIME, for flats one FILTER. The message names the file and the group."""
    check_frame_shape(raw.path, f"raw frame of {group}", raw.shape, first.shape)
    for keyword in {"DARK": (kw.EXPTIME,), "FLAT": (kw.FILTER,)}.get(imagetyp, ()):
        if raw.header.get(keyword) != first.header.get(keyword):
            raise InputError(
                f"{raw.path}: {keyword} {raw.header.get(keyword)!r} differs from "
                f"{first.header.get(keyword)!r} of {first.path} in {group}"
            )


def usable(items, check, skip_bad: bool, group: str) -> list:
    """The ``items`` for which ``check(item)`` raises no InputError; with ``skip_bad`` a bad
    one is left out with a warning, otherwise its error ends the job."""
    kept = []
    for item in items:
        try:
            check(item)
        except InputError as error:
            if not skip_bad:
                raise
            log.warning(f"{group}: left out {error}")
            continue
        kept.append(item)
    return kept


def open_raws(stack: ExitStack, paths, imagetyp: str, group: str, skip_bad=False) -> list:
    """Open a group's raw frames that can be read and belong together (:func:`check_member`
    against the first one opened)."""
    raws = []

    def add(path):
        raw, _ = open_for_rows(stack, path)
        if raws:
            check_member(raw, raws[0], imagetyp, group)
        raws.append(raw)

    usable(paths, add, skip_bad, group)
    return raws


def flat_level(raw: RowReader, offsets) -> float:
    """Median of a flat frame after ``offsets(rows)`` is subtracted (ADU), over sampled
    rows and every MEDIAN_STRIDE-th column. Raises InputError when it is not positive, or
    when the raw frame's median reaches FLAT_SATURATION of its SATURATE level."""
    rows = sample_rows(raw.shape[0], MEDIAN_STRIDE)
    values = np.concatenate([raw.rows(row) for row in rows])[:, ::MEDIAN_STRIDE]
    corrected = values - np.concatenate([offsets(row) for row in rows])[:, ::MEDIAN_STRIDE]
    level = float(np.nanmedian(corrected))
    if not level > 0:
        raise InputError(f"{raw.path}: flat frame's level is {level:.3g} ADU after bias and dark")
    saturate = raw.header.get(kw.SATURATE)
    if isinstance(saturate, int | float) and np.nanmedian(values) >= FLAT_SATURATION * saturate:
        raise InputError(f"{raw.path}: flat frame is saturated (median {np.nanmedian(values):.0f}"
                         f" ADU, SATURATE {saturate:g})")  # fmt: skip
    return level


def master_header(
    imagetyp, raws: list, params: CombineParams, used: dict, content: str | None = None
) -> fits.Header:
    """The master's header: the first frame's identity, the combination, the mean time of
    the frames, the masters subtracted (IN_BIAS, IN_DARK), the workflow's content digest
    (CONTSHA, if given) and skyrms's provenance."""
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
    cards += [kw.CONTSHA.card(content)] if content else []
    unit = "" if imagetyp == "FLAT" else "adu"
    inputs = {kw.IN_MASTER(kind): path for kind, path in used.items()}
    return product_header(first, f"MASTER{imagetyp}", unit, inputs, cards)


def inputs_table(raws: list, digests: dict[str, str]) -> fits.BinTableHDU:
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
    skip_bad: bool = False, content: str | None = None,
):  # fmt: skip
    """Combine a group's raw frames (paths) into a master written to ``output``.

    ``bias`` (for darks and flats) and ``dark`` (for flats) are the paths of the masters
    subtracted; ``digests`` the raw frames' SHA-256 if known (else they are hashed);
    ``egain`` (e-/ADU) turns the biases' scatter into the read-noise map (None: the
    frames' EGAIN). ``group`` names the group in messages. A raw frame that cannot be used
    (unreadable, of another shape, EXPTIME or FILTER, a flat without light or saturated)
    ends the job with its one-line error, or with ``skip_bad`` is left out with a warning;
    fewer than ``min_frames`` usable frames end it too. ``content``, the workflow's content
    digest of the master (:func:`skyrms.plan.master_groups.content_digest`), is recorded as
    CONTSHA: a copy of the master with new times is known for the same. Nothing is written
    on failure.
    """
    with ExitStack() as stack:
        frames = open_raws(stack, raws, imagetyp, group, skip_bad)
        check_count(frames, min_frames, group)
        shape = frames[0].shape
        used = {name: path for name, path in (("BIAS", bias), ("DARK", dark)) if path}
        subtract = {name: open_for_rows(stack, path)[0] for name, path in used.items()}
        for name, master in subtract.items():
            check_frame_shape(master.path, f"master {name.lower()}", master.shape, shape)
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
            index = {raw.path: n for n, raw in enumerate(frames)}
            levels = {}

            def measure(raw):
                levels[raw.path] = flat_level(raw, lambda rows: offsets(rows, [index[raw.path]])[0])

            kept = usable(frames, measure, skip_bad, group)
            check_count(kept, min_frames, group)
            scales = scales[[index[raw.path] for raw in kept]]
            frames, levels = kept, [levels[raw.path] for raw in kept]
        data, error, scatter = (np.empty(shape, np.float32) for _ in range(3))
        for start in range(0, shape[0], SLAB_ROWS):
            rows = slice(start, start + SLAB_ROWS)
            stack_rows = np.stack([raw.rows(rows) for raw in frames])
            stack_rows -= offsets(rows)
            if levels is not None:
                stack_rows /= np.asarray(levels, np.float32)[:, None, None]
            combined = combine(stack_rows, params)
            data[rows], error[rows], scatter[rows] = combined.data, combined.error, combined.scatter
        header = master_header(imagetyp, frames, params, used, content)
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


def build_group_master(
    imagetyp, raws, output, group, prerequisites, digests, settings: MastersSection, content
) -> None:
    """The workflow's master job: :func:`build_master` with the ``masters`` settings and
    the master's ``content`` digest.

    ``prerequisites`` is the lookup's choice as its job parameter (see
    :meth:`skyrms.plan.master_lookup.MasterChoice.as_param`: paths by type, or why none fits).
    """
    choice = MasterChoice.from_param(prerequisites)
    if choice.reason:
        raise InputError(f"{group}: {choice.reason}")
    build_master(
        imagetyp, list(raws), output, settings.combination(), group=group,
        bias=choice.masters.get("BIAS"), dark=choice.masters.get("DARK"), digests=digests,
        min_frames=settings.min_frames, skip_bad=settings.on_bad_frame == "skip",
        content=content,
    )  # fmt: skip


def check_count(frames: list, min_frames: int, group: str) -> None:
    """Raise InputError when a group has fewer than ``min_frames`` usable raw frames."""
    if len(frames) < min_frames:
        raise InputError(f"{group}: {len(frames)} raw frames, at least {min_frames} are needed")
