"""Peer table: skyrms against SExtractor, NoiseChisel and photutils on frames with known truth.

    python -m benchmarks.peer_table WORKDIR [--boxes 64 128] [--frames sparse,crowded,...]
        [--shape NY NX] [--seed 1] [--peers sextractor,noisechisel,photutils] [--skip-peers]
        [--spitzer PATH]

For every box and frame of ``benchmarks.truthframes``, every method runs as a subprocess on one
thread with that box and a filter of 3 boxes; its maps are scored with ``truthframes.figures``
and its wall time is given as a ratio to skyrms's on the same frame and box. One table per box
is printed, and below each frame a verdict: on which figures skyrms is the best method, within
10% of the best, or not. On the real Spitzer frame (no truth) each method's RMS is compared
with a direct robust scatter of the pixels that no method masks. Everything also goes to
``WORKDIR/peer_table.json`` (NaN as null).

WORKDIR holds ``frames/`` (the simulated frames, written once per shape and seed),
``out/b{box}/{method}/`` (each method's products), ``logs/`` (each subprocess's output),
``sextractor/`` (SExtractor's configuration) and ``venvs/photutils`` (made with pip on first
use).
"""

import argparse
import json
import math
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from astropy.io import fits

from benchmarks import truthframes
from benchmarks.peers import (
    REFERENCE_DATA,
    Outcome,
    clear_products,
    last_line,
    noisechisel,
    photutils_python,
    products,
    read_map,
    run_photutils,
    sextractor,
    stem,
    timed,
)
from skyrms.science.noise_model import MAD_TO_SIGMA

SPITZER = REFERENCE_DATA / "real" / "spitzer_example_image.fits"
"""The real frame of the comparison (a Spitzer/IRAC mosaic cut-out)."""
FILTER_SIZE = 3
"""Background filter of every method, boxes."""
SKYRMS = "skyrms"
PEERS = {"sextractor": "SExtractor", "noisechisel": "NoiseChisel", "photutils": "photutils"}
"""Peers by their ``--peers`` key, with the label of the table."""
WITHIN, SLACK = 1.1, 0.005
"""skyrms is "within 10%" of the best score s if its score is <= WITHIN x s + SLACK."""
JUDGED = {
    "z_median": ("|z| median", abs),
    "z_p99": ("|z| p99", abs),
    "rms_ratio": ("RMS/sigma", lambda value: abs(value - 1)),
    "noise_ratio": ("RMS/noise", lambda value: abs(value - 1)),
    "wing_share": ("wing share", abs),
}
"""Judged figures: label and score (lower is better) of each."""
COLUMNS = {
    "z_median": "|z| median",
    "z_p99": "|z| p99",
    "rms_ratio": "RMS/sigma",
    "noise_ratio": "RMS/noise",
    "wing_share": "wing share",
    "masked": "masked",
    "time_ratio": "time/skyrms",
}
"""Numeric columns of the truth tables: row key and heading."""
SPITZER_COLUMNS = {
    "masked": "masked",
    "rms_nonpositive": "RMS<=0 px",
    "rms_over_scatter": "RMS/scatter",
    "residual_z": "med (d-b)/RMS",
    "time_ratio": "time/skyrms",
}
"""Numeric columns of the Spitzer table: row key and heading."""
DIGITS = {"time_ratio": 2}
"""Decimals of a column if not 3."""
BLOCK, BLOCK_PIXELS = 32, 100
"""Blocks of the direct scatter (px square) and the fewest unmasked pixels a block needs."""


