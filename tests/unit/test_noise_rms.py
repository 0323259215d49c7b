"""The RMS map as noise: boxes whose spread holds unmasked structure take the noise of
pixel differences; frames of noise alone keep SEP's map bit for bit; noise correlated
by resampling is measured whole."""

import numpy as np
import pytest

from skyrms.science.background import estimate, unbiased_rms
from skyrms.science.noise_rms import (
    box_difference_noise,
    median_filtered,
    noise_only_rms,
)

SHAPE, BOX, SIGMA = (512, 512), 64, 10.0


def rms_maps(data, masked):
    """SEP's RMS map (corrected for clipping) and the one :func:`noise_only_rms` makes."""
    sep_rms = unbiased_rms(estimate(data, masked, BOX, 3), BOX)
    noise = sep_rms.copy()
    replaced = noise_only_rms(noise, data, masked, BOX, 3)
    return sep_rms, noise, replaced


def nebula(shape=SHAPE, seed=3) -> np.ndarray:
    """Smooth clumpy light everywhere (ADU): 1-10 SIGMA, varying over 60-200 px (light that
    varies over a few pixels is indistinguishable from noise correlated over as many)."""
    rng = np.random.default_rng(seed)
    ky = np.fft.fftfreq(shape[0])[:, None]
    kx = np.fft.rfftfreq(shape[1])[None, :]
    power = np.exp(-((np.hypot(kx, ky) * 60) ** 2)) * (np.hypot(kx, ky) > 1 / 200)
    phases = rng.standard_normal(power.shape) + 1j * rng.standard_normal(power.shape)
    field = np.fft.irfft2(phases * np.sqrt(power), s=shape)
    return 3 * SIGMA * np.exp(0.7 * field / field.std())


def lanczos_shift(image: np.ndarray, shift: float = 0.5, a: int = 3) -> np.ndarray:
    """``image`` resampled at a shift of ``shift`` px along both axes with a Lanczos-``a``
    kernel (periodic edges), as a coadd's resampling does: its noise becomes correlated."""
    taps = np.arange(-a + 1, a + 1)
    weights = np.sinc(taps - shift) * np.sinc((taps - shift) / a)
    weights /= weights.sum()
    for axis in (0, 1):
        image = sum(w * np.roll(image, -t, axis=axis) for w, t in zip(weights, taps, strict=True))
    return image


def test_noise_alone_keeps_seps_map_bit_for_bit():
    data = np.random.default_rng(1).normal(1000, SIGMA, SHAPE).astype(np.float32)
    sep_rms, noise, replaced = rms_maps(data, np.zeros(SHAPE, bool))
    assert replaced == 0 and np.array_equal(noise, sep_rms)


def test_structure_left_in_the_background_is_not_noise():
    rng = np.random.default_rng(2)
    data = (1000 + nebula() + rng.normal(0, SIGMA, SHAPE)).astype(np.float32)
    sep_rms, noise, replaced = rms_maps(data, np.zeros(SHAPE, bool))
    assert np.median(sep_rms) > 1.15 * SIGMA  # the nebula's variation, taken for noise
    assert replaced > 32
    assert np.median(noise) == pytest.approx(SIGMA, rel=0.03)
    assert noise.min() > 0


def test_masked_sources_and_invalid_pixels_stay_out_of_the_differences():
    rng = np.random.default_rng(4)
    data = rng.normal(1000, SIGMA, SHAPE).astype(np.float32)
    masked = np.zeros(SHAPE, bool)
    masked[100:140, 200:260] = True
    data[100:140, 200:260] = np.where(rng.uniform(size=(40, 60)) < 0.5, np.nan, 5e4)
    noise = box_difference_noise(data, masked, BOX, np.full((8, 8), SIGMA))
    assert np.all(np.abs(noise / SIGMA - 1) < 0.06)


def test_noise_correlated_by_resampling_is_measured_whole():
    """Differences 4 px apart reach past a Lanczos-3 resampling's correlation: the difference
    noise of a resampled frame is its noise, not the lower spread of neighbouring pixels."""
    rng = np.random.default_rng(5)
    noise_alone = lanczos_shift(rng.normal(0, SIGMA, SHAPE))
    true_sigma = noise_alone.std()
    neighbours = np.diff(noise_alone, axis=1).std() / np.sqrt(2)
    assert neighbours < 0.9 * true_sigma  # what adjacent pixels would say
    data = (1000 + lanczos_shift(nebula()) + noise_alone).astype(np.float32)
    _, noise, replaced = rms_maps(data, np.zeros(SHAPE, bool))
    assert replaced > 32
    # the nebula's own curvature over 4 px adds ~2 ADU in quadrature: +4% here
    assert np.median(noise) == pytest.approx(true_sigma, rel=0.06)


def test_a_smooth_gradient_is_background_not_structure():
    y, x = np.mgrid[: SHAPE[0], : SHAPE[1]]
    rng = np.random.default_rng(6)
    data = (1000 + 0.05 * x + 0.03 * y + rng.normal(0, SIGMA, SHAPE)).astype(np.float32)
    _, _, replaced = rms_maps(data, np.zeros(SHAPE, bool))
    assert replaced == 0


def test_the_mesh_filter_ignores_boxes_without_an_estimate():
    mesh = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [5.0, 7.0, 9.0]])
    filtered = median_filtered(mesh, 3)
    assert filtered[1, 1] == 5.0 and filtered[0, 0] == 1.0
    assert np.isnan(median_filtered(np.full((2, 2), np.nan), 3)).all()
