"""Background and background-RMS maps with SEP (SExtractor's algorithm).

All maps are in the units of the input frame (ADU for survey frames).

SEP fits each mesh box from its unmasked pixels, but drops a box in which fewer than
half of the pixels are unmasked (SExtractor's rule) and gives it the value of the
nearest box it kept; with every box dropped it returns a background of 0 and an RMS of
1 everywhere. Masks that follow faint light cover more than half of many boxes in
crowded fields and around large galaxies, so :func:`estimate` judges such a box on the
pixels it has, down to MIN_FREE of its area: it fills the masked pixels of the box with
values drawn from its own free pixels (a bootstrap, seeded, so the same frame gives the
same maps), which gives SEP's estimators the distribution of the free pixels. Boxes
with less free area than that are left to SEP's nearest-box rule, and a frame with no
box left raises :class:`NoBackground`. The free pixels of a box that a source covers
mostly are the source's outskirts, though: :func:`fit`, the background of the products,
gives such boxes the level of a mesh four times coarser, whose boxes reach beyond them.
"""

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import sep

GAUSSIAN_RMS_BIAS = 0.985
"""SEP's (SExtractor's) sigma-clipped RMS of pure Gaussian noise, over the true sigma.

Clipping the pixel histogram cuts its tails, so the estimate runs low: measured
0.9842-0.9852 for boxes of 32-256 px and sigmas of 3-50 on 2048x2048 frames of
Gaussian noise (see tests/test_background.py). :func:`unbiased_rms` divides it out.
"""


@dataclass(frozen=True)
class BackgroundParams:
    """SEP's background mesh: square boxes of ``box_size`` pixels, a median filter of
    ``filter_size`` boxes."""

    box_size: int = 256
    filter_size: int = 3


def check_box(shape: tuple[int, int], params: BackgroundParams) -> None:
    """Raise ValueError unless the box and filter sizes fit a frame of ``shape`` (ny, nx).

    Checked once per frame, before any fit (:func:`estimate` does not check again).
    """
    box_size, filter_size = params.box_size, params.filter_size
    if box_size < 1 or filter_size < 1:
        raise ValueError(f"box_size {box_size} and filter_size {filter_size} must be >= 1")
    if box_size > min(shape):
        raise ValueError(f"box_size {box_size} px is larger than the frame ({shape[1]}x{shape[0]})")


MIN_FREE = 0.2
"""Smallest free (unmasked) fraction of a mesh box from which its background is estimated."""
SEP_MIN_FREE = 0.5
"""SEP's own rule (BACK_MINGOODFRAC): a box with less free area is dropped."""


class NoBackground(ValueError):
    """No mesh box has MIN_FREE of its pixels free: nothing to estimate a background from."""


def box_slices(shape: tuple[int, int], box_size: int):
    """Row and column slices of SEP's mesh boxes (the last row and column may be narrower)."""
    return [
        [slice(start, min(start + box_size, n)) for start in range(0, n, box_size)] for n in shape
    ]


def free_fractions(masked: np.ndarray, box_size: int) -> np.ndarray:
    """Fraction of free (False) pixels of ``masked`` in each mesh box, shape (box rows, columns).

    Counted a row of boxes at a time on the mask's bytes (25 times faster than a
    ``reduceat`` over the booleans on a 9576x6388 frame).
    """
    rows, cols = box_slices(masked.shape, box_size)
    starts = [c.start for c in cols]
    as_bytes = np.asarray(masked, dtype=bool).view(np.uint8)
    counts = np.array([np.add.reduceat(as_bytes[r].sum(axis=0, dtype=np.uint32), starts)
                       for r in rows])  # fmt: skip
    heights = np.array([r.stop - r.start for r in rows])[:, None]
    widths = np.array([c.stop - c.start for c in cols])[None, :]
    return 1 - counts / (heights * widths)


def mesh_usage(masked: np.ndarray, box_size: int) -> tuple[int, int]:
    """How many mesh boxes :func:`estimate` fits from their free part (MIN_FREE to half of
    their area), and how many it takes from the nearest estimated box (less than MIN_FREE)."""
    free = free_fractions(masked, box_size)
    partial = np.count_nonzero((free >= MIN_FREE) & (free < SEP_MIN_FREE))
    return int(partial), int(np.count_nonzero(free < MIN_FREE))


