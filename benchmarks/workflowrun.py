"""The real ``snakemake`` on this repository's workflow: the one runner of benchmarks and tests.

from benchmarks.workflowrun import run_workflow
elapsed, result = run_workflow(workdir, "--dry-run")
"""

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_workflow(
    workdir, *args, cores: int = 2, repo: Path = REPO, prefix: tuple[str, ...] = ()
) -> tuple[float, subprocess.CompletedProcess]:
    """Run snakemake in ``workdir`` with its ``config.yaml`` and ``args``.

    ``repo`` holds the workflow (its Snakefile, and the ``skyrms`` package it imports:
    snakemake starts in ``workdir`` with ``repo`` first on PYTHONPATH); by default this
    repository, or a copy of an earlier version of it. ``prefix`` is a command that runs
    snakemake's, the command following it as arguments (e.g. in a mount namespace).
    Returns the wall time (s) and the finished process, stdout and stderr merged into
    ``stdout``; the caller judges the exit status.
    """
    workdir = Path(workdir).resolve()
    path = os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))
    command = [
        *prefix, sys.executable, "-m", "snakemake",
        "--snakefile", str(Path(repo) / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--cores", str(cores),
        *args,
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=workdir,
        env=os.environ | {"PYTHONPATH": path},
    )
    return time.perf_counter() - start, result
