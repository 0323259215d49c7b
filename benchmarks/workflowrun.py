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


def run_workflow(workdir, *args, cores: int = 2) -> tuple[float, subprocess.CompletedProcess]:
    """Run snakemake in ``workdir`` with its ``config.yaml`` and ``args``.

    Returns the wall time (s) and the finished process, stdout and stderr merged into
    ``stdout``; the caller judges the exit status.
    """
    workdir = Path(workdir)
    command = [
        sys.executable, "-m", "snakemake",
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--cores", str(cores),
        *args,
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ
    )
    return time.perf_counter() - start, result
