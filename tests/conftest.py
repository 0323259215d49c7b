"""Shared fixtures: the real `snakemake` run on the embedded demo in a temp folder."""

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from skyrms.discovery import PRODUCT_SUFFIXES

REPO = Path(__file__).parents[1]


def input_digests(workdir, settings):
    """SHA-256 of every file under the configuration's frame, master and demo folders.

    Products written beside the frames (``outputs.beside_inputs``) and hidden
    temporary files are not inputs.
    """
    folders = {settings["inputs"]["root"], settings["calibration"]["root"]}
    if settings["demo"]["enabled"]:
        folders.add(settings["demo"]["root"])
    files = (
        path
        for folder in folders
        for path in sorted(Path(workdir, folder).rglob("*"))
        if path.is_file()
        and not path.name.startswith(".")
        and not path.name.endswith(PRODUCT_SUFFIXES)
    )
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}


def snakemake(workdir, *args, config=None, check=True):
    """Run the real snakemake on this repository's workflow in ``workdir``.

    ``config`` (a dict) is written to ``workdir/config.yaml`` first, on top of the
    shipped config.yaml. Returns the CompletedProcess (stdout and stderr merged).
    Every input file that existed before the run must be unchanged after it.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    settings = yaml.safe_load((REPO / "config.yaml").read_text())
    for section, values in (config or {}).items():
        if isinstance(values, dict):
            settings.setdefault(section, {}).update(values)
        else:
            settings[section] = values
    (workdir / "config.yaml").write_text(yaml.safe_dump(settings))
    before = input_digests(workdir, settings)
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--cores", "2",
        *args,
    ]  # fmt: skip
    result = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ
    )
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-6000:]}")
    after = input_digests(workdir, settings)
    changed = [str(path) for path, digest in before.items() if after.get(path) != digest]
    assert not changed, f"the run changed its inputs: {changed}"
    return result


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The shipped configuration (the demo survey) run end to end once."""
    workdir = tmp_path_factory.mktemp("demo_run")
    snakemake(workdir)
    return workdir


def planned_jobs(dry_run_output):
    """(rule, key) of every job a dry run lists; key is None for rules without wildcards."""
    found, rule = set(), None
    for line in dry_run_output.splitlines():
        if match := re.match(r"^(?:local)?rule (\w+):", line):
            if rule is not None:
                found.add((rule, None))
            rule = match.group(1)
        elif rule and (match := re.match(r"^\s+wildcards: key=(\S+)", line)):
            found.add((rule, match.group(1)))
            rule = None
        elif rule and not line.strip():
            found.add((rule, None))
            rule = None
    if rule is not None:
        found.add((rule, None))
    return found


@pytest.fixture
def synced(demo_run, tmp_path):
    """A copy of the finished demo run (times kept), to change as a data sync would."""
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy, symlinks=True)
    return copy
