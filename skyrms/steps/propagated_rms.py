"""File-level steps of the calibration branch: record the masters, propagate the RMS."""

import json
import logging
import os
from dataclasses import dataclass, field

import numpy as np

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import (
    InputError,
    atomic_path,
    check_frame_shape,
    read_image,
    read_image_and_extension,
    read_rows,
    read_rows_and_header,
    sample_rows,
    write_float_map,
)
from skyrms.io.header_values import number_of
from skyrms.io.provenance import product_header
from skyrms.master_lookup import TYPES
from skyrms.science.noise_model import propagated_variance, read_noise_from_bias, read_noise_rows

log = logging.getLogger(__name__)

SLAB_ROWS = 256
"""Rows of the frame propagated at a time, which bounds the temporaries' memory."""

MEDIAN_STRIDE = 4
"""The header medians are taken over every 4th pixel along both axes of the rows of every
4th tile (:func:`skyrms.io.fitsfiles.sample_rows`): exact enough, and the image-based RMS map
is only partly decompressed for them."""


def record_masters(choice: dict | None, error: str | None, output) -> None:
    """Write the masters chosen for a frame (JSON), or fail with the lookup's error."""
    if error:
        raise InputError(error)
    for imagetyp in TYPES:
        pick = choice[imagetyp]
        log.info(f"{imagetyp.lower()}: {pick['path']} ({pick['days']:+.3f} days)")
    with atomic_path(output) as temporary:
        temporary.write_text(json.dumps(choice, indent=1))


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


def read_master(path, shape):
    """A master's pixels and header, checked against the frame's shape."""
    data, header = read_image(path)
    check_frame_shape(path, "master", data.shape, shape)
    return data, header


def flat_pixels(path, shape):
    """Master flat and its error map (None without an ERR extension), read at once, checked."""
    flat, header, error = read_image_and_extension(path, kw.FLAT_ERROR_EXTENSION)
    check_frame_shape(path, "master", flat.shape, shape)
    if not np.all(flat > 0):
        raise InputError(
            f"{path}: master flat has {np.count_nonzero(~(flat > 0))} pixels <= 0 or NaN"
        )
    if error is None:
        log.warning(
            f"{path}: no {kw.FLAT_ERROR_EXTENSION} extension; the flat's own error is left out"
        )
    return flat, error, header


@dataclass
class Calibration:
    """Everything the noise model needs besides the sky, read from the frame and masters."""

    dark: np.ndarray
    flat: np.ndarray
    flat_error: np.ndarray | None
    egain: float
    exptime: float
    dark_exptime: float
    counts: dict
    read_noise: float = 0.0
    noise_source: str = ""
    assumed: list = field(default_factory=list)


def load_calibration(frame, fields: dict, choice: dict, shape, settings: dict) -> Calibration:
    """Read the chosen masters (each once) and take the frame's keywords from ``fields``
    (its header keywords, as the header index holds them); fill defaults with warnings.

    Of the master bias only the rows that the read noise needs are read
    (:func:`skyrms.science.noise_model.read_noise_rows`): three full maps (dark, flat and its
    error) are held at a time.
    """
    paths = {imagetyp: choice[imagetyp]["path"] for imagetyp in TYPES}
    default, assumed = settings["default_ncombine"], []
    rows = [read_noise_rows(shape[0])]
    bias, bias_header = read_rows_and_header(paths["BIAS"], rows, shape, "master")
    n_bias = header_number(bias_header, kw.NCOMBINE, paths["BIAS"], default["master"], assumed)
    egain = settings["gain"] or header_number(fields, kw.EGAIN, frame)
    if settings["read_noise"] is not None:
        read_noise, noise_source = settings["read_noise"], "config"
    elif kw.RDNOISE in fields:
        read_noise, noise_source = header_number(fields, kw.RDNOISE, frame), kw.RDNOISE
    else:
        read_noise = read_noise_from_bias(bias, egain, int(n_bias), settings["combine"])
        noise_source = "master bias"
    del bias
    dark, dark_header = read_master(paths["DARK"], shape)
    flat, flat_error, _ = flat_pixels(paths["FLAT"], shape)
    counts = {
        "science": header_number(fields, kw.NCOMBINE, frame, default["science"], assumed),
        "bias": n_bias,
        "dark": header_number(dark_header, kw.NCOMBINE, paths["DARK"], default["master"], assumed),
    }
    return Calibration(
        dark, flat, flat_error,
        egain=egain,
        exptime=header_number(fields, kw.EXPTIME, frame),
        dark_exptime=header_number(dark_header, kw.EXPTIME, paths["DARK"]),
        counts={name: int(count) for name, count in counts.items()},
        read_noise=read_noise,
        noise_source=noise_source,
        assumed=assumed,
    )  # fmt: skip


