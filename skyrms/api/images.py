"""The image chain in Python: source mask, circles, background maps of one image.

The functions call the workflow's own steps (:mod:`skyrms.steps.mask_and_background`), so
that their results, written, are the products of ``skyrms run`` with the same settings.
Settings not given are the configuration's defaults (or those of ``settings``, from
:func:`skyrms.config.load_settings`).
"""

from collections.abc import Iterable, Mapping
from dataclasses import replace

import numpy as np
from astropy.wcs import WCS

from skyrms.api.inputs import Frame, as_frame, given_mask, parameters, with_wcs
from skyrms.api.results import (
    BackgroundResult,
    CircularMaskResult,
    MaskResult,
    SourceMaskResult,
)
from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import InputError
from skyrms.science import source_mask as science
from skyrms.settings import CircularMask, Settings
from skyrms.steps import mask_and_background as steps
from skyrms.steps.products import Product


def background(
    image, mask=None, *, box_size: int | None = None, filter_size: int | None = None,
    header=None, wcs: WCS | None = None, settings: Settings | None = None,
) -> BackgroundResult:  # fmt: skip
    """Background and background-RMS maps of an image without its masked pixels.

    Parameters
    ----------
    image : 2-d array (ADU), NDData/CCDData (its mask is added to ``mask``) or FITS path.
    mask : a mask result, an array (non-zero = masked), a mask product's path (recorded as
        IN_MASK), or None.
    box_size : side of the background mesh's boxes, pixels.
    filter_size : median filter over the boxes, boxes.
    header, wcs : an array's FITS header and WCS (copied into the products' headers).
    settings : the configuration the settings not given come from.

    Returns
    -------
    BackgroundResult : the background and RMS maps (ADU) and their products.
    """
    _, mesh, _ = parameters(settings, {"box_size": box_size, "filter_size": filter_size})
    frame = as_frame(image, mesh, header, wcs)
    bits, mask_path = given_mask(mask, frame)
    bkg, noise, cards = steps.fit_background(frame.name, frame.data, bits, mesh)
    inputs = frame_inputs(frame) | ({kw.IN_MASK: mask_path} if mask_path else {})
    maps = steps.background_products(bkg, noise, identity(frame) + cards, frame.header, inputs)
    return BackgroundResult(*maps)


def source_mask(image, *, header=None, wcs: WCS | None = None, settings=None, **options):
    """The iterated source mask of an image, all passes (see :mod:`skyrms.science.source_mask`).

    Parameters
    ----------
    image : 2-d array (ADU), NDData/CCDData (its masked pixels count as invalid) or FITS path.
    header, wcs, settings : as for :func:`background`.
    **options : the source mask's settings: ``sigma`` (detection threshold, x the local
        RMS), ``minarea`` (pixels), ``grow_sigma``, ``mask_level`` (x the RMS),
        ``saturation_level`` (ADU; None: the frame's SATURATE), ``max_iterations``,
        ``box_size`` (pixels), ``filter_size`` (boxes), ``bad_pixel_mask`` (FITS path),
        ``blank_value`` (ADU), ``blank_run`` (pixels).

    Returns
    -------
    SourceMaskResult : the mask, what each pass did and why they stopped.
    """
    frame, params, mesh, invalid = prepared(image, header, wcs, settings, options)
    result, cards = steps.detect_sources(frame.name, frame.data, frame.header, params, mesh,
                                         invalid)  # fmt: skip
    return mask_result(frame, result, cards, invalid)


def source_mask_pass(image, *, header=None, wcs: WCS | None = None, settings=None, **options):
    """The first pass of the iterated source mask of an image; its result's
    :meth:`~skyrms.api.results.SourceMaskResult.next_pass` goes on from it, pass by pass, to
    the mask :func:`source_mask` makes. Parameters as for :func:`source_mask`."""
    frame, params, mesh, invalid = prepared(image, header, wcs, settings, options)
    params = steps.frame_params(frame.header, params)
    invalid_map = steps.invalid_map(frame.name, frame.data, frame.header, invalid,
                                    params.saturation_level)  # fmt: skip
    passes = science.passes(frame.data, invalid_map, params, mesh)
    results = []

    def after(number: int) -> SourceMaskResult:
        """The result after pass ``number``, the passes before it taken once."""
        while len(results) < number:
            with steps.usable_background(frame.name):
                state = next(passes).finished(copy=True)
            cards = steps.source_mask_cards(state, params, mesh, invalid)
            results.append(mask_result(frame, state, cards, invalid, after))
        return results[number - 1]

    return after(1)


