"""A night of frames selected by date or by the newest nights, with a real snakemake dry run."""

import json

import pytest

from skyrms.demo import survey
from tests.helpers import planned_jobs, snakemake

FRAMES, _ = survey.plan()


def key_of(frame):
    return frame.relpath.removeprefix("scidata/").removesuffix(".fits")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """One folder for every selection: the demo survey is written once."""
    return tmp_path_factory.mktemp("time_selection")


@pytest.mark.parametrize(
    ("inputs", "wanted"),
    [
        ({"newest_nights": 1}, lambda f: f.date_obs.startswith("2025-11-22")),
        ({"since": "2025-11-20", "until": "2025-11-20"},
         lambda f: f.date_obs.startswith("2025-11-20")),
        ({"since": "2025-11-22T02:05:00", "until": "2025-11-22T03:00:00"},
         lambda f: "2025-11-22T02:05:00" <= f.date_obs <= "2025-11-22T03:00:00"),
        ({"newest_nights": 1, "unit": "7DT05"},
         lambda f: f.date_obs.startswith("2025-11-22") and f.unit == "7DT05"),
    ],
)  # fmt: skip
def test_exactly_the_frames_of_the_time_selection_are_planned(workdir, inputs, wanted):
    dry = snakemake(workdir, "--dry-run", config={"inputs": inputs})
    planned = {key for rule, key in planned_jobs(dry.stdout) if rule == "mask_and_background"}
    expected = {key_of(f) for f in FRAMES if wanted(f)}
    assert expected and planned == expected
    index = json.loads((workdir / "results" / "header-index.json").read_text())
    indexed = [path for path in index["entries"] if "/scidata/" in path]
    matching = [f for f in FRAMES if inputs.get("unit", f.unit) == f.unit]
    assert len(indexed) == len(matching)  # frames outside the time selection stay indexed


def test_a_time_selection_without_frames_stops_with_one_line(workdir):
    run = snakemake(workdir, "--dry-run", config={"inputs": {"since": "2030-01-01"}}, check=False)
    assert run.returncode != 0
    assert "inputs: none of the 18 frames matching the selection was taken" in run.stdout


def test_a_truncated_header_index_is_rebuilt_with_a_warning(workdir):
    snakemake(workdir, "--dry-run", config={"inputs": {"newest_nights": 1}})
    cache = workdir / "results" / "header-index.json"
    cache.write_bytes(cache.read_bytes()[:1000])  # as after a full disk
    dry = snakemake(workdir, "--dry-run", config={"inputs": {"newest_nights": 1}})
    assert "Header index results/header-index.json: unreadable" in dry.stdout
    assert f"Indexed {len(FRAMES)} new or changed frames." in dry.stdout
    planned = {key for rule, key in planned_jobs(dry.stdout) if rule == "mask_and_background"}
    assert planned == {key_of(f) for f in FRAMES if f.date_obs.startswith("2025-11-22")}
    assert json.loads(cache.read_text())["entries"]  # written whole again
