"""Blank regions: BLANK values, configured fill values and runs of one value are invalid."""

import numpy as np
import pytest
from astropy.io import fits

from skyrms.io.fitsfiles import read_image, read_mask
from skyrms.science import maskbits
from skyrms.science.background import BackgroundParams, estimate
from skyrms.science.blanks import InvalidSpec, identical_runs, invalid_pixels
from skyrms.science.source_mask import MaskParams, iterate_source_mask
from skyrms.steps import mask_and_background, single_steps

MESH = BackgroundParams(box_size=64)

SKY, NOISE = 100.0, 5.0


def noise_frame(shape=(300, 400), seed=1):
    rng = np.random.default_rng(seed)
    return (SKY + rng.normal(0, NOISE, shape)).astype(np.float32)


def test_runs_along_rows_and_columns_are_found_and_nothing_else():
    frame = noise_frame()
    frame[:, :50] = 0.0  # a zero-filled border: runs along rows
    frame[100:140, 300] = 3.0  # a dead column stretch: a run along a column
    frame[10, 100:131] = 7.0  # 31 equal pixels: one short of a run
    runs = identical_runs(frame, 32)
    expected = np.zeros(frame.shape, dtype=bool)
    expected[:, :50] = True
    expected[100:140, 300] = True
    assert np.array_equal(runs, expected)


def test_saturated_plateaus_are_not_blank():
    frame = noise_frame()
    frame[50:90, 50:90] = 60000.0
    assert not identical_runs(frame, 32, saturation=60000.0).any()
    assert identical_runs(frame, 32).sum() == 40 * 40


def test_integer_noise_never_makes_a_run():
    rng = np.random.default_rng(2)
    frame = np.round(rng.normal(1000, 1.0, (500, 500))).astype(np.float32)
    assert np.mean(frame[:, 1:] == frame[:, :-1]) > 0.2  # equal neighbours are common
    assert not identical_runs(frame, 32).any()


def test_blank_values_and_bad_pixels_are_invalid():
    frame = noise_frame()
    frame[5, 5], frame[6, 6] = -1.0, np.nan
    bad = np.zeros(frame.shape, dtype=np.uint8)
    bad[7, 7] = 1
    invalid = invalid_pixels(frame, bad, blank_values=[-1.0], run=0)
    assert np.flatnonzero(invalid).tolist() == [5 * 400 + 5, 6 * 400 + 6, 7 * 400 + 7]


@pytest.mark.parametrize("fill", [0.0, np.nan])
def test_background_next_to_a_blank_strip_is_as_good_as_next_to_nan(fill):
    frame = noise_frame((600, 800))
    frame[:, :200] = fill
    params = MaskParams(saturation_level=None)
    result = iterate_source_mask(frame.copy(), invalid_pixels(frame), params, MESH)
    assert np.all(result.mask[:, :200] == maskbits.INVALID)
    level = estimate(frame, result.mask, 64, 3).back()
    assert np.abs(level[:, 200:] - SKY).max() < 0.2 * NOISE


def test_integer_frames_blank_keyword_marks_pixels_invalid(tmp_path):
    """astropy turns an int16 frame's BLANK into NaN; for uint16 (BZERO 32768) it does not,
    and the physical value of BLANK marks the pixels."""
    pixels = np.round(noise_frame()).astype(np.uint16)
    pixels[20:30, 40:45] = 0  # BLANK -32768 stored, 0 physical
    hdu = fits.PrimaryHDU(pixels)
    hdu.header["BLANK"] = -32768
    hdu.writeto(tmp_path / "u16.fits")
    single_steps.source_mask(tmp_path / "u16.fits", tmp_path / "mask.fits", MaskParams(), MESH)
    bits, _ = read_mask(tmp_path / "mask.fits")
    assert np.all(bits[20:30, 40:45] & maskbits.INVALID)
    assert np.count_nonzero(bits & maskbits.INVALID) == 50
    data, header = read_image(tmp_path / "u16.fits")
    assert mask_and_background.blank_values(header, None) == [0.0] and data[25, 42] == 0


def test_configured_blank_value_is_recorded_and_used(tmp_path):
    frame = noise_frame()
    frame[100:110, 100:110] = -999.0  # too short for a run along either axis: only the value
    fits.writeto(tmp_path / "f.fits", frame)
    spec = InvalidSpec(blank_value=-999.0, blank_run=0)
    single_steps.source_mask(tmp_path / "f.fits", tmp_path / "m.fits", MaskParams(), MESH, spec)
    bits, header = read_mask(tmp_path / "m.fits")
    assert np.all(bits[100:110, 100:110] == maskbits.INVALID)
    assert header["MSKBLANK"] == -999.0 and header["MSKBRUN"] == 0


def test_a_frame_with_no_valid_pixel_fails_with_one_line(tmp_path):
    fits.writeto(tmp_path / "zeros.fits", np.zeros((200, 300), np.float32))
    with pytest.raises(
        mask_and_background.InputError, match=r"zeros.fits: no valid pixel in the frame"
    ):
        single_steps.source_mask(tmp_path / "zeros.fits", tmp_path / "m.fits", MaskParams(), MESH)
    assert not (tmp_path / "m.fits").exists()
