"""Masters built by the workflow from raw frames, chosen like any master, rebuilt incrementally.

The demo survey with raw frames of unit 7DT02 taken after the night of 2025-11-22:
5 biases and 5 darks of 100 s. Their masters (bias, then the dark corrected with it)
are nearer to that night's frames than the demo's own masters, so those frames use
them. One more raw bias then reruns exactly the two masters built on it and the
frames whose propagated RMS depends on them.
"""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms.demo import survey
from tests.helpers import planned_jobs, snakemake

UNIT_DIR = Path("raw/7DT") / survey.TELKEY / "7DT02"
BIAS = f"7DT/{survey.TELKEY}/7DT02/BIAS/bias_7DT02_2025-11-21"
DARK = f"7DT/{survey.TELKEY}/7DT02/DARK/dark_7DT02_2025-11-21_100s"
CONFIG = {
    "inputs": {"unit": "7DT02"},
    "outputs": {"quicklook": False},
    "masters": {"enabled": True, "raw_root": "raw", "method": "median"},
}
READ_NOISE = 6.0  # e-


def write_raw(workdir, imagetyp, n, minute, rng, **cards):
    """One raw frame of the demo's shape: bias level and read noise (ADU)."""
    shape = (683, 1024)  # the demo frames' (config.yaml demo.shape)
    data = 300 + rng.normal(0, READ_NOISE / survey.DETECTOR.egain, shape)
    header = fits.Header([("IMAGETYP", imagetyp), ("DATE-OBS", f"2025-11-22T05:{minute:02d}:00"),
                          ("EGAIN", survey.DETECTOR.egain), ("TELESCOP", "7DT02")])  # fmt: skip
    header.update(cards)
    path = workdir / UNIT_DIR / imagetyp / f"{imagetyp.lower()}_{n}.fits"
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.writeto(path, data.astype(np.float32), header)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("masters")
    rng = np.random.default_rng(11)
    for n in range(5):
        write_raw(workdir, "BIAS", n, n, rng)
        write_raw(workdir, "DARK", n, 20 + n, rng, EXPTIME=100.0)
    run = snakemake(workdir, config=CONFIG)
    return workdir, run


def choices(workdir):
    """Per frame file name: the masters it was calibrated with."""
    return {
        path.name.removesuffix(".masters.json"): json.loads(path.read_text())
        for path in (workdir / "results").rglob("*.masters.json")
    }


def test_masters_are_built_into_the_library_with_their_error_maps(built):
    workdir, _ = built
    calib = workdir / "demo" / "calib"
    with fits.open(calib / f"{BIAS}.fits") as hdul:
        assert hdul[0].header["NCOMBINE"] == 5 and hdul[0].header["COMBMETH"] == "median"
        rms = np.sqrt(np.mean(hdul["RDNOISE"].data ** 2))
        assert abs(rms / READ_NOISE - 1) < 0.02
        assert len(hdul["INPUTS"].data) == 5
    with fits.open(calib / f"{DARK}.fits") as hdul:
        assert hdul[0].header["IN_BIAS"] == str(calib / f"{BIAS}.fits")
        assert abs(np.median(hdul[0].data)) < 1.0  # bias subtracted: no dark current to speak of
        assert "ERR" in hdul


def test_the_nights_frames_use_the_built_masters_and_the_others_do_not(built):
    workdir, _ = built
    for name, choice in choices(workdir).items():
        night = "_20251122_" in name
        assert choice["BIAS"]["path"].endswith(f"{BIAS}.fits") == night, name
        hundred = name.endswith("_100")
        assert choice["DARK"]["path"].endswith(f"{DARK}.fits") == (night and hundred), name


def test_the_propagated_rms_uses_the_read_noise_map(built):
    workdir, _ = built
    for path in (workdir / "results").rglob("*_20251122_*.proprms.fits"):
        header = fits.getheader(path, ext=-1)
        assert header["RDNOISE"] == "map" and header["BIASERR"] is True, path


def test_one_more_raw_bias_reruns_its_masters_and_exactly_their_frames(built, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(built[0], workdir, symlinks=True)
    write_raw(workdir, "BIAS", 5, 5, np.random.default_rng(12))
    dry = snakemake(workdir, "--dry-run", config=CONFIG)
    jobs = planned_jobs(dry.stdout)
    users = {name for name, choice in choices(workdir).items()
             if choice["BIAS"]["path"].endswith(f"{BIAS}.fits")}  # fmt: skip
    rerun = {Path(key).name for rule, key in jobs if rule == "propagated_rms"}
    assert users and rerun == users
    masters = set(re.findall(r"wildcards: master=(\S+)", dry.stdout))
    assert masters == {BIAS, DARK}  # the bias, and the dark corrected with it
    assert {rule for rule, _ in jobs} == {"master", "propagated_rms", "summary", "all"}
