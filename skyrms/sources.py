"""Iterative source mask: detect, mask, re-estimate the background, repeat.

Each pass fits SEP's background with the current mask, detects sources at
``sigma`` times the local background RMS in the background-subtracted frame
(masked pixels cannot be detected again), and masks every new source with an
ellipse. A source's *size* is its isophotal ellipse: the ellipse of its second
moments (SEP's ``a``, ``b``, ``theta``) scaled to the area of its pixels above
the threshold, so that bright sources get large masks and faint ones small
masks. The mask ellipse is ``mask_radius_factor`` times that size, and
``saturated_radius_factor`` times larger again for saturated sources (their
wings and bleed are wider than the isophote suggests). Passes stop when one
finds no new source (converged) or after ``max_iterations``.
"""

import logging
from dataclasses import dataclass, field

import numpy as np
import sep

from . import maskbits
from .background import estimate

log = logging.getLogger(__name__)

PIXSTACK_LIMIT = 50_000_000
"""Largest SEP pixel stack tried (entries) before a detection pass gives up."""

FILTERED_NOISE = 6 / 16
"""Noise of SEP's default 3x3 detection filter applied to unit white noise.

The kernel [[1,2,1],[2,4,2],[1,2,1]]/16 has sqrt(sum k^2) = 6/16. Detecting on
the signal-to-noise image (residual / local RMS) at ``sigma`` x this is SEP's
matched-filter threshold of ``sigma`` with an RMS-map ``err``: the same
sources (measured on a 9576x6388 frame: 4,374 against 4,352, the same median
size), in half the time and without SEP's copy of the RMS map.
"""


@dataclass(frozen=True)
class MaskParams:
    """Parameters of the iterative source mask (sizes in pixels, levels in frame units)."""

    sigma: float = 3.0
    minarea: int = 5
    mask_radius_factor: float = 2.0
    saturated_radius_factor: float = 3.0
    saturation_level: float | None = None
    max_iterations: int = 10
    box_size: int = 256
    filter_size: int = 3


@dataclass(frozen=True)
class Iteration:
    """What one detection pass found and masked."""

    number: int
    sources: int
    saturated: int
    new_pixels: int


@dataclass
class SourceMask:
    """Result of :func:`iterate_source_mask`: the uint8 bit mask and the pass history."""

    mask: np.ndarray
    iterations: list[Iteration] = field(default_factory=list)
    converged: bool = False


def invalid_pixels(data: np.ndarray, bad_pixels: np.ndarray | None = None) -> np.ndarray:
    """Boolean map of pixels that are not finite or are non-zero in ``bad_pixels``."""
    invalid = ~np.isfinite(data)
    if bad_pixels is not None:
        invalid |= np.asarray(bad_pixels) != 0
    return invalid


def extract(data: np.ndarray, threshold: float, mask: np.ndarray, minarea: int):
    """``sep.extract`` at an absolute threshold with a segmentation map, without cleaning.

    SExtractor's cleaning folds spurious detections in the wings of bright
    sources back into them, for catalogues; a mask covers those wings anyway,
    so cleaning is left out (as photutils' source masks do): it was half the
    time of a first pass on a crowded 9576x6388 frame (2.6 of 5.3 s).

    SEP's pixel stack is allocated on every call, so it stays at SEP's default
    until a "pixel buffer full" error, then doubles (up to :data:`PIXSTACK_LIMIT`).
    """
    while True:
        try:
            return sep.extract(
                data, threshold, mask=mask, minarea=minarea, segmentation_map=True, clean=False
            )
        except Exception as error:
            stack = sep.get_extract_pixstack()
            if "pixel buffer full" not in str(error) or stack >= PIXSTACK_LIMIT:
                raise
            sep.set_extract_pixstack(min(2 * stack, PIXSTACK_LIMIT))


def isophotal_scale(objects: np.ndarray) -> np.ndarray:
    """Factor that scales each source's moment ellipse (a, b) to its isophotal area."""
    moment_area = np.pi * np.maximum(objects["a"], 0.5) * np.maximum(objects["b"], 0.5)
    return np.sqrt(np.maximum(objects["npix"], 1) / moment_area)


def is_saturated(data: np.ndarray, objects: np.ndarray, level: float | None) -> np.ndarray:
    """True for sources whose peak pixel in the frame reaches ``level`` (frame units)."""
    if level is None:
        return np.zeros(len(objects), dtype=bool)
    return data[objects["ypeak"], objects["xpeak"]] >= level


