"""Lossy float maps: every pixel within 0.1% of the lossless map, products smaller than frames."""

import numpy as np
import pytest

from skyrms.demo import survey
from skyrms.io import fitsfiles
from skyrms.io.fitsfiles import read_image
from skyrms.io.headerindex import read_fields
from skyrms.science.background import BackgroundParams
from skyrms.science.source_mask import MaskParams
from skyrms.steps import mask_and_background, propagated_rms

FRAMES, MASTERS = survey.plan()
SETTINGS = {"gain": None, "read_noise": None, "combine": "mean", "dark_bias": "same",
            "default_ncombine": {"science": 1, "master": 7}}  # fmt: skip


def products(root, frame, outdir):
    """Run the chain on one demo frame; the paths of its three float maps."""
    path = str(root / frame.relpath)
    maps = {kind: str(outdir / f"{kind}.fits") for kind in ("bkg", "bkgrms", "proprms")}
    mask_and_background.mask_and_background(
        path, outdir / "mask.fits", maps["bkg"], maps["bkgrms"], MaskParams(),
        BackgroundParams(box_size=64), [],
    )  # fmt: skip
    choice = {m.imagetyp: {"path": str(root / m.relpath), "days": 0.0}
              for m in survey.frame_masters(frame)}  # fmt: skip
    propagated_rms.propagated_rms(
        path, maps["bkg"], maps["bkgrms"], choice, maps["proprms"], SETTINGS, read_fields(path)
    )
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
    # Less than 60% of the frame as float32 (survey frames): the propagated RMS, with the read
    # noise and master errors of every pixel, takes about 38%, the other maps about 13%.
    assert written < 0.6 * 4 * pixels
