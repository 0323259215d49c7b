"""File-level steps: read a frame, call the science functions, write a product.

The Snakemake scripts and the ``skyrms`` command line both call these; each
writes its products atomically and logs what it did.
"""

import logging

import numpy as np

from . import circles, maskbits
from .background import GAUSSIAN_RMS_BIAS, check_box, estimate, unbiased_rms
from .fitsfiles import InputError, read_header, read_image, read_mask, write_float_map, write_mask
from .provenance import product_header
from .sources import MaskParams, invalid_pixels, iterate_source_mask

log = logging.getLogger(__name__)

SOURCE_MASK_KEYWORDS = ("MSK", "BKG", "MASKBITS")
"""Prefixes of the source mask's parameter cards, carried into the final mask's header."""


def saturation_level(header, configured: float | None) -> float | None:
    """The configured saturation level, else the frame's SATURATE keyword, else None (ADU)."""
    if configured is not None:
        return float(configured)
    return float(header["SATURATE"]) if "SATURATE" in header else None


def bad_pixel_map(path, shape: tuple[int, int]) -> np.ndarray | None:
    """The user's bad-pixel mask (non-zero = bad) from ``path``, checked against ``shape``."""
    if not path:
        return None
    bad, _ = read_image(path)
    if bad.shape != shape:
        raise InputError(f"{path}: bad-pixel mask is {bad.shape}, the frame is {shape}")
    return bad


def detect_sources(data, header, params: MaskParams, bad_pixels=None):
    """Iterated source mask of a frame's pixels (uint8 bits) and its header cards.

    ``data`` is the native float32 frame (ADU), ``header`` its primary header,
    ``bad_pixels`` an optional path to the user's bad-pixel mask.
    """
    params = MaskParams(
        **{**vars(params), "saturation_level": saturation_level(header, params.saturation_level)}
    )
    invalid = invalid_pixels(data, bad_pixel_map(bad_pixels, data.shape))
    result = iterate_source_mask(data, invalid, params)
    del invalid
    cards = [
        ("MSKSIGMA", params.sigma, "detection threshold, x local background RMS"),
        ("MSKMINAR", params.minarea, "minimum source area, pixels"),
        ("MSKRADF", params.mask_radius_factor, "mask ellipse / isophotal ellipse"),
        ("MSKSATF", params.saturated_radius_factor, "extra factor for saturated sources"),
        (
            "MSKSATLV",
            params.saturation_level if params.saturation_level is not None else "none",
            "saturation level, ADU",
        ),
        ("MSKMAXIT", params.max_iterations, "maximum detection passes"),
        ("MSKNITER", len(result.iterations), "detection passes run"),
        ("MSKCONV", result.converged, "last pass found no new source"),
        ("BKGBOX", params.box_size, "background box size, pixels"),
        ("BKGFILT", params.filter_size, "background filter size, boxes"),
        ("MASKBITS", maskbits.describe(), "bit values"),
    ]
    for step in result.iterations:
        cards.append(
            (f"MSKSRC{step.number}", step.sources, f"sources masked in pass {step.number}")
        )
        cards.append(
            (
                f"MSKSAT{step.number}",
                step.saturated,
                f"saturated sources masked in pass {step.number}",
            )
        )
    return result.mask, cards


def mask_inputs(frame, bad_pixels) -> dict[str, str]:
    """The input cards of a mask made from ``frame``: IN_FRAME, and IN_BPM if one was used."""
    return {"IN_FRAME": frame} | ({"IN_BPM": bad_pixels} if bad_pixels else {})


def merge_circles(frame, header, mask: np.ndarray, specs: list[dict]) -> list:
    """Draw the configured circles that touch ``frame`` into ``mask`` in place; their cards."""
    wanted = [spec for spec in specs if circles.applies_to(spec, header)]
    wcs = circles.celestial_wcs(header) if wanted else None
    drawn = []
    for spec in wanted:
        try:
            circle = circles.to_pixels(spec, wcs)
        except ValueError as error:
            raise InputError(f"{frame}: {error}") from None
        if circle.overlaps(mask.shape):
            drawn.append(circle)
            log.info(
                f"masked {circles.describe(spec)}: centre x={circle.x + 1:.1f} "
                f"y={circle.y + 1:.1f}, r={circle.radius:.1f} px"
            )
        else:
            log.warning(f"skipped {circles.describe(spec)}: outside the frame")
    mask[circles.draw(mask.shape, drawn)] |= maskbits.MANUAL
    cards = [("NCIRCLES", len(drawn), "circular masks drawn")]
    return cards + [
        (f"CIRCLE{i}", circles.describe(spec), "circular mask") for i, spec in enumerate(wanted, 1)
    ]


