"""The propagated noise model against a Monte Carlo of the whole calibration.

Each realization simulates, from known gain, read noise, dark current, flat
and sky, the raw frames of a master bias, a master dark and a master flat,
combines them, takes a raw science exposure and calibrates it. The per-pixel
spread of the calibrated frames over many independent realizations is then
compared with the propagated RMS map.
"""

from dataclasses import dataclass

import numpy as np
import pytest

from skyrms.science.noise_model import propagated_variance, read_noise_from_bias, read_noise_rows

SHAPE = (40, 40)
REALIZATIONS = 300
BIAS_LEVEL = 500.0  # ADU
FLAT_COUNTS = 30000.0  # e- per pixel in a flat frame


@dataclass(frozen=True)
class Case:
    egain: float = 0.2561  # e-/ADU
    read_noise: float = 6.0  # e-
    dark_current: float = 0.5  # e-/s/pixel (warm, so the dark terms matter)
    sky: float = 300.0  # calibrated ADU
    exptime: float = 100.0
    dark_exptime: float = 100.0
    n_science: int = 1
    n_bias: int = 10
    n_dark: int = 10
    n_flat: int = 10
    dark_bias: str = "same"  # how the master dark was made: same or independent bias


CASES = {
    "k=1, N=10": Case(),
    "dark 300 s for 60 s": Case(exptime=60.0, dark_exptime=300.0),
    "few frames, N=3": Case(n_bias=3, n_dark=3, n_flat=3, exptime=60.0, dark_exptime=120.0),
    "dark 100 s for 200 s, other bias": Case(
        exptime=200.0, dark_exptime=100.0, n_bias=3, dark_bias="independent"
    ),
    "stack of 3, bright sky": Case(sky=3000.0, n_science=3, egain=0.7798),
}


def true_flat(rng):
    """Vignetting of +-15% times a pixel-to-pixel variation of 8%, normalised to mean 1."""
    y, x = np.indices(SHAPE) / (np.array(SHAPE)[:, None, None] - 1) - 0.5
    flat = (1.15 - 0.6 * (x**2 + y**2)) * (1 + 0.08 * rng.standard_normal(SHAPE))
    return flat / flat.mean()


def exposures(rng, case, count, electrons):
    """``count`` raw frames (ADU) per realization of a scene of ``electrons`` (e- per pixel)."""
    size = (REALIZATIONS, count, *SHAPE)
    counts = rng.poisson(np.broadcast_to(electrons, size)) if np.any(electrons) else 0
    return BIAS_LEVEL + (counts + case.read_noise * rng.standard_normal(size)) / case.egain


def master_bias(rng, case):
    return exposures(rng, case, case.n_bias, 0.0).mean(axis=1)


def simulate(case, seed):
    """Calibrated frames and the masters they were calibrated with, per realization."""
    rng = np.random.default_rng(seed)
    flat = true_flat(rng)
    bias = master_bias(rng, case)
    dark_bias = bias if case.dark_bias == "same" else master_bias(rng, case)
    dark = exposures(rng, case, case.n_dark, case.dark_current * case.dark_exptime).mean(axis=1)
    dark -= dark_bias
    flat_raw = exposures(rng, case, case.n_flat, flat * FLAT_COUNTS).mean(axis=1)
    mflat = flat_raw - bias
    mflat /= mflat.mean(axis=(1, 2), keepdims=True)
    electrons = flat * case.sky * case.egain + case.dark_current * case.exptime
    raw = exposures(rng, case, case.n_science, electrons).mean(axis=1)
    k = case.exptime / case.dark_exptime
    calibrated = (raw - bias - k * dark) / mflat
    # A flat of N frames of Q e-: relative error sqrt(F Q + r^2) / (Q sqrt(N)).
    flat_error = np.sqrt(mflat * FLAT_COUNTS + case.read_noise**2) / (
        FLAT_COUNTS * np.sqrt(case.n_flat)
    )
    return flat, calibrated, bias, dark, mflat, flat_error


def propagated_rms(case, dark, mflat, flat_error, **changes):
    """RMS of the model, averaged over realizations (their masters differ)."""
    settings = dict(
        egain=case.egain, read_noise=case.read_noise, exptime=case.exptime,
        dark_exptime=case.dark_exptime, n_science=case.n_science, n_bias=case.n_bias,
        n_dark=case.n_dark, flat_error=flat_error, dark_bias=case.dark_bias,
    ) | changes  # fmt: skip
    variance = propagated_variance(np.full(SHAPE, case.sky), mflat, dark, **settings)
    return np.sqrt(variance.mean(axis=0))


def flat_regions(flat):
    """Low, mid and high thirds of the true flat response."""
    low, high = np.quantile(flat, [1 / 3, 2 / 3])
    return {"low": flat < low, "mid": (flat >= low) & (flat < high), "high": flat >= high}


@pytest.fixture(scope="module", params=list(CASES), ids=list(CASES))
def realization(request):
    case = CASES[request.param]
    flat, calibrated, bias, dark, mflat, flat_error = simulate(case, seed=len(request.param))
    empirical = calibrated.std(axis=0, ddof=1)
    return case, flat, empirical, bias, dark, mflat, flat_error


def test_propagated_rms_matches_the_spread_of_calibrated_frames(realization):
    case, flat, empirical, _, dark, mflat, flat_error = realization
    ratio = propagated_rms(case, dark, mflat, flat_error) / empirical
    assert np.median(ratio) == pytest.approx(1, abs=0.03)
    for name, region in flat_regions(flat).items():
        assert np.median(ratio[region]) == pytest.approx(1, abs=0.05), name


def test_a_wrong_power_of_the_flat_is_caught(realization):
    case, flat, empirical, _, dark, mflat, flat_error = realization
    # Dividing the raw-frame variance by F instead of F^2, as the peer tool did.
    wrong = propagated_rms(case, dark, mflat, flat_error) * np.sqrt(mflat.mean(axis=0))
    regions = flat_regions(flat)
    off = [abs(np.median((wrong / empirical)[regions[r]]) - 1) for r in ("low", "high")]
    assert max(off) > 0.05


def test_the_correlation_between_bias_and_dark_matters_with_few_frames():
    case = CASES["dark 100 s for 200 s, other bias"]
    flat, calibrated, _, dark, mflat, flat_error = simulate(case, seed=11)
    empirical = calibrated.std(axis=0, ddof=1)
    right = np.median(propagated_rms(case, dark, mflat, flat_error) / empirical)
    wrong = np.median(propagated_rms(case, dark, mflat, flat_error, dark_bias="same") / empirical)
    assert right == pytest.approx(1, abs=0.03)
    assert abs(wrong - 1) > 0.05


def test_read_noise_is_recovered_from_a_master_bias(realization):
    case, _, _, bias, *_ = realization
    estimate = read_noise_from_bias(bias[0], case.egain, case.n_bias)
    assert estimate == pytest.approx(case.read_noise, rel=0.1)


@pytest.mark.parametrize("ny", [300, 511, 512, 1000, 6388])
def test_read_noise_from_the_rows_it_uses_equals_that_of_the_whole_bias(ny):
    bias = np.random.default_rng(ny).normal(500, 2, (ny, 64)).astype(np.float32)
    rows = bias[read_noise_rows(ny)]
    assert 256 <= len(rows) < 512 or len(rows) == ny
    assert read_noise_from_bias(rows, 1.0, 1) == read_noise_from_bias(bias, 1.0, 1)
