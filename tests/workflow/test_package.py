"""The package installs like one: its wheel, in a fresh environment, runs on a real frame.

The wheel is built from a copy of the repository (so no ``build/`` is left in it) and
installed with its dependencies into a new virtual environment outside the checkout; its
commands then run in a folder outside the checkout, without PYTHONPATH, so only what the
wheel holds is there to import. Slow (about 30 s, most of it installing the dependencies),
but only this test finds a file the package needs that the wheel lacks.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from astropy.io import fits

from benchmarks.workflowrun import REPO
from skyrms import __version__

FRAME = REPO / "tests" / "data" / "real" / "spitzer_example_image.fits"
KEY = "SPITZER/IRAC/GLM/ch2/I2/spitzer_example_image"
"""The frame's key in the survey layout {observatory}/{telkey}/{object}/{unit}/{filter}/."""

NOT_PACKAGED = (".git", ".venv", "tests", "results", "demo", ".snakemake", "*.egg-info", "build")


def built_wheel(folder: Path) -> Path:
    """The wheel of a copy of this repository, built into ``folder``."""
    source = folder / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_PACKAGED))
    pip = [sys.executable, "-m", "pip", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", folder / "dist", source], check=True)
    return next((folder / "dist").glob("skyrms-*.whl"))


def install(wheel: Path, venv: Path) -> None:
    """Create the virtual environment ``venv`` and install ``wheel`` with its dependencies."""
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [venv / "bin" / "python", "-m", "pip", "--quiet", "install", "--prefer-binary"]
    subprocess.run([*pip, "--no-compile", wheel], check=True)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A fresh environment holding the wheel; commands in it run by :func:`run_in`."""
    folder = tmp_path_factory.mktemp("package")
    install(built_wheel(folder), folder / "venv")
    return folder / "venv"


def run_in(venv: Path, cwd: Path, program: str, *args) -> str:
    """Run ``venv``'s ``program`` in ``cwd`` without PYTHONPATH; its stdout (it must succeed)."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    result = subprocess.run(
        [venv / "bin" / program, *args], cwd=cwd, env=environment, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_the_installed_package_is_the_wheels_with_its_schema(venv, tmp_path):
    code = "import skyrms, skyrms.config; print(skyrms.__file__); print(skyrms.config.SCHEMA)"
    package, schema = map(Path, run_in(venv, tmp_path, "python", "-c", code).split())
    assert package.is_relative_to(venv) and schema.is_relative_to(package.parent)
    assert schema.is_file()
    assert "usage: skyrms" in run_in(venv, tmp_path, "python", "-m", "skyrms", "--help")
    assert run_in(venv, tmp_path, "skyrms", "--version").strip() == f"skyrms {__version__}"


def test_the_installed_commands_run_on_a_real_frame(venv, tmp_path):
    frame = tmp_path / "scidata" / f"{KEY}.fits"
    frame.parent.mkdir(parents=True)
    shutil.copy(FRAME, frame)
    config = {"inputs": {"root": "scidata"}, "background": {"box_size": 64}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    outdir = (tmp_path / "results" / KEY).parent
    made = run_in(
        venv, tmp_path, "skyrms", "run", frame, "--configfile", "config.yaml", "-o", outdir
    )
    assert made.split() == [
        str(outdir / f"{frame.stem}.{kind}.fits") for kind in ("mask", "bkg", "bkgrms")
    ]
    table = run_in(venv, tmp_path, "skyrms", "products", "--configfile", "config.yaml")
    header, row = (line.split() for line in table.splitlines())
    status = dict(zip(header, row, strict=True))
    assert status["frame"] == KEY and status["proprms"] == "missing"
    assert status["mask"] == status["bkg"] == status["bkgrms"] == "ok"
    copies = run_in(venv, tmp_path, "skyrms", "plain", "--configfile", "config.yaml", "-o", "plain")
    assert copies.split() == [f"plain/{KEY}.{kind}.fits" for kind in ("mask", "bkg", "bkgrms")]
    for product in [*made.split(), *(tmp_path / path for path in copies.split())]:
        assert fits.getdata(product, ext=0).shape == (513, 1025)  # plain: the primary HDU


def test_the_installed_api_makes_the_commands_maps(venv, tmp_path):
    frame = tmp_path / "frame.fits"
    shutil.copy(FRAME, frame)
    run_in(venv, tmp_path, "skyrms", "run", frame, "--box-size", "64", "-o", "run")
    code = (
        "import skyrms\n"
        "mask = skyrms.source_mask('frame.fits', box_size=64)\n"
        "maps = skyrms.background('frame.fits', mask, box_size=64)\n"
        "maps.write('bkg.fits', 'bkgrms.fits')\n"
        "maps.plot().savefig('maps.png')\n"
    )
    run_in(venv, tmp_path, "python", "-c", code)
    written = fits.getdata(tmp_path / "bkgrms.fits")
    assert (written == fits.getdata(tmp_path / "run" / "frame.bkgrms.fits")).all()
    assert (tmp_path / "maps.png").stat().st_size > 10_000
