"""A frame resampled by SWarp, whose noise is correlated from pixel to pixel: the RMS map is
its noise, not the spread of the light left in the background nor that of neighbours.

A truth frame with a galaxy filling it gets a WCS and is resampled by SWarp (Lanczos-3,
pixels 0.75 of the frame's: oversampled, as coadds often are); its noise alone is resampled
the same way, so the resampled frame's true noise is known pixel by pixel (the scatter of
the resampled noise in 32x32 blocks). Over the unmasked pixels the RMS map is 0.986 / 0.984
times that noise at box 64 / 128; SEP's spread alone said 1.91 / 1.63.
"""

import shutil
import subprocess

import numpy as np
import pytest
from astropy.io import fits

from benchmarks import truthframes
from skyrms import cli

SWARP = shutil.which("SWarp")
SHAPE = (1024, 1024)
BLOCK = 32
"""Side of the blocks the true noise is measured in (pixels)."""


def with_wcs(path, data, scale_deg=1e-4):
    """Write ``data`` with a TAN WCS of ``scale_deg`` degrees per pixel at (150, 2) degrees."""
    ny, nx = data.shape
    header = fits.Header()
    header.update(CTYPE1="RA---TAN", CTYPE2="DEC--TAN", CRPIX1=nx / 2, CRPIX2=ny / 2,
                  CRVAL1=150.0, CRVAL2=2.0, CD1_1=-scale_deg, CD1_2=0.0, CD2_1=0.0,
                  CD2_2=scale_deg, EXPTIME=100.0)  # fmt: skip
    fits.writeto(path, data.astype(np.float32), header)


def swarp(path, folder, pixel_scale_arcsec):
    """Resample ``path`` with SWarp (Lanczos-3) onto pixels of ``pixel_scale_arcsec``,
    shifted by a fraction of a pixel; the resampled image's path."""
    options = ["-RESAMPLING_TYPE", "LANCZOS3", "-COMBINE", "N", "-SUBTRACT_BACK", "N",
               "-CENTER_TYPE", "MANUAL", "-CENTER", "150.0037,2.0041",
               "-PIXELSCALE_TYPE", "MANUAL", "-PIXEL_SCALE", str(pixel_scale_arcsec),
               "-IMAGE_SIZE", f"{SHAPE[1] - 64},{SHAPE[0] - 64}", "-FSCALASTRO_TYPE", "NONE",
               "-WRITE_XML", "N", "-VERBOSE_TYPE", "QUIET",
               "-RESAMPLE_DIR", str(folder)]  # fmt: skip
    subprocess.run([SWARP, str(path), *options], check=True, cwd=folder, capture_output=True)
    return folder / path.name.replace(".fits", ".resamp.fits")


def block_scatter(noise: np.ndarray) -> np.ndarray:
    """The standard deviation of ``noise`` in each BLOCK x BLOCK block, per pixel (cropped
    to whole blocks)."""
    ny, nx = (n // BLOCK * BLOCK for n in noise.shape)
    blocks = noise[:ny, :nx].reshape(ny // BLOCK, BLOCK, nx // BLOCK, BLOCK)
    return np.kron(blocks.std(axis=(1, 3)), np.ones((BLOCK, BLOCK)))


@pytest.fixture(scope="module")
def resampled(tmp_path_factory):
    """The resampled frame's path and its true noise (ADU, per pixel)."""
    folder = tmp_path_factory.mktemp("resampled")
    truth = truthframes.make("big_galaxy", shape=SHAPE)
    with_wcs(folder / "frame.fits", truth.data)
    with_wcs(folder / "noise.fits", truth.data - truth.sky - truth.signal)
    frame = swarp(folder / "frame.fits", folder, 0.27)
    noise = fits.getdata(swarp(folder / "noise.fits", folder, 0.27)).astype(float)
    return frame, block_scatter(noise)


@pytest.mark.skipif(SWARP is None, reason="no SWarp (Debian package swarp)")
@pytest.mark.parametrize("box", [64, 128])
def test_a_resampled_frames_rms_is_its_noise(resampled, tmp_path, box):
    frame, true_noise = resampled
    assert cli.main(["run", str(frame), "--box-size", str(box), "-o", str(tmp_path)]) == 0
    rms = fits.getdata(tmp_path / "frame.resamp.bkgrms.fits").astype(float)
    left = fits.getdata(tmp_path / "frame.resamp.mask.fits") == 0
    ny, nx = true_noise.shape
    ratio = np.median((rms[:ny, :nx] / true_noise)[left[:ny, :nx]])
    assert ratio == pytest.approx(1, abs=0.05)
    assert fits.getheader(tmp_path / "frame.resamp.bkgrms.fits")["RMSDIFF"] > 0
