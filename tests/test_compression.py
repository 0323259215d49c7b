"""Lossy float maps: every pixel within 0.1% of the lossless map, products smaller than frames."""

import numpy as np
import pytest
from astropy.io import fits

from skyrms import demo, fitsfiles, propagation, steps
from skyrms.fitsfiles import read_image
from skyrms.sources import MaskParams

FRAMES, MASTERS = demo.plan()
SETTINGS = {"gain": None, "read_noise": None, "combine": "mean", "dark_bias": "same",
            "default_ncombine": {"science": 1, "master": 7}}  # fmt: skip


def products(root, frame, outdir):
    """Run the chain on one demo frame; the paths of its three float maps."""
    path = str(root / frame.relpath)
    maps = {kind: str(outdir / f"{kind}.fits") for kind in ("bkg", "bkgrms", "proprms")}
    params = MaskParams(box_size=64)
    steps.mask_and_background(path, outdir / "mask.fits", maps["bkg"], maps["bkgrms"], params, [])
    choice = {m.imagetyp: {"path": str(root / m.relpath), "days": 0.0}
              for m in demo.frame_masters(frame)}  # fmt: skip
    propagation.propagated_rms(path, maps["bkg"], maps["bkgrms"], choice, maps["proprms"], SETTINGS)
    return maps


@pytest.mark.parametrize("frame", [FRAMES[0], FRAMES[-1]], ids=lambda f: f.relpath[-30:-5])
def test_lossy_maps_are_within_a_thousandth_of_the_lossless_ones(demo_run, tmp_path, frame):
    root = demo_run / "demo"
    lossy = products(root, frame, tmp_path / "lossy")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fitsfiles, "MAP_PRECISION", None)
        lossless = products(root, frame, tmp_path / "lossless")
    for kind in lossy:
        exact, rounded = read_image(lossless[kind])[0], read_image(lossy[kind])[0]
        relative = np.abs(rounded / exact - 1)
        assert relative.max() <= 1e-3, kind
        assert relative.max() > 0 and np.median(relative) < 1e-4, kind  # lossy, but barely
    written = sum((tmp_path / "lossy").joinpath(name).stat().st_size
                  for name in ("mask.fits", "bkg.fits", "bkgrms.fits", "proprms.fits"))  # fmt: skip
    pixels = read_image(root / frame.relpath)[0].size
    assert written < 4 * pixels / 2  # less than half the frame as float32 (survey frames)


@pytest.mark.parametrize("ny", [1, 63, 64, 300, 1000])
def test_sampled_rows_of_a_compressed_map_are_those_of_the_whole_map(tmp_path, ny):
    image = np.random.default_rng(ny).normal(50, 1, (ny, 40)).astype(np.float32)
    path = tmp_path / "map.fits"
    fitsfiles.write_float_map(path, image, fits.Header())
    whole, _ = read_image(path)
    rows = fitsfiles.sample_rows(ny, 4)
    sample = fitsfiles.read_rows(path, rows, image.shape)
    assert np.array_equal(sample, np.concatenate([whole[row] for row in rows]))
    assert len(sample) == sum(len(range(ny)[row]) for row in rows) >= min(ny, 16)
    message = f"map.fits: image is 40x{ny}, the frame is 41x{ny}"
    with pytest.raises(fitsfiles.InputError, match=message):
        fitsfiles.read_rows(path, rows, (ny, 41))
