"""The background step against SExtractor's own check-images of a real frame."""

import numpy as np
import pytest
from astropy.io import fits

from benchmarks.peers import REFERENCE_DATA
from skyrms.io.fitsfiles import native_float32, read_image
from skyrms.science.background import (
    GAUSSIAN_RMS_BIAS,
    BackgroundParams,
    NoBackground,
    cell_weights,
    check_box,
    coarse_background,
    estimate,
    fit,
    free_fractions,
    interpolate_into,
    mesh_usage,
    unbiased_rms,
)

REFERENCE = REFERENCE_DATA / "sextractor"
"""SExtractor's check-images of a real frame (tests/data/README.md)."""


@pytest.fixture(scope="module")
def reference():
    data, _ = read_image(REFERENCE / "image.fits")
    back = fits.getdata(REFERENCE / "back.fits")
    rms = fits.getdata(REFERENCE / "rms.fits")
    return data, back, rms


def test_reproduces_sextractor_background_and_rms(reference):
    data, back, rms = reference
    bkg = estimate(data, box_size=64, filter_size=3)
    assert np.max(np.abs(bkg.back() / back - 1)) < 1e-4
    assert np.max(np.abs(bkg.rms() / rms - 1)) < 1e-4


def test_mask_changes_the_estimate_only_where_sources_sit(reference):
    data, back, _ = reference
    bright = data > np.percentile(data, 99)
    masked = estimate(data, bright, box_size=64, filter_size=3).back()
    assert np.median(masked) < np.median(back)
    assert np.max(np.abs(masked / back - 1)) < 0.05


@pytest.mark.parametrize("value", [np.nan, np.inf, 1e30, 0.0])
def test_masked_pixels_are_ignored_whatever_they_hold(reference, value):
    data, _, _ = reference
    bright = data > np.percentile(data, 99)
    expected = estimate(data, bright, box_size=64, filter_size=3)
    filled = np.where(bright, np.float32(value), data)
    got = estimate(filled, bright.astype(np.uint8), box_size=64, filter_size=3)  # any mask type
    assert np.array_equal(got.back(), expected.back())
    assert np.array_equal(got.rms(), expected.rms())


def test_big_endian_input_is_converted_once():
    big = np.arange(12, dtype=">f4").reshape(3, 4)
    native = native_float32(big)
    assert native.dtype.isnative and native.dtype == np.float32
    assert np.array_equal(native, big)
    assert native_float32(native) is native
    assert big.dtype == ">f4" and big[2, 3] == 11  # the caller's array is left as it was


def test_owned_big_endian_pixels_are_swapped_in_place():
    big = np.arange(12, dtype=">f4").reshape(3, 4)
    native = native_float32(big, owned=True)
    assert native.dtype.isnative and native.dtype == np.float32
    assert np.shares_memory(native, big)  # no second frame in memory
    assert np.array_equal(native, np.arange(12, dtype=np.float32).reshape(3, 4))
    read_only = np.arange(12, dtype=">f4")
    read_only.flags.writeable = False
    assert not np.shares_memory(native_float32(read_only, owned=True), read_only)


@pytest.mark.parametrize(
    ("shape", "box", "filt", "message"),
    [((100, 200), 150, 3, "larger than the frame"), ((100, 200), 0, 3, "must be >= 1")],
)
def test_box_that_does_not_fit_is_refused(shape, box, filt, message):
    with pytest.raises(ValueError, match=message):
        check_box(shape, BackgroundParams(box, filt))


@pytest.mark.parametrize(("box", "sigma"), [(32, 3.0), (64, 10.0), (256, 50.0)])
def test_unbiased_rms_recovers_the_sigma_of_gaussian_noise(box, sigma):
    rng = np.random.default_rng(box)
    frame = (100 + rng.normal(0, sigma, (2048, 2048))).astype(np.float32)
    bkg = estimate(frame, box_size=box, filter_size=3)
    assert np.median(bkg.rms()) / sigma == pytest.approx(GAUSSIAN_RMS_BIAS, abs=0.002)
    assert np.median(unbiased_rms(bkg, box)) / sigma == pytest.approx(1, abs=0.002)


def noise(shape=(512, 512), sigma=5.0, seed=4):
    return (100 + np.random.default_rng(seed).normal(0, sigma, shape)).astype(np.float32)


def test_free_fractions_count_every_box_including_the_narrow_last_ones():
    masked = np.zeros((100, 150), dtype=bool)
    masked[:64, :64] = True
    masked[64:, 128:] = True
    assert free_fractions(masked, 64).tolist() == [[0.0, 1.0, 1.0], [1.0, 1.0, 0.0]]
    assert mesh_usage(masked, 64) == (0, 2)


def test_a_box_mostly_masked_is_estimated_from_its_free_pixels():
    """70% of every box masked (and filled with nonsense): SEP alone would drop every box and
    return 0 / 1; the estimate from the free 30% recovers the level and the noise."""
    frame = noise()
    masked = np.zeros(frame.shape, dtype=bool)
    masked[:, np.arange(512) % 10 < 7] = True
    frame[masked] = 1e6
    bkg = estimate(frame, masked, 64, 3)
    error = np.abs(bkg.back() - 100) / 5  # sigma; 1,229 free pixels a box
    assert np.median(error) < 0.04 and error.max() < 0.25
    assert np.median(unbiased_rms(bkg, 64)) == pytest.approx(5, rel=0.02)
    assert frame[0, 0] == 1e6  # the caller's pixels are untouched


