"""File-level steps on small FITS files: masks from files, circles, odd layouts, bad files."""

import logging
import os
import time

import numpy as np
import pytest
from astropy.io import fits

from skyrms.demo import survey
from skyrms.io.fitsfiles import ABANDONED_S, InputError, atomic_path, read_image, read_mask
from skyrms.science import maskbits
from skyrms.science.background import BackgroundParams
from skyrms.science.blanks import InvalidSpec
from skyrms.science.source_mask import MaskParams
from skyrms.steps import single_steps

SHAPE = (200, 300)
PARAMS, MESH = MaskParams(), BackgroundParams(box_size=50)


@pytest.fixture
def frame(tmp_path):
    """A small demo frame of the galaxy tile, written by the demo generator itself."""
    survey.write(tmp_path / "demo", shape=SHAPE, raw_frames=False)  # masters ready-made
    target = next(f for f in survey.plan()[0] if f.object == survey.GALAXY["object"])
    return tmp_path / "demo" / target.relpath


def test_bad_pixel_mask_file_marks_invalid_pixels(frame, tmp_path):
    bad = np.zeros(SHAPE, dtype=np.int16)
    bad[10:20, 30:40] = 1
    fits.writeto(tmp_path / "bpm.fits", bad)
    single_steps.source_mask(
        frame, tmp_path / "s.fits", PARAMS, MESH, InvalidSpec(str(tmp_path / "bpm.fits"))
    )
    mask, header = read_mask(tmp_path / "s.fits")
    assert np.all(mask[10:20, 30:40] & maskbits.INVALID)
    assert np.count_nonzero(mask & maskbits.INVALID) == 100
    assert header["IN_BPM"].endswith("bpm.fits")


def test_bad_pixel_mask_of_another_shape_is_refused(frame, tmp_path):
    fits.writeto(tmp_path / "bpm.fits", np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(
        InputError, match=r"bpm.fits: bad-pixel mask is 10x10, the frame is 300x200"
    ):
        single_steps.source_mask(
            frame, tmp_path / "s.fits", PARAMS, MESH, InvalidSpec(str(tmp_path / "bpm.fits"))
        )
    assert not (tmp_path / "s.fits").exists()


def test_circle_off_the_frame_is_reported_and_skipped(frame, tmp_path, caplog):
    single_steps.source_mask(frame, tmp_path / "s.fits", PARAMS, MESH)
    specs = [
        {
            "name": "galaxy",
            "ra": survey.GALAXY["ra"],
            "dec": survey.GALAXY["dec"],
            "radius_arcsec": 10,
        },
        {"name": "far away", "ra": 10.0, "dec": 10.0, "radius_arcsec": 30},
        {"name": "other tile", "object": "T00528", "x": 5, "y": 5, "radius_pix": 3},
    ]
    with caplog.at_level(logging.INFO):
        single_steps.circular_mask(frame, tmp_path / "s.fits", tmp_path / "m.fits", specs)
    assert "skipped far away at RA 10.00000" in caplog.text
    mask, header = read_mask(tmp_path / "m.fits")
    assert header["NCIRCLES"] == 1
    assert header["MSKSIGMA"] == PARAMS.sigma  # the source mask's parameters carry over
    assert np.count_nonzero(mask & maskbits.MANUAL) == pytest.approx(
        np.pi * (10 / 0.505) ** 2, rel=0.05
    )


def test_sky_circle_on_a_frame_without_wcs_names_the_frame(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "nowcs.fits"
    fits.writeto(path, rng.normal(100, 5, SHAPE).astype(np.float32))
    single_steps.source_mask(path, tmp_path / "s.fits", PARAMS, MESH)
    with pytest.raises(InputError, match=f"{path}: circular mask .* needs a WCS"):
        single_steps.circular_mask(
            path,
            tmp_path / "s.fits",
            tmp_path / "m.fits",
            [{"ra": 1.0, "dec": 1.0, "radius_pix": 5}],
        )
    assert not (tmp_path / "m.fits").exists()


@pytest.mark.parametrize("dtype", [">i2", "<i4", ">f8", "uint16"])
def test_integer_unsigned_and_big_endian_frames_in_an_extension(tmp_path, dtype):
    data = np.arange(np.prod(SHAPE)).reshape(SHAPE) % 1000
    path = tmp_path / "ext.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data.astype(dtype))]).writeto(path)
    pixels, _ = read_image(path)
    assert pixels.dtype == np.float32 and pixels.dtype.isnative
    assert np.array_equal(pixels, data)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"SIMPLE  = this is not FITS", "not a readable FITS file"),
        (b"", "not a readable FITS file"),
    ],
)
def test_unreadable_files_give_one_line_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "bad.fits"
    path.write_bytes(content)
    with pytest.raises(InputError) as error:
        single_steps.source_mask(path, tmp_path / "s.fits", PARAMS, MESH)
    assert str(error.value).startswith(f"{path}: {problem}")
    assert "\n" not in str(error.value)


def test_truncated_frame_gives_one_line(frame, tmp_path):
    truncated = tmp_path / "truncated.fits"
    truncated.write_bytes(frame.read_bytes()[: 2880 * 20])
    with pytest.raises(InputError, match=f"{truncated}: truncated") as error:
        single_steps.source_mask(truncated, tmp_path / "s.fits", PARAMS, MESH)
    assert "\n" not in str(error.value)


def test_all_nan_frame_is_refused(tmp_path):
    path = tmp_path / "nan.fits"
    fits.writeto(path, np.full(SHAPE, np.nan, dtype=np.float32))
    with pytest.raises(InputError, match="no finite pixel"):
        single_steps.source_mask(path, tmp_path / "s.fits", PARAMS, MESH)


def test_temporaries_left_by_a_killed_job_are_removed_on_the_next_write(frame, tmp_path):
    stale = tmp_path / ".s.fits.abc123.tmp"
    stale.write_bytes(b"half a product")
    single_steps.source_mask(frame, tmp_path / "s.fits", PARAMS, MESH)
    assert not stale.exists()
    assert read_mask(tmp_path / "s.fits")[0].shape == SHAPE


def test_a_shared_file_leaves_other_writers_temporaries_alone(tmp_path):
    """The header index is saved by every run and cluster job: one writer must not
    delete the temporary another is still writing (its replace would then fail)."""
    index = tmp_path / "header-index.json"
    abandoned = tmp_path / ".header-index.json.old.tmp"
    abandoned.write_text("{")
    an_hour_ago = time.time() - ABANDONED_S - 60
    os.utime(abandoned, (an_hour_ago, an_hour_ago))
    with atomic_path(index, shared=True) as first:
        first.write_text('{"from": "first"}')
        with atomic_path(index, shared=True) as second:
            second.write_text('{"from": "second"}')
        assert first.exists()
    assert index.read_text() == '{"from": "first"}'
    assert not abandoned.exists()
    assert not list(tmp_path.glob(".*.tmp"))
