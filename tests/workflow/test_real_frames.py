"""A real frame nobody here made, and what a new user meets on the way: warnings, WCS, paths."""

import logging
import warnings

import numpy as np
import pytest
from astropy.io import fits

from benchmarks.peer_table import SPITZER
from skyrms import cli
from skyrms.io.fitsfiles import read_mask


def first_image(path):
    with fits.open(path) as hdul:
        return next(np.asarray(hdu.data, dtype=float) for hdu in hdul if hdu.data is not None)


def pooled_scatter(data, free, block=32):
    """Robust scatter of the free pixels, each 32x32 block about its own median (frame units)."""
    residuals = []
    for top in range(0, data.shape[0] - block + 1, block):
        for left in range(0, data.shape[1] - block + 1, block):
            values = data[top : top + block, left : left + block][
                free[top : top + block, left : left + block]
            ]
            if values.size > 100:
                residuals.append(values - np.median(values))
    pooled = np.concatenate(residuals)
    return 1.4826 * np.median(np.abs(pooled))


@pytest.mark.parametrize("options", [[], ["--box-size", "64"]], ids=["defaults", "box64"])
def test_spitzer_mosaic_filled_with_emission(tmp_path, options):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no numpy warning on the way
        assert cli.main(["run", str(SPITZER), "-o", str(tmp_path), *options]) == 0
    data = fits.getdata(SPITZER).astype(float)
    mask = read_mask(tmp_path / "spitzer_example_image.mask.fits")[0] != 0
    background = first_image(tmp_path / "spitzer_example_image.bkg.fits")
    rms = first_image(tmp_path / "spitzer_example_image.bkgrms.fits")
    free = ~mask & np.isfinite(data)
    assert mask.mean() <= 0.9
    assert np.all(rms > 0) and np.all(np.isfinite(background))
    assert 0.85 <= np.median(rms[free]) / pooled_scatter(data, free) <= 1.2
    assert abs(np.median(((data - background) / rms)[free])) <= 1.0


def old_style_frame(path, shape=(300, 400)):
    """A frame with a WCS that astropy repairs (RADECSYS, a dd/mm/yy DATE-OBS)."""
    data = np.random.default_rng(1).normal(100, 5, shape).astype(np.float32)
    header = fits.Header()
    for key, value in dict(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=200, CRPIX2=150,
                           CRVAL1=10.0, CRVAL2=20.0, CDELT1=-1e-4, CDELT2=1e-4,
                           RADECSYS="FK5", EPOCH=2000.0).items():  # fmt: skip
        header[key] = value
    header["DATE-OBS"] = "22/11/98"
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.writeto(path, data, header)


def test_old_style_headers_and_long_paths_give_no_warnings(tmp_path, capsys, caplog):
    frame = tmp_path / ("a" * 70) / ("b" * 70) / "frame.fits"
    old_style_frame(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail the run
        code = cli.main(["run", str(frame), "--box-size", "64", "--circle", "10", "20", "5",
                         "-o", str(tmp_path / "out")])  # fmt: skip
    assert code == 0
    said = capsys.readouterr().err + caplog.text
    assert "FITSFixedWarning" not in said and "too long" not in said
    header = fits.getheader(tmp_path / "out" / "frame.mask.fits")
    assert header["IN_FRAME"] == str(frame)


def test_a_sky_circle_without_wcs_fails_before_any_work(tmp_path, capsys, caplog):
    frame = tmp_path / "nowcs.fits"
    fits.writeto(frame, np.random.default_rng(2).normal(100, 5, (300, 400)).astype(np.float32))
    caplog.set_level(logging.INFO)
    code = cli.main(["run", str(frame), "--box-size", "64", "--circle", "10", "20", "5",
                     "-o", str(tmp_path / "out")])  # fmt: skip
    assert code == 1
    assert "needs a WCS" in capsys.readouterr().err
    assert "pass 1" not in caplog.text  # failed before the source mask
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
