"""Combining raw calibration frames (skyrms.science.combine) against brute force.

The variance factors are checked against Monte Carlo draws made here with numpy's own
median, sort and clipping (DRAWS stacks: a variance's standard error is 0.45%, so the 2%
tolerance is 4.4 of them), and against exact values. The maps of :func:`combine` are
checked on a slab whose rows are independent realizations of the same columns: each
column has its own sigma, so the spread of ``data`` down a column is the true error of
that pixel, to be compared with the ``error`` map.
"""

import math
import time

import numpy as np
import pytest

from skyrms.science.combine import (
    METHODS,
    CombineParams,
    combine,
    order_covariance,
    order_moments,
    read_noise_map,
    truncation_factor,
    variance_factor,
)

DRAWS = 100_000
DEFAULT = CombineParams()


def brute_force(method: str, n: int, params: CombineParams = DEFAULT, seed: int = 0):
    """n Var(combined) and the mean sample variance (ddof=1) of the values kept, over
    DRAWS stacks of n unit Gaussian values, with numpy's median and sort."""
    values = np.random.default_rng(seed).standard_normal((n, DRAWS))
    keep = np.ones(values.shape, bool)
    if method == "minmax":
        values.sort(axis=0)
        keep[: params.nlow] = keep[n - params.nhigh :] = False
    elif method == "sigma_clip":
        deviation = np.abs(values - np.median(values, axis=0))
        keep = deviation <= params.sigma * 1.482602 * np.median(deviation, axis=0)
    kept = keep.sum(axis=0)
    kept_mean = np.where(keep, values, 0).sum(axis=0) / kept
    combined = np.median(values, axis=0) if method == "median" else kept_mean
    spread = np.where(keep, values - kept_mean, 0) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):  # no spread of a single value
        return n * combined.var(), np.mean(spread.sum(axis=0) / (kept - 1))


CASES = [
    *(("mean", n) for n in (2, 4, 9)),
    *(("median", n) for n in range(1, 10)),
    *(("minmax", n) for n in (3, 4, 5, 7, 10, 15)),
    *(("sigma_clip", n) for n in (3, 5, 9, 15)),
]


@pytest.mark.parametrize(("method", "n"), CASES)
def test_variance_factor_matches_brute_force(method, n):
    expected, _ = brute_force(method, n)
    assert variance_factor(method, n) == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(
    ("method", "n", "params"),
    [
        ("minmax", 5, CombineParams()),
        ("minmax", 9, CombineParams(nlow=2, nhigh=1)),
        ("sigma_clip", 5, CombineParams()),
        ("sigma_clip", 9, CombineParams(sigma=2.5)),
        ("median", 5, CombineParams()),
    ],
)
def test_truncation_factor_matches_brute_force(method, n, params):
    """The expected sample variance of the values kept (1 for the median: all of them)."""
    _, expected = brute_force(method, n, params, seed=1)
    assert truncation_factor(method, n, params) == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(
    ("method", "params"),
    [("minmax", CombineParams(nlow=0, nhigh=2)), ("sigma_clip", CombineParams(sigma=2.0))],
)
def test_clipping_parameters_change_the_factors(method, params):
    """sigma, nlow and nhigh reach the factors (brute force of other clippings)."""
    expected, _ = brute_force(method, 8, params, seed=2)
    assert variance_factor(method, 8, params) == pytest.approx(expected, rel=0.02)
    assert variance_factor(method, 8, params) != pytest.approx(variance_factor(method, 8))


def test_median_of_three_is_exact():
    """Var of the median of 3 unit Gaussians is 1 - sqrt(3)/pi; n = 3 is about 1.35."""
    assert variance_factor("median", 3) == pytest.approx(3 * (1 - math.sqrt(3) / math.pi), 1e-6)
    assert variance_factor("median", 3) == pytest.approx(1.35, rel=0.01)
    assert variance_factor("median", 5) == pytest.approx(1.43, rel=0.01)


def test_median_tends_to_half_pi_from_below():
    assert variance_factor("median", 201) == pytest.approx(math.pi / 2, rel=0.02)
    assert variance_factor("median", 51) < variance_factor("median", 201) < math.pi / 2
    assert variance_factor("median", 100_001) == pytest.approx(math.pi / 2, abs=1e-4)


