"""The chain's steps one at a time, for the ``skyrms`` command: source mask, circles, maps.

The workflow runs them as one job (:mod:`skyrms.steps.mask_and_background`); these
write the intermediate products too, with the same header cards.
"""

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import check_frame_shape, read_header, read_mask
from skyrms.science import blanks
from skyrms.science.background import BackgroundParams
from skyrms.science.source_mask import MaskParams
from skyrms.steps.mask_and_background import (
    background_products,
    detect_sources,
    fit_background,
    frame_circles,
    mask_inputs,
    merge_circles,
    read_checked_frame,
    write_products,
)
from skyrms.steps.products import Product


def source_mask(
    frame, output, params: MaskParams, mesh: BackgroundParams, invalid=blanks.NOTHING_MORE,
    compress=False,
) -> None:  # fmt: skip
    """Write the iterated source mask of ``frame`` alone (uint8 bits, no circles); plain, or
    with ``compress`` tile-compressed, as every writer of this module."""
    data, header = read_checked_frame(frame, mesh)
    sources, cards = detect_sources(frame, data, header, params, mesh, invalid)
    Product(sources.mask, "SOURCEMASK", header, mask_inputs(frame, invalid), tuple(cards)).write(
        output, compress
    )


def circular_mask(frame, source_mask_path, output, specs: list[dict], compress=False) -> None:
    """Merge the configured circles that touch ``frame`` into a source mask file."""
    header = read_header(frame)
    bits, source_header = read_mask(source_mask_path)
    cards = [c for c in source_header.cards if c.keyword.startswith(kw.SOURCE_MASK_CARDS)]
    cards += merge_circles(bits, frame_circles(frame, header, specs))
    inputs = {kw.IN_FRAME: frame, kw.IN_SMASK: source_mask_path}
    Product(bits, "MASK", header, inputs, tuple(cards)).write(output, compress)


def masked_background_maps(
    frame, mask_path, background, rms, mesh: BackgroundParams, compress=False
) -> None:
    """Background and background RMS maps (ADU) of ``frame`` without a mask file's pixels;
    both or neither."""
    data, header = read_checked_frame(frame, mesh)
    bits, _ = read_mask(mask_path)
    check_frame_shape(mask_path, "mask", bits.shape, data.shape)
    bkg, noise, cards = fit_background(frame, data, bits, mesh)
    inputs = {kw.IN_FRAME: frame, kw.IN_MASK: mask_path}
    maps = background_products(bkg, noise, cards, header, inputs)
    write_products(dict(zip((background, rms), maps, strict=True)), compress)
