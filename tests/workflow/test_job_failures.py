"""Every failure of a job lands in that job's log with its traceback (skyrms.job.run).

A tiny workflow in a temp folder runs the real snakemake: one job fails with a bad input
(InputError: its one-line message first, the traceback below it, in the log), one with
an unexpected exception (a bug: the error and its traceback, in the log and on stderr).
"""

import subprocess
import sys

import pytest

SNAKEFILE = """
rule all:
    input: expand("{kind}.done", kind=["bad_input", "bug"])

rule fail:
    output: "{kind}.done"
    log: "logs/{kind}.log"
    script: "fail.py"
"""

SCRIPT = """
from skyrms.io.fitsfiles import InputError
from skyrms.job import run


def step(kind, output):
    if kind == "bad_input":
        raise InputError("frame.fits: truncated (file ends in the header)")
    return {}["missing key of a buggy step"]


run(snakemake, step, kind=snakemake.wildcards.kind, output=snakemake.output[0])
"""


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("failing")
    (workdir / "Snakefile").write_text(SNAKEFILE)
    (workdir / "fail.py").write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", "--keep-going"],
        cwd=workdir, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    return workdir, result


def test_a_bad_input_logs_its_one_line_message_first_then_the_traceback(failed_run):
    workdir, result = failed_run
    log = (workdir / "logs" / "bad_input.log").read_text().splitlines()
    assert log[0].endswith("ERROR: frame.fits: truncated (file ends in the header)")
    assert "Traceback (most recent call last):" in log
    assert any('raise InputError("frame.fits: truncated' in line for line in log)
    assert "frame.fits: truncated" in result.stderr
    assert not (workdir / "bad_input.done").exists()


def test_a_bug_logs_its_error_and_traceback(failed_run):
    workdir, result = failed_run
    log = (workdir / "logs" / "bug.log").read_text()
    assert "ERROR: unexpected error, a bug in skyrms" in log
    assert "KeyError: 'missing key of a buggy step'" in log
    assert "Traceback (most recent call last):" in log
    assert 'return {}["missing key of a buggy step"]' in log
    assert "KeyError" in result.stderr  # also on the console
    assert not (workdir / "bug.done").exists()