@pytest.mark.parametrize("n", [3, 4, 5, 6, 7, 8])
def test_median_and_minmax_of_the_middle_agree(n):
    """Two routes: the median's own order statistics, and minmax dropping all but the
    middle one or two (its dropped order statistics only)."""
    drop = (n - 1) // 2
    minmax = variance_factor("minmax", n, CombineParams(nlow=drop, nhigh=drop))
    assert variance_factor("median", n) == pytest.approx(minmax, rel=1e-5)


def test_order_statistics_match_tables_and_identities():
    """E and Var of the largest of 5 (1.16296, 0.44753), Cov(X_(1), X_(2)) = 1/pi for
    n = 2, and every row of the covariance matrix sums to 1 (Cov(X_(i), mean) = 1/n)."""
    mean, variance = order_moments(5, 5)
    assert (mean, variance) == pytest.approx((1.16296, 0.44753), abs=2e-5)
    assert order_covariance(1, 2, 2) == pytest.approx(1 / math.pi, rel=1e-6)
    n = 12
    for i in (1, 4, 6):
        row = sum(
            order_moments(i, n)[1] if i == j else order_covariance(min(i, j), max(i, j), n)
            for j in range(1, n + 1)
        )
        assert row == pytest.approx(1.0, abs=1e-5)


def test_sigma_clip_monte_carlo_meets_its_asymptote():
    """At MC_MAX_N = 1000 values the Monte Carlo and the large-n formula agree."""
    assert variance_factor("sigma_clip", 1000) == pytest.approx(
        variance_factor("sigma_clip", 1001), rel=0.003
    )
    assert truncation_factor("sigma_clip", 1000) == pytest.approx(
        truncation_factor("sigma_clip", 1001), rel=0.002
    )


def test_first_calls_are_fast():
    """A first call for n <= 50 takes under 0.5 s of CPU (0.15 s measured; n values not
    used elsewhere, so not cached yet)."""
    for method in METHODS:
        start = time.process_time()
        variance_factor(method, 47 if method != "median" else 48)
        assert time.process_time() - start < 0.5, method


REALIZATIONS, COLUMNS = 500, 400
LEVEL, HOT = 1000.0, 20_000.0


