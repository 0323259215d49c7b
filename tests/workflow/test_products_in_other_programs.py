"""The products in the programs they are made for: SExtractor, SWarp, photutils and SEP.

The commands of docs/products.md's "Using the products" run as they are written in a finished
demo run;
then SExtractor and SWarp run again to show that each map was really used. The programs are
Debian's (`.ci/run` installs them); without them these tests skip.
"""

import re
import shutil
import subprocess

import numpy as np
import pytest
from astropy.io import fits

from skyrms.science import maskbits
from tests.helpers import REPO

SEXTRACTOR, SWARP = shutil.which("source-extractor"), shutil.which("SWarp")
needs_sextractor = pytest.mark.skipif(SEXTRACTOR is None, reason="no source-extractor")
needs_swarp = pytest.mark.skipif(SWARP is None, reason="no SWarp (Debian package swarp)")

STEM = "results/7DT/7DT_C361K_HIGH_1x1/T00528/7DT02/m600/calib_7DT02_T00528_{}_m600_100"
NIGHTS = ("20251120_023108", "20251122_020239")
"""The README's two frames of one tile, unit and filter (its $frame and $other)."""
FRAME = STEM.format(NIGHTS[0]).replace("results/", "demo/scidata/") + ".fits"

COLUMNS = ("NUMBER", "X_IMAGE", "Y_IMAGE", "FLUX_AUTO", "FLUXERR_AUTO")
"""SExtractor's catalogue columns in these tests; with a flag image IMAFLAGS_ISO too."""


def readme_blocks(language: str) -> list[str]:
    """The ``language`` code blocks of docs/products.md's section "Using the products"."""
    text = (REPO / "docs" / "products.md").read_text()
    section = text.split("\n## Using the products\n")[1].split("\n## ")[0]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)


@pytest.fixture
def folder(demo_run, tmp_path):
    """A folder that holds the finished demo run's ``demo`` and ``results`` (links, read
    only), as the README's commands expect; what they write lands here."""
    for name in ("demo", "results"):
        (tmp_path / name).symlink_to(demo_run / name)
    return tmp_path


def run(command: list, folder) -> None:
    """Run a program in ``folder``; fail with its output unless it succeeds."""
    done = subprocess.run(
        [str(part) for part in command], cwd=folder, capture_output=True, text=True
    )
    assert done.returncode == 0 and "*Error*" not in done.stderr, done.stderr[-2000:]


@needs_sextractor
@needs_swarp
def test_the_readmes_commands_run_as_written(folder, monkeypatch):
    shell, sextractor, swarp, plain = readme_blocks("bash")
    script = "\n".join([shell, sextractor, swarp])
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=folder,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and "*Error*" not in done.stderr, done.stderr[-2000:]
    catalogue = np.loadtxt(folder / "frame.cat", ndmin=2)
    assert len(catalogue) > 100 and np.all(catalogue[:, 4] > 0)  # FLUXERR_AUTO
    assert np.any(catalogue[:, -1].astype(int) & maskbits.CLIPPED)  # flagged from the mask
    assert fits.getdata(folder / "coadd.weight.fits").max() > 0
    namespace = {}
    (python,) = readme_blocks("python")
    monkeypatch.chdir(folder)  # the recipe's paths are the demo run's
    exec(compile(python, "docs/products.md", "exec"), namespace)
    assert len(namespace["table"]) == len(namespace["objects"]) > 100
    assert np.all(namespace["flux_error"] > 0)
    ratio = namespace["table"]["aperture_sum_err"] / namespace["flux_error"]  # two samplings
    assert np.median(ratio) == pytest.approx(1, abs=0.01)
    assert "skyrms plain" in plain and "--kind" in plain  # run in test_plain_copies


@pytest.fixture(scope="module")
def sextractor_setup(tmp_path_factory):
    """SExtractor's default configuration (written by itself) and the catalogue columns."""
    folder = tmp_path_factory.mktemp("sextractor")
    (folder / "default.sex").write_text(
        subprocess.run([SEXTRACTOR, "-dd"], capture_output=True, text=True, check=True).stdout
    )
    (folder / "plain.param").write_text("\n".join(COLUMNS) + "\n")
    (folder / "flags.param").write_text("\n".join([*COLUMNS, "IMAFLAGS_ISO"]) + "\n")
    return folder


def catalogue(setup, folder, *options) -> np.ndarray:
    """SExtractor's catalogue of the README's frame with these options (COLUMNS, and the
    flags with a -FLAG_IMAGE)."""
    output = folder / "run.cat"
    columns = setup / ("flags.param" if "-FLAG_IMAGE" in options else "plain.param")
    run([SEXTRACTOR, FRAME, "-c", setup / "default.sex", "-PARAMETERS_NAME", columns,
         "-FILTER", "N", "-CATALOG_NAME", output, *options], folder)  # fmt: skip
    return np.loadtxt(output, ndmin=2)


def astropy_copy(path, folder):
    """The pixels of a product written by astropy alone as a plain image, without its header."""
    copy = folder / f"bare-{path.split('/')[-1]}"
    fits.PrimaryHDU(fits.getdata(folder / path)).writeto(copy)
    return copy


