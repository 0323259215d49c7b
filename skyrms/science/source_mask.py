"""Iterative source mask: detect, grow each source along its light, re-fit, repeat.

Each pass fits SEP's background with the current mask and detects sources at ``sigma``
times the local background RMS in the background-subtracted frame (masked pixels
cannot be detected again). Every source is then masked with its footprint (its pixels
above the threshold) and an ellipse of its own shape grown along its light until that
light meets the noise (:mod:`skyrms.science.growth`). Growth is judged against a background
four times coarser than the mesh (:func:`skyrms.science.background.coarse_background`), which
has not taken in the wings of sources as large as a mesh box; sources masked in earlier
passes grow further when the new background shows more of their light, and never
shrink. Passes stop when one finds no new source and grows the mask by less than 1%
(converged) or after ``max_iterations``.

A mask must not run away: when a pass's new sources would leave over half of the mesh boxes
covered more than half, and more than before (a galaxy or nebula filling the field, found
anew in each pass as the background under the mask falls), that pass's growth is not taken:
the mask stays as the passes before left it (new sources keep their footprints), the passes
stop, and the result says so (``stop == "background"``). Sources found before grow along
their own light, unjudged, to where it fades (large galaxies, with sky between them).
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import sep

from skyrms.science import growth, maskbits
from skyrms.science.background import (
    SEP_MIN_FREE,
    BackgroundParams,
    coarse_background,
    estimate,
    free_fractions,
)

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


RUNAWAY_BOXES = 0.5
"""A pass's new sources may not leave more than this share of the boxes more than half masked."""
CONVERGED_GROWTH = 0.01
"""A pass without new sources that grows the mask by less than this fraction has converged."""
CONVERGED, ITERATIONS, BACKGROUND = "converged", "iterations", "background"
"""Why the passes stopped: nothing new, ``max_iterations`` reached, or the runaway guard."""


@dataclass(frozen=True)
class MaskParams:
    """Parameters of the iterative source mask.

    sigma : detection threshold, x the local background RMS.
    minarea : smallest source, pixels.
    grow_sigma : a ring around a source joins its mask while its mean is this many times
        its noise above the background (see :mod:`skyrms.science.growth`).
    mask_level : a source whose light fades into the noise is masked out to where its
        profile falls to this level, x the background RMS per pixel.
    saturation_level : frame units (ADU); None: no saturation.
    max_iterations : most detection passes.
    """

    sigma: float = 3.0
    minarea: int = 5
    grow_sigma: float = 1.5
    mask_level: float = 0.15
    saturation_level: float | None = None
    max_iterations: int = 10


@dataclass(frozen=True)
class Iteration:
    """What one detection pass found and masked: new sources (not saturated, saturated),
    sources grown further than before, and pixels added to the mask."""

    number: int
    sources: int
    saturated: int
    regrown: int
    new_pixels: int


@dataclass
class SourceMask:
    """Result of :func:`iterate_source_mask` (and, after each pass, of :func:`passes`): the
    uint8 bit mask, the pass history, why the passes stopped (None while they may go on), per
    growth stop reason (by its :attr:`~skyrms.science.growth.GrowthStop.label`) how many
    sources stopped for it in the last pass taken, the largest mask radius (px), and the
    boolean map of the pixels at or above the saturation level."""

    mask: np.ndarray
    iterations: list[Iteration] = field(default_factory=list)
    stop: str | None = None
    reasons: dict[str, int] = field(default_factory=dict)
    largest_radius: float = 0.0
    saturated: np.ndarray | None = None

    @property
    def converged(self) -> bool:
        """True when the last pass found nothing new."""
        return self.stop == CONVERGED

    def finished(self, copy: bool = False) -> "SourceMask":
        """This result with the saturated pixels marked (bits SATURATED and CLIPPED) in its
        mask, in place, or with ``copy`` in a copy (the passes go on from the unmarked mask)."""
        result = (
            replace(self, mask=self.mask.copy(), iterations=list(self.iterations)) if copy else self
        )
        result.mask[self.saturated] |= maskbits.SATURATED | maskbits.CLIPPED
        return result


