"""File-level steps: read a frame, call the science functions, write a product.

The Snakemake scripts and the ``skyrms`` command line both call these; each
writes its products atomically and logs what it did.
"""

import logging

import numpy as np

from . import blanks, circles, maskbits
from .background import (
    GAUSSIAN_RMS_BIAS,
    NoBackground,
    check_box,
    estimate,
    mesh_usage,
    unbiased_rms,
)
from .fitsfiles import InputError, read_header, read_image, read_mask, write_float_map, write_mask
from .provenance import product_header
from .sources import BACKGROUND, MaskParams, iterate_source_mask

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


def blank_values(header, configured: float | None) -> list[float]:
    """Values that mean "no data" in a frame (frame units): the physical value of an integer
    frame's BLANK keyword (BZERO + BSCALE x BLANK) and the configured ``blank_value``."""
    values = [] if configured is None else [float(configured)]
    if header.get("BITPIX", -32) > 0 and "BLANK" in header:
        values.append(header.get("BZERO", 0.0) + header.get("BSCALE", 1.0) * header["BLANK"])
    return values


def invalid_map(frame, data, header, invalid: blanks.InvalidSpec, saturation) -> np.ndarray:
    """Boolean map of the frame's pixels that carry no measurement (see :mod:`skyrms.blanks`).

    ``saturation`` (ADU or None) keeps saturated plateaus from counting as runs.
    """
    result = blanks.invalid_pixels(
        data,
        bad_pixel_map(invalid.bad_pixel_mask, data.shape),
        blank_values(header, invalid.blank_value),
        invalid.blank_run,
        saturation,
    )
    if count := np.count_nonzero(result):
        log.info(f"{count} invalid pixels (not finite, blank, bad, or runs of one value)")
    if count == result.size:
        raise InputError(f"{frame}: no valid pixel in the frame (all blank or not finite)")
    return result


def detect_sources(frame, data, header, params: MaskParams, invalid: blanks.InvalidSpec):
    """Iterated source mask of a frame's pixels (uint8 bits) and its header cards.

    ``data`` is the native float32 frame (ADU), ``header`` its primary header,
    ``invalid`` says which pixels besides non-finite ones carry no measurement.
    """
    params = MaskParams(
        **{**vars(params), "saturation_level": saturation_level(header, params.saturation_level)}
    )
    try:
        result = iterate_source_mask(
            data, invalid_map(frame, data, header, invalid, params.saturation_level), params
        )
    except NoBackground as error:
        raise InputError(f"{frame}: no usable background: {error}") from None
    if result.stop == BACKGROUND:
        log.warning(
            f"{frame}: growing the mask further would cover most {params.box_size}-px boxes "
            f"(runaway guard): passes stopped at masked fraction {np.mean(result.mask != 0):.3f}; "
            "structure this large is background at this box_size"
        )
    cards = [
        ("MSKSIGMA", params.sigma, "detection threshold, x local background RMS"),
        ("MSKMINAR", params.minarea, "minimum source area, pixels"),
        ("MSKGROWS", params.grow_sigma, "a ring joins its source at this significance"),
        ("MSKLEVEL", params.mask_level, "faded sources masked to this level, x RMS"),
        (
            "MSKSATLV",
            params.saturation_level if params.saturation_level is not None else "none",
            "saturation level, ADU",
        ),
        ("MSKBLANK", "none" if invalid.blank_value is None else invalid.blank_value,
         "configured blank value, ADU"),
        ("MSKBRUN", invalid.blank_run, "runs of one value this long are blank, px"),
        ("MSKMAXIT", params.max_iterations, "maximum detection passes"),
        ("MSKNITER", len(result.iterations), "detection passes taken"),
        ("MSKCONV", result.converged, "last pass found nothing new"),
        ("MSKSTOP", result.stop, "why passes stopped: converged/iterations/background"),
        *[
            (f"MSKG{name[:4].upper()}", count, f"sources whose growth stopped: {name}")
            for name, count in result.reasons.items()
        ],
        ("MSKRMAX", round(result.largest_radius, 1), "largest mask radius, px"),
        ("BKGBOX", params.box_size, "background box size, pixels"),
        ("BKGFILT", params.filter_size, "background filter size, boxes"),
        ("MASKBITS", maskbits.describe(), "bit values"),
    ]  # fmt: skip
    for step in result.iterations:
        n = step.number
        cards.append((f"MSKSRC{n}", step.sources, f"sources masked in pass {n}"))
        cards.append((f"MSKSAT{n}", step.saturated, f"saturated sources masked in pass {n}"))
        cards.append((f"MSKGRO{n}", step.regrown, f"sources grown further in pass {n}"))
    return result.mask, cards


def mask_inputs(frame, invalid: blanks.InvalidSpec) -> dict[str, str]:
    """The input cards of a mask made from ``frame``: IN_FRAME, and IN_BPM if one was used."""
    bad = invalid.bad_pixel_mask
    return {"IN_FRAME": frame} | ({"IN_BPM": bad} if bad else {})


def frame_circles(frame, header, specs: list[dict]):
    """The configured circles that apply to ``frame``, in pixels: (spec, circle) pairs.

    Resolved before any other work, so that a circle the frame cannot place (an RA/Dec
    centre without a WCS) fails the frame at once.
    """
    wanted = [spec for spec in specs if circles.applies_to(spec, header)]
    wcs = circles.celestial_wcs(header) if wanted else None
    placed = []
    for spec in wanted:
        try:
            placed.append((spec, circles.to_pixels(spec, wcs)))
        except ValueError as error:
            raise InputError(f"{frame}: {error}") from None
    return placed


