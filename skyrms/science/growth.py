"""Grow each source's mask along its own light, out to where that light meets the noise.

A detected source covers the pixels above the detection threshold (its footprint); its
light goes on beyond them, below what single pixels show. Around each source, rings of
its own elliptical shape (SEP's ``a``, ``b``, ``theta``) are laid from its footprint's
radius outwards, 1 px wide out to 4 px and then a quarter of their radius wide, and each
ring is judged on a signal-to-noise image (``(frame - background) / RMS``) without the
pixels that are invalid, in any source's footprint, or already masked for another source:

* the ring is *significant* when its mean is ``grow_sigma`` times its noise above the
  background: ``sqrt(1 / pixels + floor**2)``, where ``floor`` is the uncertainty of the
  background itself (in RMS units), so that huge rings do not chase the background's own
  errors;
* the source's light *falls*: a ring at least as bright as the ring inside it belongs to
  another source or to structure of the sky, not to this source's wing.

The mask reaches the outer edge of the last ring that passes both before the first ring
that fails one (a ring with too few usable pixels is skipped). Where growth stops because
a ring is no longer significant (the light has faded into the noise, not met other
structure) but the last ring is still brighter than ``mask_level``, the mask goes on along
the source's measured profile: the light is extended as a power law with the slope of the
last two rings (or r^-3 when only one ring was measured) to where it falls to
``mask_level``, at most twice the measured radius. So a faint star is masked to about the
radius where its light falls to ``mask_level`` (its wing is too faint to measure ring by
ring), a bright star out to where its halo meets the noise, a galaxy over its faint wings;
a smooth sky gradient, which the background follows, is nowhere significant.

Radii are circle-equivalent (px): a source's ellipse has semi-axes ``radius * sqrt(a / b)``
and ``radius * sqrt(b / a)``.
"""

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class GrowthStop(IntEnum):
    """Why a source stopped growing; its value is stored in integer arrays (:class:`Growth`),
    its :attr:`label` names it in logs and header cards (``MSKGNOIS`` and the rest)."""

    NOISE = 0
    """Its next ring was not significant: its light faded into the noise."""
    RISE = 1
    """Its next ring was significant but not fainter than the ring inside it: the light
    rose again (another source, or structure of the sky)."""
    LIMIT = 2
    """Every ring out to the largest radius searched passed (in the end ``max_radius``)."""
    HIDDEN = 3
    """No ring failed, but the outermost one searched had too few usable pixels: the rings
    beyond were masked, excluded or off the frame."""

    @property
    def label(self) -> str:
        """The reason's name in lower case ("noise", "rise", "limit", "hidden")."""
        return self.name.lower()


LINEAR_RINGS = 4
"""Rings are 1 px wide out to this radius (px), then RING_GROWTH times wider each."""
RING_GROWTH = 1.25
MIN_RING_FILL = 0.2
"""A ring with usable pixels on less than this fraction of its area (or fewer than 3) is skipped."""
MIN_AXIS_RATIO = 0.2
"""Rings of sources flatter than this (b / a) are drawn with this axis ratio."""
DEFAULT_SLOPE = 3.0
"""Power-law slope of a faded source's light when only one ring was measured (r^-3)."""
SLOPE_RANGE = (1.0, 6.0)
"""Measured slopes are kept within these bounds before extending a profile."""
MAX_EXTENSION = 2.0
"""A profile is extended to at most this many times its measured radius."""
CHUNK_SAMPLES = 1 << 18
"""Most stamp samples handled at once: their temporaries (about 1 MB each) stay in the
processor's cache (growth of a crowded 9576x6388 frame was 25% slower with 2**21)."""
MAX_STEPS = 50
"""Most samples on each side of a stamp's centre: larger sources are sampled sparsely."""


@dataclass
class Growth:
    """Result of :func:`grow`: per source its mask radius (px, circle-equivalent) and why
    it stopped (:class:`GrowthStop` values)."""

    radius: np.ndarray
    reason: np.ndarray


@dataclass(frozen=True)
class RingImage:
    """The image rings are measured on, and the pixels no ring may use.

    significance : float32 frame of ``(data - background) / RMS`` (dimensionless).
    excluded : boolean or integer frame, True (non-zero) where a pixel may join no ring.
    coarse : optional :class:`skyrms.science.background.Coarse`: its ``correction`` is added to
        ``significance``, so that growth is judged against the coarse background.
    """

    significance: np.ndarray
    excluded: np.ndarray
    coarse: object = None


def ring_index(radius) -> np.ndarray:
    """Index of the ring holding each circle-equivalent ``radius`` (px), see :func:`ring_edges`."""
    radius = np.asarray(radius, dtype=np.float32)
    ring = np.maximum(radius, LINEAR_RINGS)
    ring *= np.float32(1 / LINEAR_RINGS)
    np.log(ring, out=ring)
    ring *= np.float32(1 / np.log(RING_GROWTH))
    ring += LINEAR_RINGS
    np.copyto(ring, radius, where=radius < LINEAR_RINGS)
    return ring.astype(np.int64)


