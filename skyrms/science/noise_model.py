r"""Background noise of a calibrated frame, propagated from the CCD model and the masters.

A science frame was made from raw frames as ``C = (R - B - k D) / F``: raw frame
``R`` (ADU), master bias ``B`` (ADU), master dark ``D`` (ADU in ``t_dark``, bias
subtracted), ``k = t / t_dark`` and the normalised master flat ``F``. With the
calibrated sky ``S`` (ADU, the background map), the gain ``g`` (e-/ADU) and the
read noise ``r`` (e-), every term in ADU^2 of the calibrated frame:

=========================  =========================================================
term                       variance contributed (ADU^2)
=========================  =========================================================
sky Poisson                ``S F / g / n / F^2``
dark-current Poisson       ``k D / g / n / F^2``
read noise                 ``(r/g)^2 / n / F^2``
master bias                ``w_B c (r/g)^2 / N_B / F^2``
master dark                ``k^2 c (D/g + (r/g)^2) / N_D / F^2``
master flat                ``S^2 (sigma_F / F)^2``
=========================  =========================================================

``n`` is the number of exposures averaged into the science frame (NCOMBINE),
``N_B`` and ``N_D`` those of the masters, ``c`` is 1 for mean-combined masters
and ``pi/2`` for median-combined ones, ``sigma_F`` the master flat's error.
The raw-frame terms are the Poisson and read noise of ``R`` in raw ADU, which
the flat division scales by ``1/F^2``; the flat's own error scales the
calibrated signal, ``S^2 (sigma_F/F)^2``. The bias weight ``w_B`` depends on how
the dark was made (``dark_bias``):

- ``same``: the dark had this same master bias subtracted, so
  ``C = (R - (1-k) B - k D_raw) / F`` and ``w_B = (1 - k)^2``;
- ``independent``: another master bias of as many frames, ``w_B = 1 + k^2``;
- ``none``: the dark carries no bias noise, ``w_B = 1``.

Assumptions: sky and dark current are Poisson, read noise Gaussian and white,
masters independent of the science frame and of one another (except as
above), the dark signal ``D`` is taken per pixel from the master dark itself,
negative sky and dark signals count as zero in the Poisson terms, and first
order in the flat's error.
"""

import numpy as np

MAD_TO_SIGMA = 1.482602
"""Standard deviation of a Gaussian over its median absolute deviation (1 / Phi^-1(3/4))."""

COMBINE_FACTOR = {"mean": 1.0, "median": np.pi / 2}
"""Variance of a combined master relative to the mean of its frames (large-N median)."""


def bias_weight(dark_bias: str, scale: float) -> float:
    """Weight ``w_B`` of the master bias variance for a dark scaled by ``scale`` (see above)."""
    return {"same": (1 - scale) ** 2, "independent": 1 + scale**2, "none": 1.0}[dark_bias]


def propagated_variance(
    sky: np.ndarray,
    flat: np.ndarray,
    dark: np.ndarray,
    *,
    egain: float,
    read_noise: float,
    exptime: float,
    dark_exptime: float,
    n_science: int,
    n_bias: int,
    n_dark: int,
    flat_error: np.ndarray | None = None,
    combine: str = "mean",
    dark_bias: str = "same",
) -> np.ndarray:
    """Per-pixel variance (ADU^2) of the background of a calibrated frame.

    Parameters
    ----------
    sky : calibrated background level S, ADU (the background map).
    flat : normalised master flat F, dimensionless.
    dark : master dark D, ADU accumulated in ``dark_exptime``, bias subtracted.
    egain : gain g, electrons per ADU.
    read_noise : read noise r, electrons.
    exptime, dark_exptime : exposure times of the frame and of the dark, seconds.
    n_science, n_bias, n_dark : exposures averaged into the frame and into the masters.
    flat_error : 1-sigma error of the master flat, same units as ``flat`` (or None).
    combine : "mean" or "median", how the masters were combined.
    dark_bias : "same", "independent" or "none", see the module text.
    """
    scale = exptime / dark_exptime
    c = COMBINE_FACTOR[combine]
    read2 = (read_noise / egain) ** 2
    variance = sky * flat
    np.maximum(variance, 0, out=variance)  # the flat is positive: max(S, 0) F
    dark_signal = np.maximum(dark, 0)
    dark_signal *= scale  # k D
    variance += dark_signal
    variance /= egain
    variance += read2
    variance /= n_science
    variance += bias_weight(dark_bias, scale) * c * read2 / n_bias + scale**2 * c * read2 / n_dark
    dark_signal *= scale * c / egain / n_dark  # k^2 c D / g / N_D
    variance += dark_signal
    del dark_signal
    variance /= flat
    variance /= flat
    if flat_error is not None:
        relative = sky * flat_error
        relative /= flat
        variance += np.square(relative, out=relative)
    return variance


def read_noise_rows(ny: int) -> slice:
    """The rows of a master bias ``ny`` rows high that :func:`read_noise_from_bias` uses:
    about 256, evenly spaced (a caller may read only these)."""
    return slice(None, None, max(1, ny // 256))


def read_noise_from_bias(
    bias: np.ndarray, egain: float, n_bias: int, combine: str = "mean"
) -> float:
    """Read noise (electrons) estimated from a master bias (ADU) of ``n_bias`` frames.

    ``bias`` is the whole master or only its :func:`read_noise_rows`. Uses
    differences of neighbouring pixels along those rows (insensitive to smooth
    structure), with a MAD estimate of their spread, and undoes the
    combination: ``r = sigma_B g sqrt(N_B / c)``.
    """
    rows = np.asarray(bias[read_noise_rows(len(bias))], dtype=np.float64)
    differences = np.diff(rows, axis=1).ravel()
    differences = differences[np.isfinite(differences)]
    mad = np.median(np.abs(differences - np.median(differences)))
    sigma = MAD_TO_SIGMA * mad / np.sqrt(2)
    return float(sigma * egain * np.sqrt(n_bias / COMBINE_FACTOR[combine]))
