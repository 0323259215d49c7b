r"""Master calibration frames: a stack of raw frames combined pixel by pixel, with errors.

Every pixel is treated on its own: its ``n`` finite values ``x_j = mu + sigma z_j``
(``z_j`` independent standard normal; NaN and infinite values are left out) are
combined into one value ``T`` by one of :data:`METHODS`:

- ``mean``: the mean of the ``n`` values;
- ``median``: their median (the mean of the two middle values for even ``n``);
- ``minmax``: the mean of the values left after the ``nlow`` lowest and the ``nhigh``
  highest are dropped (order statistics ``nlow+1 .. n-nhigh``);
- ``sigma_clip``: one pass around the median ``M`` with the robust sigma
  ``s = 1.4826 MAD`` of the pixel's values: the mean of the values with
  ``|x - M| <= sigma s``. One pass, so that the result and its variance factor are
  deterministic; ``sigma >= 1`` keeps at least half of the values. When more than half
  of the values are equal (MAD = 0, integer frames) the smallest non-zero deviation
  stands for the MAD. The MAD of a few values is a rough sigma: one pass at 3 robust
  sigmas rejects 11% of Gaussian values at n = 3, 7% at 5, 3.6% at 9 and 2% at 15
  (0.27% for large n); the factors below take that into account.

Variance factor. ``c = Var(T) / (sigma^2 / n)``, the variance of the combined value
relative to the mean of as many values (:func:`variance_factor`). All four
combinations are location-equivariant, so ``T - mean(x)`` depends only on the
residuals ``x_j - mean(x)``, which for Gaussian values are independent of the mean:
``Var(T) = sigma^2 / n + Var(T - mean(x))`` exactly, and
``Cov(X_(i), mean(x)) = sigma^2 / n`` for every order statistic ``X_(i)``.

- ``median`` is one order statistic (odd ``n``) or the mean of the two middle ones
  (even ``n``). Means and variances of normal order statistics are integrals of their
  densities (trapezoid rule on GRID_1D); the covariance of two neighbours follows
  from the expected gap below the upper one (:func:`neighbour_covariance`), that of
  two others from their joint density on a 2-d grid (:func:`order_covariance`).
  ``c`` is 1.3460 at ``n = 3`` (``3 (1 - sqrt(3) / pi)``), 1.1928 at 4, 1.4342 at 5,
  and ``pi/2 - 0.67 / n`` for large odd ``n``.
- ``minmax``: with ``L`` the ``d = nlow + nhigh`` dropped order statistics and
  ``m = n - d`` kept, the kept sum is ``n mean(x) - sum_L X_(i)``, so
  ``Var(kept sum) = sigma^2 (n - 2d + Var(sum_L X_(i)))`` needs the moments of the
  dropped order statistics only (``d (d + 1) / 2`` integrals, whatever ``n``), and
  ``c = n Var(kept sum) / m^2``.
- ``sigma_clip``: a seeded Monte Carlo of the clipping itself (the same code as
  :func:`combine`) estimating only the small excess ``n Var(T - mean(x))``; its
  precision is given at :data:`MC_VALUES`. Above :data:`MC_MAX_N` values the
  asymptotic factors (:func:`sigma_clip_asymptotic`).

The median and minmax factors are exact to about 1e-6: the median of ``n`` and
minmax dropping ``(n - 1) // 2`` at each end (two independent routes) agree that
well for n = 3..8, and every row of the covariance matrix of the order statistics sums
to 1 (``n Cov(X_(i), mean(x))``) within 1e-7 for n up to 100.

Scatter. ``scatter`` estimates the per-frame sigma of each pixel such that its square
is unbiased for Gaussian values: the sample standard deviation (``ddof=1``) of all
the values for ``mean`` and ``median``; for ``minmax`` and ``sigma_clip`` that of the
kept values, divided by the square root of its expectation for unit Gaussian values
(:func:`truncation_factor`: the kept values are the central ones, their spread runs
low). A ``minmax`` pixel with a single kept value takes the spread of all its values.
The error of the combined value is ``error = scatter sqrt(c(n) / n)``, with ``n`` the
pixel's number of finite values, so ``error^2`` is unbiased for ``Var(T)`` (``error``
itself runs low at small ``n``, as every sample standard deviation does: by 11% at
``n = 3``, 3% at ``n = 9``).

Limits. A pixel whose sigma clipping rejected a real outlier (a cosmic ray) still has
``c(n)/n`` of its ``n`` values, not of the ``n - 1`` left: its error runs low by about
``sqrt((n - 1) / n)``. On frames quantised to 1 ADU ties make the MAD of a few values
coarse (often 0): at n = 3 sigma clipping's ``error`` is 16%, 9%, 5% and 2% high for a
noise of 3, 5, 10 and 20 ADU, at n = 5 and 9 within 4% from 3 ADU and 1% from 5 ADU;
the other methods are within 2.5% from 3 ADU.
"""

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from skyrms.science.noise_model import MAD_TO_SIGMA