def provenance_cards(cal: Calibration, choice: dict, settings: dict, medians: dict) -> list:
    """Header cards of the propagated RMS product: the model's inputs and the masters."""
    cards = [
        kw.EGAINUSD.card(cal.egain),
        kw.RDNOISE.card(round(cal.read_noise, 4), f"read noise used, e- ({cal.noise_source})"),
        kw.NCOMBSCI.card(cal.counts["science"]),
        kw.NCOMBBIA.card(cal.counts["bias"]),
        kw.NCOMBDRK.card(cal.counts["dark"]),
        kw.DARKSCAL.card(round(cal.exptime / cal.dark_exptime, 6)),
        kw.COMBINE.card(settings["combine"]),
        kw.DARKBIAS.card(settings["dark_bias"]),
        kw.FLATERR.card(cal.flat_error is not None),
        kw.PROPMED.card(round(medians["propagated"], 4)),
        kw.IMGMED.card(round(medians["image"], 4)),
        kw.RMSRATIO.card(round(medians["ratio"], 5)),
        kw.ASSUMED.card("; ".join(cal.assumed) or "none"),
    ]
    for imagetyp in TYPES:
        cards.append(kw.MASTER_DAYS(imagetyp).card(round(choice[imagetyp]["days"], 5)))
    return cards


def propagated_rms(
    frame, background, image_rms, choice: dict, output, settings: dict, fields: dict,
    frame_digest=None,
):  # fmt: skip
    """Background RMS map (ADU) propagated from the CCD model and the chosen masters.

    ``choice`` is the lookup's record (see :func:`skyrms.master_lookup.record`);
    ``settings`` the ``calibration`` section of the configuration: gain and
    read_noise overrides (None: from the headers), combine, dark_bias and
    default_ncombine ({"science": n, "master": n}). See :mod:`skyrms.science.noise_model`.
    ``fields`` are the frame's header keywords (the header index's entry: the frame is
    not opened), ``frame_digest`` its SHA-256 (FRAMESHA) if known. The product's identity
    and WCS cards are the background map's, which carries the frame's.
    """
    sky, sky_header = read_image(background)
    if negative := np.count_nonzero(sky < 0):
        log.warning(
            f"{background}: background below zero at {negative / sky.size:.1%} of the pixels; "
            "the sky's Poisson noise counts as zero there (is the frame bias-subtracted?)"
        )
    cal = load_calibration(frame, fields, choice, sky.shape, settings)
    log.info(
        f"gain {cal.egain} e-/ADU, read noise {cal.read_noise:.3f} e- ({cal.noise_source}), "
        f"NCOMBINE {cal.counts}"
    )
    variance = sky  # each slab's variance replaces its sky: no second full map
    for start in range(0, len(sky), SLAB_ROWS):  # temporaries of a slab, not of the frame
        rows = slice(start, start + SLAB_ROWS)
        variance[rows] = propagated_variance(
            sky[rows], cal.flat[rows], cal.dark[rows], egain=cal.egain,
            read_noise=cal.read_noise, exptime=cal.exptime, dark_exptime=cal.dark_exptime,
            n_science=cal.counts["science"], n_bias=cal.counts["bias"],
            n_dark=cal.counts["dark"], combine=settings["combine"],
            dark_bias=settings["dark_bias"],
            flat_error=None if cal.flat_error is None else cal.flat_error[rows],
        )  # fmt: skip
    cal.dark = cal.flat = cal.flat_error = None  # let go of three maps before reading another
    rms = np.sqrt(variance, out=variance)
    rows = sample_rows(len(rms), MEDIAN_STRIDE)
    image = read_rows(image_rms, rows, rms.shape)[:, ::MEDIAN_STRIDE]
    sample = np.concatenate([rms[row] for row in rows])[:, ::MEDIAN_STRIDE]
    medians = {
        "propagated": float(np.median(sample)),
        "image": float(np.median(image)),
        "ratio": float(np.median(sample / image)),
    }
    log.info(f"median propagated / image RMS: {medians['ratio']:.4f}")
    inputs = {kw.IN_FRAME: frame, kw.IN_BKG: background, kw.IN_RMS: image_rms}
    inputs |= {kw.IN_MASTER(imagetyp): choice[imagetyp]["path"] for imagetyp in TYPES}
    identity = [kw.FRAMESHA.card(frame_digest)] if frame_digest else []
    cards = identity + provenance_cards(cal, choice, settings, medians)
    write_float_map(output, rms, product_header(sky_header, "PROPRMS", "adu", inputs, cards))


def record_and_propagate(
    frame, background, image_rms, lookup, record, output, settings, fields, frame_digest=None
) -> None:
    """Write the lookup's record of the masters, then the propagated RMS map made with them.

    ``lookup`` is (choice, None) or (None, the one-line reason no master fits); the other
    arguments are :func:`propagated_rms`'s.
    """
    choice, error = lookup
    record_masters(choice, error, record)
    propagated_rms(frame, background, image_rms, choice, output, settings, fields, frame_digest)
