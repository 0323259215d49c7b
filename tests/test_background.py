"""The background step against SExtractor's own check-images of a real frame."""

from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms.background import GAUSSIAN_RMS_BIAS, check_box, estimate, native_float32, unbiased_rms
from skyrms.fitsfiles import read_image

REFERENCE = Path(__file__).parents[1].parent / "shared" / "reference" / "sextractor"


@pytest.fixture(scope="module")
def reference():
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE} (../shared beside the checkout)")
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
        check_box(shape, box, filt)


@pytest.mark.parametrize(("box", "sigma"), [(32, 3.0), (64, 10.0), (256, 50.0)])
def test_unbiased_rms_recovers_the_sigma_of_gaussian_noise(box, sigma):
    rng = np.random.default_rng(box)
    frame = (100 + rng.normal(0, sigma, (2048, 2048))).astype(np.float32)
    bkg = estimate(frame, box_size=box, filter_size=3)
    assert np.median(bkg.rms()) / sigma == pytest.approx(GAUSSIAN_RMS_BIAS, abs=0.002)
    assert np.median(unbiased_rms(bkg)) / sigma == pytest.approx(1, abs=0.002)
