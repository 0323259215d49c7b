"""Compressed products (outputs.compress): every pixel within 0.1% of the plain map, the mask
exact, 8 times smaller; `skyrms plain` turns them back into plain images that SExtractor reads."""

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms import cli
from skyrms.config import settings_of
from skyrms.demo import survey
from skyrms.io.fitsfiles import read_image
from skyrms.io.headerindex import read_fields
from skyrms.io.keywords import EXTENSION_CARDS
from skyrms.science.background import BackgroundParams
from skyrms.science.source_mask import MaskParams
from skyrms.steps import mask_and_background, propagated_rms, weight
from tests.helpers import master_file

FRAMES, MASTERS = survey.plan()
CALIBRATION = settings_of({"calibration": {"default_ncombine": {"master": 7}}}).calibration
KINDS = ("mask", "bkg", "bkgrms", "proprms", "weight")


def products(run, frame, outdir, compress):
    """Run the chain on one demo frame of the demo ``run`` in one format; its products."""
    path = str(run / "demo" / frame.relpath)
    maps = {kind: str(outdir / f"frame.{kind}.fits") for kind in KINDS}
    mask_and_background.mask_and_background(
        path, maps["mask"], maps["bkg"], maps["bkgrms"], MaskParams(),
        BackgroundParams(box_size=64), [], compress=compress,
    )  # fmt: skip
    choice = {m.imagetyp: {"path": str(master_file(run, m)), "days": 0.0}
              for m in survey.frame_masters(frame)}  # fmt: skip
    propagated_rms.propagated_rms(
        path, maps["bkg"], maps["bkgrms"], choice, maps["proprms"], CALIBRATION, read_fields(path),
        compress=compress,
    )  # fmt: skip
    weight.weight_map(maps["proprms"], maps["mask"], maps["weight"], compress)
    return maps


def is_plain(path) -> bool:
    """Whether ``path`` holds its image in the primary HDU and nothing else."""
    with fits.open(path) as hdul:
        return len(hdul) == 1 and hdul[0].data is not None


@pytest.fixture(scope="module", params=[FRAMES[0], FRAMES[-1]], ids=lambda f: f.relpath[-30:-5])
def both_formats(demo_run, tmp_path_factory, request):
    """One demo frame's products written plain and compressed."""
    folder = tmp_path_factory.mktemp("formats")
    return tuple(
        products(demo_run, request.param, folder / name, compress)
        for name, compress in (("plain", False), ("compressed", True))
    )


TOLERANCE = {"bkg": 1.01e-4, "bkgrms": 1.01e-4, "proprms": 2e-4, "weight": 1e-3}
"""Largest error of a compressed map, x its median: half the rounding step (2e-4 of the median
of a sample of the map); the propagated RMS is also made from the rounded background, which
adds as much again at most, and the weight from the rounded propagated RMS, whose smallest
values have the largest weights (1/RMS^2 doubles the relative error)."""


def test_compressed_maps_are_within_a_ten_thousandth_of_their_median(both_formats):
    """Every pixel of a compressed map is within TOLERANCE of the plain one: within 0.1% for the
    background and RMS maps, whose pixels stay near their median; the weight map's zeros stay
    zeros. The mask is exact."""
    plain, compressed = both_formats
    for kind in KINDS:
        assert is_plain(plain[kind]) and not is_plain(compressed[kind]), kind
        exact, rounded = read_image(plain[kind])[0], read_image(compressed[kind])[0]
        if kind == "mask":
            assert np.array_equal(exact, rounded)
            continue
        error = np.abs(rounded.astype(np.float64) - exact)
        assert error.max() <= TOLERANCE[kind] * np.median(np.abs(exact)), kind
        assert error.max() > 0, kind  # lossy, but barely
        assert np.array_equal(rounded != 0, exact != 0), kind
        if kind != "weight":
            assert np.max(error / np.abs(exact)) <= 1e-3, kind


def test_compressed_products_are_a_fraction_of_the_plain_ones(both_formats):
    plain, compressed = both_formats
    size = {name: sum(Path(p).stat().st_size for k, p in paths.items() if k != "weight")
            for name, paths in (("plain", plain), ("compressed", compressed))}  # fmt: skip
    # Plain: 3 float maps and a byte a pixel (3.25 frames of float32). Compressed: the
    # propagated RMS, with the read noise and master errors of every pixel, takes about 38%
    # of a frame, the other maps about 13%.
    assert size["compressed"] < 0.2 * size["plain"]


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_plain_copies_of_compressed_products_hold_their_pixels_and_header(both_formats, tmp_path):
    _, compressed = both_formats
    originals = {kind: digest(path) for kind, path in compressed.items()}
    assert cli.main(["plain", *compressed.values(), "-o", str(tmp_path)]) == 0
    for kind, path in compressed.items():
        copy = tmp_path / Path(path).name
        assert is_plain(copy) and digest(path) == originals[kind]  # the original untouched
        source, source_header = read_image(path)
        pixels, header = read_image(copy)
        assert np.array_equal(pixels, source) and pixels.dtype == source.dtype
        assert fits.getdata(copy).dtype == (np.uint8 if kind == "mask" else np.dtype(">f4"))
        provenance = [k for k in source_header if k not in EXTENSION_CARDS]
        assert [(k, header[k]) for k in provenance] == [(k, source_header[k]) for k in provenance]
    assert cli.main(["plain", compressed["bkg"], "-o", str(Path(compressed["bkg"]).parent)]) == 1


@pytest.mark.skipif(shutil.which("source-extractor") is None, reason="no source-extractor")
def test_sextractor_refuses_compressed_maps_and_reads_their_plain_copies(both_formats, tmp_path):
    _, compressed = both_formats
    assert cli.main(["plain", compressed["bkgrms"], "-o", str(tmp_path)]) == 0
    copy = tmp_path / Path(compressed["bkgrms"]).name
    (tmp_path / "number.param").write_text("NUMBER\n")
    for rms, refused in ((compressed["bkgrms"], True), (copy, False)):
        done = subprocess.run(
            ["source-extractor", str(copy), "-CATALOG_TYPE", "NONE", "-FILTER", "N",
             "-PARAMETERS_NAME", "number.param",
             "-WEIGHT_TYPE", "MAP_RMS", "-WEIGHT_IMAGE", str(rms)],
            capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip
        assert (done.returncode != 0) == refused, done.stderr[-500:]
        assert ("Unknown TFORM" in done.stderr) == refused, done.stderr[-500:]
