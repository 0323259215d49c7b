"""Pixels that carry no measurement: not finite, a blank value, or a long run of one value.

Frames mark missing data in several ways: NaN (floating-point frames), the ``BLANK``
value of integer frames, a fill value such as 0 after resampling or trimming, or a
dead readout that repeats one value. All of them are *invalid* (mask bit 1): left
out of detection and of the background, like NaN. A run is a stretch of at least
``run`` pixels of exactly one value along a row or a column; noise never repeats a
value that often (a 1-sigma step of 1 ADU repeats 31 times in a row with probability
about 1e-16), and values at or above the saturation level are left to the saturated
bit (a saturated core is a run too).
"""

from dataclasses import dataclass

import numpy as np

DEFAULT_RUN = 32
"""Shortest run of one value (pixels) that marks pixels as blank."""


@dataclass(frozen=True)
class InvalidSpec:
    """What makes a pixel invalid besides not being finite.

    bad_pixel_mask : path of a FITS file whose non-zero pixels are bad ("" for none).
    blank_value : a value (frame units) that means "no data", e.g. 0; None for none.
    blank_run : shortest run of one value (pixels) that is blank; 0 turns runs off.
    """

    bad_pixel_mask: str = ""
    blank_value: float | None = None
    blank_run: int = DEFAULT_RUN


NOTHING_MORE = InvalidSpec()
"""The defaults: no bad-pixel mask, no blank value, runs of DEFAULT_RUN pixels."""


def invalid_pixels(data, bad_pixels=None, blank_values=(), run=DEFAULT_RUN, saturation=None):
    """Boolean map of the pixels of ``data`` (2-d, any real dtype) that carry no measurement.

    Parameters
    ----------
    data : 2-d frame, in its own units (ADU).
    bad_pixels : optional map of the frame's shape; non-zero pixels are invalid.
    blank_values : values (frame units) that mean "no data", e.g. the physical value of an
        integer frame's ``BLANK`` or a configured fill value such as 0.
    run : shortest run of one value along a row or column (pixels) that is blank; 0: none.
    saturation : level (frame units) at and above which runs are saturation, not blanks.
    """
    invalid = ~np.isfinite(data)
    if bad_pixels is not None:
        invalid |= np.asarray(bad_pixels) != 0
    for value in blank_values:
        invalid |= data == value
    if run:
        invalid |= identical_runs(data, run, saturation)
    return invalid


def identical_runs(data, run: int, saturation=None) -> np.ndarray:
    """Boolean map of pixels in runs of at least ``run`` equal values along rows or columns.

    Values at or above ``saturation`` (frame units) never form a run. Only the rows (or
    columns) that hold ``run - 1`` equal neighbours are searched for runs; equal neighbours
    are few in a frame, so they are counted from their positions.
    """
    runs = np.zeros(data.shape, dtype=bool)
    for axis in (1, 0):
        same = equal_to_previous(data, axis)
        pairs = np.flatnonzero(same)
        if saturation is not None:
            high = ~(data.ravel()[pairs] < saturation)
            same.ravel()[pairs[high]] = False
            pairs = pairs[~high]
        if len(pairs) < run - 1:  # the usual case: too few equal neighbours
            continue
        line = pairs // data.shape[1] if axis == 1 else pairs % data.shape[1]
        lines = np.flatnonzero(np.bincount(line, minlength=data.shape[1 - axis]) >= run - 1)
        if axis == 1:
            runs[lines] |= row_runs(same[lines], run)
        else:
            runs[:, lines] |= row_runs(np.ascontiguousarray(same[:, lines].T), run).T
    return runs


def equal_to_previous(data, axis: int) -> np.ndarray:
    """True where a pixel equals the one before it along ``axis``."""
    same = np.zeros(data.shape, dtype=bool)
    if axis == 1:
        np.equal(data[:, 1:], data[:, :-1], out=same[:, 1:])
    else:
        np.equal(data[1:, :], data[:-1, :], out=same[1:, :])
    return same


def row_runs(same: np.ndarray, run: int) -> np.ndarray:
    """Pixels in runs of at least ``run`` pixels along rows, from :func:`equal_to_previous`.

    A stretch of k True values of ``same`` starting at column j is a run of k + 1 equal
    pixels starting at column j - 1. Stretches never cross rows (column 0 is False).
    """
    ny, nx = same.shape
    flat = np.concatenate([same.ravel(), [False]]).view(np.int8)
    edges = np.diff(flat, prepend=np.int8(0))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    long = stops - starts + 1 >= run
    if not long.any():
        return np.zeros((ny, nx), dtype=bool)
    marked = np.zeros(ny * nx + 1, dtype=np.int8)
    np.add.at(marked, starts[long] - 1, 1)
    np.add.at(marked, stops[long], -1)
    return (np.cumsum(marked[:-1], dtype=np.int32) > 0).reshape(ny, nx)
