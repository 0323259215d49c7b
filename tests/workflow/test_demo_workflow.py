"""The whole chain on the embedded demo survey, checked against its truth tables."""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms import __version__
from skyrms.demo import survey
from skyrms.io.fitsfiles import read_image, read_mask
from skyrms.io.wcs import celestial_wcs
from skyrms.science import maskbits
from skyrms.science.background import estimate, unbiased_rms
from tests.helpers import REPO, snakemake

SHAPE = survey.DEFAULT_SHAPE
FRAMES, _ = survey.plan()


def products(workdir, frame):
    """(data, mask, background, rms) of one demo frame after the run."""
    key = os.path.join(workdir, "results", os.path.relpath(frame.relpath, "scidata"))[:-5]
    data, _ = read_image(os.path.join(workdir, "demo", frame.relpath))
    return (
        data,
        read_mask(key + ".mask.fits")[0],
        fits.getdata(key + ".bkg.fits"),
        fits.getdata(key + ".bkgrms.fits"),
    )


def true_noise(frame):
    """The typical (median) true noise of a pixel: what an image-based RMS, a clipped spread
    of the sky pixels, estimates. The camera's noisiest pixels make the rms of the per-pixel
    noise 1-8% higher."""
    return float(np.median(survey.true_sigma(frame, SHAPE)))


@pytest.mark.parametrize("frame", FRAMES, ids=lambda f: os.path.basename(f.relpath))
def test_products_recover_the_truth(demo_run, frame):
    data, mask, background, rms = products(demo_run, frame)
    sigma = survey.true_sigma(frame, SHAPE)
    # Masked background RMS: between the median (less 3%) and the rms (plus 3%) of the true
    # per-pixel noise.
    assert np.median(rms) / true_noise(frame) > 0.97
    assert np.median(rms) / np.sqrt(np.mean(sigma**2)) < 1.03
    # Background: within 0.5 sigma of the true sky at every unmasked pixel.
    deviation = np.abs(background - survey.true_sky(frame, SHAPE)) / sigma
    assert deviation[mask == 0].max() < 0.5
    # Every star brighter than 5 sigma (peak) that falls on the frame is masked.
    stars = survey.stars(frame, SHAPE)
    i, j = np.rint(stars["x"]).astype(int), np.rint(stars["y"]).astype(int)
    on_frame = (i >= 0) & (i < SHAPE[1]) & (j >= 0) & (j < SHAPE[0])
    bright = on_frame & (stars["peak"] > 5 * true_noise(frame))
    assert bright.sum() > 20
    assert np.all(mask[j[bright], i[bright]] != 0)
    # Saturated pixels carry the saturated bit.
    assert np.all(mask[data >= survey.SATURATE] & maskbits.SATURATED)


def test_masked_rms_beats_unmasked_on_the_crowded_field(demo_run):
    crowded = [f for f in FRAMES if f.crowded]
    assert crowded
    for frame in crowded:
        data, mask, _, rms = products(demo_run, frame)
        unmasked = np.median(unbiased_rms(estimate(data, box_size=64), 64))
        truth = true_noise(frame)
        assert abs(np.median(rms) / truth - 1) < abs(unmasked / truth - 1)


def test_circular_mask_covers_the_galaxy_and_nothing_elsewhere(demo_run):
    for frame in FRAMES:
        _, mask, _, _ = products(demo_run, frame)
        manual = (mask & maskbits.MANUAL) != 0
        if frame.object != survey.GALAXY["object"]:
            assert not manual.any()
            continue
        galaxy = survey.true_galaxy(frame, SHAPE) > 0.5 * survey.true_sigma(frame, SHAPE)
        assert galaxy.sum() > 100
        assert np.all(manual[galaxy])
        expected = np.pi * (survey.GALAXY["radius_arcsec"] / survey.PIXEL_SCALE) ** 2
        assert manual.sum() == pytest.approx(expected, rel=0.02)


