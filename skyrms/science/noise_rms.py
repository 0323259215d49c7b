"""The background RMS as noise where structure stays in the background.

SEP's RMS of a mesh box is the clipped spread of its free (unmasked) pixels. Where light
that the mask left varies inside a box (a galaxy filling the frame, nebulosity, a bright
galaxy's inner wings), that variation is counted as noise, and the mesh's median filter and
spline spread it to the boxes around, empty ones too.

Second differences of pixels ``LAG`` apart along a row, ``x[i - LAG] - 2 x[i] + x[i + LAG]``,
measure the noise without that light: for noise uncorrelated at lags of ``LAG`` pixels and
more their variance is 6 sigma^2, while light that varies smoothly cancels (a linear
gradient exactly, a profile of scale ``h`` to about ``(LAG / h)^2`` of its level). ``LAG``
lies beyond the reach of the correlation that resampling gives the noise of mosaics and
coadds: on the Spitzer mosaic of tests/data/real, whose neighbouring pixels share much of
their noise, differences of adjacent pixels give 0.63 of the noise measured directly on its
empty pixels, second differences 4 pixels apart 0.995.

:func:`noise_only_rms` compares the two per mesh box: where SEP's RMS exceeds the
difference noise by more than ``STRUCTURE_EXCESS``, the box's RMS is the difference noise.
Elsewhere the map is SEP's, bit for bit: on frames of noise and sources only no box is
replaced. What the map then measures is the pixel-to-pixel noise (of single pixels, with
their correlation at lags under ``LAG``); noise correlated over more than ``LAG`` pixels
(a heavily smoothed frame) reads low in the replaced boxes only.

All values are in the frame's units (ADU for survey frames).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from skyrms.science.background import box_slices, interpolate_into

LAG = 4
"""Pixels between the differenced pixels along a row."""
STRUCTURE_EXCESS = 1.05
"""A box's RMS is replaced when SEP's exceeds the difference noise by more than this factor:
about 3 times the two estimates' relative scatter on 64-pixel boxes of pure noise."""
MIN_DIFFERENCES = 200
"""Fewest second differences (of free pixels) that give a box a difference noise."""
ROWS_PER_BOX = 64
"""Rows of a box used for its differences: every ``box_size // ROWS_PER_BOX``-th row."""
CLIP, CLIP_ITERATIONS = 3.0, 4
"""Differences beyond CLIP times the current estimate are left out, CLIP_ITERATIONS times."""
CLIPPED_STD = 0.98658
"""Standard deviation of a Gaussian clipped at +-3 sigma, over sigma (divided out)."""
SECOND_DIFFERENCE_STD = np.sqrt(6.0)
"""Standard deviation of a second difference of independent pixels, over theirs."""


def noise_only_rms(rms, data, masked, box_size: int, filter_size: int) -> int:
    """Replace SEP's RMS where structure inflates it by the noise of pixel differences.

    Parameters
    ----------
    rms : float32 RMS map (frame units), SEP's corrected for clipping; changed in place.
    data : the frame (float32, frame units); masked pixels may hold anything, NaN too.
    masked : boolean, True for pixels left out (sources, invalid pixels).
    box_size, filter_size : the background mesh's box (pixels) and median filter (boxes).

    Returns the number of mesh boxes whose RMS is the difference noise. The map is scaled
    between the centres of those boxes and their neighbours (bilinear in the scale factor),
    so it stays positive and continuous.
    """
    rows, cols = box_slices(data.shape, box_size)
    centres = [np.array([(s.start + s.stop - 1) / 2 for s in axis]) for axis in (rows, cols)]
    at_centres = rms[np.ix_(*(np.round(c).astype(int) for c in centres))].astype(np.float64)
    noise = median_filtered(box_difference_noise(data, masked, box_size, at_centres), filter_size)
    excess = (at_centres > STRUCTURE_EXCESS * noise) & (noise > 0)  # False where NaN
    if not excess.any():
        return 0
    factor = np.where(excess, noise / np.where(excess, at_centres, 1.0), 1.0)
    interpolate_into(rms, factor, box_size, np.multiply)
    return int(np.count_nonzero(excess))


def box_difference_noise(data, masked, box_size: int, initial) -> np.ndarray:
    """Noise of each mesh box (frame units) from second differences of its free pixels
    ``LAG`` apart along rows, clipped iteratively starting from ``initial`` (the mesh of
    first guesses, frame units); NaN for boxes with fewer than MIN_DIFFERENCES of them."""
    rows, cols = box_slices(data.shape, box_size)
    stride = max(1, box_size // ROWS_PER_BOX)
    nx = data.shape[1]
    starts = np.array([c.start for c in cols if c.start < nx - 2 * LAG])
    widths = np.diff(np.append(starts, nx - 2 * LAG))
    noise = np.full(initial.shape, np.nan)
    for row, span in enumerate(rows):
        block = data[span.start : span.stop : stride]
        free = ~masked[span.start : span.stop : stride]
        differences = block[:, : -2 * LAG] - 2 * block[:, LAG:-LAG] + block[:, 2 * LAG :]
        usable = free[:, : -2 * LAG] & free[:, LAG:-LAG] & free[:, 2 * LAG :]
        usable &= np.isfinite(differences)
        differences[~usable] = 0.0
        squares = np.square(differences, dtype=np.float64)
        sigma = initial[row, : len(starts)] * SECOND_DIFFERENCE_STD
        for _ in range(CLIP_ITERATIONS):
            kept = usable & (squares <= np.repeat((CLIP * sigma) ** 2, widths))
            count = np.add.reduceat(kept.sum(axis=0), starts)
            total = np.add.reduceat(np.where(kept, squares, 0.0).sum(axis=0), starts)
            with np.errstate(invalid="ignore", divide="ignore"):
                sigma = np.sqrt(total / count) / CLIPPED_STD
        sigma[count < MIN_DIFFERENCES] = np.nan
        noise[row, : len(starts)] = sigma / SECOND_DIFFERENCE_STD
    return noise


def median_filtered(mesh: np.ndarray, size: int) -> np.ndarray:
    """The median of each ``size`` x ``size`` window of ``mesh`` (edges repeated), ignoring
    NaN; NaN where a window holds none (SEP filters its mesh of boxes the same way)."""
    if size <= 1 or np.isnan(mesh).all():
        return mesh
    padded = np.pad(mesh, size // 2, mode="edge")
    windows = sliding_window_view(padded, (size, size))[: mesh.shape[0], : mesh.shape[1]]
    windows = windows.reshape(*mesh.shape, -1)
    filtered = np.full(mesh.shape, np.nan)
    has = ~np.isnan(windows).all(axis=-1)
    filtered[has] = np.nanmedian(windows[has], axis=-1)
    return filtered