METHODS = ("mean", "median", "sigma_clip", "minmax")
"""The combinations :func:`combine` offers (see the module's description)."""

GRID_1D = np.linspace(-10.0, 10.0, 8001)
"""Abscissae (standard normal units) of the one-dimensional order-statistic integrals: a
step of 1/400, fine enough for the median of up to 10^5 values."""
GRID_2D = 1001
"""Points a side of the two-dimensional grid of a product moment of two order statistics,
spanning both statistics' means +- 12 standard deviations."""
GAP_STEPS = np.linspace(0.0, 40.0, 401)
"""Steps of the integral of the expected gap between neighbouring order statistics, in
units of its decay length (see :func:`neighbour_covariance`)."""

MC_VALUES = 2**22
"""Gaussian values drawn for one sigma-clipping Monte Carlo (at most MC_DRAWS stacks of n).
Standard errors measured over 8 seeds for n = 3..1000: 0.06-0.13% for the variance
factor, 0.03-0.11% for the truncation factor."""
MC_DRAWS = 400_000
"""Most stacks of one sigma-clipping Monte Carlo."""
MC_MAX_N = 1000
"""Above this many values, sigma clipping takes its asymptotic (large-n) factors."""


@dataclass(frozen=True)
class CombineParams:
    """How the frames are combined.

    ``method`` is one of :data:`METHODS`; ``sigma`` the ``sigma_clip`` threshold in
    robust standard deviations (>= 1); ``nlow`` and ``nhigh`` how many of each pixel's
    lowest and highest values ``minmax`` drops.
    """

    method: str = "median"
    sigma: float = 3.0
    nlow: int = 1
    nhigh: int = 1

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"combine method {self.method!r} is not one of {', '.join(METHODS)}")
        if not self.sigma >= 1:
            raise ValueError(f"sigma_clip threshold {self.sigma} must be >= 1 (robust sigmas)")
        if min(self.nlow, self.nhigh) < 0:
            raise ValueError(f"minmax nlow={self.nlow} nhigh={self.nhigh} must be >= 0")

    def describe(self) -> str:
        """The combination in a few words, for a header: "median", "minmax nlow=1 nhigh=1",
        "sigma_clip 3.0"."""
        if self.method == "minmax":
            return f"minmax nlow={self.nlow} nhigh={self.nhigh}"
        if self.method == "sigma_clip":
            return f"sigma_clip {float(self.sigma)}"
        return self.method


@dataclass(frozen=True)
class Combined:
    """One combined slab (rows x nx), in the units of the frames.

    ``data`` the combined values, ``scatter`` the per-frame standard deviation of each
    pixel, ``error`` the 1-sigma error of ``data`` (float32, NaN where unknown),
    ``used`` how many values of each pixel went into ``data`` (int16).
    """

    data: np.ndarray
    scatter: np.ndarray
    used: np.ndarray
    error: np.ndarray