def test_products_carry_provenance(demo_run):
    frame = FRAMES[0]
    key = os.path.join(demo_run, "results", os.path.relpath(frame.relpath, "scidata"))[:-5]
    source = fits.getheader(os.path.join(demo_run, "demo", frame.relpath))
    content = hashlib.sha256(Path(demo_run, "demo", frame.relpath).read_bytes()).hexdigest()
    for suffix, product, bunit in [
        (".bkg.fits", "BACKGROUND", "adu"),
        (".bkgrms.fits", "BKGRMS", "adu"),
        (".mask.fits", "MASK", None),
    ]:
        with fits.open(key + suffix) as hdul:
            header = hdul[-1].header
            assert header["PRODTYPE"] == product
            assert header.get("BUNIT") == bunit
            assert header["SKYRMSV"] == __version__
            assert header["FRAMESHA"] == content
            assert header["IN_FRAME"] == os.path.abspath(
                os.path.join(demo_run, "demo", frame.relpath)
            )
            assert header["BKGBOX"] == 64 and header["BKGFILT"] == 3
            for keyword in ("OBJECT", "FILTER", "DATE-OBS", "EXPTIME", "TELESCOP"):
                assert header[keyword] == source[keyword]
            assert celestial_wcs(header) is not None
    assert fits.getheader(key + ".proprms.fits")["FRAMESHA"] == content
    mask_header = fits.getheader(key + ".mask.fits")
    assert plain_image(key + ".mask.fits", np.uint8)
    assert all(plain_image(key + s, np.dtype(">f4")) for s in (".bkg.fits", ".proprms.fits"))
    assert "galaxy" in mask_header.get("CIRCLE1", "") or frame.object != survey.GALAXY["object"]


def plain_image(path, dtype) -> bool:
    """Whether ``path`` holds one image of ``dtype`` in its primary HDU, and nothing else."""
    with fits.open(path) as hdul:
        return len(hdul) == 1 and hdul[0].data.dtype == dtype


def test_source_mask_log_reports_each_pass_and_convergence(demo_run):
    frame = FRAMES[0]
    key = os.path.relpath(frame.relpath, "scidata")[:-5]
    log = (demo_run / "results" / "logs" / "mask_and_background" / f"{key}.log").read_text()
    assert "pass 1: " in log and "new sources and" in log and "saturated" in log
    assert "growth stopped at noise" in log and "largest radius" in log
    assert "converged after" in log
    with fits.open(demo_run / "results" / f"{key}.mask.fits") as hdul:
        header = hdul[0].header
        assert header["MSKCONV"] is True and header["MSKSTOP"] == "converged"
        assert header["MSKSRC1"] > 0
        assert header["MSKGNOIS"] > 0 and header["MSKRMAX"] > 1


def test_second_run_has_nothing_to_do(demo_run):
    result = snakemake(demo_run, "--dry-run")
    assert "Nothing to be done" in result.stdout


def test_workflow_is_lint_and_format_clean(demo_run):
    lint = snakemake(demo_run, "--lint", check=False)
    assert lint.returncode == 0, lint.stdout
    import subprocess
    import sys

    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    fmt = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", *map(str, files)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert fmt.returncode == 0, fmt.stderr + fmt.stdout


def test_frame_table_lists_the_selection(demo_run):
    lines = (demo_run / "results" / "frames.tsv").read_text().splitlines()
    assert lines[0].split("\t") == [
        "key",
        "path",
        "observatory",
        "telkey",
        "object",
        "unit",
        "filter",
    ]
    rows = [line.split("\t") for line in lines[1:]]
    assert sorted(row[1] for row in rows) == sorted(f"demo/{f.relpath}" for f in FRAMES)
    for row, frame in zip(
        sorted(rows, key=lambda r: r[1]), sorted(FRAMES, key=lambda f: f.relpath), strict=True
    ):
        assert row[2:] == [frame.observatory, frame.telkey, frame.object, frame.unit, frame.filter]