def draw_ellipses(shape: tuple[int, int], objects: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Boolean map of the ellipses of ``objects`` scaled by ``radius`` (one per object)."""
    drawn = np.zeros(shape, dtype=bool)
    if len(objects):
        a = np.maximum(objects["a"], 0.5) * radius
        b = np.maximum(objects["b"], 0.5) * radius
        sep.mask_ellipse(drawn, objects["x"], objects["y"], a, b, objects["theta"], r=1.0)
    return drawn


def detection_pass(data, mask, exclude, params: MaskParams, significance: np.ndarray):
    """Fit the background without ``mask`` and ``exclude`` pixels, detect what ``mask`` leaves.

    ``exclude`` pixels (saturated ones) stay out of the background fit but can be
    detected, so that a saturated core marks its source as saturated.
    ``significance`` is a float32 array of the frame's shape that the pass
    overwrites with its signal-to-noise image: one buffer for all passes, so
    that no pass pays for a fresh full frame. Returns the SEP objects, their
    segmentation map and a boolean array marking saturated sources.
    """
    masked = mask != 0
    bkg = estimate(data, masked | exclude, params.box_size, params.filter_size)
    np.copyto(significance, data)
    bkg.subfrom(significance)
    rms = bkg.rms()
    significance /= rms  # signal-to-noise, see FILTERED_NOISE
    if not rms.min() > 0:  # no noise estimate somewhere (RMS <= 0 or NaN): nothing to detect
        significance[~(rms > 0)] = 0.0
    del rms
    threshold = params.sigma * FILTERED_NOISE
    objects, segmap = extract(significance, threshold, masked, params.minarea)
    return objects, segmap, is_saturated(data, objects, params.saturation_level)


def labelled_pixels(segmap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the pixels of a segmentation map that belong to a source, and their labels.

    Source pixels are a small part of a frame: found once per pass, they are
    then read and marked without scanning the frame again.
    """
    where = np.flatnonzero(segmap > 0)  # faster than on the int32 map itself
    return where, segmap.ravel()[where]


def with_unmasked_pixels(objects: np.ndarray, pixels, mask: np.ndarray) -> np.ndarray:
    """True for sources with at least one pixel not yet in ``mask``.

    ``pixels`` are the sources' :func:`labelled_pixels`. SEP's filtering lets a
    detection spread onto masked pixels; a source made only of masked pixels is
    not new and is not counted.
    """
    where, labels = pixels
    unmasked = mask.ravel()[where] == 0
    counts = np.bincount(labels[unmasked], minlength=len(objects) + 1)
    return counts[1:] > 0


def mask_sources(mask, objects, pixels, saturated, chosen, params: MaskParams) -> None:
    """Add the ``chosen`` sources to ``mask`` in place: their pixels and their mask ellipses.

    ``pixels`` are the sources' :func:`labelled_pixels`; ``saturated`` and
    ``chosen`` are boolean arrays with one value per source.
    """
    bits = np.zeros(len(objects) + 1, dtype=np.uint8)
    bits[1:] = np.where(saturated, maskbits.SATURATED, maskbits.SOURCE) * chosen
    where, labels = pixels
    flat = mask.reshape(-1)  # a view: the mask is C-contiguous
    flat[where] |= bits[labels]
    scale = isophotal_scale(objects) * params.mask_radius_factor
    scale[saturated] *= params.saturated_radius_factor
    for bit, drawn in ((maskbits.SOURCE, chosen & ~saturated), (maskbits.SATURATED, saturated)):
        ellipses = draw_ellipses(mask.shape, objects[drawn], scale[drawn]).view(np.uint8)
        ellipses *= bit  # 0 or bit: OR-ed without gathering the pixels, however scattered
        mask |= ellipses


def iterate_source_mask(data: np.ndarray, invalid: np.ndarray, params: MaskParams) -> SourceMask:
    """Build the iterated source mask of a frame.

    Parameters
    ----------
    data : native float32 frame (ADU). Non-finite pixels must be flagged in ``invalid``;
        the ``invalid`` pixels of ``data`` are set to 0 in place (no copy of the frame).
    invalid : boolean map of pixels to ignore everywhere (bit ``maskbits.INVALID``).
    params : detection and mask sizes, see :class:`MaskParams`.

    Every detected source is masked with its own pixels and its mask ellipse, so
    each pass adds at least ``minarea`` pixels per source and the passes end.
    Pixels at or above ``params.saturation_level`` are masked as saturated.
    """
    mask = invalid.astype(np.uint8)
    mask *= maskbits.INVALID
    data[invalid] = 0.0
    exclude = (
        data >= params.saturation_level
        if params.saturation_level is not None
        else np.zeros(mask.shape, dtype=bool)
    )
    result = SourceMask(mask)
    significance = np.empty_like(data)
    for number in range(1, params.max_iterations + 1):
        objects, segmap, saturated = detection_pass(data, mask, exclude, params, significance)
        pixels = labelled_pixels(segmap)
        del segmap
        new = with_unmasked_pixels(objects, pixels, mask)
        before = np.count_nonzero(mask)
        mask_sources(mask, objects, pixels, saturated & new, new, params)
        objects, saturated = objects[new], saturated[new]
        step = Iteration(
            number,
            int(np.count_nonzero(~saturated)),
            int(np.count_nonzero(saturated)),
            int(np.count_nonzero(mask) - before),
        )
        result.iterations.append(step)
        log.info(
            f"iteration {step.number}: masked {step.sources} sources and "
            f"{step.saturated} saturated sources ({step.new_pixels} new pixels)"
        )
        if len(objects) == 0:
            result.converged = True
            break
    mask[exclude] |= maskbits.SATURATED
    log.info(
        f"converged after {len(result.iterations)} iterations"
        if result.converged
        else f"not converged: still finding sources after {params.max_iterations} iterations"
    )
    return result