def combine(stack: np.ndarray, params: CombineParams = CombineParams()) -> Combined:
    """Combine the frames of ``stack`` (n_frames, rows, nx) pixel by pixel.

    Parameters
    ----------
    stack : the same rows of every frame, any units and real type (combined in float32).
        Non-finite values are left out; a pixel with none finite gives NaN maps and
        ``used`` 0, a ``minmax`` pixel with no more than nlow + nhigh finite values too.
    params : the combination, see :class:`CombineParams` and the module's description.

    Every map depends on the pixel's own values only, so the frames can be combined a
    slab of rows at a time. Raises ValueError for fewer than 2 frames, or no more
    frames than ``minmax`` drops.
    """
    stack = np.asarray(stack)
    if stack.ndim != 3:
        raise ValueError(f"stack must be (frames, rows, columns), got shape {stack.shape}")
    if len(stack) < 2:
        raise ValueError(f"combine needs at least 2 frames, got {len(stack)}")
    check_count(params.method, len(stack), params)
    values = np.where(np.isfinite(stack), stack, np.nan).astype(np.float32, copy=False)
    if params.method != "mean":
        values.sort(axis=0)  # NaN last: a pixel's finite values are values[:count]
    valid = np.isfinite(values)
    count = valid.sum(axis=0)
    keep = valid
    if params.method == "minmax":
        order = np.arange(len(values))[:, None, None]
        keep = (order >= params.nlow) & (order < count - params.nhigh)
    elif params.method == "sigma_clip":
        keep = clipped(values, count, params.sigma)
    data, spread, used = mean_and_spread(values, keep)
    if params.method == "median":
        data = sorted_median(values, count)
    elif params.method == "minmax":
        single = used == 1  # the spread of all the values instead (see truncation_factor)
        if single.any():
            spread[single] = mean_and_spread(values, valid)[1][single]
    factors = np.full((2, len(values) + 1), np.nan)
    for n in np.unique(count):
        if n > (params.nlow + params.nhigh if params.method == "minmax" else 0):
            factors[:, n] = (
                variance_factor(params.method, n, params),
                truncation_factor(params.method, n, params),
            )
    scatter = spread / np.sqrt(factors[1][count])
    with np.errstate(divide="ignore", invalid="ignore"):
        error = scatter * np.sqrt(factors[0][count] / count)
    return Combined(
        data=data.astype(np.float32),
        scatter=scatter.astype(np.float32),
        used=used.astype(np.int16),
        error=error.astype(np.float32),
    )


def check_count(method: str, n: int, params: CombineParams) -> None:
    """Raise ValueError unless ``method`` can combine ``n`` values."""
    if method not in METHODS:
        raise ValueError(f"combine method {method!r} is not one of {', '.join(METHODS)}")
    if n < 1:
        raise ValueError(f"{method} of {n} values: there must be at least one")
    if method == "minmax" and n <= params.nlow + params.nhigh:
        raise ValueError(
            f"minmax nlow={params.nlow} nhigh={params.nhigh} needs more than "
            f"{params.nlow + params.nhigh} values, got {n}"
        )


