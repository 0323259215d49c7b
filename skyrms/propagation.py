"""File-level steps of the calibration branch: record the masters, propagate the RMS."""

import json
import logging
import os
from dataclasses import dataclass, field

import numpy as np

from .calibration import TYPES, number_of
from .fitsfiles import (
    InputError,
    atomic_path,
    check_frame_shape,
    read_extension,
    read_header,
    read_image,
    read_rows,
    sample_rows,
    write_float_map,
)
from .noise import propagated_variance, read_noise_from_bias, read_noise_rows
from .provenance import product_header

log = logging.getLogger(__name__)

FLAT_ERROR_EXTENSION = "ERR"
"""Name of the image extension of a master flat holding its 1-sigma error."""

SLAB_ROWS = 256
"""Rows of the frame propagated at a time, which bounds the temporaries' memory."""

MEDIAN_STRIDE = 4
"""The header medians are taken over every 4th pixel along both axes of the rows of every
4th tile (:func:`skyrms.fitsfiles.sample_rows`): exact enough, and the image-based RMS map
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
    """A positive numeric keyword of ``header`` (see :func:`skyrms.calibration.number_of`).

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
    """Master flat and its error map (None if it has no ERR extension), checked."""
    flat, header = read_master(path, shape)
    if not np.all(flat > 0):
        raise InputError(
            f"{path}: master flat has {np.count_nonzero(~(flat > 0))} pixels <= 0 or NaN"
        )
    error = read_extension(path, FLAT_ERROR_EXTENSION)
    if error is None:
        log.warning(
            f"{path}: no {FLAT_ERROR_EXTENSION} extension; the flat's own error is left out"
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


def load_calibration(frame, header, choice: dict, shape, settings: dict) -> Calibration:
    """Read the chosen masters and the frame's keywords; fill defaults with warnings.

    Of the master bias only the rows that the read noise needs are read
    (:func:`skyrms.noise.read_noise_rows`): three full maps (dark, flat and its
    error) are held at a time.
    """
    paths = {imagetyp: choice[imagetyp]["path"] for imagetyp in TYPES}
    default, assumed = settings["default_ncombine"], []
    bias_header = read_header(paths["BIAS"])
    bias = read_rows(paths["BIAS"], [read_noise_rows(shape[0])], shape, "master")
    n_bias = header_number(bias_header, "NCOMBINE", paths["BIAS"], default["master"], assumed)
    egain = settings["gain"] or header_number(header, "EGAIN", frame)
    if settings["read_noise"] is not None:
        read_noise, noise_source = settings["read_noise"], "config"
    elif "RDNOISE" in header:
        read_noise, noise_source = header_number(header, "RDNOISE", frame), "RDNOISE"
    else:
        read_noise = read_noise_from_bias(bias, egain, int(n_bias), settings["combine"])
        noise_source = "master bias"
    del bias
    dark, dark_header = read_master(paths["DARK"], shape)
    flat, flat_error, _ = flat_pixels(paths["FLAT"], shape)
    counts = {
        "science": header_number(header, "NCOMBINE", frame, default["science"], assumed),
        "bias": n_bias,
        "dark": header_number(dark_header, "NCOMBINE", paths["DARK"], default["master"], assumed),
    }
    return Calibration(
        dark, flat, flat_error,
        egain=egain,
        exptime=header_number(header, "EXPTIME", frame),
        dark_exptime=header_number(dark_header, "EXPTIME", paths["DARK"]),
        counts={name: int(count) for name, count in counts.items()},
        read_noise=read_noise,
        noise_source=noise_source,
        assumed=assumed,
    )  # fmt: skip


def provenance_cards(cal: Calibration, choice: dict, settings: dict, medians: dict) -> list:
    """Header cards of the propagated RMS product: the model's inputs and the masters."""
    cards = [
        ("EGAINUSD", cal.egain, "gain used, e-/ADU"),
        ("RDNOISE", round(cal.read_noise, 4), f"read noise used, e- ({cal.noise_source})"),
        ("NCOMBSCI", cal.counts["science"], "exposures in the science frame"),
        ("NCOMBBIA", cal.counts["bias"], "frames in the master bias"),
        ("NCOMBDRK", cal.counts["dark"], "frames in the master dark"),
        ("DARKSCAL", round(cal.exptime / cal.dark_exptime, 6), "EXPTIME / dark EXPTIME"),
        ("COMBINE", settings["combine"], "how the masters were combined"),
        ("DARKBIAS", settings["dark_bias"], "bias in the master dark"),
        ("FLATERR", cal.flat_error is not None, "flat error map used"),
        ("PROPMED", round(medians["propagated"], 4), "median of this map, ADU"),
        ("IMGMED", round(medians["image"], 4), "median image-based RMS (IN_RMS), ADU"),
        ("RMSRATIO", round(medians["ratio"], 5), "median propagated / image-based RMS"),
        ("ASSUMED", "; ".join(cal.assumed) or "none", "defaults used for missing keywords"),
    ]
    for imagetyp in TYPES:
        days = round(choice[imagetyp]["days"], 5)
        cards.append((f"{imagetyp}DAYS", days, f"master {imagetyp.lower()} - frame, days"))
    return cards


def propagated_rms(frame, background, image_rms, choice: dict, output, settings: dict) -> None:
    """Background RMS map (ADU) propagated from the CCD model and the chosen masters.

    ``choice`` is the lookup's record (see :func:`skyrms.calibration.record`);
    ``settings`` the ``calibration`` section of the configuration: gain and
    read_noise overrides (None: from the headers), combine, dark_bias and
    default_ncombine ({"science": n, "master": n}). See :mod:`skyrms.noise`.
    """
    header = read_header(frame)
    sky, sky_header = read_image(background)
    if negative := np.count_nonzero(sky < 0):
        log.warning(
            f"{background}: background below zero at {negative / sky.size:.1%} of the pixels; "
            "the sky's Poisson noise counts as zero there (is the frame bias-subtracted?)"
        )
    cal = load_calibration(frame, header, choice, sky.shape, settings)
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
    inputs = {"IN_FRAME": frame, "IN_BKG": background, "IN_RMS": image_rms}
    inputs |= {f"IN_{imagetyp}": choice[imagetyp]["path"] for imagetyp in TYPES}
    cards = provenance_cards(cal, choice, settings, medians)
    if "FRAMESHA" in sky_header:
        cards.insert(0, ("FRAMESHA", sky_header["FRAMESHA"], "SHA-256 of IN_FRAME"))
    write_float_map(output, rms, product_header(header, "PROPRMS", "adu", inputs, cards))


def record_and_propagate(frame, background, image_rms, lookup, record, output, settings) -> None:
    """Write the lookup's record of the masters, then the propagated RMS map made with them.

    ``lookup`` is (choice, None) or (None, the one-line reason no master fits).
    """
    choice, error = lookup
    record_masters(choice, error, record)
    propagated_rms(frame, background, image_rms, choice, output, settings)