def test_the_same_mask_gives_the_same_maps():
    frame = noise()
    masked = np.zeros(frame.shape, dtype=bool)
    masked[:, np.arange(512) % 10 < 7] = True
    first = estimate(frame, masked, 64, 3).back()
    assert np.array_equal(first, estimate(frame, masked, 64, 3).back())


def test_no_box_with_a_fifth_free_is_no_background():
    frame = noise()
    masked = np.zeros(frame.shape, dtype=bool)
    masked[:, np.arange(512) % 10 < 9] = True
    with pytest.raises(NoBackground, match="no 64-px box has 20% of its pixels free"):
        estimate(frame, masked, 64, 3)


def test_the_rms_map_never_dips_below_its_mesh():
    """Noise of 1 and 100 ADU side by side: SEP's spline dips below zero at the step; the
    map is kept at its smallest mesh value (a box centre)."""
    rng = np.random.default_rng(4)
    frame = 100 + np.concatenate([rng.normal(0, 1, (512, 256)), rng.normal(0, 100, (512, 256))], 1)
    bkg = estimate(frame.astype(np.float32), None, 64, 3)
    assert bkg.rms().min() < 0
    rms = unbiased_rms(bkg, 64)
    assert rms.min() == pytest.approx(rms[32::64, 32::64].min()) and rms.min() > 0.5


def test_a_frame_without_any_noise_has_no_rms():
    with pytest.raises(NoBackground, match="no mesh box has any noise"):
        unbiased_rms(estimate(np.full((256, 256), 7.0, np.float32), None, 64, 3), 64)


def test_the_coarse_background_keeps_a_large_source_that_the_fine_one_takes_in():
    """A disk of +4 sigma, 200 px across: the fine mesh (64 px) follows it, the coarse one
    (256 px) much less, so the correction (fine - coarse) / RMS is positive on it."""
    frame = noise((1024, 1024))
    y, x = np.ogrid[:1024, :1024]
    frame[(x - 512) ** 2 + (y - 512) ** 2 < 100**2] += 20.0
    coarse = coarse_background(frame, np.zeros(frame.shape, bool), 64, 3)
    assert coarse.factor == 8 and coarse.correction.shape == (128, 128)
    assert coarse.correction[64, 64] > 0.5 and np.abs(coarse.correction[:10, :10]).max() < 0.15


def faint_wing(shape=(1024, 1024)):
    """Noise of sigma 5 around 100 with a disk of +0.5 sigma, 700 px across, whose inner 500 px
    are masked: the free ring is the disk's own outskirts (frame, mask, disk)."""
    frame = noise(shape)
    y, x = np.ogrid[: shape[0], : shape[1]]
    r2 = (x - 512) ** 2 + (y - 512) ** 2
    frame[r2 < 350**2] += 2.5
    return frame, r2 < 250**2, r2 < 350**2


def test_boxes_a_source_covers_mostly_take_the_coarse_level():
    """Under the mask, SEP's mesh takes in the disk from its free outskirts (+0.5 sigma);
    the coarse mesh reaches the sky beyond it."""
    frame, masked, _ = faint_wing()
    fine = estimate(frame, masked, 64, 3).back()[512, 512]
    level = fit(frame, masked, 64, 3).back()[512, 512]
    assert fine - 100 > 2.0 and abs(level - 100) < fine - 100 - 1.0


def test_boxes_at_least_half_free_and_invalid_boxes_keep_sep_level():
    frame, masked, _ = faint_wing()
    small = np.zeros_like(masked)
    small[500:520, 500:520] = True
    assert np.array_equal(fit(frame, small, 64, 3).back(), estimate(frame, small, 64, 3).back())
    got = fit(frame, masked, 64, 3, invalid=masked).back()
    assert np.array_equal(got, estimate(frame, masked, 64, 3).back())


def test_interpolation_is_bilinear_between_cell_centres():
    values = np.zeros((4, 5), np.float32)
    values[1, 2] = 8.0
    out = np.ones((20, 25), np.float32)
    interpolate_into(out, values, 5)
    assert out[7, 12] == pytest.approx(9.0)  # the centre of cell (1, 2)
    assert out[9, 12] == pytest.approx(1 + 8 * 0.6)  # 2 of the 5 px to the next centre
    assert out[9, 13] == pytest.approx(1 + 8 * 0.6 * 0.8)
    assert out[0, 0] == 1 and out[19, 24] == 1
    scaled = np.full((20, 25), 2.0, np.float32)
    interpolate_into(scaled, 1 + values / 4, 5, np.multiply)  # 3 at cell (1, 2), 1 elsewhere
    assert scaled[7, 12] == pytest.approx(6.0) and scaled[9, 12] == pytest.approx(2 * 2.2)
    assert scaled[0, 0] == 2 and scaled[19, 24] == 2


def test_interpolation_is_linear_between_the_true_centres_of_narrower_last_cells():
    low, high, weight = cell_weights(128, 64, 2)  # two full cells: centres 31.5 and 95.5
    assert (low[0], high[0], weight[0]) == (0, 1, 1) and weight[127] == 0
    assert weight[63] == pytest.approx(1 - 31.5 / 64)
    low, high, weight = cell_weights(96, 64, 2)  # the last cell 32 wide: centre 79.5
    assert weight[79] == pytest.approx(0.5 / 48) and weight[95] == 0
    assert cell_weights(10, 64, 1)[2].tolist() == [1.0] * 10
