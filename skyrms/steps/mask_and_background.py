"""File-level steps: read a frame, call the science functions, write a product.

The Snakemake scripts and the ``skyrms`` command line both call these; each
writes its products atomically and logs what it did.
"""

import logging
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import (
    InputError,
    all_or_none,
    check_frame_shape,
    read_image,
)
from skyrms.io.wcs import celestial_wcs
from skyrms.science import blanks, circles, maskbits
from skyrms.science.background import (
    GAUSSIAN_RMS_BIAS,
    BackgroundParams,
    NoBackground,
    check_box,
    fit,
    mesh_usage,
    unbiased_rms,
)
from skyrms.science.noise_rms import noise_only_rms
from skyrms.science.source_mask import BACKGROUND, MaskParams, SourceMask, iterate_source_mask
from skyrms.steps.products import Product

log = logging.getLogger(__name__)


def saturation_level(header, configured: float | None) -> float | None:
    """The configured saturation level, else the frame's SATURATE keyword, else None (ADU)."""
    if configured is not None:
        return float(configured)
    return float(header[kw.SATURATE]) if kw.SATURATE in header else None


def bad_pixel_map(path, shape: tuple[int, int]) -> np.ndarray | None:
    """The user's bad-pixel mask (non-zero = bad) from ``path``, checked against ``shape``."""
    if not path:
        return None
    bad, _ = read_image(path)
    check_frame_shape(path, "bad-pixel mask", bad.shape, shape)
    return bad


def blank_values(header, configured: float | None) -> list[float]:
    """Values that mean "no data" in a frame (frame units): the physical value of an integer
    frame's BLANK keyword (BZERO + BSCALE x BLANK) and the configured ``blank_value``."""
    values = [] if configured is None else [float(configured)]
    if header.get(kw.BITPIX, -32) > 0 and kw.BLANK in header:
        values.append(header.get(kw.BZERO, 0.0) + header.get(kw.BSCALE, 1.0) * header[kw.BLANK])
    return values


