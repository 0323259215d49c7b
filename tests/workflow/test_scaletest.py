"""The scale test's floors: Snakemake alone on workflows of trivial jobs and of our jobs'
shape, set beside the real workflow on the scale test's own archive."""

import re
import subprocess
import sys

from benchmarks import scaletest
from benchmarks.workflowrun import run_workflow

FIELDS = ("input", "output", "log", "benchmark")


def job_shapes(output: str) -> dict[str, dict]:
    """Per rule of a dry run's job listing, its first job's number of files of each of
    :data:`FIELDS` and the names of its resources."""
    shapes = {}
    for block in re.split(r"^rule ", output, flags=re.MULTILINE)[1:]:
        rule, _, body = block.partition(":\n")
        fields = dict(re.findall(r"^ +(\w+): (.*)$", body, flags=re.MULTILINE))
        shape = {
            field: len(fields[field].split(", ")) if field in fields else 0 for field in FIELDS
        }
        resources = fields.get("resources", "").split(", ")
        shapes.setdefault(rule, shape | {"resources": {r.split("=")[0] for r in resources}})
    return shapes


def snakemake_alone(folder, *args) -> str:
    command = [sys.executable, "-m", "snakemake", "--cores", "1", *args]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, check=True).stdout


def test_the_floor_of_our_shape_lists_the_files_our_jobs_do(tmp_path):
    archive = tmp_path / "archive"
    scaletest.write_frames(archive, 20)
    scaletest.write_library(archive)
    scaletest.write_config(tmp_path, newest_nights=1)
    _, ours = run_workflow(tmp_path, "--dry-run")
    assert ours.returncode == 0, ours.stdout[-3000:]
    floor = scaletest.FLOORS["jobs of our shape"]
    alone = snakemake_alone(scaletest.floor_workflow(tmp_path / "todo", floor, 4, made=False), "-n")
    ours, alone = job_shapes(ours.stdout), job_shapes(alone)
    for rule in ("mask_and_background", "propagated_rms"):
        assert alone[rule] == ours[rule], rule
    assert ours["propagated_rms"]["input"] == 7  # the frame, stamp, two maps, three masters


def test_the_floors_no_op_runs_have_nothing_to_do(tmp_path):
    for name, floor in scaletest.FLOORS.items():
        folder = scaletest.floor_workflow(tmp_path / name.replace(" ", "-"), floor, 6)
        assert "Nothing to be done" in snakemake_alone(folder) + snakemake_alone(folder, "-n")
