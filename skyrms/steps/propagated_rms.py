"""File-level steps of the calibration branch: record the masters, propagate the RMS."""

import json
import logging
import os
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import (
    InputError,
    RowReader,
    atomic_path,
    check_frame_shape,
    open_for_rows,
    read_image,
    read_rows,
    sample_rows,
)
from skyrms.io.header_values import number_of
from skyrms.plan.master_lookup import TYPES, MasterChoice
from skyrms.science.combine import CombineParams, variance_factor
from skyrms.science.noise_model import propagated_variance, read_noise_from_bias, read_noise_rows
from skyrms.settings import CalibrationSection
from skyrms.steps.products import Product

log = logging.getLogger(__name__)

SLAB_ROWS = 256
"""Rows of the frame propagated at a time, which bounds the temporaries' memory."""

MEDIAN_STRIDE = 4
"""The header medians are taken over every 4th pixel along both axes of the rows of every
4th tile (:func:`skyrms.io.fitsfiles.sample_rows`): exact enough, and the image-based RMS map
is only partly decompressed for them."""


def record_masters(choice: MasterChoice, output) -> None:
    """Write the masters chosen for a frame (JSON), or fail with the lookup's reason."""
    if choice.reason:
        raise InputError(choice.reason)
    for imagetyp in TYPES:
        pick = choice.masters[imagetyp]
        days = "days apart unknown" if pick["days"] is None else f"{pick['days']:+.3f} days"
        log.info(f"{imagetyp.lower()}: {pick['path']} ({days})")
    with atomic_path(output) as temporary:
        temporary.write_text(json.dumps(choice.masters, indent=1))


def header_number(header, keyword: str, what, default=None, assumed=None) -> float:
    """A positive numeric keyword of ``header`` (see :func:`skyrms.io.header_values.number_of`).

    When it is missing or unusable: ``default`` with a warning (and a note
    appended to the list ``assumed``), or without a default an
    :class:`InputError` naming ``what``.
    """
    try:
        return number_of(header, keyword, what)
    except ValueError as error:
        if default is None:
            raise InputError(str(error)) from None
    log.warning(f"{what}: no usable {keyword}; assuming {default}")
    if assumed is not None:
        assumed.append(f"{keyword}={default} for {os.path.basename(what)}")
    return default


@dataclass
class MasterMaps:
    """A chosen master's pixel data and error maps, opened once for the propagation: each is
    read a slab of rows at a time.

    ``error`` is its ERR extension (1-sigma error, its units) and ``read_noise`` its
    RDNOISE extension (master bias: e- per pixel), None when absent.
    """

    image: RowReader
    error: RowReader | None = None
    read_noise: RowReader | None = None

    @property
    def path(self) -> str:
        return self.image.path

    @property
    def header(self):
        return self.image.header


def rows_of(reader: RowReader | None, rows: slice) -> np.ndarray | None:
    """Rows of one of a master's maps as native float32 (None for an absent map)."""
    return None if reader is None else reader.rows(rows)


def open_master(stack: ExitStack, path, shape, hdul=None) -> MasterMaps:
    """Open a master (closed with ``stack``) and check its maps against the frame's shape;
    ``hdul``, its HDU list given in memory, is read instead of the file (``path`` names it)."""
    names = (kw.ERROR_EXTENSION, kw.READ_NOISE_EXTENSION)
    image, extensions = open_for_rows(stack, path, names, hdul)
    for reader, what in ((image, "master"), *((r, f"{n} map") for n, r in extensions.items() if r)):
        check_frame_shape(path, what, reader.shape, shape)
    return MasterMaps(image, *(extensions[name] for name in names))


def combination_of(master: MasterMaps, settings: CalibrationSection) -> tuple[CombineParams, str]:
    """How a master was combined, and where that is known from: its COMBMETH card (masters
    built by skyrms), else the configured ``combine``."""
    header = master.header
    params = CombineParams(
        method=str(header.get(kw.COMBMETH, settings.combine)),
        sigma=float(header.get(kw.CLIPSIG, CombineParams.sigma)),
        nlow=int(header.get(kw.CLIPLOW, CombineParams.nlow)),
        nhigh=int(header.get(kw.CLIPHIGH, CombineParams.nhigh)),
    )
    return params, kw.COMBMETH if kw.COMBMETH in header else "calibration.combine"


