"""The benchmark script end to end on tiny frames, without photutils and ezphot (no network)."""

import json
import subprocess
import sys

from benchmarks.benchmark import FIGURES, MB, RATIOS

PEERS = ("photutils", "ezphot")
SHAPE = (256, 384)


def test_benchmark_prints_and_writes_every_figure(tmp_path):
    command = [
        sys.executable, "-m", "benchmarks.benchmark", str(tmp_path), "--shape", *map(str, SHAPE),
        "--frames", "2", "--repeats", "1", "--skip-peers",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads((tmp_path / "benchmark.json").read_text())
    assert report["shape"] == list(SHAPE) and len(report["frames"]) == 2
    figures = report["figures"]
    assert set(figures) == set(FIGURES)
    lines = [line.strip() for line in result.stdout.splitlines()]
    for key, figure in figures.items():
        (line,) = (line for line in lines if line.startswith(figure["label"] + " "))
        if any(peer in RATIOS.get(key, (key.split("_")[0],)) for peer in PEERS):
            assert figure["missing"] == "skipped (--skip-peers)"
            assert line.endswith("not measured: skipped (--skip-peers)")
            continue
        assert 0 < figure["min"] <= figure["median"] <= figure["max"], key
        if figure["target"]:
            assert figure["target"] in line and ("met" in line or "MISSED" in line)
    # the floor writes three float maps and a mask per frame, compressed as the chain's are
    assert 0 < figures["floor_written_mb"]["median"] * MB < 3 * 4 * SHAPE[0] * SHAPE[1]
    # at most two jobs at a time, each timed inside the run
    assert figures["overhead"]["median"] >= 1
    assert figures["chain_rss_mb"]["median"] == max(
        figures[f"{rule}_rss_mb"]["median"] for rule in ("mask_and_background", "propagated_rms")
    )