def parse_args(argv=None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.peer_table", description=__doc__.splitlines()[0]
    )
    parser.add_argument("workdir", type=Path, help="folder for frames, products and the JSON")
    parser.add_argument("--boxes", type=int, nargs="+", default=[64, 128], help="box sizes, px")
    parser.add_argument(
        "--frames", default=",".join(truthframes.NAMES), help="comma-separated frame names"
    )
    parser.add_argument(
        "--shape",
        type=int,
        nargs=2,
        metavar=("NY", "NX"),
        help="size of every frame (default: each frame's own, truthframes.SHAPES else SHAPE)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the simulated frames")
    parser.add_argument(
        "--peers", default=",".join(PEERS), help="comma-separated peers to run (others skipped)"
    )
    parser.add_argument("--skip-peers", action="store_true", help="run skyrms only")
    parser.add_argument(
        "--spitzer",
        default=str(SPITZER),
        help="real frame without truth ('' for none; default: the repository's Spitzer frame)",
    )
    args = parser.parse_args(argv)
    args.frames = [name for name in args.frames.split(",") if name]
    args.peers = [key for key in args.peers.split(",") if key]
    unknown = set(args.frames) - set(truthframes.NAMES) | set(args.peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown frames or peers: {', '.join(sorted(unknown))}")
    return args


def frame_file(workdir: Path, name: str, shape, seed: int):
    """The truth of frame ``name`` at ``shape`` (None: its own) and its FITS file
    ``workdir/frames/{name}.fits`` (float32 ADU), written only if no file of the same shape and
    seed is there (a stamp file says)."""
    truth = truthframes.make(name, seed=seed, shape=shape)
    path = workdir / "frames" / f"{name}.fits"
    stamp = path.with_suffix(".stamp.json")
    wanted = {"shape": list(truth.data.shape), "seed": seed}
    if not (path.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted):
        path.parent.mkdir(parents=True, exist_ok=True)
        fits.PrimaryHDU(truth.data, fits.Header(truth.header)).writeto(path, overwrite=True)
        stamp.write_text(json.dumps(wanted))
    return truth, path


def run_skyrms(frame: Path, box: int, outdir: Path, log: Path, *, filter_size: int) -> Outcome:
    """Run ``skyrms run`` on ``frame`` (box ``box`` px, filter ``filter_size`` boxes)."""
    clear_products(outdir, stem(frame))
    command = [sys.executable, "-m", "skyrms.cli", "run", frame, "--box-size", box]
    command += ["--filter-size", filter_size, "-o", outdir]
    seconds, done = timed(command, log)
    if done.returncode != 0:
        return Outcome("failed", seconds, f"failed: {last_line(done.stderr)}")
    return Outcome("ok", seconds)


def peer_runner(key: str, workdir: Path):
    """The runner ``(frame, box, outdir, log) -> Outcome`` of peer ``key``, or the Outcome of
    every run when it cannot run (not installed)."""
    if key == "photutils":
        python, reason = photutils_python(workdir)
        if python is None:
            return Outcome("missing", reason=reason)
        return partial(run_photutils, python=python, filter_size=FILTER_SIZE)
    module = {"sextractor": sextractor, "noisechisel": noisechisel}[key]
    reason = module.prepare(workdir)
    if reason:
        return Outcome("missing", reason=reason)
    return partial(module.run, filter_size=FILTER_SIZE, workdir=workdir)


def method_runners(args, workdir: Path) -> dict:
    """skyrms and every peer by label: a runner, or the Outcome that stands for its runs."""
    runners = {SKYRMS: partial(run_skyrms, filter_size=FILTER_SIZE)}
    for key, label in PEERS.items():
        if args.skip_peers or key not in args.peers:
            why = "--skip-peers" if args.skip_peers else "not in --peers"
            runners[label] = Outcome("skipped", reason=f"skipped ({why})")
        else:
            print(f"preparing {label} ...", file=sys.stderr, flush=True)
            runners[label] = peer_runner(key, workdir)
    return runners


def run_method(label: str, runner, frame: Path, box: int, workdir: Path):
    """Run one method on ``frame`` with box ``box`` px; its Outcome and its maps (background
    and RMS in ADU, mask as bool), the maps None without products."""
    if isinstance(runner, Outcome):
        return runner, None
    key = label.lower()
    outdir = workdir / "out" / f"b{box}" / key
    outcome = runner(frame, box, outdir, workdir / "logs" / f"b{box}" / key / f"{stem(frame)}.log")
    seconds = f"{outcome.seconds:.1f} s" if outcome.seconds is not None else ""
    print(f"  {label}: {outcome.status} {seconds}", file=sys.stderr, flush=True)
    if outcome.status != "ok":
        return outcome, None
    try:
        maps = {kind: read_map(path) for kind, path in products(outdir, stem(frame)).items()}
    except OSError as error:
        return Outcome("failed", outcome.seconds, f"failed: products unreadable ({error})"), None
    maps["mask"] = maps["mask"] != 0
    return outcome, maps


def run_all(runners: dict, frame: Path, box: int, workdir: Path) -> dict:
    """Every method on ``frame`` with box ``box`` px: label -> (Outcome, maps or None)."""
    print(f"box {box} {stem(frame)}", file=sys.stderr, flush=True)
    return {
        label: run_method(label, runner, frame, box, workdir) for label, runner in runners.items()
    }


def base_row(box: int, frame: str, label: str, outcome: Outcome, skyrms: Outcome) -> dict:
    """The row fields every table shares; ``time_ratio`` is the wall time over skyrms's."""
    timed_both = outcome.status == "ok" and skyrms.status == "ok"
    return {
        "box": box,
        "frame": frame,
        "method": label,
        "status": outcome.status,
        "reason": outcome.reason,
        "note": outcome.note,
        "seconds": outcome.seconds,
        "time_ratio": outcome.seconds / skyrms.seconds if timed_both else math.nan,
    }


def truth_rows(truth, box: int, results: dict) -> list[dict]:
    """One row per method: ``truthframes.figures`` of its maps against ``truth``."""
    skyrms = results[SKYRMS][0]
    rows = []
    for label, (outcome, maps) in results.items():
        row = base_row(box, truth.name, label, outcome, skyrms)
        if maps is not None:
            row |= truthframes.figures(truth, maps["background"], maps["rms"], maps["mask"])
        rows.append(row)
    return rows


def unmade_rows(name: str, box: int, runners: dict, error: Exception) -> list[dict]:
    """Rows for a frame ``truthframes.make`` cannot make at the shape asked for."""
    outcome = Outcome("failed", reason=f"no frame at this shape ({type(error).__name__}: {error})")
    return [base_row(box, name, label, outcome, outcome) for label in runners]


def verdict(rows: list[dict]) -> dict:
    """Whether skyrms is the best method, within 10% of the best, or not, on each judged
    figure of one frame's ``rows``; figures no method has a number for are skipped."""
    done = {row["method"]: row for row in rows if row["status"] == "ok"}
    result = {"box": rows[0]["box"], "frame": rows[0]["frame"], "best": [], "within": []}
    result |= {"not_within": [], "peers": [label for label in done if label != SKYRMS]}
    if SKYRMS not in done:
        return result | {"skyrms_failed": True}
    for key, (label, score) in JUDGED.items():
        scores = {method: score(row[key]) for method, row in done.items()}
        finite = {method: value for method, value in scores.items() if math.isfinite(value)}
        if not finite:
            continue
        leader = min(finite, key=finite.get)
        mine, best = scores[SKYRMS], finite[leader]
        if mine <= best:
            result["best"].append(label)
        elif mine <= WITHIN * best + SLACK:
            result["within"].append(label)
        else:
            best_row = done[leader]
            miss = {"figure": label, "skyrms": done[SKYRMS][key], "method": leader}
            result["not_within"].append(miss | {"best": best_row[key]})
    return result | {"skyrms_failed": False}


def verdict_line(result: dict) -> str:
    """The verdict as one indented line of text."""
    if result["skyrms_failed"]:
        return "  skyrms failed: nothing judged"
    if not result["peers"]:
        return "  skyrms: no peer has numbers here, nothing judged"
    if not result["best"] + result["within"] + result["not_within"]:
        return "  skyrms: no judged figure has a number here"
    parts = []
    if result["best"]:
        parts.append("best: " + ", ".join(result["best"]))
    if result["within"]:
        parts.append("within 10% of the best: " + ", ".join(result["within"]))
    if result["not_within"]:
        misses = [
            f"{miss['figure']} (skyrms {miss['skyrms']:.3g}, best {miss['method']} "
            f"{miss['best']:.3g})"
            for miss in result["not_within"]
        ]
        parts.append("NOT within 10%: " + ", ".join(misses))
    return f"  skyrms vs {', '.join(result['peers'])}: " + "; ".join(parts)


def direct_scatter(data: np.ndarray, free: np.ndarray) -> float:
    """Robust scatter of ``data`` over the ``free`` pixels (data units): per BLOCK x BLOCK block
    with at least BLOCK_PIXELS free pixels subtract the block's median, then MAD_TO_SIGMA x
    the median absolute deviation of all those residuals pooled; NaN if no block qualifies."""
    residuals = []
    for y in range(0, data.shape[0], BLOCK):
        for x in range(0, data.shape[1], BLOCK):
            values = data[y : y + BLOCK, x : x + BLOCK][free[y : y + BLOCK, x : x + BLOCK]]
            if values.size >= BLOCK_PIXELS:
                residuals.append(values - np.median(values))
    if not residuals:
        return math.nan
    pooled = np.concatenate(residuals)
    return float(MAD_TO_SIGMA * np.median(np.abs(pooled - np.median(pooled))))


def spitzer_figures(data: np.ndarray, maps: dict, free: np.ndarray, scatter: float) -> dict:
    """Figures of one method's maps on a frame without truth: ``masked``, the fraction of
    finite pixels masked; ``rms_nonpositive``, finite pixels whose RMS is not > 0;
    ``rms_over_scatter``, the median RMS over the ``free`` pixels over ``scatter``;
    ``residual_z``, the median of (data - background) / RMS over the free pixels with RMS > 0."""
    finite = np.isfinite(data)
    rms = maps["rms"].astype(np.float64)
    positive = free & (rms > 0)
    residual = (data[positive] - maps["background"][positive]) / rms[positive]
    return {
        "masked": float(np.mean(maps["mask"][finite])),
        "rms_nonpositive": int(np.count_nonzero(~(rms[finite] > 0))),
        "rms_over_scatter": truthframes.median(rms[free]) / scatter,
        "residual_z": truthframes.median(residual),
    }


def spitzer_rows(data: np.ndarray, name: str, box: int, results: dict) -> tuple[list, dict]:
    """One row per method on the real frame, and the pixels behind them: how many finite
    pixels no method masks (``free_pixels``) and their direct scatter (data units)."""
    masks = [maps["mask"] for _, maps in results.values() if maps is not None]
    free = np.isfinite(data) & ~np.logical_or.reduce(masks, initial=False)
    scatter = direct_scatter(data, free)
    skyrms = results[SKYRMS][0]
    rows = []
    for label, (outcome, maps) in results.items():
        row = base_row(box, name, label, outcome, skyrms)
        if maps is not None:
            row |= spitzer_figures(data, maps, free, scatter)
        rows.append(row)
    pixels = {"box": box, "free_pixels": int(free.sum()), "direct_scatter": scatter}
    return rows, pixels


def number(value, digits: int) -> str:
    """``value`` with ``digits`` decimals, "-" for none or NaN; integers as they are."""
    if isinstance(value, int):
        return str(value)
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def notes(row: dict) -> str:
    """What to say beside a row's numbers: the method's note and its bad pixels."""
    said = [row["note"]] if row["note"] else []
    if row.get("bad_rms"):
        said.append(f"RMS<=0 on {row['bad_rms']} px")
    if row.get("bad_background"):
        said.append(f"background not finite on {row['bad_background']} px")
    return "; ".join(said)


def width(title: str) -> int:
    """Characters of a numeric column headed ``title``."""
    return max(len(title), 9)


def table_lines(rows: list[dict], columns: dict, first: int) -> list[str]:
    """Rows of one frame as text lines, the frame's name (in ``first`` characters) on the
    first."""
    lines = []
    for index, row in enumerate(rows):
        frame = row["frame"] if index == 0 else ""
        head = f"{frame:<{first}}{row['method']:<13}"
        if row["status"] != "ok":
            lines.append(head + row["reason"])
            continue
        cells = "  ".join(
            f"{number(row.get(key), DIGITS.get(key, 3)):>{width(title)}}"
            for key, title in columns.items()
        )
        lines.append(f"{head}{cells}  {notes(row)}".rstrip())
    return lines


def heading(columns: dict, first: int) -> str:
    """The heading line of a table with ``columns`` and a frame column of ``first`` characters."""
    cells = "  ".join(f"{title:>{width(title)}}" for title in columns.values())
    return f"{'frame':<{first}}{'method':<13}{cells}  notes"


def shapes_text(args) -> str:
    """The frames' size for a table's title: ``--shape``, else SHAPE and the frames' own."""
    if args.shape:
        return "x".join(map(str, args.shape))
    own = [
        f"{name} {'x'.join(map(str, shape))}"
        for name, shape in truthframes.SHAPES.items()
        if name in args.frames
    ]
    return "x".join(map(str, truthframes.SHAPE)) + (f" ({', '.join(own)})" if own else "")


def box_table(box: int, args, rows: list, verdicts: list, spitzer: tuple | None) -> str:
    """The printed table of one box: truth frames with verdicts, then the real frame."""
    shape = shapes_text(args)
    first = 2 + max(len("frame"), *(len(row["frame"]) for row in rows))
    lines = [f"== box {box} px, filter {FILTER_SIZE} boxes, {shape} frames, seed {args.seed} =="]
    lines.append(heading(COLUMNS, first))
    for result in verdicts:
        lines += table_lines([r for r in rows if r["frame"] == result["frame"]], COLUMNS, first)
        lines.append(verdict_line(result))
    if spitzer is not None:
        real_rows, pixels = spitzer
        first = 2 + len(real_rows[0]["frame"])
        lines.append("")
        lines.append(
            f"{args.spitzer} (no truth): {pixels['free_pixels']} finite px that no method masks, "
            f"direct scatter {number(pixels['direct_scatter'], 4)} (frame units, "
            f"{BLOCK}x{BLOCK} blocks)"
        )
        lines.append(heading(SPITZER_COLUMNS, first))
        lines += table_lines(real_rows, SPITZER_COLUMNS, first)
    return "\n".join(lines) + "\n"


def plain(value):
    """``value`` with every NaN or infinite float as None, for JSON."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv=None) -> None:
    """Run every method on every frame and box, print the tables, write the JSON."""
    args = parse_args(argv)
    start = time.perf_counter()
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    runners = method_runners(args, workdir)
    settings = {key: value for key, value in vars(args).items() if key != "workdir"}
    report = {"settings": settings | {"filter_size": FILTER_SIZE, "workdir": str(workdir)}}
    report |= {"rows": [], "verdicts": [], "spitzer_rows": [], "spitzer_pixels": []}
    for box in args.boxes:
        rows, verdicts, spitzer = [], [], None
        for name in args.frames:
            try:
                truth, path = frame_file(workdir, name, args.shape, args.seed)
            except (IndexError, ValueError) as error:
                frame_rows = unmade_rows(name, box, runners, error)
            else:
                frame_rows = truth_rows(truth, box, run_all(runners, path, box, workdir))
            rows += frame_rows
            verdicts.append(verdict(frame_rows))
        if args.spitzer:
            data = read_map(Path(args.spitzer)).astype(np.float64)
            results = run_all(runners, Path(args.spitzer), box, workdir)
            spitzer = spitzer_rows(data, stem(Path(args.spitzer)), box, results)
            report["spitzer_rows"] += spitzer[0]
            report["spitzer_pixels"].append(spitzer[1])
        report["rows"] += rows
        report["verdicts"] += verdicts
        print(box_table(box, args, rows, verdicts, spitzer), flush=True)
        report["seconds"] = time.perf_counter() - start
        (workdir / "peer_table.json").write_text(json.dumps(plain(report), indent=1))
    print(f"done in {time.perf_counter() - start:.0f} s; {workdir / 'peer_table.json'}")


if __name__ == "__main__":
    main()