def estimate(
    data: np.ndarray,
    mask: np.ndarray | None = None,
    box_size: int = 256,
    filter_size: int = 3,
) -> sep.Background:
    """Fit SEP's background model to a native float32 frame.

    Parameters
    ----------
    data : 2-d float32 array, native byte order (see :func:`skyrms.io.fitsfiles.native_float32`).
    mask : 2-d array or None. Non-zero pixels are left out of the estimate
        (a boolean mask is used as it is, other types are converted). A box with at
        least MIN_FREE but less than half of its pixels free is estimated from its free
        pixels (see the module's description): ``data`` and a boolean ``mask`` must then
        be writable, and are as they were on return (see :func:`bootstrapped_boxes`).
    box_size : side of the square mesh boxes, pixels.
    filter_size : side of the median filter applied to the mesh, in boxes.

    Returns the ``sep.Background`` object: ``.back()`` and ``.rms()`` give full
    maps in the data's units, ``.globalback`` and ``.globalrms`` scalars. Raises
    :class:`NoBackground` when no box has MIN_FREE of its pixels free. The sizes must
    fit the frame (:func:`check_box`).
    """
    if mask is not None:
        mask = np.asarray(mask)
        mask = mask if mask.dtype == bool else mask != 0
        free = free_fractions(mask, box_size)
        if not (free >= MIN_FREE).any():
            raise NoBackground(
                f"no {box_size}-px box has {MIN_FREE:.0%} of its pixels free "
                f"(masked fraction {np.count_nonzero(mask) / mask.size:.3f})"
            )
        sparse = np.argwhere((free >= MIN_FREE) & (free < SEP_MIN_FREE))
        if len(sparse):
            with bootstrapped_boxes(data, mask, box_size, sparse):
                return sep.Background(data, mask=mask, bw=box_size, bh=box_size,
                                      fw=filter_size, fh=filter_size)  # fmt: skip
    return sep.Background(data, mask=mask, bw=box_size, bh=box_size, fw=filter_size, fh=filter_size)


@contextmanager
def bootstrapped_boxes(data, mask, box_size: int, boxes):
    """Within the context, the masked pixels of each of ``boxes`` (box row, column) hold
    values drawn from the box's free pixels and are unmasked, in ``data`` and ``mask``
    themselves; both are restored on leaving it.

    Only the boxes' masked pixels are saved, not the frame: a copy of a 9576x6388
    frame and its mask cost 0.2-0.8 s on every fit that has a sparse box.
    """
    rows, cols = box_slices(data.shape, box_size)
    rng = np.random.default_rng(len(boxes))
    saved = []
    try:
        for row, col in boxes:
            block, hidden = data[rows[row], cols[col]], mask[rows[row], cols[col]]
            where = hidden.copy()
            saved.append((block, hidden, where, block[where]))
            values = block[~where]
            block[where] = values[rng.integers(values.size, size=block.size - values.size)]
            hidden[...] = False
        yield
    finally:
        for block, hidden, where, original in saved:
            block[where] = original
            hidden[where] = True


def unbiased_rms(bkg: sep.Background, box_size: int) -> np.ndarray:
    """Background RMS map corrected for the clipping bias (:data:`GAUSSIAN_RMS_BIAS`), > 0.

    SEP's bicubic spline through the mesh can dip below the smallest mesh value, even below
    zero, between boxes of very different RMS; the map is kept at or above its smallest
    value at a box centre (a mesh node). Raises :class:`NoBackground` when no node is > 0.
    """
    rms = bkg.rms()
    rms /= GAUSSIAN_RMS_BIAS
    nodes = rms[node_slices(rms.shape, box_size)]
    floor = nodes[nodes > 0].min(initial=np.inf)
    if not np.isfinite(floor):
        raise NoBackground("no mesh box has any noise (every box holds one value)")
    if not rms.min() >= floor:
        np.maximum(rms, floor, out=rms)
    return rms


