"""End to end: ``python -m benchmarks.peer_table`` on small frames, as a subprocess."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

SMALL = ["--shape", "256", "256", "--boxes", "32", "--frames", "sparse,empty"]
METHODS = ("skyrms", "SExtractor", "NoiseChisel", "photutils")
TRUTH_FIGURES = ("z_median", "z_p99", "rms_ratio", "noise_ratio", "masked", "time_ratio")


def peer_table(workdir: Path, *options: str) -> tuple[str, dict]:
    """Run the command from the repository root; its stdout and its JSON."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.peer_table", str(workdir), *options],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads((workdir / "peer_table.json").read_text())


def method_lines(stdout: str, method: str) -> list[str]:
    """Table lines of ``method``: its name is the second word or the first after the frame."""
    return [line for line in stdout.splitlines() if method in line.split()[:2]]


def assert_finite(row: dict, keys) -> None:
    """Every figure of ``row`` named in ``keys`` is a finite number."""
    for key in keys:
        assert isinstance(row[key], (int, float)) and math.isfinite(row[key]), (key, row)


def test_skyrms_alone_with_peers_marked_skipped(tmp_path):
    stdout, report = peer_table(tmp_path, *SMALL, "--skip-peers")  # the Spitzer frame by default
    rows = {(row["frame"], row["method"]): row for row in report["rows"]}
    assert set(rows) == {(frame, method) for frame in ("sparse", "empty") for method in METHODS}
    for frame in ("sparse", "empty"):
        assert_finite(rows[frame, "skyrms"], TRUTH_FIGURES)
        assert any(line.startswith(f"{frame} ") for line in stdout.splitlines())
        for peer in METHODS[1:]:
            assert rows[frame, peer]["status"] == "skipped"
    assert_finite(rows["sparse", "skyrms"], ["wing_share"])
    real = report["spitzer_rows"]
    assert len(real) == len(METHODS)
    for row in real:
        if row["method"] == "skyrms":
            figures = ("masked", "rms_nonpositive", "rms_over_scatter", "residual_z")
            assert_finite(row, figures)
        else:
            assert row["status"] == "skipped"
    assert len(method_lines(stdout, "skyrms")) == 3
    for peer in METHODS[1:]:
        lines = method_lines(stdout, peer)
        assert len(lines) == 3
        assert all(line.endswith("skipped (--skip-peers)") for line in lines)
    assert stdout.count("skyrms: no peer has numbers here") == 2


@pytest.mark.skipif(shutil.which("source-extractor") is None, reason="no source-extractor")
def test_sextractor_numbers_beside_skyrms(tmp_path):
    stdout, report = peer_table(tmp_path, *SMALL, "--peers", "sextractor", "--spitzer", "")
    rows = {(row["frame"], row["method"]): row for row in report["rows"]}
    for frame in ("sparse", "empty"):
        assert_finite(rows[frame, "SExtractor"], TRUTH_FIGURES)
        assert rows[frame, "NoiseChisel"]["reason"] == "skipped (not in --peers)"
    verdicts = {result["frame"]: result for result in report["verdicts"]}
    assert verdicts["sparse"]["peers"] == ["SExtractor"]
    assert len(method_lines(stdout, "SExtractor")) == 2
    assert "skyrms vs SExtractor:" in stdout