def extract(data: np.ndarray, threshold: float, mask: np.ndarray, minarea: int):
    """``sep.extract`` at an absolute threshold with a segmentation map, without cleaning
    and without deblending.

    SExtractor's cleaning folds spurious detections in the wings of bright
    sources back into them, for catalogues; a mask covers those wings anyway,
    so cleaning is left out (as photutils' source masks do): it was half the
    time of a first pass on a crowded 9576x6388 frame (2.6 of 5.3 s).
    Deblending splits blended sources into components, which a mask does not
    need (it masks their union), and it overflows SEP's limit of sub-objects
    on frames with large blended regions (a zero-filled border, a nebula).

    SEP's pixel stack is allocated on every call, so it stays at SEP's default
    until a "pixel buffer full" error, then doubles (up to :data:`PIXSTACK_LIMIT`).
    """
    while True:
        try:
            return sep.extract(
                data, threshold, mask=mask, minarea=minarea, segmentation_map=True,
                clean=False, deblend_nthresh=1,
            )  # fmt: skip
        except Exception as error:
            stack = sep.get_extract_pixstack()
            if "pixel buffer full" not in str(error) or stack >= PIXSTACK_LIMIT:
                raise
            sep.set_extract_pixstack(min(2 * stack, PIXSTACK_LIMIT))


def is_saturated(data: np.ndarray, objects: np.ndarray, level: float | None) -> np.ndarray:
    """True for sources whose peak pixel in the frame reaches ``level`` (frame units)."""
    if level is None:
        return np.zeros(len(objects), dtype=bool)
    return data[objects["ypeak"], objects["xpeak"]] >= level


@dataclass(frozen=True)
class PassBuffers:
    """Full-frame work arrays that every pass overwrites, so that no pass pays for fresh ones:
    on a 9576x6388 frame the page faults of a fresh plane can cost more than the arithmetic
    on it.

    significance : float32, the pass's signal-to-noise image (dimensionless).
    scratch : uint8, a plane for one step at a time (:meth:`flags` is its boolean view).
    """

    significance: np.ndarray
    scratch: np.ndarray

    @classmethod
    def like(cls, data: np.ndarray) -> "PassBuffers":
        """Buffers for a frame of the shape of ``data``."""
        return cls(np.empty(data.shape, np.float32), np.empty(data.shape, np.uint8))

    def flags(self) -> np.ndarray:
        """The scratch plane as a boolean map (to be filled before it is read)."""
        return self.scratch.view(bool)

    def covered(self, mask: np.ndarray, exclude: np.ndarray) -> np.ndarray:
        """The scratch plane as a boolean map, True where ``mask`` (uint8 bits) has a bit or
        ``exclude`` (boolean) is True."""
        covered = np.not_equal(mask, 0, out=self.flags())
        covered |= exclude
        return covered


def detection_pass(data, mask, exclude, params: MaskParams, mesh: BackgroundParams, buffers):
    """Fit the background without ``mask`` and ``exclude`` pixels, detect what ``mask`` leaves.

    ``exclude`` pixels (saturated ones) stay out of the background fit but can be
    detected, so that a saturated core marks its source as saturated. The pass writes
    its signal-to-noise image to ``buffers.significance`` (:class:`PassBuffers`). Returns the
    SEP objects, their segmentation map and a boolean array marking saturated sources.
    """
    bkg = estimate(data, buffers.covered(mask, exclude), mesh.box_size, mesh.filter_size)
    significance = buffers.significance
    np.copyto(significance, data)
    bkg.subfrom(significance)
    rms = bkg.rms()
    if rms.min() > 0:
        significance /= rms  # signal-to-noise, see FILTERED_NOISE
    else:  # no noise estimate somewhere (RMS <= 0 or NaN): nothing to detect there
        noiseless = ~(rms > 0)
        np.divide(significance, rms, out=significance, where=~noiseless)
        significance[noiseless] = 0.0
    del rms
    threshold = params.sigma * FILTERED_NOISE
    objects, segmap = extract(significance, threshold, mask, params.minarea)  # mask > 0 masks
    return objects, segmap, is_saturated(data, objects, params.saturation_level)


