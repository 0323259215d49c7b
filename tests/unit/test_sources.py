"""The iterated source mask on frames whose stars and noise are known."""

import numpy as np
import pytest

from skyrms.demo.physics import add_moffat_stars, moffat_halfsize, moffat_value
from skyrms.science import maskbits
from skyrms.science.background import BackgroundParams, estimate
from skyrms.science.blanks import invalid_pixels
from skyrms.science.source_mask import (
    MaskParams,
    PassBuffers,
    detection_pass,
    iterate_source_mask,
    runs_away,
)

MESH = BackgroundParams(box_size=100)

SKY, NOISE, SATURATE = 1000.0, 20.0, 30000.0
FWHM, BETA = 4.0, 3.0


def star_field(n_stars, shape=(600, 800), seed=1):
    """Flat sky with Gaussian noise and Moffat stars; returns (frame, x, y, peak)."""
    rng = np.random.default_rng(seed)
    y = rng.uniform(5, shape[0] - 5, n_stars)
    x = rng.uniform(5, shape[1] - 5, n_stars)
    flux = np.minimum(300 * rng.uniform(size=n_stars) ** (-1 / 0.75), 2e6)  # N(>F) ~ F^-0.75
    model = np.zeros(shape)
    add_moffat_stars(model, x, y, flux, moffat_halfsize(flux, FWHM, BETA, 0.5, 200), FWHM, BETA)
    frame = SKY + model + rng.normal(0, NOISE, shape)
    frame = np.minimum(frame, SATURATE).astype(np.float32)
    return frame, x, y, moffat_value(0.0, flux, FWHM, BETA)


@pytest.fixture(scope="module")
def crowded():
    frame, x, y, peak = star_field(1500)
    params = MaskParams(saturation_level=SATURATE, max_iterations=10)
    return frame, x, y, peak, iterate_source_mask(frame, invalid_pixels(frame), params, MESH)


def test_every_star_above_five_sigma_is_masked(crowded):
    frame, x, y, peak, result = crowded
    bright = peak > 5 * NOISE
    centres = result.mask[np.rint(y[bright]).astype(int), np.rint(x[bright]).astype(int)]
    assert bright.sum() > 250
    assert np.all(centres != 0)


def test_passes_converge_and_later_passes_find_few(crowded):
    """Later passes find sources the first background hid, and sources grown further may
    reveal one more; the first pass finds nearly all."""
    *_, result = crowded
    found = [step.sources + step.saturated for step in result.iterations]
    assert result.converged and found[-1] == 0
    assert found[0] == max(found) and sum(found[1:]) < 0.15 * found[0]


def test_saturated_stars_get_the_saturated_bit_and_larger_masks(crowded):
    frame, x, y, peak, result = crowded
    saturated = frame >= SATURATE
    assert saturated.any()
    assert np.all(result.mask[saturated] & maskbits.SATURATED)
    assert sum(step.saturated for step in result.iterations) > 0


def test_masked_rms_is_closer_to_the_truth_than_unmasked(crowded):
    frame, *_, result = crowded
    unmasked = np.median(estimate(frame, box_size=100).rms())
    masked = np.median(estimate(frame, result.mask, box_size=100).rms())
    assert abs(masked / NOISE - 1) < 0.03
    assert abs(masked / NOISE - 1) < abs(unmasked / NOISE - 1)


def test_invalid_pixels_are_flagged_and_left_out():
    frame, *_ = star_field(50, seed=2)
    frame[100, :] = np.nan
    frame[200:210, 300:310] = np.inf
    bad = np.zeros(frame.shape, dtype=np.uint8)
    bad[:, 5] = 1
    invalid = invalid_pixels(frame, bad)
    result = iterate_source_mask(frame, invalid, MaskParams(), MESH)
    assert np.all(result.mask[100, :] & maskbits.INVALID)
    assert np.all(result.mask[200:210, 300:310] & maskbits.INVALID)
    assert np.all(result.mask[:, 5] & maskbits.INVALID)
    assert result.converged


def test_pure_noise_converges_with_almost_nothing_masked():
    rng = np.random.default_rng(3)
    frame = (SKY + rng.normal(0, NOISE, (400, 400))).astype(np.float32)
    result = iterate_source_mask(frame, invalid_pixels(frame), MaskParams(), MESH)
    assert result.converged
    assert np.count_nonzero(result.mask) / result.mask.size < 0.01


def test_a_region_without_noise_has_no_signal_to_noise():
    """Over a noiseless strip (pixels of one value) SEP's RMS spline dips to 0 and below;
    the signal-to-noise image is 0 there. The strip is a run of one value: invalid, and no
    source is detected in it."""
    frame, *_ = star_field(200, seed=4)
    frame[:, :300] = 0.0
    params = MaskParams()
    nothing, buffers = np.zeros(frame.shape, dtype=np.uint8), PassBuffers.like(frame)
    detection_pass(frame, nothing, nothing.astype(bool), params, MESH, buffers)
    noiseless = ~(estimate(frame, box_size=100).rms() > 0)
    assert noiseless.any() and np.all(buffers.significance[noiseless] == 0)
    result = iterate_source_mask(frame, invalid_pixels(frame), params, MESH)
    assert result.converged
    assert np.all(result.mask[:, :250] == maskbits.INVALID)
    assert np.count_nonzero(result.mask[:, 350:] & maskbits.SOURCE) > 0


def test_the_runaway_guard_judges_what_new_sources_add():
    """Of 4x4 boxes of 100 px: new sources that take the mask over half the boxes run away;
    a mask over half the boxes already (grown sources) that new sources leave as it was, or
    that they take over half without covering more boxes than before, does not."""
    before, after = np.zeros((400, 400), np.uint8), np.zeros((400, 400), np.uint8)
    buffers = PassBuffers.like(before)
    after[:, :300] = 1  # 12 of 16 boxes
    assert runs_away(before, after, 100, buffers)
    before[:, :300] = 1
    assert not runs_away(before, after, 100, buffers)
    after[:, 300:310] = 1  # more pixels, no box more than half masked that was not before
    assert not runs_away(before, after, 100, buffers)
    after[:, 300:] = 1
    assert runs_away(before, after, 100, buffers)