def combination_factor(master: MasterMaps, count: int, params: CombineParams) -> float:
    """Variance factor ``c`` of a master of ``count`` frames combined as ``params`` say (see
    :mod:`skyrms.science.combine`)."""
    try:
        return variance_factor(params.method, count, params)
    except ValueError as error:
        raise InputError(f"{master.path}: {error}") from None


@dataclass
class Calibration:
    """Everything the noise model needs besides the sky: the masters and the keywords.

    ``masters`` are the chosen masters by type (BIAS, DARK, FLAT); ``counts`` the NCOMBINE
    of the master bias and dark by type (BIAS, DARK), ``factors`` their variance factors and
    ``combinations`` how they were combined with where that is known from, by type too;
    ``n_science`` the frame's NCOMBINE. ``egain`` is in e-/ADU, ``exptime`` and
    ``dark_exptime`` (the frame's and the master dark's EXPTIME) in s, ``read_noise`` in e-
    (None: the master bias's per-pixel map).
    """

    masters: dict
    egain: float
    exptime: float
    dark_exptime: float
    n_science: int
    counts: dict
    factors: dict
    combinations: dict
    read_noise: float | None = 0.0
    noise_source: str = ""
    assumed: list = field(default_factory=list)


def load_calibration(
    stack, frame, fields: dict, choice: dict, shape, settings: CalibrationSection, given=None
) -> Calibration:
    """Open the chosen masters (each once, closed with ``stack``; those ``given`` in memory,
    HDU lists by type, are read instead of their files) and take the frame's keywords from
    ``fields`` (its header index entry); fill defaults with warnings.

    The read noise is the configured one, else the master bias's per-pixel map, else the
    frame's RDNOISE, else estimated from rows of the master bias
    (:func:`skyrms.science.noise_model.read_noise_rows`).
    """
    given = given or {}
    masters = {t: open_master(stack, choice[t]["path"], shape, given.get(t)) for t in TYPES}
    bias, dark = masters["BIAS"], masters["DARK"]
    default, assumed = settings.default_ncombine, []
    n_science = int(header_number(fields, kw.NCOMBINE, frame, default.science, assumed))
    counts = {
        t: header_number(masters[t].header, kw.NCOMBINE, masters[t].path, default.master, assumed)
        for t in ("BIAS", "DARK")
    }
    counts = {t: int(count) for t, count in counts.items()}
    combinations = {t: combination_of(masters[t], settings) for t in ("BIAS", "DARK")}
    factors = {
        t: combination_factor(masters[t], counts[t], combinations[t][0]) for t in ("BIAS", "DARK")
    }
    egain = settings.gain or header_number(fields, kw.EGAIN, frame)
    if settings.read_noise is not None:
        read_noise, noise_source = settings.read_noise, "config"
    elif bias.read_noise is not None:
        read_noise, noise_source = None, "master bias map"
    elif kw.RDNOISE in fields:
        read_noise, noise_source = header_number(fields, kw.RDNOISE, frame), kw.RDNOISE
    else:
        rows = rows_of(bias.image, read_noise_rows(shape[0]))
        read_noise = read_noise_from_bias(rows, egain, counts["BIAS"], factors["BIAS"])
        noise_source = "master bias"
    if masters["FLAT"].error is None:
        log.warning(
            f"{masters['FLAT'].path}: no {kw.ERROR_EXTENSION} extension; "
            "the flat's own error is left out"
        )
    return Calibration(
        masters,
        egain=egain,
        exptime=header_number(fields, kw.EXPTIME, frame),
        dark_exptime=header_number(dark.header, kw.EXPTIME, dark.path),
        n_science=n_science,
        counts=counts,
        factors=factors,
        combinations=combinations,
        read_noise=read_noise,
        noise_source=noise_source,
        assumed=assumed,
    )  # fmt: skip


