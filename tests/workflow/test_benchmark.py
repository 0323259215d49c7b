"""The benchmark script end to end on tiny frames, without photutils and ezphot (no network),
with the chain of skyrms 0.1.0 from this repository's history beside today's."""

import json
import subprocess
import sys

from astropy.io import fits

from benchmarks.benchmark import BASELINE, FIGURES, MB, RATIOS
from benchmarks.workflowrun import REPO

PEERS = ("photutils", "ezphot")
SHAPE = (256, 384)


def in_history(revision: str) -> bool:
    """Whether this checkout's git history holds ``revision`` (not so in a shallow clone)."""
    command = ["git", "-C", str(REPO), "cat-file", "-e", f"{revision}^{{commit}}"]
    return subprocess.run(command, capture_output=True).returncode == 0


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
    baseline = in_history(BASELINE)
    if baseline:  # 0.1.0's own workflow and package ran on the same frames
        assert report["baseline"]["commit"].startswith(BASELINE)
        # its masks are its own: fixed-factor ellipses, without today's growth threshold
        masks = {
            name: sorted((tmp_path / folder).rglob("*.mask.fits"))
            for name, folder in (("chain", "results"), ("baseline", "baseline/run/results"))
        }
        assert len(masks["chain"]) == len(masks["baseline"]) == 2
        assert all("MSKGROWS" in fits.getheader(path, -1) for path in masks["chain"])
        assert not any("MSKGROWS" in fits.getheader(path, -1) for path in masks["baseline"])
    lines = [line.strip() for line in result.stdout.splitlines()]
    for key, figure in figures.items():
        (line,) = (line for line in lines if line.startswith(figure["label"] + " "))
        methods = RATIOS.get(key, (key.split("_")[0],))
        if any(peer in methods for peer in PEERS):
            assert figure["missing"] == "skipped (--skip-peers)"
            assert line.endswith("not measured: skipped (--skip-peers)")
            continue
        if "baseline" in methods and not baseline:
            assert figure["missing"].startswith("not checked out: `git rev-parse")
            continue
        assert 0 < figure["min"] <= figure["median"] <= figure["max"], key
        if figure["target"]:
            assert figure["target"] in line and ("met" in line or "MISSED" in line)
    # the floor writes three float maps and a mask per frame, plain as the chain's are
    plain = (3 * 4 + 1) * SHAPE[0] * SHAPE[1]  # bytes, without the headers
    for key in ("floor_written_mb", "chain_written_mb", "plain_written_mb"):
        assert plain < figures[key]["median"] * MB < 1.1 * plain, key
    assert figures["compressed_written_mb"]["median"] < 0.5 * figures["plain_written_mb"]["median"]
    # at most two jobs at a time, each timed inside the run
    assert figures["overhead"]["median"] >= 1
    assert figures["chain_rss_mb"]["median"] == max(
        figures[f"{rule}_rss_mb"]["median"] for rule in ("mask_and_background", "propagated_rms")
    )
