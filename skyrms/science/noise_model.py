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
master bias                ``w_B sigma_B^2 / F^2``, else ``w_B c_B (r/g)^2 / N_B / F^2``
master dark                ``k^2 sigma_D^2 / F^2``, else ``k^2 c_D (D/g + (r/g)^2) / N_D / F^2``
master flat                ``S^2 (sigma_F / F)^2``
=========================  =========================================================

``n`` is the number of exposures averaged into the science frame (NCOMBINE),
``N_B`` and ``N_D`` those of the masters. ``sigma_B`` and ``sigma_D`` are the
masters' own per-pixel errors (ADU) when they carry them (masters built by
skyrms do); otherwise the error follows from the frames combined, with ``c``
the variance of the combination relative to a mean of as many frames (1 for a
mean, 1.35 for a median of 3, tending to ``pi/2``:
:func:`skyrms.science.combine.variance_factor`). ``sigma_F`` is the master
flat's error. The read noise ``r`` is one number or a per-pixel map (CMOS
cameras: the master bias's read-noise map).
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


def bias_weight(dark_bias: str, scale: float) -> float:
    """Weight ``w_B`` of the master bias variance for a dark scaled by ``scale`` (see above)."""
    return {"same": (1 - scale) ** 2, "independent": 1 + scale**2, "none": 1.0}[dark_bias]


def propagated_variance(
    sky: np.ndarray,
    flat: np.ndarray,
    dark: np.ndarray,
    *,
    egain: float,
    read_noise: float | np.ndarray,
    exptime: float,
    dark_exptime: float,
    n_science: int,
    n_bias: int,
    n_dark: int,
    flat_error: np.ndarray | None = None,
    bias_factor: float = 1.0,
    dark_factor: float = 1.0,
    bias_error: np.ndarray | None = None,
    dark_error: np.ndarray | None = None,
    dark_bias: str = "same",
) -> np.ndarray:
    """Per-pixel variance (ADU^2) of the background of a calibrated frame.

    Parameters
    ----------
    sky : calibrated background level S, ADU (the background map).
    flat : normalised master flat F, dimensionless.
    dark : master dark D, ADU accumulated in ``dark_exptime``, bias subtracted.
    egain : gain g, electrons per ADU.
    read_noise : read noise r, electrons: a number or a per-pixel map.
    exptime, dark_exptime : exposure times of the frame and of the dark, seconds.
    n_science, n_bias, n_dark : exposures averaged into the frame and into the masters.
    flat_error : 1-sigma error of the master flat, same units as ``flat`` (or None).
    bias_factor, dark_factor : variance factors ``c`` of the masters' combination, used
        where the master carries no error map.
    bias_error, dark_error : the masters' own 1-sigma errors, ADU (or None).
    dark_bias : "same", "independent" or "none", see the module text.
    """
    scale = exptime / dark_exptime
    read2 = (read_noise / egain) ** 2  # a number, or a per-pixel map
    variance = sky * flat
    np.maximum(variance, 0, out=variance)  # the flat is positive: max(S, 0) F
    dark_signal = np.maximum(dark, 0)
    dark_signal *= scale  # k D
    variance += dark_signal
    variance /= egain
    variance += read2
    variance /= n_science
    weight = bias_weight(dark_bias, scale)
    if bias_error is None:
        bias_term = weight * bias_factor * read2 / n_bias
    else:
        bias_term = weight * np.square(bias_error)
    if dark_error is None:
        dark_term = scale**2 * dark_factor * read2 / n_dark
        dark_signal *= scale * dark_factor / egain / n_dark  # k^2 c D / g / N_D
    else:  # the dark's own error holds its Poisson and read noise
        dark_term, dark_signal = scale**2 * np.square(dark_error), 0.0
    variance += bias_term + dark_term
    variance += dark_signal
    del bias_term, dark_term, dark_signal
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


def read_noise_from_bias(bias: np.ndarray, egain: float, n_bias: int, factor: float = 1.0) -> float:
    """Read noise (electrons) estimated from a master bias (ADU) of ``n_bias`` frames.

    ``bias`` is the whole master or only its :func:`read_noise_rows`. Uses
    differences of neighbouring pixels along those rows (insensitive to smooth
    structure), with a MAD estimate of their spread, and undoes the
    combination (variance factor ``factor``, see the module text):
    ``r = sigma_B g sqrt(N_B / c)``.
    """
    rows = np.asarray(bias[read_noise_rows(len(bias))], dtype=np.float64)
    differences = np.diff(rows, axis=1).ravel()
    differences = differences[np.isfinite(differences)]
    mad = np.median(np.abs(differences - np.median(differences)))
    sigma = MAD_TO_SIGMA * mad / np.sqrt(2)
    return float(sigma * egain * np.sqrt(n_bias / factor))