def propagate_slab(cal: Calibration, sky: np.ndarray, rows: slice, settings: CalibrationSection):
    """Variance (ADU^2) of the frame's ``rows`` from their sky (ADU) and the masters' rows,
    and how many pixels of the master flat there are <= 0 or NaN (unusable)."""
    bias, dark, flat = (cal.masters[t] for t in TYPES)
    response = rows_of(flat.image, rows)
    unusable = np.count_nonzero(~(response > 0))
    read_noise = cal.read_noise
    if read_noise is None:
        read_noise = rows_of(bias.read_noise, rows)
    variance = propagated_variance(
        sky, response, rows_of(dark.image, rows), egain=cal.egain, read_noise=read_noise,
        exptime=cal.exptime, dark_exptime=cal.dark_exptime, n_science=cal.n_science,
        n_bias=cal.counts["BIAS"], n_dark=cal.counts["DARK"],
        bias_factor=cal.factors["BIAS"], dark_factor=cal.factors["DARK"],
        bias_error=rows_of(bias.error, rows), dark_error=rows_of(dark.error, rows),
        flat_error=rows_of(flat.error, rows), dark_bias=settings.dark_bias,
    )  # fmt: skip
    return variance, unusable


def provenance_cards(
    cal: Calibration, choice: dict, settings: CalibrationSection, medians: dict
) -> list:
    """Header cards of the propagated RMS product: the model's inputs and the masters."""
    bias, dark, flat = (cal.masters[t] for t in TYPES)
    noise = "map" if cal.read_noise is None else round(cal.read_noise, 4)
    cards = [
        kw.EGAINUSD.card(cal.egain),
        kw.RDNOISE.card(noise, f"read noise used, e- ({cal.noise_source})"),
        kw.NCOMBSCI.card(cal.n_science),
        kw.NCOMBBIA.card(cal.counts["BIAS"]),
        kw.NCOMBDRK.card(cal.counts["DARK"]),
        kw.DARKSCAL.card(round(cal.exptime / cal.dark_exptime, 6)),
        *(
            kw.COMBINED(imagetyp).card(params.method, f"{imagetyp.lower()} combination ({source})")
            for imagetyp, (params, source) in cal.combinations.items()
        ),
        kw.CFACBIAS.card(round(cal.factors["BIAS"], 5)),
        kw.CFACDARK.card(round(cal.factors["DARK"], 5)),
        kw.DARKBIAS.card(settings.dark_bias),
        kw.BIASERR.card(bias.error is not None),
        kw.DARKERR.card(dark.error is not None),
        kw.FLATERR.card(flat.error is not None),
        kw.PROPMED.card(round(medians["propagated"], 4)),
        kw.IMGMED.card(round(medians["image"], 4)),
        kw.RMSRATIO.card(round(medians["ratio"], 5)),
        kw.ASSUMED.card("; ".join(cal.assumed) or "none"),
    ]
    for imagetyp in TYPES:
        days, card = choice[imagetyp]["days"], kw.MASTER_DAYS(imagetyp)
        unknown = f"{card.comment}: unknown, no time in a header"
        cards.append(card.card(None, unknown) if days is None else card.card(round(days, 5)))
    return cards


def propagated_rms(
    frame, background, image_rms, choice: dict, output, settings: CalibrationSection,
    fields: dict, frame_digest=None, compress=False,
):  # fmt: skip
    """Write the background RMS map (ADU) propagated from the CCD model and the chosen
    masters (:func:`propagated_product`) from the background map at ``background`` and the
    image-based RMS map at ``image_rms``; ``compress`` chooses the format
    (:func:`skyrms.io.fitsfiles.write_float_map`)."""
    sky, sky_header = read_image(background)
    inputs = {kw.IN_FRAME: frame, kw.IN_BKG: background, kw.IN_RMS: image_rms}
    product = propagated_product(
        frame, sky, sky_header, image_rms, choice, settings, fields, frame_digest, inputs
    )
    product.write(output, compress)


