"""Workflow tests: the real `snakemake` on the embedded demo, SLURM, benchmarks, full frames.

Every test in this folder gets the ``workflow`` marker, so ``pytest -m "not workflow"``
runs only the fast unit tests of tests/unit.
"""

import shutil
from pathlib import Path

import pytest

from tests.helpers import snakemake

HERE = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.workflow)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The shipped configuration (the demo survey) run end to end once."""
    workdir = tmp_path_factory.mktemp("demo_run")
    snakemake(workdir)
    return workdir


@pytest.fixture
def synced(demo_run, tmp_path):
    """A copy of the finished demo run (times kept), to change as a data sync would."""
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy, symlinks=True)
    return copy
