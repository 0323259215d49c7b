"""The master benchmark end to end on tiny frames, without its peers (no network)."""

import json
import subprocess
import sys

from benchmarks.masters_benchmark import FIGURES, NEEDS, PEERS

SHAPE = (200, 300)
FRAMES = 5
KEYS = {"frames", "shape", "dtype", "method", "repeats", "figures", "unavailable", "runs",
        "ccdproc", "writes"}  # fmt: skip
SKIPPED = "skipped (--skip-peers)"


def run_benchmark(workdir, *options) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "benchmarks.masters_benchmark", str(workdir),
        "--shape", *map(str, SHAPE), "--frames", str(FRAMES), "--skip-peers", *options,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def check_report(workdir, result, dtype) -> None:
    """Every figure in the table and the JSON: skyrms's measured, the peers' and the ratios
    "not measured" (skipped)."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((workdir / "masters_benchmark.json").read_text())
    assert set(report) >= KEYS
    assert report["shape"] == list(SHAPE) and len(report["frames"]) == FRAMES
    assert report["dtype"] == dtype and report["method"] == "median"
    assert report["unavailable"] == dict.fromkeys(PEERS, SKIPPED) and report["ccdproc"] is None
    assert set(report["figures"]) == set(FIGURES)
    for peer in PEERS:
        assert f"{peer}: not measured: " + SKIPPED in result.stdout
    lines = [line.strip() for line in result.stdout.splitlines()]
    for key, figure in report["figures"].items():
        (line,) = (line for line in lines if line.startswith(figure["label"] + " "))
        if set(PEERS) & set(NEEDS.get(key, (key.split("_")[0],))):
            assert figure["missing"] == SKIPPED
            assert line.endswith("not measured: " + SKIPPED), line
            continue
        assert 0 < figure["min"] <= figure["median"] <= figure["max"], key
        if figure["target"]:
            assert figure["target"] in line and line.endswith(("met", "MISSED"))
    assert report["figures"]["skyrms_rss_mb"]["met"]
    # the master (float32) and its ERR and RDNOISE maps, each about the size of the frame
    written = report["figures"]["skyrms_written_mb"]["median"] * 2**20
    assert 3 * 4 * SHAPE[0] * SHAPE[1] < written < 4 * 4 * SHAPE[0] * SHAPE[1]
    # 5 frames: the median sample deviation runs about 9% below the true read noise
    assert 0.85 < report["figures"]["rdnoise_over_truth"]["median"] < 0.98


def test_masters_benchmark_prints_and_writes_every_figure(tmp_path):
    result = run_benchmark(tmp_path, "--dtype", "float32")
    check_report(tmp_path, result, "float32")
    # the frames are kept and reused
    frames = sorted((tmp_path / "raw").rglob("*.fits"))
    assert len(frames) == FRAMES
    written = [path.stat().st_mtime_ns for path in frames]
    again = run_benchmark(tmp_path, "--dtype", "float32")
    check_report(tmp_path, again, "float32")
    assert [path.stat().st_mtime_ns for path in frames] == written


def test_masters_benchmark_on_uint16_frames(tmp_path):
    """Raw frames as the camera writes them: uint16 (BITPIX 16, BZERO 32768)."""
    result = run_benchmark(tmp_path)
    check_report(tmp_path, result, "uint16")