def sorted_median(values: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Median of each pixel's ``count`` finite values, from ``values`` sorted along axis 0
    with NaN last (NaN where ``count`` is 0)."""
    low = np.maximum(count - 1, 0) // 2
    middle = np.take_along_axis(values, low[None], axis=0)[0]
    middle += np.take_along_axis(values, (count // 2)[None], axis=0)[0]
    return middle / 2


def clipped(values: np.ndarray, count: np.ndarray, sigma: float) -> np.ndarray:
    """Which of the sorted ``values`` (NaN last, ``count`` finite per pixel) one pass of
    sigma clipping keeps: those within ``sigma`` robust sigmas (1.4826 MAD) of the median.
    Where the MAD is 0 the smallest non-zero deviation stands for it (all values are kept
    when they are all equal)."""
    deviation = np.abs(values - sorted_median(values, count))
    ordered = np.sort(deviation, axis=0)
    mad = sorted_median(ordered, count)
    ordered[ordered == 0] = np.inf
    mad = np.where(mad > 0, mad, np.fmin.reduce(ordered, axis=0))
    return deviation <= sigma * MAD_TO_SIGMA * mad


def mean_and_spread(values: np.ndarray, keep: np.ndarray):
    """Mean and sample standard deviation (ddof=1) along axis 0 of the ``keep`` values,
    float64 (NaN when too few), and how many were kept."""
    used = keep.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.add.reduce(values, axis=0, dtype=np.float64, where=keep) / used
        residual = values - mean.astype(values.dtype)
        np.square(residual, out=residual)
        spread = np.add.reduce(residual, axis=0, dtype=np.float64, where=keep) / (used - 1)
    spread[used < 2] = np.nan
    return mean, np.sqrt(spread), used


def variance_factor(method: str, n: int, params: CombineParams = CombineParams()) -> float:
    """Variance of the combination of ``n`` independent Gaussian values of standard
    deviation sigma, in units of sigma^2 / n (1 for the mean, pi/2 for a large median).

    ``method`` is one of :data:`METHODS`; ``params`` gives the clipping (its own method is
    not used). Exact for mean, median and minmax; a Monte Carlo for sigma_clip (see the
    module's description). Cached: a first call takes up to 0.05 s, 0.1-0.3 s for
    sigma_clip. Raises ValueError for ``n < 1`` or when minmax would keep no value.
    """
    check_count(method, n, params)
    if method == "mean":
        return 1.0
    if method == "median":
        return median_factor(n)
    if method == "minmax":
        return minmax_moments(n, params.nlow, params.nhigh)[0]
    return sigma_clip_moments(n, float(params.sigma))[0]


def truncation_factor(method: str, n: int, params: CombineParams = CombineParams()) -> float:
    """Expected sample variance (ddof=1) of the values from which :func:`combine` takes a
    pixel's scatter, for ``n`` unit Gaussian values: 1 when all of them are used (mean,
    median, minmax with one value kept), below 1 for the central values kept by minmax
    and sigma_clip. Same arguments, errors and precision as :func:`variance_factor`."""
    check_count(method, n, params)
    if method == "minmax":
        return minmax_moments(n, params.nlow, params.nhigh)[1]
    if method == "sigma_clip":
        return sigma_clip_moments(n, float(params.sigma))[1]
    return 1.0


def read_noise_map(scatter: np.ndarray, egain: float) -> np.ndarray:
    """Per-pixel read noise (electrons, float32) from the frame-to-frame scatter (ADU) of
    raw bias frames (:attr:`Combined.scatter`) and the gain ``egain`` (e-/ADU). A float32
    ``scatter`` is scaled in place (a full-frame map is not copied) and returned."""
    scatter = np.asarray(scatter, dtype=np.float32)
    scatter *= np.float32(egain)
    return scatter


def normal_log_cdf(x: np.ndarray) -> np.ndarray:
    """log Phi(x) of the standard normal, accurate in both tails (float64)."""
    erfc = np.frompyfunc(math.erfc, 1, 1)
    return np.log(0.5 * erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2)).astype(np.float64))


def normal_log_pdf(x: np.ndarray) -> np.ndarray:
    """log phi(x) of the standard normal."""
    return -0.5 * x * x - 0.5 * math.log(2 * math.pi)


@lru_cache(maxsize=1)
def tails_1d() -> tuple[np.ndarray, np.ndarray]:
    """log Phi(x) and log(1 - Phi(x)) on GRID_1D."""
    return normal_log_cdf(GRID_1D), normal_log_cdf(-GRID_1D)


@lru_cache(maxsize=4096)
def order_moments(r: int, n: int) -> tuple[float, float]:
    """Mean and variance of the ``r``-th smallest of ``n`` standard normal values."""
    log_below, log_above = tails_1d()
    log_norm = math.lgamma(n + 1) - math.lgamma(r) - math.lgamma(n - r + 1)
    density = np.exp(log_norm + (r - 1) * log_below + (n - r) * log_above + normal_log_pdf(GRID_1D))
    step = GRID_1D[1] - GRID_1D[0]
    mean = step * np.dot(density, GRID_1D)
    return float(mean), float(step * np.dot(density, GRID_1D**2) - mean**2)


@lru_cache(maxsize=4096)
def order_covariance(r: int, s: int, n: int) -> float:
    """Covariance of the ``r``-th and ``s``-th smallest (r < s) of ``n`` standard normal
    values: :func:`neighbour_covariance` for s = r + 1, else their joint density, which
    vanishes on the diagonal x = y, integrated over x < y by the trapezoid rule on a
    GRID_2D grid, with the Euler-Maclaurin end correction at x = y."""
    if s == r + 1:
        return neighbour_covariance(r, n)
    (mean_r, var_r), (mean_s, var_s) = order_moments(r, n), order_moments(s, n)
    low = max(mean_r - 12 * math.sqrt(var_r), GRID_1D[0])
    high = min(mean_s + 12 * math.sqrt(var_s), GRID_1D[-1])
    x = np.linspace(low, high, GRID_2D)
    log_below, log_above = normal_log_cdf(x), normal_log_cdf(-x)
    below, above = np.exp(log_below), np.exp(log_above)
    upper = x[:, None] < x[None, :]  # rows: X_(r) = x, columns: X_(s) = y
    between = np.where(x[:, None] >= 0, above[:, None] - above, below - below[:, None])
    log_density = np.full(upper.shape, -np.inf)
    with np.errstate(divide="ignore"):  # far in one tail the two can round equal
        np.log(between, out=log_density, where=upper)
    log_density *= s - r - 1
    log_norm = math.lgamma(n + 1) - math.lgamma(r) - math.lgamma(s - r) - math.lgamma(n - s + 1)
    log_density += log_norm
    log_density += ((r - 1) * log_below + normal_log_pdf(x))[:, None]
    log_density += (n - s) * log_above + normal_log_pdf(x)
    step = x[1] - x[0]
    product = (x[:, None] * np.exp(log_density)).sum(axis=0) @ x * step**2
    if s == r + 2:  # the end correction of the integral over x, whose slope at x = y is
        # -x y phi(y) times the density without its (Phi(y) - Phi(x)) (0 for s > r + 2)
        slope = log_norm + (r - 1) * log_below + (n - s) * log_above + 3 * normal_log_pdf(x)
        product += step**3 / 12 * np.dot(np.exp(slope), x * x)
    return float(product - mean_r * mean_s)


def neighbour_covariance(k: int, n: int) -> float:
    """Covariance of the ``k``-th and ``k+1``-th smallest of ``n`` standard normal values.

    Given ``X_(k+1) = y``, the ``k`` smaller values are independent draws of the normal
    below ``y`` and ``X_(k)`` is their largest, so ``E[X_(k) | y] = y - R(y)`` with the
    expected gap ``R(y) = int_0^inf (Phi(y - u) / Phi(y))^k du``, and
    ``E[X_(k) X_(k+1)] = E[X_(k+1) (X_(k+1) - R(X_(k+1)))]``. The gap's integrand falls
    from 1 at the rate ``lambda = k phi(y) / Phi(y)`` (a length of 2.5/n in the middle of
    a large sample, against a spread of 1.25/sqrt(n): too fine for a grid in x and y), so
    it is integrated in ``t = u max(lambda, 1)`` by the trapezoid rule with its end
    correction, on GAP_STEPS; the outer integral over ``y`` spans the mean of
    ``X_(k+1)`` +- 12 standard deviations in GRID_2D // 4 steps.
    """
    (mean_k, _), (mean_y, var_y) = order_moments(k, n), order_moments(k + 1, n)
    spread = 12 * math.sqrt(var_y)
    y = np.linspace(max(mean_y - spread, GRID_1D[0]), min(mean_y + spread, GRID_1D[-1]),
                    GRID_2D // 4)  # fmt: skip
    log_below = normal_log_cdf(y)
    rate = k * np.exp(normal_log_pdf(y) - log_below)
    scale = np.maximum(rate, 1.0)
    with np.errstate(divide="ignore"):  # Phi underflows to 0 far below
        fraction = np.exp(k * (normal_log_cdf(y[:, None] - GAP_STEPS / scale[:, None])
                               - log_below[:, None]))  # fmt: skip
    step = GAP_STEPS[1] - GAP_STEPS[0]
    gap = (fraction.sum(axis=1) - 0.5) * step - step**2 / 12 * rate / scale
    gap /= scale
    log_density = (
        math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k)
        + k * log_below + (n - k - 1) * normal_log_cdf(-y) + normal_log_pdf(y)
    )  # fmt: skip
    product = np.dot(np.exp(log_density), y * (y - gap)) * (y[1] - y[0])
    return float(product - mean_k * mean_y)


@lru_cache(maxsize=1024)
def median_factor(n: int) -> float:
    """Exact variance factor of the median of ``n`` Gaussian values (see the module)."""
    middle = (n + 1) // 2
    if n % 2:
        return n * order_moments(middle, n)[1]
    variance = (
        order_moments(middle, n)[1]
        + order_moments(middle + 1, n)[1]
        + 2 * order_covariance(middle, middle + 1, n)
    )
    return n * variance / 4


@lru_cache(maxsize=1024)
def minmax_moments(n: int, nlow: int, nhigh: int) -> tuple[float, float]:
    """Variance factor and truncation factor of minmax for ``n`` values (see the module)."""
    dropped = [*range(1, nlow + 1), *range(n - nhigh + 1, n + 1)]
    kept = n - len(dropped)
    moments = [order_moments(r, n) for r in dropped]
    dropped_variance = sum(variance for _, variance in moments) + 2 * sum(
        order_covariance(r, s, n) for i, r in enumerate(dropped) for s in dropped[i + 1 :]
    )
    kept_sum_variance = n - 2 * len(dropped) + dropped_variance
    factor = n * kept_sum_variance / kept**2
    if kept < 2:
        return factor, 1.0
    kept_mean = -sum(mean for mean, _ in moments) / kept  # the means of all n sum to 0
    kept_squares = n - sum(variance + mean**2 for mean, variance in moments)
    spread = kept_squares - kept * (kept_sum_variance / kept**2 + kept_mean**2)
    return factor, spread / (kept - 1)


@lru_cache(maxsize=1024)
def sigma_clip_moments(n: int, sigma: float) -> tuple[float, float]:
    """Variance factor and truncation factor of one-pass sigma clipping of ``n`` values.

    Monte Carlo (seeded by ``n``) of the clipping as :func:`combine` does it, estimating
    ``n Var(T - mean)`` and the mean of (kept sample variance - sample variance of all),
    whose expectations are the factors less 1 (see the module's description). Two values
    or fewer are never clipped; above MC_MAX_N the asymptotic factors.
    """
    if n <= 2:
        return 1.0, 1.0
    if n > MC_MAX_N:
        return sigma_clip_asymptotic(sigma)
    draws = min(MC_DRAWS, MC_VALUES // n)
    values = np.random.default_rng(n).standard_normal((n, 1, draws), dtype=np.float32)
    values.sort(axis=0)
    count = np.full((1, draws), n)
    clip_mean, clip_spread, _ = mean_and_spread(values, clipped(values, count, sigma))
    mean, spread, _ = mean_and_spread(values, np.ones(values.shape, bool))
    difference = clip_mean - mean
    factor = 1 + n * np.mean((difference - difference.mean()) ** 2)
    return float(factor), float(1 + np.mean(clip_spread**2 - spread**2))


def sigma_clip_asymptotic(sigma: float) -> tuple[float, float]:
    """Large-n variance and truncation factors of the mean within ``sigma`` of the median.

    From the influence function of that skipped mean at the standard normal, with
    ``p = 2 Phi(k) - 1`` kept and ``c = k phi(k) / phi(0)`` from the median's jitter:
    ``(p - 2 k phi(k) + 4 c (phi(0) - phi(k)) + c^2) / p^2`` and ``1 - 2 k phi(k) / p``.
    """
    k = sigma
    kept = math.erf(k / math.sqrt(2))
    density, peak = math.exp(normal_log_pdf(k)), math.exp(normal_log_pdf(0.0))
    jitter = k * density / peak
    factor = (kept - 2 * k * density + 4 * jitter * (peak - density) + jitter**2) / kept**2
    return factor, 1 - 2 * k * density / kept