@needs_sextractor
@pytest.mark.parametrize("kind", ["bkgrms", "proprms"])
def test_sextractor_uses_the_rms_map(folder, sextractor_setup, kind):
    product = STEM.format(NIGHTS[0]) + f".{kind}.fits"
    weighted = catalogue(sextractor_setup, folder, "-WEIGHT_TYPE", "MAP_RMS",
                         "-WEIGHT_IMAGE", product)  # fmt: skip
    same = catalogue(sextractor_setup, folder, "-WEIGHT_TYPE", "MAP_RMS",
                     "-WEIGHT_IMAGE", astropy_copy(product, folder))  # fmt: skip
    unweighted = catalogue(sextractor_setup, folder)
    assert np.array_equal(weighted, same)
    assert len(weighted) > 100
    errors = {len(unweighted): unweighted[:, 4]}
    assert len(weighted) not in errors or not np.allclose(weighted[:, 4], errors[len(weighted)])


@needs_sextractor
def test_sextractor_takes_the_mask_as_flags(folder, sextractor_setup):
    product = STEM.format(NIGHTS[0]) + ".mask.fits"
    flagged = catalogue(sextractor_setup, folder, "-FLAG_IMAGE", product)
    same = catalogue(sextractor_setup, folder, "-FLAG_IMAGE", astropy_copy(product, folder))
    assert np.array_equal(flagged, same)
    flags = flagged[:, -1].astype(int)
    assert np.count_nonzero(flags & maskbits.SOURCE) > 0.5 * len(flags)  # masked sources
    assert np.count_nonzero(flags & maskbits.CLIPPED) > 0  # the saturated stars
    assert not np.any(flags & ~maskbits.ALL)


@needs_swarp
def test_swarp_coadds_with_the_weights_into_their_sum(folder):
    frames = [STEM.format(night).replace("results/", "demo/scidata/") + ".fits" for night in NIGHTS]
    weights = [STEM.format(night) + ".weight.fits" for night in NIGHTS]
    (folder / "default.swarp").write_text(
        subprocess.run([SWARP, "-dd"], capture_output=True, text=True, check=True).stdout
    )
    common = [SWARP, *frames, "-c", "default.swarp", "-COMBINE_TYPE", "WEIGHTED",
              "-RESAMPLE_DIR", ".", "-DELETE_TMPFILES", "N", "-NTHREADS", "1", "-WRITE_XML", "N",
              "-WEIGHTOUT_NAME", "coadd.weight.fits"]  # fmt: skip
    weighted = [*common, "-WEIGHT_TYPE", "MAP_WEIGHT", "-WEIGHT_IMAGE", ",".join(weights),
                "-RESCALE_WEIGHTS", "N"]  # fmt: skip
    run([*weighted, "-RESAMPLING_TYPE", "NEAREST"], folder)  # the maps' scale, kept
    for frame, mine in zip(frames, weights, strict=True):
        ours, theirs = fits.getdata(folder / mine), resampled(folder, frame)
        assert np.median(theirs[theirs > 0]) == pytest.approx(np.median(ours[ours > 0]), 1e-3)
    run([*common, "-WEIGHT_TYPE", "NONE"], folder)
    unweighted = np.array(fits.getdata(folder / "coadd.weight.fits"))  # before it is rewritten
    run(weighted, folder)  # as the README does (Lanczos resampling)
    coadd = fits.getdata(folder / "coadd.weight.fits")
    first, second = (placed(folder, frame, coadd.shape) for frame in frames)
    both = (first > 0) & (second > 0)
    assert np.count_nonzero(both) > 0.8 * both.size
    assert np.allclose(coadd[both], first[both] + second[both], rtol=1e-5)
    assert not np.allclose(unweighted[both], coadd[both], rtol=0.5)  # 1 per frame instead


def resampled(folder, frame) -> np.ndarray:
    """The weight map of ``frame`` that SWarp resampled (kept with -DELETE_TMPFILES N)."""
    return fits.getdata(folder / (frame.split("/")[-1][:-5] + ".resamp.weight.fits"))


def placed(folder, frame, shape) -> np.ndarray:
    """:func:`resampled` placed on the coadd's grid (its COMIN1/2 say where)."""
    header = fits.getheader(folder / (frame.split("/")[-1][:-5] + ".resamp.weight.fits"))
    data = resampled(folder, frame)
    x, y = header["COMIN1"] - 1, header["COMIN2"] - 1
    full = np.zeros(shape, np.float32)
    full[y : y + data.shape[0], x : x + data.shape[1]] = data
    return full


def test_weight_is_the_inverse_variance_of_the_propagated_rms(demo_run):
    stem = demo_run / STEM.format(NIGHTS[0])
    weight = fits.getdata(f"{stem}.weight.fits")
    rms = fits.getdata(f"{stem}.proprms.fits").astype(np.float64)
    bits = fits.getdata(f"{stem}.mask.fits")
    unmeasured = (bits & (maskbits.INVALID | maskbits.CLIPPED)) != 0
    assert np.all(weight[unmeasured] == 0) and np.count_nonzero(unmeasured) > 0
    assert np.allclose(weight[~unmeasured], 1 / rms[~unmeasured] ** 2, rtol=1e-6)
    halo = (bits & maskbits.SATURATED != 0) & ~unmeasured  # a saturated star's measured light
    assert np.count_nonzero(halo) > 0 and np.all(weight[halo] > 0)
    header = fits.getheader(f"{stem}.weight.fits")
    assert header["PRODTYPE"] == "WEIGHT" and header["WGTFROM"] == "PROPRMS"
    assert header["IN_NOISE"] == f"{stem}.proprms.fits"
    assert header["WGTZERO"] == pytest.approx(np.mean(unmeasured), abs=1e-6)
    assert header["FRAMESHA"] == fits.getheader(f"{stem}.proprms.fits")["FRAMESHA"]