def node_slices(shape: tuple[int, int], box_size: int) -> tuple[slice, slice]:
    """Slices picking the pixel at (or nearest to) the centre of every mesh box."""
    return tuple(slice(min(box_size // 2, n - 1), n, box_size) for n in shape)


BINS_PER_BOX = 8
"""Bins of the coarse judge per mesh box side: the coarse correction has this resolution."""
COARSE_BOXES = 4
"""The coarse background's boxes are this many mesh boxes a side."""


@dataclass(frozen=True)
class Coarse:
    """The coarse background against which sources grow: ``correction`` = (fine - coarse
    background) / RMS (dimensionless), one value per ``factor`` x ``factor`` pixel bin."""

    correction: np.ndarray
    factor: int


def binned_fits(data, masked, box_size: int, filter_size: int):
    """SEP's fine and coarse (COARSE_BOXES x ``box_size``) backgrounds of the frame binned
    ``box_size // BINS_PER_BOX`` pixels a side (mean of free pixels, without the ``masked``
    pixels), and that bin side (px); None when either mesh has no usable box."""
    factor = max(1, box_size // BINS_PER_BOX)
    binned, empty = binned_means(data, masked, factor)
    fine_box = max(1, box_size // factor)
    try:
        fine = estimate(binned, empty, min(fine_box, *binned.shape), filter_size)
        coarse = estimate(binned, empty, min(fine_box * COARSE_BOXES, *binned.shape), filter_size)
    except NoBackground:
        return None
    return fine, coarse, factor


def coarse_background(data, masked, box_size: int, filter_size: int) -> Coarse | None:
    """A background of COARSE_BOXES x ``box_size`` boxes, compared with the fine one.

    Both backgrounds are fitted (:func:`binned_fits`) to the frame binned, so that a source
    larger than the mesh can be judged against a background that has not taken in its
    wings, at a cost far below a second full-size fit. None when the coarse mesh has no
    usable box.
    """
    fits = binned_fits(data, masked, box_size, filter_size)
    if fits is None:
        return None
    fine, coarse, factor = fits
    noise = fine.rms()
    noise *= factor  # the RMS of a mean of factor**2 pixels is the pixel RMS / factor
    correction = fine.back()
    correction -= coarse.back()
    np.divide(correction, noise, out=correction, where=noise > 0)
    correction[~(noise > 0)] = 0.0
    return Coarse(correction, factor)


class MaskedBackground:
    """SEP's background of a masked frame, with the level of its mostly masked boxes taken
    from the coarse mesh (:func:`fit`); ``back``, ``rms``, ``globalback`` and ``globalrms``
    as ``sep.Background``'s (ADU)."""

    def __init__(self, fitted: sep.Background, shift: np.ndarray | None, factor: int):
        self.fitted, self.shift, self.factor = fitted, shift, factor
        self.globalback, self.globalrms = fitted.globalback, fitted.globalrms

    def back(self) -> np.ndarray:
        """The background map (float32, ADU): SEP's plus the shift (ADU, one value per
        ``factor`` x ``factor`` bin), interpolated."""
        level = self.fitted.back()
        if self.shift is not None:
            interpolate_into(level, self.shift, self.factor)
        return level

    def rms(self) -> np.ndarray:
        """The background RMS map (float32, ADU): the fine mesh's."""
        return self.fitted.rms()


def fit(data, masked, box_size: int, filter_size: int, invalid=None) -> MaskedBackground:
    """The background of a frame without its ``masked`` pixels: SEP's (:func:`estimate`), but
    where a mesh box is mostly masked its level is the coarse mesh's (COARSE_BOXES x
    ``box_size``).

    The few free pixels of a box that a source covers mostly are the source's own outskirts:
    estimated from them (or from the nearest box, their neighbour), the background takes
    in the faint wing the mask left out. The coarse boxes reach beyond the wing. The
    difference between the two meshes is measured on the binned frame (:func:`binned_fits`),
    weighted by 1 for a box more than half of whose valid pixels are masked and 0 for the
    others, interpolated between box centres, and added to SEP's map. A box of invalid
    pixels (``invalid``, a boolean map; None: none) is not a source's: it keeps SEP's level,
    as does every box of a frame no box of which is mostly masked. ``masked`` (boolean)
    includes the ``invalid`` pixels.
    """
    fitted = estimate(data, masked, box_size, filter_size)
    valid = 1.0 if invalid is None else free_fractions(invalid, box_size)
    mostly = free_fractions(masked, box_size) < SEP_MIN_FREE * valid
    fits = binned_fits(data, masked, box_size, filter_size) if mostly.any() else None
    if fits is None:
        return MaskedBackground(fitted, None, 1)
    fine, coarse, factor = fits
    shift = coarse.back()
    shift -= fine.back()
    weight = np.zeros_like(shift)
    interpolate_into(weight, mostly.astype(np.float32), box_size // factor)
    shift *= weight
    return MaskedBackground(fitted, shift, factor)


BAND_ROWS = 64
"""Rows of a frame :func:`interpolate_into` handles at once."""


def interpolate_into(out: np.ndarray, values: np.ndarray, step: int, operation=np.add) -> None:
    """Combine ``out`` (float32) in place with ``values`` given at the centres of ``step`` x
    ``step`` cells of it (the last row and column of cells as wide as ``out`` leaves them),
    interpolated bilinearly and constant beyond the outermost centres: ``operation`` is a
    ufunc (np.add adds them, np.multiply scales by them).

    Done a band of BAND_ROWS (at least ``step``) rows at a time, skipping the bands where the
    values are the operation's identity (0 to add, 1 to multiply): on a 9576x6388 frame the
    whole map at once cost 2 s, mostly in fresh full-size temporaries; by bands, with every
    band to do, 0.1-0.2 s.
    """
    values = np.asarray(values, dtype=np.float32)
    low, high, weight = cell_weights(out.shape[1], step, values.shape[1])
    across = np.ascontiguousarray(values[:, low])  # rows are gathered below
    across *= weight
    across += values[:, high] * (1 - weight)
    rows = cell_weights(out.shape[0], step, values.shape[0])
    busy = (across != operation.identity).any(axis=1)
    band = max(step, BAND_ROWS)
    for top in range(0, out.shape[0], band):
        low, high, weight = (axis[top : top + band] for axis in rows)
        if busy[low].any() or busy[high].any():
            part = across[low]
            part *= weight[:, None]
            part += across[high] * (1 - weight)[:, None]
            operation(out[top : top + band], part, out=out[top : top + band])


def cell_weights(n: int, step: int, cells: int):
    """For ``n`` positions along an axis of ``cells`` cells ``step`` positions wide (the last
    one ending at ``n`` if it is narrower): the cell centres on either side of each position
    (indices) and the weight of the first (float32)."""
    starts = np.arange(cells) * step
    centres = (starts + np.minimum(starts + step, n) - 1) / 2
    position = np.arange(n, dtype=np.float64)
    high = np.clip(np.searchsorted(centres, position, side="right"), 1, max(cells - 1, 1))
    high = np.minimum(high, cells - 1)
    low = np.maximum(high - 1, 0)
    span = np.where(high > low, centres[high] - centres[low], 1.0)
    weight = np.clip((centres[high] - position) / span, 0, 1)
    weight[high == low] = 1.0
    return low, high, weight.astype(np.float32)


def binned_means(data, masked, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the free pixels of every ``factor`` x ``factor`` bin (float32, frame units),
    and which bins have less than a quarter of their pixels free (True: left out)."""
    ny, nx = data.shape
    starts = np.arange(0, nx, factor)
    sums = np.zeros((-(-ny // factor), len(starts)))
    counts = np.zeros_like(sums)
    for row, top in enumerate(range(0, ny, factor)):
        free = ~masked[top : top + factor]
        sums[row] = np.add.reduceat(np.where(free, data[top : top + factor], 0).sum(0), starts)
        counts[row] = np.add.reduceat(free.sum(0), starts)
    empty = counts < factor * factor / 4
    means = np.divide(sums, counts, out=np.zeros_like(sums), where=~empty)
    return means.astype(np.float32), empty