def circular_mask(
    mask, circles: Iterable[CircularMask | Mapping], *, header=None, wcs: WCS | None = None
) -> CircularMaskResult:
    """``mask`` with circles added (bit MANUAL), as the workflow adds ``circular_masks``.

    Parameters
    ----------
    mask : a mask result (its frame's header and WCS are used), or an array of mask bits.
    circles : :class:`~skyrms.settings.CircularMask` or mappings with its keys: a centre
        ``ra``, ``dec`` (degrees, ICRS; needs a WCS) or ``x``, ``y`` (FITS pixels, the first
        is (1, 1)), a radius ``radius_arcsec`` (needs a WCS) or ``radius_pix``; ``object``
        limits a circle to frames of that OBJECT.
    header, wcs : for an array, its frame's header and WCS.

    Returns
    -------
    CircularMaskResult : a new mask (``mask`` is not changed), kind "MASK".
    """
    if not isinstance(mask, MaskResult):
        bits = np.asarray(mask).astype(np.uint8)
        mask = MaskResult(Product(bits, "MASK", with_wcs(header, wcs), {}, ()))
    specs = [checked_circle(circle) for circle in circles]
    bits = mask.mask.copy()
    source = mask.product
    placed = steps.frame_circles(mask.source, source.frame_header, specs)
    cards = steps.merge_circles(bits, placed)
    drawn = sum(circle.overlaps(bits.shape) for _, circle in placed)
    merged = replace(source, data=bits, kind="MASK", cards=(*source.cards, *cards))
    return CircularMaskResult(merged, drawn)


def checked_circle(circle) -> dict:
    """A circle's mapping (:meth:`CircularMask.spec`), InputError unless it is complete."""
    spec = circle.spec() if isinstance(circle, CircularMask) else dict(circle)
    centre = {"ra", "dec"} <= spec.keys() or {"x", "y"} <= spec.keys()
    if not centre or not spec.keys() & {"radius_arcsec", "radius_pix"}:
        raise InputError(
            f"circle {spec}: needs a centre (ra and dec, or x and y) and a radius "
            "(radius_arcsec or radius_pix)"
        )
    return spec


def prepared(image, header, wcs, settings, options):
    """The frame of ``image`` with its NDData mask as invalid (NaN) pixels, and the
    parameters (:func:`skyrms.api.inputs.parameters`)."""
    params, mesh, invalid = parameters(settings, options)
    unknown = set(options) - {*vars(params), *vars(mesh), *vars(invalid)}
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(sorted(unknown))}")
    frame = as_frame(image, mesh, header, wcs)
    if frame.mask is not None:
        frame.data[frame.mask] = np.nan
    return frame, params, mesh, invalid


def frame_inputs(frame: Frame) -> dict:
    """IN_FRAME for an image read from a file."""
    return {kw.IN_FRAME: frame.path} if frame.path else {}


def identity(frame: Frame) -> list:
    """The FRAMESHA card of an image read from a file, as ``skyrms run`` records it."""
    return [kw.FRAMESHA.card(frame.digest)] if frame.digest else []


def mask_result(frame, result: science.SourceMask, cards, invalid, continuation=None):
    """The :class:`SourceMaskResult` of a source mask and its header cards."""
    inputs = steps.mask_inputs(frame.path, invalid)
    product = Product(result.mask, "SOURCEMASK", frame.header, inputs,
                      (*identity(frame), *cards))  # fmt: skip
    return SourceMaskResult(
        product, tuple(result.iterations), result.stop, dict(result.reasons),
        result.largest_radius, continuation,
    )  # fmt: skip