def propagated_product(
    frame, sky: np.ndarray, sky_header, image_rms, choice: dict, settings: CalibrationSection,
    fields: dict, frame_digest=None, inputs=None, given=None,
) -> Product:  # fmt: skip
    """Background RMS map (ADU) propagated from the CCD model and the chosen masters.

    ``frame`` names the frame (its path, or a name for messages); ``sky`` is its background
    map (ADU, float32; overwritten: the variance is made in place) and ``sky_header`` that
    map's header, whose identity and WCS cards (the frame's) the product takes;
    ``image_rms`` the image-based RMS map (a path, or the map, ADU). ``choice`` is the
    lookup's record (see :func:`skyrms.plan.master_lookup.record`); ``settings`` the
    ``calibration`` section of the configuration: gain and read_noise overrides (None: from
    the headers), combine, dark_bias and default_ncombine. See
    :mod:`skyrms.science.noise_model`. ``fields`` are the frame's header keywords (the
    header index's entry: the frame is not opened), ``frame_digest`` its SHA-256 (FRAMESHA)
    if known, ``inputs`` the input files recorded (keyword -> path; the masters' files are
    added). ``given`` holds masters given in memory, by type, as HDU lists laid out as a
    master's file, read instead of the files (the record names them by a placeholder).
    The masters are read a slab of rows at a time, so their error maps cost no full-frame
    memory.
    """
    if negative := np.count_nonzero(sky < 0):
        log.warning(
            f"{frame}: background below zero at {negative / sky.size:.1%} of the pixels; "
            "the sky's Poisson noise counts as zero there (is the frame bias-subtracted?)"
        )
    with ExitStack() as stack:
        cal = load_calibration(stack, frame, fields, choice, sky.shape, settings, given)
        noise = "a map" if cal.read_noise is None else f"{cal.read_noise:.3f} e-"
        log.info(
            f"gain {cal.egain} e-/ADU, read noise {noise} ({cal.noise_source}), "
            f"NCOMBINE {cal.n_science} (masters {cal.counts}), variance factors {cal.factors}"
        )
        variance, unusable = sky, 0  # each slab's variance replaces its sky
        for start in range(0, len(sky), SLAB_ROWS):  # temporaries of a slab, not of the frame
            rows = slice(start, start + SLAB_ROWS)
            variance[rows], bad = propagate_slab(cal, sky[rows], rows, settings)
            unusable += bad
    if unusable:
        raise InputError(
            f"{cal.masters['FLAT'].path}: master flat has {unusable} pixels <= 0 or NaN"
        )
    rms = np.sqrt(variance, out=variance)
    medians = rms_medians(rms, image_rms)
    log.info(f"median propagated / image RMS: {medians['ratio']:.4f}")
    inputs = dict(inputs or {})
    files = [imagetyp for imagetyp in TYPES if imagetyp not in (given or {})]
    inputs |= {kw.IN_MASTER(imagetyp): choice[imagetyp]["path"] for imagetyp in files}
    identity = [kw.FRAMESHA.card(frame_digest)] if frame_digest else []
    cards = identity + provenance_cards(cal, choice, settings, medians)
    return Product(rms, "PROPRMS", sky_header, inputs, tuple(cards))


def rms_medians(rms: np.ndarray, image_rms) -> dict[str, float]:
    """The medians of the header (ADU): PROPMED of the propagated map ``rms``, IMGMED of the
    image-based map ``image_rms`` (its path, or the map), and RMSRATIO, the median over
    pixels of their per-pixel ratio (not the ratio of the two medians). Each over the same
    sample: every MEDIAN_STRIDE-th pixel of the rows of
    :func:`skyrms.io.fitsfiles.sample_rows`."""
    rows = sample_rows(len(rms), MEDIAN_STRIDE)
    if isinstance(image_rms, np.ndarray):
        check_frame_shape("image RMS", "map", image_rms.shape, rms.shape)
        image = np.concatenate([image_rms[row] for row in rows])[:, ::MEDIAN_STRIDE]
    else:
        image = read_rows(image_rms, rows, rms.shape)[:, ::MEDIAN_STRIDE]
    sample = np.concatenate([rms[row] for row in rows])[:, ::MEDIAN_STRIDE]
    return {
        "propagated": float(np.median(sample)),
        "image": float(np.median(image)),
        "ratio": float(np.median(sample / image)),
    }


def record_and_propagate(
    frame, background, image_rms, lookup, record, output, settings: CalibrationSection, fields,
    frame_digest=None, compress=False,
) -> None:  # fmt: skip
    """Write the lookup's record of the masters, then the propagated RMS map made with them.

    ``lookup`` is the frame's :class:`~skyrms.plan.master_lookup.MasterChoice` as the rule's
    parameter (:meth:`~skyrms.plan.master_lookup.MasterChoice.as_param`); the other arguments are
    :func:`propagated_rms`'s.
    """
    choice = MasterChoice.from_param(lookup)
    record_masters(choice, record)
    propagated_rms(
        frame, background, image_rms, choice.masters, output, settings, fields, frame_digest,
        compress,
    )  # fmt: skip