def ring_edges(count: int) -> np.ndarray:
    """Inner edges (px) of the first ``count + 1`` rings: 1 px apart to LINEAR_RINGS, then
    RING_GROWTH times apart."""
    k = np.arange(count + 1, dtype=np.float64)
    return np.where(k <= LINEAR_RINGS, k, LINEAR_RINGS * RING_GROWTH ** (k - LINEAR_RINGS))


def ellipse_axes(objects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit semi-axes (a, b) of each source's rings: ``a * b = 1``, ``b / a >= MIN_AXIS_RATIO``."""
    a = np.maximum(objects["a"], 0.5).astype(np.float64)
    b = np.maximum(objects["b"], 0.5).astype(np.float64)
    ratio = np.maximum(b / a, MIN_AXIS_RATIO)
    return 1 / np.sqrt(ratio), np.sqrt(ratio)


def isophotal_radius(objects: np.ndarray) -> np.ndarray:
    """Circle-equivalent radius (px) of each source's footprint: ``sqrt(npix / pi)``."""
    return np.sqrt(np.maximum(objects["npix"], 1) / np.pi)


def ring_sums(image: RingImage, objects, axes, inner, limit):
    """Per source and ring (n, rings): sums of significance, counts of usable samples, and
    each source's sampling stride (px).

    Rings run up to each source's ``limit`` (ring index, inclusive); pixels inside
    ``inner`` (px, per source), off the frame or excluded do not count. A large source is
    sampled every ``stride`` pixels along both axes (at least two samples across its
    innermost ring), so no stamp has more than about (2 MAX_STEPS + 1)^2 samples.
    """
    count = len(objects)
    rings = int(limit.max()) + 1 if count else 1
    sums = np.zeros((count, rings))
    samples = np.zeros((count, rings), dtype=np.int64)
    if count == 0:
        return sums, samples, np.ones(0, dtype=np.int64)
    half = np.ceil(axes[0] * ring_edges(rings)[limit + 1]).astype(np.int64) + 1
    stride = np.maximum.reduce(
        [np.ones(count, np.int64), (inner // 8).astype(np.int64), -(-half // MAX_STEPS)]
    )
    steps = size_class(-(-half // stride))
    keys = steps * 100_000 + stride
    for key in np.unique(keys):
        group = np.flatnonzero(keys == key)
        n_steps, step = divmod(int(key), 100_000)
        per_chunk = max(1, CHUNK_SAMPLES // (2 * n_steps + 1) ** 2)
        for begin in range(0, len(group), per_chunk):
            chosen = group[begin : begin + per_chunk]
            stamp = Stamp(n_steps, step, rings)
            sums[chosen], samples[chosen] = stamp.sums(
                image, objects[chosen], axes[0][chosen], axes[1][chosen], inner[chosen],
                limit[chosen],
            )  # fmt: skip
    return sums, samples, stride


def size_class(steps) -> np.ndarray:
    """``steps`` rounded up to a few size classes (1-8, then 25% apart), to batch stamps."""
    steps = np.asarray(steps, dtype=np.int64)
    exponent = np.ceil(np.log(np.maximum(steps, 8) / 8) / np.log(1.25))
    return np.where(steps <= 8, steps, np.ceil(8 * 1.25**exponent).astype(np.int64))


@dataclass(frozen=True)
class Stamp:
    """A square of ``2 half + 1`` samples a side, ``stride`` pixels apart, around sources."""

    half: int
    stride: int
    rings: int

    def sums(self, image: RingImage, objects, a, b, inner, limit):
        """Sums and counts of usable samples per source and ring (see :func:`ring_sums`).

        Samples are gathered by their flat index in the frame, and only those inside a
        source's rings and on the frame; where a stamp is no wider than a bin of the
        coarse correction, the correction at its centre serves all its samples.
        """
        ny, nx = image.significance.shape
        side = 2 * self.half + 1
        offsets = np.arange(-self.half, self.half + 1) * self.stride
        centre_col = np.rint(objects["x"]).astype(np.int64)
        centre_row = np.rint(objects["y"]).astype(np.int64)
        cols, rows = centre_col[:, None] + offsets, centre_row[:, None] + offsets
        squared = self.squared_radii(objects, a, b, cols, rows)
        outer = ring_edges(self.rings)[limit + 1] ** 2
        use = squared >= (inner**2).astype(np.float32)[:, None, None]
        use &= squared < outer.astype(np.float32)[:, None, None]
        use &= ((rows >= 0) & (rows < ny))[:, :, None] & ((cols >= 0) & (cols < nx))[:, None, :]
        use = use.reshape(len(objects), side * side)
        squared = squared.reshape(use.shape)[use]
        shifts = (offsets[:, None] * nx + offsets[None, :]).astype(np.int32).ravel()
        pixel = ((centre_row * nx + centre_col).astype(np.int32)[:, None] + shifts)[use]
        source = np.repeat(np.arange(len(objects)), use.sum(axis=1))
        del use
        free = np.logical_not(image.excluded.ravel().take(pixel))
        squared, source, pixel = squared[free], source[free], pixel[free]
        index = source * self.rings
        index += ring_index(np.sqrt(squared, out=squared))
        values = image.significance.ravel().take(pixel)  # float32: summed as float64 below
        size = len(objects) * self.rings
        counts = np.bincount(index, minlength=size).reshape(-1, self.rings)
        coarse = image.coarse
        wide = coarse is not None and self.half * self.stride > coarse.factor
        if wide:
            bins = coarse.correction.shape[1]
            binned = (pixel // nx // coarse.factor) * bins + pixel % nx // coarse.factor
            values = values.astype(np.float64)
            values += coarse.correction.ravel().take(binned)
        sums = np.bincount(index, values, minlength=size).reshape(-1, self.rings).astype(float)
        if coarse is not None and not wide:
            ny_bins, nx_bins = coarse.correction.shape
            at = coarse.correction[(centre_row // coarse.factor).clip(0, ny_bins - 1),
                                   (centre_col // coarse.factor).clip(0, nx_bins - 1)]  # fmt: skip
            sums += at[:, None] * counts
        return sums, counts

    @staticmethod
    def squared_radii(objects, a, b, cols, rows) -> np.ndarray:
        """Squared circle-equivalent elliptical radius (px^2) of every sample, (n, S, S)."""
        dx = (cols - objects["x"][:, None]).astype(np.float32)
        dy = (rows - objects["y"][:, None]).astype(np.float32)
        cos, sin = np.cos(objects["theta"]), np.sin(objects["theta"])
        cxx = (cos**2 / a**2 + sin**2 / b**2).astype(np.float32)[:, None]
        cyy = (sin**2 / a**2 + cos**2 / b**2).astype(np.float32)[:, None]
        cxy = (2 * cos * sin * (1 / a**2 - 1 / b**2)).astype(np.float32)[:, None]
        squared = (cxx * dx * dx)[:, None, :] + (cyy * dy * dy)[:, :, None]
        squared += (cxy * dx)[:, None, :] * dy[:, :, None]
        return squared


@dataclass(frozen=True)
class KeptRings:
    """Result of :func:`last_kept_rings`, one value per source.

    last : index of the last ring kept (``first - 1`` for none).
    reason : why growth stopped (:class:`GrowthStop` values).
    level : mean significance of the last kept ring (RMS units per pixel; NaN for none).
    slope : power-law slope of the light over the last two kept rings (dimensionless).
    """

    last: np.ndarray
    reason: np.ndarray
    level: np.ndarray
    slope: np.ndarray


def last_kept_rings(
    sums, samples, stride, first, limit, grow_sigma: float, floor: float
) -> KeptRings:
    """Judge each source's rings from :func:`ring_sums`: the last ring kept, why growth
    stopped, and the profile to extend (see :class:`KeptRings`).

    ``first`` is each source's first ring (rings before it are ignored), ``limit`` its last.
    """
    count, rings = sums.shape
    k = np.arange(rings)[None, :]
    edges = ring_edges(rings)
    area = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)[None, :] / stride[:, None] ** 2
    usable = (samples >= np.maximum(3, MIN_RING_FILL * area)) & (k >= first[:, None])
    mean = sums / np.maximum(samples, 1)
    significant = mean >= grow_sigma * np.sqrt(1 / np.maximum(samples, 1) + floor**2)
    rises = mean >= previous_usable(mean, usable)
    fails = usable & (~significant | rises)
    first_fail = np.where(fails.any(axis=1), np.argmax(fails, axis=1), rings)
    kept = usable & ~fails & (k < first_fail[:, None])
    last = np.where(kept.any(axis=1), rings - 1 - np.argmax(kept[:, ::-1], axis=1), -1)
    last = np.where(last >= first, last, first - 1)
    everyone = np.arange(count)
    reason = np.where(usable[everyone, limit], GrowthStop.LIMIT, GrowthStop.HIDDEN)
    stopped = first_fail < rings
    at = np.minimum(first_fail, rings - 1)
    rose = rises[everyone, at] & significant[everyone, at]
    reason[stopped] = np.where(rose, GrowthStop.RISE, GrowthStop.NOISE)[stopped]
    before = np.where(kept & (k < last[:, None]), k, -1).max(axis=1)
    level = np.where(last >= first, mean[everyone, np.maximum(last, 0)], np.nan)
    return KeptRings(last, reason, level, profile_slope(mean, edges, before, last))


def previous_usable(values, usable) -> np.ndarray:
    """Per source and ring, ``values`` at the nearest usable ring inside it (+inf for none)."""
    count, rings = values.shape
    last = np.maximum.accumulate(np.where(usable, np.arange(rings)[None, :], -1), axis=1)
    previous = np.concatenate([np.full((count, 1), -1), last[:, :-1]], axis=1)
    found = values[np.arange(count)[:, None], np.maximum(previous, 0)]
    return np.where(previous >= 0, found, np.inf)


def profile_slope(mean, edges, inner_ring, outer_ring) -> np.ndarray:
    """Power-law slope of the light between two rings per source (DEFAULT_SLOPE without the
    inner one), kept within SLOPE_RANGE."""
    everyone = np.arange(len(mean))
    middle = np.sqrt(edges[:-1] * np.maximum(edges[1:], 1e-3))
    inner, outer = np.maximum(inner_ring, 0), np.maximum(outer_ring, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = mean[everyone, inner] / mean[everyone, outer]
        slope = np.log(ratio) / np.log(middle[outer] / middle[inner])
    slope = np.clip(np.nan_to_num(slope, nan=DEFAULT_SLOPE), *SLOPE_RANGE)
    return np.where((inner_ring >= 0) & (inner_ring < outer_ring), slope, DEFAULT_SLOPE)


def extend(radius, kept: KeptRings, edges, mask_level: float) -> np.ndarray:
    """Radii (px) extended along each faded source's profile to where its light is
    ``mask_level`` (RMS units per pixel); ``edges`` are the rings' inner edges (px)."""
    faded = (kept.reason == GrowthStop.NOISE) & (kept.level > mask_level)
    last = np.maximum(kept.last, 0)
    middle = np.sqrt(edges[last] * edges[last + 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        reach = middle * (kept.level / mask_level) ** (1 / kept.slope)
    return np.where(faded, np.clip(reach, radius, MAX_EXTENSION * radius), radius)


def grow(image: RingImage, objects, start, grow_sigma: float, mask_level: float, floor: float,
         max_radius: float, grown_before=None) -> Growth:  # fmt: skip
    """Mask radius (px) of each source of ``objects`` (SEP's catalogue), grown along its light.

    Parameters
    ----------
    image : the signal-to-noise image and the pixels excluded from rings.
    objects : SEP objects with ``x``, ``y``, ``a``, ``b``, ``theta``.
    start : radius (px) each source has already: rings start there.
    grow_sigma : a ring joins while its mean is this many times its noise above 0.
    mask_level : a faded profile is extended down to this level (RMS units per pixel).
    floor : uncertainty of the background (RMS units): the noise of a ring never falls below it.
    max_radius : largest radius (px) any source may reach.
    grown_before : optional boolean per source, True for sources grown in an earlier pass.
        Rings are first laid two rings and 4 px out (2 px for sources grown before), then
        twice as far for every source that passes all of them. Sources grown before, which
        mostly grow no further, are first probed with the ring at their radius only: those
        that pass it or cannot be judged on it go on as above, so the probe changes how much
        is computed, not the radius found (apart from the sampling of sources too large to
        be sampled at every pixel).
    """
    inner = np.asarray(start, dtype=np.float64)
    radius, reason = inner.copy(), np.full(len(objects), GrowthStop.NOISE)
    axes = ellipse_axes(objects)
    first = ring_index(inner)
    if grown_before is None:
        grown_before = np.zeros(len(objects), dtype=bool)
    reach = inner * RING_GROWTH**2 + np.where(grown_before, 2, 4)
    probing = grown_before.copy()
    todo = np.arange(len(objects))
    while todo.size:
        reach[todo] = np.minimum(reach[todo], max_radius)
        probed = probing[todo]
        limit = np.where(probed, first[todo], ring_index(reach[todo]))
        sums, samples, stride = ring_sums(image, objects[todo], (axes[0][todo], axes[1][todo]),
                                          inner[todo], limit)  # fmt: skip
        kept = last_kept_rings(sums, samples, stride, first[todo], limit, grow_sigma, floor)
        edges = ring_edges(sums.shape[1])
        measured = np.where(kept.last >= first[todo], edges[kept.last + 1], inner[todo])
        radius[todo] = extend(measured, kept, edges, mask_level)
        reason[todo] = kept.reason
        unsettled = (kept.reason == GrowthStop.LIMIT) | (
            probed & (kept.reason == GrowthStop.HIDDEN)
        )
        wider = unsettled & (probed | (reach[todo] < max_radius))
        reach[todo[wider & ~probed]] *= 2  # probed sources go on at their first reach
        probing[todo] = False
        todo = todo[wider]
    return Growth(np.minimum(np.maximum(radius, inner), max_radius), reason)