def labelled_pixels(segmap: np.ndarray, buffers: PassBuffers) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the pixels of a segmentation map that belong to a source, and their labels.

    Source pixels are a small part of a frame: found once per pass, they are
    then read and marked without scanning the frame again.
    """
    labelled = np.greater(segmap, 0, out=buffers.flags())
    where = np.flatnonzero(labelled)  # faster than on the int32 map itself
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


def with_footprints(out, mask, objects, pixels, saturated, chosen) -> None:
    """Write to ``out`` the ``mask`` (uint8 bits) with the pixels of the ``chosen`` sources.

    ``pixels`` are the sources' :func:`labelled_pixels`; ``saturated`` and ``chosen`` are
    boolean arrays with one value per source. The footprints of earlier passes are in
    ``mask`` already.
    """
    np.copyto(out, mask)
    bits = np.zeros(len(objects) + 1, dtype=np.uint8)
    bits[1:] = np.where(saturated, maskbits.SATURATED, maskbits.SOURCE) * chosen
    where, labels = pixels
    flat = out.reshape(-1)  # a view: the map is C-contiguous
    flat[where] |= bits[labels]


def draw_ellipses(mask, catalogue, radius, changed, buffers: PassBuffers) -> None:
    """Draw into ``mask`` (uint8 bits) in place the ellipses of the ``changed`` sources of the
    :class:`Catalogue` at circle-equivalent ``radius`` (px), saturated sources with the
    saturated bit. Radii never shrink, so the other sources' ellipses are in ``mask``."""
    a, b = growth.ellipse_axes(catalogue.objects)
    for bit, drawn in (
        (maskbits.SOURCE, changed & ~catalogue.saturated),
        (maskbits.SATURATED, changed & catalogue.saturated),
    ):
        if not drawn.any():
            continue
        ellipses = buffers.scratch
        ellipses.fill(0)
        chosen = catalogue.objects[drawn]
        sep.mask_ellipse(ellipses, chosen["x"], chosen["y"], a[drawn] * radius[drawn],
                         b[drawn] * radius[drawn], chosen["theta"], r=1.0)  # fmt: skip
        ellipses *= bit  # 0 or bit: OR-ed without gathering the pixels, however scattered
        mask |= ellipses


def runs_away(before: np.ndarray, after: np.ndarray, box_size: int, buffers: PassBuffers) -> bool:
    """True when a pass's new sources (mask ``before`` -> ``after``, uint8 bits) leave more mesh
    boxes more than half masked than before, and more than RUNAWAY_BOXES of them."""
    covered = [free_fractions(np.not_equal(mask, 0, out=buffers.flags()), box_size) < SEP_MIN_FREE
               for mask in (before, after)]  # fmt: skip
    count = [np.count_nonzero(boxes) for boxes in covered]
    return count[1] > max(count[0], RUNAWAY_BOXES * covered[1].size)


@dataclass
class Catalogue:
    """Every source masked so far: SEP's objects, which are saturated, and their mask radii
    (px, circle-equivalent)."""

    objects: np.ndarray | None = None
    saturated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    radius: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def add(self, objects, saturated) -> np.ndarray:
        """Append new sources; return every source's radius so far (new ones: their footprint's)."""
        self.objects = objects if self.objects is None else np.concatenate([self.objects, objects])
        self.saturated = np.concatenate([self.saturated, saturated])
        return np.concatenate([self.radius, growth.isophotal_radius(objects)])


def iterate_source_mask(
    data: np.ndarray, invalid: np.ndarray, params: MaskParams, mesh: BackgroundParams
) -> SourceMask:
    """Build the iterated source mask of a frame: every one of :func:`passes`, then the
    saturated pixels marked (:meth:`SourceMask.finished`). Arguments as for :func:`passes`."""
    *_, result = passes(data, invalid, params, mesh)  # each pass yields the same result
    log.info(
        {
            CONVERGED: f"converged after {len(result.iterations)} passes",
            ITERATIONS: f"not converged: still growing after {params.max_iterations} passes",
            BACKGROUND: f"stopped after {len(result.iterations)} passes by the runaway guard",
        }[result.stop]
    )
    return result.finished()


