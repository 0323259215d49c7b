"""The scale test's floors: Snakemake alone on workflows of trivial jobs and of our jobs'
shape, set beside the real workflow on the scale test's own archive."""

import re

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


def test_the_floor_of_our_shape_lists_the_files_our_jobs_do(tmp_path):
    archive = tmp_path / "archive"
    scaletest.write_frames(archive, 20)
    scaletest.write_library(archive)
    scaletest.write_config(tmp_path, newest_nights=1)
    _, ours = run_workflow(tmp_path, "--dry-run")
    assert ours.returncode == 0, ours.stdout[-3000:]
    floor = scaletest.FLOORS["jobs of our shape"]
    todo = scaletest.floor_workflow(tmp_path / "todo", floor, 4, made=False)
    _, alone = scaletest.snakemake_alone(todo, "-n")
    ours, alone = job_shapes(ours.stdout), job_shapes(alone)
    for rule in ("mask_and_background", "propagated_rms"):
        assert alone[rule] == ours[rule], rule
    assert ours["propagated_rms"]["input"] == 7  # the frame, stamp, two maps, three masters


def test_the_floors_no_op_runs_have_nothing_to_do(tmp_path):
    for name, floor in scaletest.FLOORS.items():
        folder = scaletest.floor_workflow(tmp_path / name.replace(" ", "-"), floor, 6)
        for args in ((), ("-n",)):
            assert "Nothing to be done" in scaletest.snakemake_alone(folder, *args)[1]
