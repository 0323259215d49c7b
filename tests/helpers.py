"""Shared helpers (not fixtures): the real `snakemake` runner and what tests read from its runs.

Imported as ``from tests.helpers import ...`` (pyproject puts the repository on the path).
The fixtures built on them are in tests/workflow/conftest.py.
"""

import hashlib
import re
import shutil
from pathlib import Path

import yaml

from benchmarks.workflowrun import REPO, run_workflow
from skyrms.io.discovery import PRODUCT_SUFFIXES


def input_digests(workdir, settings):
    """SHA-256 of every file under the configuration's frame, master and demo folders.

    Products written beside the frames (``outputs.beside_inputs``) and hidden temporary
    files are not inputs; the masters the workflow builds go into a folder of their own.
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


def master_file(workdir, master) -> Path:
    """Where a demo master is after a run in ``workdir``: one built from raw frames in the
    built masters' folder (results/masters), a hand-made one in the library (demo/calib)."""
    if master.raws:
        return Path(workdir, "results", "masters", Path(master.relpath).relative_to("calib"))
    return Path(workdir, "demo", master.relpath)


def library_copy(workdir, target) -> Path:
    """A master library at ``target`` holding every master of a demo run in ``workdir``:
    the hand-made ones and those it built."""
    shutil.copytree(Path(workdir, "demo", "calib"), target)
    shutil.copytree(Path(workdir, "results", "masters"), target, dirs_exist_ok=True)
    return Path(target)


def snakemake(workdir, *args, config=None, check=True, prefix=()):
    """Run the real snakemake on this repository's workflow in ``workdir``.

    ``config`` (a dict) is written to ``workdir/config.yaml`` first, on top of the
    shipped config.yaml; ``prefix`` is a command that runs snakemake's (see
    :func:`benchmarks.workflowrun.run_workflow`). Returns the CompletedProcess (stdout
    and stderr merged). Every input file that existed before the run must be unchanged
    after it.
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
    _, result = run_workflow(workdir, *args, prefix=prefix)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-6000:]}")
    after = input_digests(workdir, settings)
    changed = [str(path) for path, digest in before.items() if after.get(path) != digest]
    assert not changed, f"the run changed its inputs: {changed}"
    return result


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