def passes(
    data: np.ndarray, invalid: np.ndarray, params: MaskParams, mesh: BackgroundParams
) -> Iterator[SourceMask]:
    """The detection passes of an iterated source mask, one at a time.

    Parameters
    ----------
    data : native float32 frame (ADU). Non-finite pixels must be flagged in ``invalid``;
        the ``invalid`` pixels of ``data`` are set to 0 in place (no copy of the frame).
    invalid : boolean map of pixels to ignore everywhere (bit ``maskbits.INVALID``).
    params : detection and growth parameters, see :class:`MaskParams`
        (``max_iterations`` >= 1, else ValueError).
    mesh : the background mesh each pass fits (box and filter sizes, checked by the caller
        with :func:`skyrms.science.background.check_box`).

    Yields
    ------
    The same :class:`SourceMask` after each pass, its ``stop`` set by the last one. Its mask
    is the passes' working mask: the saturated pixels (at or above
    ``params.saturation_level``) are not marked in it yet (see :meth:`SourceMask.finished`),
    and the pass after next overwrites it.
    """
    if params.max_iterations < 1:
        raise ValueError(f"max_iterations {params.max_iterations} must be >= 1")
    mask = invalid.astype(np.uint8)
    mask *= maskbits.INVALID
    data[invalid] = 0.0
    del invalid  # in the mask from here on
    exclude = (
        data >= params.saturation_level
        if params.saturation_level is not None
        else np.zeros(mask.shape, dtype=bool)
    )
    spare = np.empty_like(mask)  # the next pass's mask: passes alternate the two
    buffers = PassBuffers.like(data)
    catalogue = Catalogue()
    result = SourceMask(mask, saturated=exclude)
    for number in range(1, params.max_iterations + 1):
        objects, segmap, saturated = detection_pass(data, mask, exclude, params, mesh, buffers)
        pixels = labelled_pixels(segmap, buffers)
        del segmap
        new = with_unmasked_pixels(objects, pixels, mask)
        footprints = (objects, pixels, saturated & new, new)
        with_footprints(spare, mask, *footprints)
        start = catalogue.add(objects[new], saturated[new])
        grown = grow_all(data, spare, exclude, catalogue, start, params, mesh, buffers)
        proposed = np.maximum(grown.radius, start)
        is_new = np.arange(len(start)) >= len(catalogue.radius)
        draw_ellipses(spare, catalogue, proposed, is_new, buffers)
        runaway = runs_away(mask, spare, mesh.box_size, buffers)
        if not runaway:
            draw_ellipses(spare, catalogue, proposed, ~is_new & (proposed > start), buffers)
        else:
            log.info(f"pass {number}'s new sources would leave most {mesh.box_size}-px boxes more "
                     f"than half masked (masked fraction {np.count_nonzero(spare) / spare.size:.3f}"
                     "): its growth is not taken and the passes stop")  # fmt: skip
            proposed = start
            with_footprints(spare, mask, *footprints)
            draw_ellipses(spare, catalogue, start, is_new, buffers)
        masked = np.count_nonzero(spare)
        step = Iteration(
            number,
            int(np.count_nonzero(~saturated[new])),
            int(np.count_nonzero(saturated[new])),
            int(np.count_nonzero(proposed[: len(catalogue.radius)] > catalogue.radius)),
            int(masked - np.count_nonzero(mask)),
        )
        mask, spare = spare, mask
        catalogue.radius, result.mask = proposed, mask
        result.iterations.append(step)
        result.reasons = {stop.label: int(np.count_nonzero(grown.reason == stop))
                          for stop in growth.GrowthStop}  # fmt: skip
        result.largest_radius = float(proposed.max(initial=0.0))
        log.info(
            f"pass {number}: {step.sources} new sources and {step.saturated} saturated, "
            f"{step.regrown} grown further, {step.new_pixels} new pixels, masked fraction "
            f"{masked / mask.size:.3f}; growth stopped at "
            + ", ".join(f"{name} {count}" for name, count in result.reasons.items())
            + f"; largest radius {result.largest_radius:.0f} px"
        )
        if runaway:
            result.stop = BACKGROUND
        elif not new.any() and step.new_pixels <= CONVERGED_GROWTH * masked:
            result.stop = CONVERGED
        elif number == params.max_iterations:
            result.stop = ITERATIONS
        yield result
        if result.stop:
            return


def grow_all(data, mask, exclude, catalogue, start, params, mesh, buffers: PassBuffers):
    """Grow every catalogued source from its ``start`` radius (see :mod:`skyrms.science.growth`).

    Rings skip the pixels that ``mask`` (uint8 bits) covers: invalid and masked pixels (of
    other sources: a source's own mask lies inside its start radius) and every footprint.
    They are judged on ``buffers.significance`` against the coarse background
    (:func:`skyrms.science.background.coarse_background`) fitted without them and ``exclude``.
    """
    coarse = coarse_background(data, buffers.covered(mask, exclude), mesh.box_size,
                               mesh.filter_size)  # fmt: skip
    return growth.grow(
        growth.RingImage(buffers.significance, mask, coarse), catalogue.objects, start,
        params.grow_sigma, params.mask_level, 1 / mesh.box_size, float(max(data.shape)),
        grown_before=np.arange(len(start)) < len(catalogue.radius),
    )  # fmt: skip
