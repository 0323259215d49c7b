"""File-level steps: read a frame, call the science functions, write a product.

The Snakemake scripts and the ``skyrms`` command line both call these; each
writes exactly one product atomically and logs what it did.
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


def source_mask(frame, output, params: MaskParams, bad_pixels=None) -> None:
    """Iterated source mask of ``frame`` (uint8 bits, see :mod:`skyrms.maskbits`)."""
    data, header = read_image(frame)
    check_frame(frame, data, params.box_size, params.filter_size)
    params = MaskParams(
        **{**vars(params), "saturation_level": saturation_level(header, params.saturation_level)}
    )
    invalid = invalid_pixels(data, bad_pixel_map(bad_pixels, data.shape))
    result = iterate_source_mask(data, invalid, params)
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
    inputs = {"IN_FRAME": frame} | ({"IN_BPM": bad_pixels} if bad_pixels else {})
    write_mask(output, result.mask, product_header(header, "SOURCEMASK", "", inputs, cards))


def circular_mask(frame, source_mask_path, output, specs: list[dict]) -> None:
    """Merge the configured circles that touch ``frame`` into its source mask."""
    header = read_header(frame)
    mask, source_header = read_mask(source_mask_path)
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
    cards = [c for c in source_header.cards if c.keyword.startswith(SOURCE_MASK_KEYWORDS)]
    cards.append(("NCIRCLES", len(drawn), "circular masks drawn"))
    cards += [
        (f"CIRCLE{i}", circles.describe(spec), "circular mask") for i, spec in enumerate(wanted, 1)
    ]
    inputs = {"IN_FRAME": frame, "IN_SMASK": source_mask_path}
    write_mask(output, mask, product_header(header, "MASK", "", inputs, cards))


def check_frame(frame, data: np.ndarray, box_size: int, filter_size: int) -> None:
    """Raise InputError when a frame has no valid pixel or is smaller than one box."""
    try:
        check_box(data.shape, box_size, filter_size)
    except ValueError as error:
        raise InputError(f"{frame}: {error}") from None
    if not np.isfinite(data).any():
        raise InputError(f"{frame}: no finite pixel in the frame")


def masked_background_maps(frame, mask_path, background, rms, box_size: int, filter_size: int):
    """Background and background RMS maps (ADU) from one SEP fit without the masked pixels.

    The RMS map is corrected for the estimator's clipping bias (see
    :data:`skyrms.background.GAUSSIAN_RMS_BIAS`).
    """
    data, header = read_image(frame)
    check_frame(frame, data, box_size, filter_size)
    mask, _ = read_mask(mask_path)
    if mask.shape != data.shape:
        raise InputError(f"{mask_path}: mask is {mask.shape}, the frame is {data.shape}")
    masked = mask != 0
    data[masked] = 0.0
    bkg = estimate(data, masked, box_size, filter_size)
    fraction = float(np.count_nonzero(masked) / mask.size)
    log.info(
        f"background {bkg.globalback:.3f} ADU, RMS {bkg.globalrms / GAUSSIAN_RMS_BIAS:.3f} ADU, "
        f"masked fraction {fraction:.3f}"
    )
    cards = [
        ("BKGBOX", box_size, "background box size, pixels"),
        ("BKGFILT", filter_size, "background filter size, boxes"),
        ("MASKFRAC", round(fraction, 5), "fraction of pixels masked"),
    ]
    inputs = {"IN_FRAME": frame, "IN_MASK": mask_path}
    write_float_map(
        background, bkg.back(), product_header(header, "BACKGROUND", "adu", inputs, cards)
    )
    cards.append(("RMSBIAS", GAUSSIAN_RMS_BIAS, "SEP clipped RMS / true sigma; divided out"))
    write_float_map(rms, unbiased_rms(bkg), product_header(header, "BKGRMS", "adu", inputs, cards))


def mask_and_background(frame, source_mask, mask, background, rms, specs, box_size, filter_size):
    """The final mask (the circles merged into the source mask), then the maps fitted with it."""
    circular_mask(frame, source_mask, mask, specs)
    masked_background_maps(frame, mask, background, rms, box_size, filter_size)
