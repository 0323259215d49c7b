"""A survey's own data as the README's recipe sets it up: its configuration file alone, in a
folder of its own (snakemake -s), with the schema's defaults; skyrms run agreeing with it; a
changed setting remaking the products from any folder; the library only read."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from skyrms import cli
from skyrms.demo import survey
from tests.helpers import REPO, planned_jobs

UNIT = "7DT02"
FRAMES = [f for f in survey.plan()[0] if f.unit == UNIT and f.exptime != survey.SHORT["exptime"]]
"""One unit's frames with a dark of their exposure time (the default dark_exptime: exact)."""
PATHS = {"/data/7DT/scidata": "scidata", "/data/7DT/calib": "calib",
         "/data/7DT/rawcalib": "rawcalib", "/data/7DT/skyrms": "products"}  # fmt: skip
"""The README recipe's paths, and where this test's archive has them."""


def recipe() -> str:
    """The configuration file of the README's "Your own data", as written there."""
    text = (REPO / "README.md").read_text()
    section = re.split(r"\n##+ ", text.split("\n## Your own data\n")[1])[0]
    (config,) = re.findall(r"```yaml\n(.*?)```", section, re.S)
    return config


def snakemake(folder, config, *args):
    """The real snakemake on this repository's workflow, started in ``folder`` (not the
    repository's) with ``--configfile config`` alone (none: without --configfile)."""
    given = ["--configfile", str(config)] if config else []
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
               *given, "--cores", "2", *args]  # fmt: skip
    return subprocess.run(command, cwd=folder, capture_output=True, text=True)


def digests(folder) -> dict:
    return {path: path.read_bytes() for path in sorted(Path(folder).rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def archive(demo_run, tmp_path_factory):
    """One unit's frames, the hand-made library and its raw calibration frames, in the
    survey's layout; the recipe's configuration pointing at them, in a folder of its own."""
    base = tmp_path_factory.mktemp("own_data")
    for frame in FRAMES:
        target = base / "scidata" / Path(frame.relpath).relative_to("scidata")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(demo_run / "demo" / frame.relpath, target)
    shutil.copytree(demo_run / "demo" / "calib", base / "calib")
    unit = Path("7DT", survey.TELKEY, UNIT)
    shutil.copytree(demo_run / "demo" / "raw" / unit, base / "rawcalib" / unit)
    text = recipe()
    for written, here in PATHS.items():
        text = text.replace(written, str(base / here))
    (base / "mine").mkdir()
    (base / "mine" / "survey.yaml").write_text(text)
    library = digests(base / "calib")
    run = snakemake(base / "mine", base / "mine" / "survey.yaml")
    return {"base": base, "run": run, "library": library}


def products(archive):
    return archive["base"] / "products"


def test_the_recipe_runs_alone_with_the_schemas_defaults(archive):
    run = archive["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"Configuration: {archive['base'] / 'mine' / 'survey.yaml'}\n" in run.stderr
    masks = sorted(products(archive).rglob("*.mask.fits"))
    assert len(masks) == len(FRAMES)
    for mask in masks:
        header = fits.getheader(mask)
        assert (header["BKGBOX"], header["NCIRCLES"]) == (256, 0)  # not the demo's 64 and galaxy
    assert (products(archive) / "summary.tsv").exists()
    built = sorted((products(archive) / "masters").rglob("*.fits"))
    assert built and all(fits.getheader(p)["PRODTYPE"].startswith("MASTER") for p in built)
    assert digests(archive["base"] / "calib") == archive["library"]  # only read


def test_skyrms_run_with_the_recipe_gives_the_workflows_products(archive, tmp_path):
    frame = next((products(archive).parent / "scidata").rglob("*T01462*m600_100.fits"))
    config = archive["base"] / "mine" / "survey.yaml"
    assert cli.main(["run", str(frame), "--configfile", str(config), "-o", str(tmp_path)]) == 0
    key = frame.relative_to(products(archive).parent / "scidata").as_posix()[:-5]
    for suffix in (".mask.fits", ".bkg.fits", ".bkgrms.fits", ".proprms.fits"):
        mine = fits.getdata(tmp_path / (frame.name[:-5] + suffix))
        assert np.array_equal(mine, fits.getdata(products(archive) / (key + suffix))), suffix


def test_a_changed_setting_remakes_the_products_from_any_folder(archive, tmp_path):
    config = tmp_path / "survey.yaml"
    config.write_text((archive["base"] / "mine" / "survey.yaml").read_text())
    assert "Nothing to be done" in snakemake(tmp_path, config, "--dry-run").stdout
    config.write_text(config.read_text() + "background:\n  box_size: 128\n")
    dry = snakemake(tmp_path, config, "--dry-run")
    jobs = planned_jobs(dry.stdout)
    remade = {key for rule, key in jobs if rule == "mask_and_background"}
    assert len(remade) == len(FRAMES), dry.stdout[-2000:]
    assert os.path.exists(products(archive) / ".skyrms" / "settings" / "mask_and_background.json")


def test_without_configfile_the_folders_config_yaml_else_the_demo(archive, tmp_path):
    (tmp_path / "config.yaml").write_text((archive["base"] / "mine" / "survey.yaml").read_text())
    own = snakemake(tmp_path, None, "--dry-run")
    said = own.stdout + own.stderr
    assert "Configuration: config.yaml\n" in said and "Nothing to be done" in said, said[-2000:]
    (tmp_path / "config.yaml").unlink()
    demo = snakemake(tmp_path, None, "--dry-run")
    said = demo.stdout + demo.stderr
    assert f"Configuration: {REPO / 'config.yaml'} (the embedded demo)" in said, said[-2000:]
