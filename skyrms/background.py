"""Background and background-RMS maps with SEP (SExtractor's algorithm).

All maps are in the units of the input frame (ADU for survey frames).
"""

import numpy as np
import sep

GAUSSIAN_RMS_BIAS = 0.985
"""SEP's (SExtractor's) sigma-clipped RMS of pure Gaussian noise, over the true sigma.

Clipping the pixel histogram cuts its tails, so the estimate runs low: measured
0.9842-0.9852 for boxes of 32-256 px and sigmas of 3-50 on 2048x2048 frames of
Gaussian noise (see tests/test_background.py). :func:`unbiased_rms` divides it out.
"""


def native_float32(data: np.ndarray, owned: bool = False) -> np.ndarray:
    """Return ``data`` as a C-contiguous native-endian float32 array (SEP refuses others).

    Copies only when needed. FITS float32 pixels read by astropy are big-endian;
    if the caller ``owned`` them (just read, held by nothing else), they are
    byte-swapped in place instead of copied: a fresh full-frame array costs its
    page faults (0.1-0.4 s for 9576x6388) and, for a while, twice the memory.
    """
    big_endian = np.dtype(">f4")
    if owned and data.dtype == big_endian and data.flags.writeable and data.flags.c_contiguous:
        return data.byteswap(inplace=True).view(np.float32)
    return np.ascontiguousarray(data, dtype=np.float32)


def check_box(shape: tuple[int, int], box_size: int, filter_size: int) -> None:
    """Raise ValueError unless the box and filter sizes fit a frame of ``shape`` (ny, nx)."""
    if box_size < 1 or filter_size < 1:
        raise ValueError(f"box_size {box_size} and filter_size {filter_size} must be >= 1")
    if box_size > min(shape):
        raise ValueError(f"box_size {box_size} px is larger than the frame ({shape[1]}x{shape[0]})")


def estimate(
    data: np.ndarray,
    mask: np.ndarray | None = None,
    box_size: int = 256,
    filter_size: int = 3,
) -> sep.Background:
    """Fit SEP's background model to a native float32 frame.

    Parameters
    ----------
    data : 2-d float32 array, native byte order (see :func:`native_float32`).
    mask : 2-d array or None. Non-zero pixels are left out of the estimate
        (a boolean mask is used as it is, other types are converted).
    box_size : side of the square mesh boxes, pixels.
    filter_size : side of the median filter applied to the mesh, in boxes.

    Returns the ``sep.Background`` object: ``.back()`` and ``.rms()`` give full
    maps in the data's units, ``.globalback`` and ``.globalrms`` scalars.
    """
    check_box(data.shape, box_size, filter_size)
    if mask is not None:
        mask = np.asarray(mask)
        mask = mask if mask.dtype == bool else mask != 0
    return sep.Background(data, mask=mask, bw=box_size, bh=box_size, fw=filter_size, fh=filter_size)


def unbiased_rms(bkg: sep.Background) -> np.ndarray:
    """Background RMS map corrected for the clipping bias (:data:`GAUSSIAN_RMS_BIAS`)."""
    rms = bkg.rms()
    rms /= GAUSSIAN_RMS_BIAS
    return rms