def write_background_maps(data, header, mask, outputs, box_size, filter_size, inputs, cards=()):
    """Fit SEP's background without the masked pixels; write the background and RMS maps.

    ``data`` is the native float32 frame (ADU); masked pixels may hold anything, NaN too.
    ``outputs`` is (background path, RMS path); both maps are in ADU, the RMS
    corrected for the estimator's clipping bias (see
    :data:`skyrms.background.GAUSSIAN_RMS_BIAS`). ``cards`` are extra
    (keyword, value, comment) provenance cards for both headers.
    """
    masked = mask != 0
    bkg = estimate(data, masked, box_size, filter_size)
    fraction = float(np.count_nonzero(masked) / mask.size)
    del masked
    log.info(
        f"background {bkg.globalback:.3f} ADU, RMS {bkg.globalrms / GAUSSIAN_RMS_BIAS:.3f} ADU, "
        f"masked fraction {fraction:.3f}"
    )
    cards = [
        *cards,
        ("BKGBOX", box_size, "background box size, pixels"),
        ("BKGFILT", filter_size, "background filter size, boxes"),
        ("MASKFRAC", round(fraction, 5), "fraction of pixels masked"),
    ]
    background, rms = outputs
    level = bkg.back()
    median = ("BKGMED", round(smooth_median(level), 4), "median of this map, ADU")
    header_of = product_header(header, "BACKGROUND", "adu", inputs, [*cards, median])
    write_float_map(background, level, header_of)
    del level
    noise = unbiased_rms(bkg)
    cards.append(("RMSBIAS", GAUSSIAN_RMS_BIAS, "SEP clipped RMS / true sigma; divided out"))
    cards.append(("RMSMED", round(smooth_median(noise), 4), "median of this map, ADU"))
    write_float_map(rms, noise, product_header(header, "BKGRMS", "adu", inputs, cards))


def smooth_median(image: np.ndarray) -> float:
    """Median of a smooth map from every 8th pixel along both axes (same units)."""
    return float(np.median(image[::8, ::8]))


def checked_frame(frame, box_size: int, filter_size: int):
    """The frame's pixels (native float32, ADU) and header, checked by :func:`check_frame`."""
    data, header = read_image(frame)
    log.info(f"read {frame}: {data.shape[1]}x{data.shape[0]} px")
    check_frame(frame, data, box_size, filter_size)
    return data, header


def mask_and_background(
    frame, mask, background, rms, params: MaskParams, specs, bad_pixels=None, frame_digest=None
):
    """The whole image chain of one frame, reading it once.

    Writes the final mask (iterated source mask with the configured circles
    merged, uint8 bits) and the background and background RMS maps fitted
    without the masked pixels (ADU). ``frame_digest``, the frame's SHA-256 if
    known, goes into every header (FRAMESHA) so a product can be checked
    against the frame it was made from.
    """
    data, header = checked_frame(frame, params.box_size, params.filter_size)
    identity = [("FRAMESHA", frame_digest, "SHA-256 of IN_FRAME")] if frame_digest else []
    bits, cards = detect_sources(data, header, params, bad_pixels)
    cards += merge_circles(frame, header, bits, specs)
    inputs = mask_inputs(frame, bad_pixels)
    write_mask(mask, bits, product_header(header, "MASK", "", inputs, identity + cards))
    inputs = {"IN_FRAME": frame, "IN_MASK": mask}
    write_background_maps(
        data, header, bits, (background, rms), params.box_size, params.filter_size, inputs, identity
    )


def source_mask(frame, output, params: MaskParams, bad_pixels=None) -> None:
    """Write the iterated source mask of ``frame`` alone (uint8 bits, no circles)."""
    data, header = checked_frame(frame, params.box_size, params.filter_size)
    bits, cards = detect_sources(data, header, params, bad_pixels)
    inputs = mask_inputs(frame, bad_pixels)
    write_mask(output, bits, product_header(header, "SOURCEMASK", "", inputs, cards))


def circular_mask(frame, source_mask_path, output, specs: list[dict]) -> None:
    """Merge the configured circles that touch ``frame`` into a source mask file."""
    header = read_header(frame)
    bits, source_header = read_mask(source_mask_path)
    cards = [c for c in source_header.cards if c.keyword.startswith(SOURCE_MASK_KEYWORDS)]
    cards += merge_circles(frame, header, bits, specs)
    inputs = {"IN_FRAME": frame, "IN_SMASK": source_mask_path}
    write_mask(output, bits, product_header(header, "MASK", "", inputs, cards))


def check_frame(frame, data: np.ndarray, box_size: int, filter_size: int) -> None:
    """Raise InputError when a frame has no valid pixel or is smaller than one box."""
    try:
        check_box(data.shape, box_size, filter_size)
    except ValueError as error:
        raise InputError(f"{frame}: {error}") from None
    if not np.isfinite(data).any():
        raise InputError(f"{frame}: no finite pixel in the frame")


def masked_background_maps(frame, mask_path, background, rms, box_size: int, filter_size: int):
    """Background and background RMS maps (ADU) of ``frame`` without a mask file's pixels."""
    data, header = checked_frame(frame, box_size, filter_size)
    bits, _ = read_mask(mask_path)
    if bits.shape != data.shape:
        raise InputError(f"{mask_path}: mask is {bits.shape}, the frame is {data.shape}")
    inputs = {"IN_FRAME": frame, "IN_MASK": mask_path}
    write_background_maps(data, header, bits, (background, rms), box_size, filter_size, inputs)