def invalid_map(frame, data, header, invalid: blanks.InvalidSpec, saturation) -> np.ndarray:
    """Boolean map of the frame's pixels that carry no measurement (:mod:`skyrms.science.blanks`).

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


def frame_params(header, params: MaskParams) -> MaskParams:
    """``params`` with the frame's saturation level (:func:`saturation_level`); InputError
    unless they allow a pass."""
    if params.max_iterations < 1:
        raise InputError(f"max_iterations {params.max_iterations} must be >= 1")
    return replace(params, saturation_level=saturation_level(header, params.saturation_level))


@contextmanager
def usable_background(frame):
    """Turn a fit with no usable mesh box (NoBackground) into an InputError naming ``frame``."""
    try:
        yield
    except NoBackground as error:
        raise InputError(f"{frame}: no usable background: {error}") from None


def detect_sources(frame, data, header, params: MaskParams, mesh, invalid: blanks.InvalidSpec):
    """Iterated source mask of a frame's pixels (its :class:`SourceMask`) and its header cards.

    ``data`` is the native float32 frame (ADU; its invalid pixels are set to 0 in place),
    ``header`` its primary header, ``mesh`` the
    :class:`~skyrms.science.background.BackgroundParams`, ``invalid`` says which pixels
    besides non-finite ones carry no measurement.
    """
    params = frame_params(header, params)
    with usable_background(frame):
        result = iterate_source_mask(
            data, invalid_map(frame, data, header, invalid, params.saturation_level), params, mesh
        )
    if result.stop == BACKGROUND:
        log.warning(
            f"{frame}: growing the mask further would cover most {mesh.box_size}-px boxes "
            f"(runaway guard): passes stopped at masked fraction {np.mean(result.mask != 0):.3f}; "
            "structure this large is background at this box_size"
        )
    return result, source_mask_cards(result, params, mesh, invalid)


def source_mask_cards(
    result: SourceMask, params: MaskParams, mesh: BackgroundParams, invalid: blanks.InvalidSpec
) -> list:
    """Header cards of a source mask: the settings (``params`` with the frame's saturation
    level), what each pass did and why they stopped ("none" while they may go on)."""
    saturation = params.saturation_level
    cards = [
        kw.MSKSIGMA.card(params.sigma),
        kw.MSKMINAR.card(params.minarea),
        kw.MSKGROWS.card(params.grow_sigma),
        kw.MSKLEVEL.card(params.mask_level),
        kw.MSKSATLV.card(saturation if saturation is not None else "none"),
        kw.MSKBLANK.card("none" if invalid.blank_value is None else invalid.blank_value),
        kw.MSKBRUN.card(invalid.blank_run),
        kw.MSKMAXIT.card(params.max_iterations),
        kw.MSKNITER.card(len(result.iterations)),
        kw.MSKCONV.card(result.converged),
        kw.MSKSTOP.card(result.stop or "none"),
        *[kw.MSKGSTOP(name).card(count) for name, count in result.reasons.items()],
        kw.MSKRMAX.card(round(result.largest_radius, 1)),
        *mesh_cards(mesh),
        kw.MASKBITS.card(maskbits.describe()),
    ]
    for step in result.iterations:
        n = step.number
        cards += [kw.MSKSRC(n).card(step.sources), kw.MSKSAT(n).card(step.saturated),
                  kw.MSKGRO(n).card(step.regrown)]  # fmt: skip
    return cards


def mesh_cards(mesh: BackgroundParams) -> list:
    """Header cards of the background mesh."""
    return [kw.BKGBOX.card(mesh.box_size), kw.BKGFILT.card(mesh.filter_size)]


def mask_inputs(frame, invalid: blanks.InvalidSpec) -> dict[str, str]:
    """The input files of a mask made from ``frame`` (a path, or None for pixels that came
    from no file): IN_FRAME, and IN_BPM if one was used."""
    bad = invalid.bad_pixel_mask
    return ({kw.IN_FRAME: frame} if frame else {}) | ({kw.IN_BPM: bad} if bad else {})


def frame_circles(frame, header, specs: list[dict]):
    """The configured circles that apply to ``frame``, in pixels: (spec, circle) pairs.

    Resolved before any other work, so that a circle the frame cannot place (an RA/Dec
    centre without a WCS) fails the frame at once.
    """
    target = str(header.get(kw.OBJECT, ""))
    wanted = [spec for spec in specs if circles.applies_to(spec, target)]
    wcs = celestial_wcs(header) if wanted else None
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
    cards = [kw.NCIRCLES.card(len(drawn))]
    return cards + [
        kw.CIRCLE(i).card(circles.describe(spec)) for i, (spec, _) in enumerate(placed, 1)
    ]


def fit_background(frame, data, mask, mesh: BackgroundParams):
    """SEP's background model of ``frame`` without its masked pixels, its RMS map (ADU,
    corrected for the clipping bias and kept above zero, see
    :func:`skyrms.science.background.unbiased_rms`), and their header cards.

    ``data`` is the native float32 frame (ADU); masked pixels (``mask``: uint8 bits,
    :mod:`skyrms.science.maskbits`) may hold anything, NaN too; the INVALID ones are no
    source's (see :func:`skyrms.science.background.fit`).
    A frame with no mesh box left to estimate fails with :class:`InputError` naming it and
    its masked fraction, before any product is written.
    """
    masked = mask != 0
    fraction = float(np.count_nonzero(masked) / mask.size)
    with usable_background(frame):
        bkg = fit(data, masked, mesh.box_size, mesh.filter_size, (mask & maskbits.INVALID) != 0)
        partial, borrowed = mesh_usage(masked, mesh.box_size)
        noise = unbiased_rms(bkg, mesh.box_size)
        structured = noise_only_rms(noise, data, masked, mesh.box_size, mesh.filter_size)
    log.info(
        f"background {bkg.globalback:.3f} ADU, RMS {bkg.globalrms / GAUSSIAN_RMS_BIAS:.3f} ADU, "
        f"masked fraction {fraction:.3f}; {partial} boxes estimated from their free part, "
        f"{borrowed} taken from the nearest estimated box; the RMS of {structured} boxes is "
        "the noise of pixel differences (structure in the box)"
    )
    cards = [
        *mesh_cards(mesh),
        kw.MASKFRAC.card(round(fraction, 5)),
        kw.BKGPART.card(partial),
        kw.BKGNEAR.card(borrowed),
        kw.RMSDIFF.card(structured),
    ]
    return bkg, noise, cards


def background_products(bkg, noise, cards, header, inputs) -> tuple[Product, Product]:
    """The background map of a fitted SEP model and its RMS map ``noise`` (ADU) as products.

    ``cards`` are (keyword, value, comment) provenance cards for both headers, ``header``
    the frame's, ``inputs`` the input files by keyword.
    """
    level = bkg.back()
    median = kw.BKGMED.card(round(smooth_median(level), 4))
    rms_cards = [kw.RMSBIAS.card(GAUSSIAN_RMS_BIAS), kw.RMSMED.card(round(smooth_median(noise), 4))]
    return (
        Product(level, "BACKGROUND", header, inputs, (*cards, median)),
        Product(noise, "BKGRMS", header, inputs, (*cards, *rms_cards)),
    )


def write_products(products: dict, compress=False) -> None:
    """Write each product to its path (``products``: path -> :class:`Product`), all or none
    (:func:`skyrms.io.fitsfiles.all_or_none`); ``compress`` chooses the format."""
    with all_or_none(*products):
        for path, product in products.items():
            product.write(path, compress)


def smooth_median(image: np.ndarray) -> float:
    """Median of a smooth map from every 8th pixel along both axes (same units)."""
    return float(np.median(image[::8, ::8]))


def read_checked_frame(frame, mesh: BackgroundParams):
    """Read ``frame`` (a path): its pixels (native float32, ADU), checked by
    :func:`check_frame_pixels`, and its header."""
    data, header = read_image(frame)
    log.info(f"read {frame}: {data.shape[1]}x{data.shape[0]} px")
    check_frame_pixels(frame, data, mesh)
    return data, header


def check_frame_pixels(frame, data: np.ndarray, mesh: BackgroundParams) -> None:
    """Raise InputError naming ``frame`` when its pixels ``data``, already read, have no
    finite value or are smaller than one background box of ``mesh``."""
    try:
        check_box(data.shape, mesh)
    except ValueError as error:
        raise InputError(f"{frame}: {error}") from None
    if not np.isfinite(data).any():
        raise InputError(f"{frame}: no finite pixel in the frame")


def mask_and_background(
    frame, mask, background, rms, params: MaskParams, mesh: BackgroundParams, specs,
    invalid: blanks.InvalidSpec = blanks.NOTHING_MORE, frame_digest=None, compress=False,
):  # fmt: skip
    """The whole image chain of one frame, reading it once.

    Writes the final mask (iterated source mask with the configured circles
    merged, uint8 bits) and the background and background RMS maps fitted
    without the masked pixels (ADU), plain or with ``compress`` tile-compressed.
    ``frame_digest``, the frame's SHA-256 if known, goes into every header
    (FRAMESHA) so a product can be checked against the frame it was made from.
    Nothing is written when any step fails; a product that cannot be written (a full
    disk) removes those written before it.
    """
    data, header = read_checked_frame(frame, mesh)
    placed = frame_circles(frame, header, specs)
    identity = [kw.FRAMESHA.card(frame_digest)] if frame_digest else []
    sources, cards = detect_sources(frame, data, header, params, mesh, invalid)
    bits = sources.mask
    cards += merge_circles(bits, placed)
    bkg, noise, fit_cards = fit_background(frame, data, bits, mesh)
    del data
    inputs = {kw.IN_FRAME: frame, kw.IN_MASK: mask}
    maps = background_products(bkg, noise, identity + fit_cards, header, inputs)
    final = Product(bits, "MASK", header, mask_inputs(frame, invalid), (*identity, *cards))
    write_products(dict(zip((mask, background, rms), (final, *maps), strict=True)), compress)