def sigma_map(seed=3) -> np.ndarray:
    """Per-column sigma (ADU): lognormal around 10, 1% of the columns 4 times noisier."""
    rng = np.random.default_rng(seed)
    sigma = 10 * rng.lognormal(0.0, 0.5, COLUMNS)
    sigma[rng.choice(COLUMNS, COLUMNS // 100, replace=False)] *= 4
    return sigma


def realizations(n: int, seed: int) -> np.ndarray:
    """A stack of n frames whose rows are independent realizations of the same columns:
    Gaussian noise of :func:`sigma_map` on a level, 0.5% hot columns (a large offset in
    every frame)."""
    rng = np.random.default_rng(seed)
    level = np.full(COLUMNS, LEVEL)
    level[rng.choice(COLUMNS, COLUMNS // 200, replace=False)] += HOT
    noise = rng.standard_normal((n, REALIZATIONS, COLUMNS)) * sigma_map()
    return (level + noise).astype(np.float32)


@pytest.mark.parametrize("n", [3, 5, 9])
@pytest.mark.parametrize("method", METHODS)
def test_error_is_the_spread_of_the_combined_value(method, n):
    """Down each column, the variance of ``data`` over the mean of ``error^2`` is 1.

    ``error^2`` is the unbiased estimate of the variance (``error`` itself runs low at
    small n, by 11% at n = 3, as any sample standard deviation). Per column the ratio
    has a standard error of about 8% (500 realizations); over the 400 columns its mean
    is known to 0.4%, so the 1.5% tolerance on its square root is 7 standard errors
    and would catch pi/2 in place of the exact median factor even at n = 9 (2.5%).
    """
    combined = combine(realizations(n, seed=n), CombineParams(method=method))
    ratio = combined.data.var(axis=0) / np.mean(combined.error.astype(float) ** 2, axis=0)
    assert math.sqrt(ratio.mean()) == pytest.approx(1, abs=0.015)
    noisiest = np.argsort(sigma_map())[-COLUMNS // 100 :]
    assert math.sqrt(ratio[noisiest].mean()) == pytest.approx(1, abs=0.08)  # 4 se
    assert combined.data.dtype == combined.error.dtype == np.float32
    assert combined.used.dtype == np.int16


@pytest.mark.parametrize("method", METHODS)
def test_scatter_recovers_the_sigma_map(method):
    """With n = 9, ``scatter^2`` averaged down a column over sigma^2 of the column is 1.

    Per column the root of that mean has a standard error of 1.1% (500 realizations of
    8 degrees of freedom), so the median over the columns is known to 0.1% (tolerance
    2%) and each of the 1% noisiest columns to 1.1% (tolerance 5%). Without the
    truncation correction minmax would be 29% low, sigma_clip 7%.
    """
    combined = combine(realizations(9, seed=9), CombineParams(method=method))
    recovered = np.sqrt(np.mean(combined.scatter.astype(float) ** 2, axis=0)) / sigma_map()
    assert np.median(recovered) == pytest.approx(1, abs=0.02)
    noisiest = np.argsort(sigma_map())[-COLUMNS // 100 :]
    assert recovered[noisiest] == pytest.approx(np.ones(len(noisiest)), abs=0.05)


def test_every_pixel_on_its_own():
    """A slab of rows gives the same maps as those rows of the whole stack."""
    stack = realizations(5, seed=5)[:, :60]
    stack[2, 7, 3] = np.nan
    for method in METHODS:
        whole = combine(stack, CombineParams(method=method))
        slab = combine(stack[:, 5:9], CombineParams(method=method))
        for name in ("data", "scatter", "used", "error"):
            assert np.array_equal(getattr(slab, name), getattr(whole, name)[5:9], equal_nan=True)


def test_minmax_drops_exactly_the_extremes():
    pixels = np.array([[1, 2, 3, 4, 100], [7, -50, 7, 7, 7], [np.nan, 1, 2, 10, 3]], np.float32).T[
        :, None, :
    ]  # 5 frames, 1 row, 3 pixels
    combined = combine(pixels, CombineParams(method="minmax"))
    assert combined.data[0] == pytest.approx([3.0, 7.0, 2.5])
    assert combined.used[0].tolist() == [3, 3, 2]
    truncation = truncation_factor("minmax", 5)
    assert combined.scatter[0, 0] == pytest.approx(1 / math.sqrt(truncation), rel=1e-6)
    expected_error = combined.scatter[0, 0] * math.sqrt(variance_factor("minmax", 5) / 5)
    assert combined.error[0, 0] == pytest.approx(expected_error, rel=1e-6)
    low_only = combine(pixels, CombineParams(method="minmax", nlow=2, nhigh=0))
    assert low_only.data[0] == pytest.approx([(3 + 4 + 100) / 3, 7.0, 6.5])


def test_minmax_keeping_one_value_takes_the_spread_of_all():
    """3 frames, one dropped at each end: the middle value, the scatter of all three."""
    pixels = np.array([4.0, 1.0, 10.0], np.float32)[:, None, None]
    combined = combine(pixels, CombineParams(method="minmax"))
    assert combined.data[0, 0] == 4.0
    assert combined.scatter[0, 0] == pytest.approx(np.std([4, 1, 10], ddof=1), rel=1e-6)


def test_sigma_clip_rejects_a_cosmic_ray():
    rng = np.random.default_rng(7)
    stack = (LEVEL + 5 * rng.standard_normal((7, 20, 30))).astype(np.float32)
    stack[3, 10, 10] += 500
    stack[5, 2, 7] += 80
    clipped = combine(stack, CombineParams(method="sigma_clip"))
    mean = combine(stack, CombineParams(method="mean"))
    for pixel in ((10, 10), (2, 7)):
        assert clipped.used[pixel] < 7
        clean = np.delete(stack[:, pixel[0], pixel[1]], 3 if pixel == (10, 10) else 5)
        assert abs(clipped.data[pixel] - clean.mean()) < 3 * 5 / math.sqrt(6)
        assert abs(mean.data[pixel] - clean.mean()) > 10
    assert np.median(clipped.used) == 7


def test_sigma_clip_with_tied_values():
    """Integer frames: more than half of the values equal (MAD 0) still rejects an
    outlier; all values equal keeps them all."""
    pixels = np.array([[5, 5, 5, 6, 100], [5, 5, 5, 5, 5]], np.float32).T[:, None, :]
    combined = combine(pixels, CombineParams(method="sigma_clip"))
    assert combined.data[0].tolist() == [5.25, 5.0]
    assert combined.used[0].tolist() == [4, 5]


@pytest.mark.parametrize("method", METHODS)
def test_nan_values_are_left_out(method):
    """A pixel with missing frames is combined from the rest; a pixel with none gives
    NaN maps and used 0 (minmax also when no more than nlow + nhigh are left)."""
    stack = realizations(6, seed=6)[:, :2, :5]
    stack[1, 0, 0] = np.nan
    stack[4, 0, 0] = -np.inf
    stack[:, 0, 1] = np.nan
    stack[:4, 0, 2] = np.nan
    params = CombineParams(method=method)
    combined = combine(stack, params)
    alone = combine(stack[[0, 2, 3, 5], :1, :1], params)
    for name in ("data", "scatter", "used", "error"):
        assert getattr(combined, name)[0, 0] == pytest.approx(getattr(alone, name)[0, 0])
    assert np.isnan(combined.data[0, 1]) and combined.used[0, 1] == 0
    assert np.isnan(combined.scatter[0, 1]) and np.isnan(combined.error[0, 1])
    if method == "minmax":
        assert np.isnan(combined.data[0, 2]) and combined.used[0, 2] == 0
    else:
        assert combined.data[0, 2] == pytest.approx(stack[4:, 0, 2].astype(float).mean())
    assert np.isfinite(combined.error[1]).all()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: CombineParams(method="average"), "not one of mean, median"),
        (lambda: CombineParams(sigma=0.5), "must be >= 1"),
        (lambda: CombineParams(nlow=-1), "must be >= 0"),
        (lambda: combine(np.zeros((1, 2, 2), np.float32)), "at least 2 frames, got 1"),
        (lambda: combine(np.zeros((4, 4), np.float32)), "frames, rows, columns"),
        (
            lambda: combine(np.zeros((2, 2, 2), np.float32), CombineParams(method="minmax")),
            "minmax nlow=1 nhigh=1 needs more than 2 values, got 2",
        ),
        (lambda: variance_factor("median", 0), "median of 0 values"),
        (lambda: variance_factor("minmax", 2), "needs more than 2 values"),
        (lambda: variance_factor("trimmed", 5), "not one of"),
    ],
)
def test_invalid_requests_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_describe():
    assert CombineParams().describe() == "median"
    assert CombineParams(method="mean").describe() == "mean"
    assert CombineParams(method="minmax").describe() == "minmax nlow=1 nhigh=1"
    assert CombineParams(method="minmax", nlow=2, nhigh=0).describe() == "minmax nlow=2 nhigh=0"
    assert CombineParams(method="sigma_clip").describe() == "sigma_clip 3.0"
    assert CombineParams(method="sigma_clip", sigma=2.5).describe() == "sigma_clip 2.5"


def test_read_noise_map_of_raw_biases():
    """Biases of 6 e- read noise at 2 e-/ADU: the map is 6 e- (mean of its square, over
    20,000 pixels of 8 degrees of freedom, known to 0.4%)."""
    rng = np.random.default_rng(11)
    biases = (500 + 3.0 * rng.standard_normal((9, 40, 500))).astype(np.float32)
    for method in METHODS:
        scatter = combine(biases, CombineParams(method=method)).scatter
        expected = scatter * np.float32(2.0)
        noise = read_noise_map(scatter, 2.0)
        assert noise.dtype == np.float32 and noise is scatter  # scaled in place: no copy
        assert np.array_equal(noise, expected)
        assert math.sqrt(np.mean(noise.astype(float) ** 2)) == pytest.approx(6.0, rel=0.02)