def merge_circles(mask: np.ndarray, placed) -> list:
    """Draw the :func:`frame_circles` that touch the frame into ``mask`` in place; their cards."""
    drawn = []
    for spec, circle in placed:
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
        (f"CIRCLE{i}", circles.describe(spec), "circular mask")
        for i, (spec, _) in enumerate(placed, 1)
    ]


def fit_background(frame, data, mask, box_size: int, filter_size: int):
    """SEP's background model of ``frame`` without its masked pixels, its RMS map (ADU,
    corrected for the clipping bias and kept above zero, see
    :func:`skyrms.background.unbiased_rms`), and their header cards.

    ``data`` is the native float32 frame (ADU); masked pixels may hold anything, NaN too.
    A frame with no mesh box left to estimate fails with :class:`InputError` naming it and
    its masked fraction, before any product is written.
    """
    masked = mask != 0
    fraction = float(np.count_nonzero(masked) / mask.size)
    try:
        bkg = estimate(data, masked, box_size, filter_size)
        partial, borrowed = mesh_usage(masked, box_size)
        noise = unbiased_rms(bkg, box_size)
    except NoBackground as error:
        raise InputError(f"{frame}: no usable background: {error}") from None
    log.info(
        f"background {bkg.globalback:.3f} ADU, RMS {bkg.globalrms / GAUSSIAN_RMS_BIAS:.3f} ADU, "
        f"masked fraction {fraction:.3f}; {partial} boxes estimated from their free part, "
        f"{borrowed} taken from the nearest estimated box"
    )
    cards = [
        ("BKGBOX", box_size, "background box size, pixels"),
        ("BKGFILT", filter_size, "background filter size, boxes"),
        ("MASKFRAC", round(fraction, 5), "fraction of pixels masked"),
        ("BKGPART", partial, "boxes estimated from their free part (20-50%)"),
        ("BKGNEAR", borrowed, "boxes taken from the nearest estimated box"),
    ]
    return bkg, noise, cards


def write_background_maps(bkg, noise, cards, header, outputs, inputs) -> None:
    """Write the background map of a fitted SEP model and its RMS map ``noise`` (ADU).

    ``outputs`` is (background path, RMS path); ``cards`` are (keyword, value, comment)
    provenance cards for both headers.
    """
    background, rms = outputs
    level = bkg.back()
    median = ("BKGMED", round(smooth_median(level), 4), "median of this map, ADU")
    write_float_map(background, level, product_header(header, "BACKGROUND", "adu", inputs,
                                                      [*cards, median]))  # fmt: skip
    del level
    cards = [
        *cards,
        ("RMSBIAS", GAUSSIAN_RMS_BIAS, "SEP clipped RMS / true sigma; divided out"),
        ("RMSMED", round(smooth_median(noise), 4), "median of this map, ADU"),
    ]
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
    frame, mask, background, rms, params: MaskParams, specs,
    invalid: blanks.InvalidSpec = blanks.NOTHING_MORE, frame_digest=None,
):  # fmt: skip
    """The whole image chain of one frame, reading it once.

    Writes the final mask (iterated source mask with the configured circles
    merged, uint8 bits) and the background and background RMS maps fitted
    without the masked pixels (ADU). ``frame_digest``, the frame's SHA-256 if
    known, goes into every header (FRAMESHA) so a product can be checked
    against the frame it was made from. Nothing is written when any step fails.
    """
    data, header = checked_frame(frame, params.box_size, params.filter_size)
    placed = frame_circles(frame, header, specs)
    identity = [("FRAMESHA", frame_digest, "SHA-256 of IN_FRAME")] if frame_digest else []
    bits, cards = detect_sources(frame, data, header, params, invalid)
    cards += merge_circles(bits, placed)
    bkg, noise, fit_cards = fit_background(frame, data, bits, params.box_size, params.filter_size)
    write_mask(mask, bits, product_header(header, "MASK", "", mask_inputs(frame, invalid),
                                          identity + cards))  # fmt: skip
    inputs = {"IN_FRAME": frame, "IN_MASK": mask}
    write_background_maps(bkg, noise, identity + fit_cards, header, (background, rms), inputs)


def source_mask(frame, output, params: MaskParams, invalid=blanks.NOTHING_MORE) -> None:
    """Write the iterated source mask of ``frame`` alone (uint8 bits, no circles)."""
    data, header = checked_frame(frame, params.box_size, params.filter_size)
    bits, cards = detect_sources(frame, data, header, params, invalid)
    inputs = mask_inputs(frame, invalid)
    write_mask(output, bits, product_header(header, "SOURCEMASK", "", inputs, cards))


def circular_mask(frame, source_mask_path, output, specs: list[dict]) -> None:
    """Merge the configured circles that touch ``frame`` into a source mask file."""
    header = read_header(frame)
    bits, source_header = read_mask(source_mask_path)
    cards = [c for c in source_header.cards if c.keyword.startswith(SOURCE_MASK_KEYWORDS)]
    cards += merge_circles(bits, frame_circles(frame, header, specs))
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
    bkg, noise, cards = fit_background(frame, data, bits, box_size, filter_size)
    inputs = {"IN_FRAME": frame, "IN_MASK": mask_path}
    write_background_maps(bkg, noise, cards, header, (background, rms), inputs)
