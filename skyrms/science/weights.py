"""Inverse-variance weight maps for coadds (SWarp's ``MAP_WEIGHT``) from an RMS map and a mask."""

import numpy as np

from skyrms.science import maskbits

UNMEASURED = maskbits.INVALID | maskbits.CLIPPED
"""Mask bits of pixels without a measurement: no data, or at or above the saturation level.
They get weight 0. Sources, circles and the measured halo of a saturated star (bit
SATURATED without CLIPPED) keep their weight, so a coadd has no hole around every star
that saturates in all its frames."""


def inverse_variance(rms: np.ndarray, mask: np.ndarray, zero_bits: int = UNMEASURED) -> np.ndarray:
    """The weight map 1 / rms**2 (1/ADU**2 for an RMS in ADU), float32.

    Parameters
    ----------
    rms : 1-sigma noise per pixel (ADU), float32; overwritten with the weights (a full-frame
        map is not copied).
    mask : mask bits per pixel (:mod:`skyrms.science.maskbits`), the shape of ``rms``.
    zero_bits : pixels with any of these bits get weight 0; so do pixels whose RMS is not a
        positive finite number.
    """
    weight = np.square(rms, out=rms)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.reciprocal(weight, out=weight)
    weight[~np.isfinite(weight) | (weight <= 0) | ((mask & zero_bits) != 0)] = 0
    return weight
