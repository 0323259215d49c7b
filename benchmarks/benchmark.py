"""Speed, memory and disk of the chain on full-size frames, against skyrms 0.1.0, a floor,
photutils and ezphot.

    python -m benchmarks.benchmark /tmp/bench [--frames 8] [--repeats 3] [--shape 6388 9576]
        [--baseline REVISION] [--skip-peers]

Writes the demo survey at ``--shape`` under WORKDIR/data (18 frames and 22 masters,
kept for the next run), takes its first ``--frames`` frames, then measures on them,
``--repeats`` times in turn:

1. the chain: the real ``snakemake --cores 2`` from an empty results folder (box 256,
   filter 3, a 3-pass source mask, the shipped circular masks, the default product
   format, no quick-looks or weight maps). Per job its wall time and peak RSS from
   Snakemake's benchmark files; the run's total wall time; each frame's products in
   bytes. The header index is built once before (a dry run) and kept, so reading and
   hashing the inputs' headers is not timed. Then the first frame's products are
   written again in both formats, plain and compressed (``outputs.compress``), timed
   and weighed (:func:`format_costs`);
2. the baseline: the same of an earlier version of skyrms, by default 0.1.0 (BASELINE,
   before masks followed the light), its own workflow and package as extracted from
   this repository's git history into WORKDIR/baseline/{commit}, on the same frames
   with the same settings (its shipped configuration otherwise). The chain and the
   baseline take turns going first; ``--baseline none`` leaves it out;
3. the floor (:func:`floor`): the least work the chain must do, plainly, with the
   same libraries, in a fresh process per frame;
4. photutils' ``Background2D`` with the same box and filter, background and RMS
   maps, a process per frame (:mod:`benchmarks.peers.photutils_plain`);
5. ezphot doing the chain's steps, a process per frame (:mod:`benchmarks.peers.ezphot_steps`).

Every method runs as the chain's jobs do: JOBS processes at a time, each in a chain
job's environment (JOB_ENVIRONMENT: one thread, numpy's huge-page advice off), so that
all share the machine the same way and their times per frame compare.

photutils and ezphot are installed on first use into their own virtual environments
(WORKDIR/venvs/photutils, WORKDIR/venvs/ezphot), so skyrms does not depend on them;
``--skip-peers`` leaves both out. A process's wall time includes starting Python and
importing its libraries, as a Snakemake job's does; its peak RSS is the kernel's
(``wait4``), a job's is Snakemake's (sampled every 0.5 s). MB are 2**20 bytes.

Each figure is the median over the repeats, with the min-max spread; in a repeat, a
per-frame figure is the mean over the frames and a peak RSS the largest. Prints the
figures next to the targets and writes them to WORKDIR/benchmark.json.
"""

import argparse
import csv
import functools
import io
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import sep
import yaml
from astropy.io import fits

from skyrms import job
from skyrms.io.fitsfiles import read_image, write_float_map, write_mask
from skyrms.io.keywords import ERROR_EXTENSION
from skyrms.science.noise_model import MAD_TO_SIGMA
from skyrms.science.source_mask import FILTERED_NOISE

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MB = 2**20
SEED = 7  # of the demo survey
FULL_SHAPE = (6388, 9576)  # ny, nx: a 7DT frame (skyrms.demo.survey.FULL_SHAPE)
CHAIN_RULES = ("mask_and_background", "propagated_rms")
BASELINE = "cf6c1ea"  # skyrms 0.1.0: masks of fixed-factor ellipses, no master building
JOBS = 2  # processes at a time, for every method: the chain runs with snakemake --cores 2
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "GOTO_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS",
)  # fmt: skip
JOB_ENVIRONMENT = dict.fromkeys(THREAD_VARIABLES, "1") | job.JOB_ENVIRONMENT
"""The environment of a chain job (THREAD_VARIABLES are set to its one thread by Snakemake,
the rest by workflow/rules/plan.smk), given to every other method too."""

BOX_SIZE = 256  # pixels
FILTER_SIZE = 3  # boxes
SIGMA = 3.0  # detection threshold, x the background RMS
MINAREA = 5  # pixels
MASK_RADIUS_FACTOR = 2.0  # mask ellipse / isophotal ellipse
MASK_ITERATIONS = 3
DEFAULT_NCOMBINE = {"science": 1, "master": 7}  # the shipped calibration.default_ncombine

PEER_PACKAGES = {
    "photutils": ["photutils"],
    # photutils 3 dropped EPSFModel, which ezphot imports when it is imported.
    "ezphot": ["ezphot", "photutils>=2.2,<3"],
}
PEER_DRIVERS = {"photutils": "photutils_plain.py", "ezphot": "ezphot_steps.py"}
"""Each peer's driver script in benchmarks/peers/, run by the python of the peer's venv."""
FLOOR_CALL = "import sys; from benchmarks.benchmark import floor; floor(*sys.argv[1:])"


def method_figures(name: str, label: str, written: str, per: str = "", rss_target=None) -> dict:
    """The three figures of one measured method, keyed ``{name}_wall_s``, ``{name}_rss_mb``
    and ``{name}_written_mb``: its wall time (``per`` what, s), peak RSS (MB, with
    ``rss_target``) and what it wrote (MB), each labelled ``{label}: ...``."""
    return {
        f"{name}_wall_s": (f"{label}: wall time{per} (s)", None),
        f"{name}_rss_mb": (f"{label}: peak RSS (MB)", rss_target),
        f"{name}_written_mb": (f"{label}: {written} (MB)", None),
    }


FIGURES = {
    "chain_wall_s": ("chain: wall time per frame (s)", None),
    "mask_and_background_wall_s": ("  mask_and_background job (s)", None),
    "propagated_rms_wall_s": ("  propagated_rms job (s)", None),
    "mask_and_background_rss_mb": ("chain: peak RSS, mask_and_background (MB)", None),
    "propagated_rms_rss_mb": ("chain: peak RSS, propagated_rms (MB)", None),
    "chain_rss_mb": ("chain: peak RSS of any job (MB)", ("<=", 1.5 * 1024)),
    "chain_written_mb": ("chain: products per frame (MB)", None),
    "input_mb": ("input frame size (MB)", None),
    "plain_written_mb": ("products of a frame, plain (MB)", None),
    "compressed_written_mb": ("products of a frame, compressed (MB)", None),
    "plain_write_s": ("writing them, plain (s)", None),
    "compressed_write_s": ("writing them, compressed (s)", None),
    "written_over_input": ("compressed products / input frame size", ("<=", 1.0)),
    "total_wall_s": ("workflow: total wall time of the run (s)", None),
    "jobs_wall_s": ("workflow: sum of job wall times (s)", None),
    "overhead": ("workflow overhead: total / (sum of jobs / 2)", ("<=", 1.25)),
    **method_figures("baseline", "baseline", "products per frame", " per frame"),
    **method_figures("floor", "floor", "products per frame", " per frame"),
    **method_figures("photutils", "photutils", "products per frame", " per frame"),
    **method_figures("ezphot", "ezphot", "products per frame", " per frame"),
    "chain_over_baseline": ("ratio chain / baseline, wall per frame", ("<=", 1.15)),
    "chain_over_floor": ("ratio chain / floor, wall per frame", ("<=", 1.5)),
    "ezphot_over_chain": ("ratio ezphot / chain, wall per frame", (">=", 10.0)),
    "photutils_over_chain": ("ratio photutils / chain, wall per frame", None),
}
"""Every figure: its label in the table and its target (comparison, value) or None."""

RATIOS = {
    "chain_over_baseline": ("chain", "baseline"),
    "chain_over_floor": ("chain", "floor"),
    "ezphot_over_chain": ("ezphot", "chain"),
    "photutils_over_chain": ("photutils", "chain"),
}
"""Each ratio figure: the methods whose wall times per frame it divides."""


class Unavailable(Exception):
    """A method that could not be installed or run; the message says why."""


# --- the floor: the least work of the chain, plainly (astropy, numpy, SEP; skyrms constants) ---


def floor(frame, bias, dark, flat, outdir) -> None:
    """The least work the chain must do on one frame, written as plainly as possible.

    Reads the frame with astropy (converted to native float32 for SEP), fits SEP's
    background (BOX_SIZE, FILTER_SIZE), detects once at SIGMA x its RMS map (the
    chain's detection: the signal-to-noise image at SIGMA x the filter's noise,
    without cleaning, see :mod:`skyrms.science.source_mask`), masks
    each source with an ellipse MASK_RADIUS_FACTOR x its isophotal size, fits the
    background again without the masked pixels, and propagates the noise from the
    master bias, dark and flat (the formula of :mod:`skyrms.science.noise_model` written out, for
    mean-combined masters and a dark that had the same bias subtracted). Writes
    ``{name}.bkg.fits``, ``.bkgrms.fits``, ``.proprms.fits`` (float32, ADU) and
    ``.mask.fits`` (uint8) to ``outdir``, plain images as the chain writes them by default.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    name = Path(frame).name[: -len(".fits")]
    header, data = read_native(frame)
    sizes = {"bw": BOX_SIZE, "bh": BOX_SIZE, "fw": FILTER_SIZE, "fh": FILTER_SIZE}
    model = sep.Background(data, **sizes)
    significance = data.copy()
    model.subfrom(significance)
    significance /= model.rms()
    objects = sep.extract(significance, SIGMA * FILTERED_NOISE, minarea=MINAREA, clean=False)
    del significance
    a, b = np.maximum(objects["a"], 0.5), np.maximum(objects["b"], 0.5)
    scale = MASK_RADIUS_FACTOR * np.sqrt(objects["npix"] / (np.pi * a * b))
    mask = np.zeros(data.shape, dtype=bool)
    sep.mask_ellipse(mask, objects["x"], objects["y"], a * scale, b * scale, objects["theta"])
    model = sep.Background(data, mask=mask, **sizes)
    del data
    fits.PrimaryHDU(mask.view(np.uint8)).writeto(outdir / f"{name}.mask.fits")
    del mask
    sky = model.back()
    fits.PrimaryHDU(sky, header).writeto(outdir / f"{name}.bkg.fits")
    fits.PrimaryHDU(model.rms(), header).writeto(outdir / f"{name}.bkgrms.fits")
    del model
    propagated = written_out_rms(header, sky, bias, dark, flat)
    fits.PrimaryHDU(propagated, header).writeto(outdir / f"{name}.proprms.fits")


def read_native(path, name=None) -> tuple[fits.Header, np.ndarray]:
    """Header and pixels (native float32) of the image HDU ``name`` of a FITS file, by default
    the first one with data (the primary HDU, or extension 1 when tile-compressed)."""
    with fits.open(path) as hdul:
        hdu = hdul[name] if name else next(hdu for hdu in hdul if hdu.data is not None)
        return hdu.header, hdu.data.astype(np.float32)


def written_out_rms(header, sky, bias, dark, flat) -> np.ndarray:
    """Background RMS (ADU) propagated from the sky (ADU) and the masters at these paths.

    The read noise (squared, ADU**2) comes from the master bias: the spread of
    differences of neighbouring pixels on about 256 rows, times its NCOMBINE.
    """
    bias_header, bias_pixels = read_native(bias)
    dark_header, dark_signal = read_native(dark)
    _, flat_pixels = read_native(flat)
    _, flat_error = read_native(flat, ERROR_EXTENSION)
    n_bias = bias_header.get("NCOMBINE", DEFAULT_NCOMBINE["master"])
    n_dark = dark_header.get("NCOMBINE", DEFAULT_NCOMBINE["master"])
    steps = np.diff(bias_pixels[:: max(1, len(bias_pixels) // 256)], axis=1)
    read2 = (MAD_TO_SIGMA * np.median(np.abs(steps - np.median(steps)))) ** 2 / 2 * n_bias
    del bias_pixels
    gain, k = header["EGAIN"], header["EXPTIME"] / dark_header["EXPTIME"]
    np.maximum(dark_signal, 0, out=dark_signal)
    variance = (np.maximum(sky, 0) * flat_pixels + k * dark_signal) / gain + read2
    variance /= header.get("NCOMBINE", DEFAULT_NCOMBINE["science"])
    variance += (1 - k) ** 2 * read2 / n_bias
    variance += k**2 * (dark_signal / gain + read2) / n_dark
    variance /= flat_pixels * flat_pixels
    variance += (sky * flat_error / flat_pixels) ** 2
    return np.sqrt(variance, out=variance)


# --- data and configuration ---------------------------------------------------------------------


def write_data(root: Path, shape: tuple[int, int], count: int) -> list[tuple[Path, list[Path]]]:
    """The first ``count`` frames of the demo survey at ``shape`` under ``root``, each with
    the paths of its master bias, dark and flat; the survey is written unless it is there."""
    from skyrms.demo import survey  # here, not above: the floor's processes import this module

    frames, _ = survey.plan(SEED)
    if not 1 <= count <= len(frames):
        raise SystemExit(f"--frames must be 1 to {len(frames)}")
    start = time.perf_counter()
    if survey.ensure(root, shape, SEED, raw_frames=False):  # masters ready-made: not measured
        elapsed = time.perf_counter() - start
        print(f"wrote the demo survey at {shape[1]}x{shape[0]} px in {elapsed:.0f} s")
    return [
        (root / frame.relpath, [root / master.relpath for master in survey.frame_masters(frame)])
        for frame in frames[:count]
    ]


def write_config(folder: Path, data: Path, frames: list[Path], repo: Path = REPO) -> None:
    """``folder/config.yaml``: the configuration shipped in ``repo`` (this repository or the
    baseline's) on ``frames`` (listed in folder/frames.txt) of the survey under ``data``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "frames.txt").write_text("".join(f"{frame}\n" for frame in frames))
    config = yaml.safe_load((repo / "config.yaml").read_text())
    config["demo"]["enabled"] = False
    config["inputs"].update(root=str(data / "scidata"), path_list=str(folder / "frames.txt"))
    config["calibration"]["root"] = str(data / "calib")
    if "masters" in config:  # the chain is measured here (masters_benchmark.py); 0.1.0 had none
        config["masters"]["enabled"] = False
    config["outputs"]["quicklook"] = False
    if "weight" in config["outputs"]:  # a rule of its own, not the chain's (0.1.0 had none)
        config["outputs"]["weight"] = "none"
    config["background"].update(box_size=BOX_SIZE, filter_size=FILTER_SIZE)
    config["source_mask"].update(sigma=SIGMA, minarea=MINAREA, max_iterations=MASK_ITERATIONS)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


# --- measuring ----------------------------------------------------------------------------------


def chain_run(workdir: Path, keys: list[str], repo: Path = REPO) -> dict:
    """One timed snakemake run of the workflow in ``repo`` (see :func:`run_workflow`) in
    ``workdir``, from an empty results folder (the header index kept).

    Returns the run's total wall time (s), the sum of its jobs' wall times (s), and per
    frame (in the order of ``keys``) the chain's wall time (s) and peak RSS (MB, the
    larger of its jobs'), each rule's job's wall time (s) and peak RSS (MB), and the
    bytes of its products. Raises :class:`Unavailable` if the run fails.
    """
    from benchmarks.workflowrun import run_workflow  # see write_data

    results = workdir / "results"
    for path in results.iterdir():
        if path.name != "header-index.json":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    total, result = run_workflow(workdir, repo=repo)
    (workdir / "snakemake.log").write_text(result.stdout)
    if result.returncode != 0:
        raise Unavailable(f"snakemake failed (see {workdir / 'snakemake.log'})")
    jobs = job_benchmarks(results / "benchmarks")
    run = {"total_s": total, "jobs_s": sum(wall for wall, _ in jobs.values())}
    for rule in CHAIN_RULES:
        run[f"{rule}_s"] = [jobs[rule, key][0] for key in keys]
        run[f"{rule}_rss_mb"] = [jobs[rule, key][1] for key in keys]
    run["wall_s"] = [sum(run[f"{rule}_s"][n] for rule in CHAIN_RULES) for n in range(len(keys))]
    run["rss_mb"] = [
        peak(run[f"{rule}_rss_mb"][n] for rule in CHAIN_RULES) for n in range(len(keys))
    ]
    run["written"] = [folder_bytes(results, f"{key}.*") for key in keys]
    return run


FORMAT_KINDS = ("mask", "bkg", "bkgrms", "proprms")
"""The products of a frame that :func:`format_costs` writes in both formats."""


def format_costs(results: Path, key: str, folder: Path) -> dict:
    """Seconds and bytes to write the products of frame ``key`` in ``results`` again, plain
    and compressed (as the chain's writers do, into ``folder``, deleted after)."""
    maps = {kind: read_image(results / f"{key}.{kind}.fits") for kind in FORMAT_KINDS}
    costs = {}
    for name, compress in (("plain", False), ("compressed", True)):
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        for kind, (data, header) in maps.items():
            if kind == "mask":
                write_mask(folder / "frame.mask.fits", data.astype(np.uint8), header, compress)
            else:
                write_float_map(folder / f"frame.{kind}.fits", data, header, compress)
        costs[f"{name}_write_s"] = time.perf_counter() - start
        costs[f"{name}_written"] = folder_bytes(folder)
    shutil.rmtree(folder)
    return costs


def job_benchmarks(folder: Path) -> dict:
    """Wall time (s) and peak RSS (MB, NaN if not sampled) of every job, by (rule, frame key).

    Read from Snakemake's files ``{folder}/{rule}/{key}.tsv`` (``{folder}/{rule}.tsv``
    for rules without a frame, whose key is None).
    """
    jobs = {}
    for path in folder.rglob("*.tsv"):
        rule, *key = path.relative_to(folder).with_suffix("").parts
        with path.open() as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        rss = float(row["max_rss"]) if row["max_rss"] != "NA" else math.nan
        jobs[rule, "/".join(key) or None] = (float(row["s"]), rss)
    return jobs


def folder_bytes(folder: Path, pattern: str = "*") -> int:
    """Total size (bytes) of the files in ``folder`` matching ``pattern``."""
    return sum(path.stat().st_size for path in folder.glob(pattern) if path.is_file())


LAUNCHER = (
    "import os, subprocess, sys; child = subprocess.Popen(sys.argv[2:]); "
    "_, status, usage = os.wait4(child.pid, 0); "
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); "
    "sys.exit(os.waitstatus_to_exitcode(status))"
)
"""Runs a command and writes its peak RSS (KB) to a file.

Linux carries a process's peak RSS into the children it forks, so a command
started straight from this (large) process would report at least this
process's peak; started from a small fresh interpreter, it reports its own.
"""


def measured(command: list[str], log: Path) -> tuple[float, float]:
    """Run ``command`` in JOB_ENVIRONMENT (output to ``log``); its wall time (s) and peak RSS (MB).

    Raises :class:`Unavailable` with the log's last line if it fails.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    peak = log.with_suffix(".maxrss")
    start = time.perf_counter()
    with log.open("w") as output:
        returncode = subprocess.call(
            [sys.executable, "-c", LAUNCHER, str(peak), *command],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            env=os.environ | JOB_ENVIRONMENT,
        )  # fmt: skip
    elapsed = time.perf_counter() - start
    if returncode != 0:
        lines = log.read_text().strip().splitlines() or ["no output"]
        raise Unavailable(f"exit status {returncode}: {lines[-1]} (see {log})")
    return elapsed, int(peak.read_text()) / 1024


def method_run(workdir: Path, name: str, command, frames) -> dict:
    """Run method ``name`` once per frame, a fresh process per frame and JOBS at a time; per
    frame its wall time (s), peak RSS (MB) and bytes written. ``command(frame, masters,
    outdir)`` is its command; each frame's products are deleted once counted.
    """

    def one(frame: Path, masters: list[Path]) -> tuple[float, float, int]:
        stem = frame.name[: -len(".fits")]
        outdir = workdir / "out" / name / stem
        shutil.rmtree(outdir, ignore_errors=True)
        log = workdir / "logs" / name / f"{stem}.log"
        wall, rss = measured(command(frame, masters, outdir), log)
        written = folder_bytes(outdir)
        shutil.rmtree(outdir)
        return wall, rss, written

    with ThreadPoolExecutor(JOBS) as pool:
        walls, peaks, written = zip(*pool.map(one, *zip(*frames, strict=True)), strict=True)
    return {"wall_s": list(walls), "rss_mb": list(peaks), "written": list(written)}


def floor_command(frame: Path, masters: list[Path], outdir: Path) -> list[str]:
    """The floor on one frame in a fresh Python process."""
    return [sys.executable, "-c", FLOOR_CALL, str(frame), *map(str, masters), str(outdir)]


def peer_command(name: str, python: Path, home: Path, frame: Path, masters, outdir) -> list[str]:
    """Peer ``name``'s driver on one frame, run by ``python`` (ezphot's HOME is ``home``)."""
    command = [str(python), "-I", str(HERE / "peers" / PEER_DRIVERS[name]), str(frame), str(outdir)]
    command += ["--box", str(BOX_SIZE), "--filter", str(FILTER_SIZE)]
    if name == "ezphot":
        command += [
            "--bias", str(masters[0]), "--dark", str(masters[1]), "--flat", str(masters[2]),
            "--home", str(home), "--sigma", str(SIGMA),
            "--mask-radius-factor", str(MASK_RADIUS_FACTOR), "--iterations", str(MASK_ITERATIONS),
        ]  # fmt: skip
    return command


def peer_home(workdir: Path, name: str) -> Path:
    """HOME of a peer's processes (ezphot keeps its configuration in $HOME/ezphot)."""
    return workdir / "venvs" / f"{name}-home"


def checked_output(command: list[str], shown: str) -> bytes:
    """Run ``command`` and return its output; if it cannot start or fails, raise
    :class:`Unavailable` with ``shown`` (how the command is named) and its last words."""
    try:
        result = subprocess.run(command, capture_output=True)
    except OSError as error:
        raise Unavailable(f"`{shown}` failed: {error}") from None
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace")
        words = output.strip().splitlines() or ["no output"]
        raise Unavailable(f"`{shown}` failed: {words[-1]}")
    return result.stdout


def install_peer(workdir: Path, name: str) -> Path:
    """The python of WORKDIR/venvs/{name} with the peer's packages, installed on first use.

    ezphot's configuration is made then too, in :func:`peer_home`. Raises
    :class:`Unavailable` with the failing command and its last words.
    """
    venv = workdir / "venvs" / name
    python = venv / "bin" / "python"
    stamp = venv / "benchmark-packages.txt"
    packages = PEER_PACKAGES[name]
    if stamp.is_file() and stamp.read_text().splitlines() == packages:
        return python
    print(f"installing {' '.join(packages)} into {venv}")
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)]]
    steps.append([str(python), "-m", "pip", "install", "--quiet", *packages])
    if name == "ezphot":
        home = peer_home(workdir, name)
        steps.append(
            [str(python), "-I", str(HERE / "peers" / PEER_DRIVERS["ezphot"]), "--home", str(home)]
        )
    for step in steps:
        checked_output(step, " ".join(step[2:]))
    stamp.write_text("\n".join(packages) + "\n")
    return python


def baseline_checkout(folder: Path, revision: str) -> Path:
    """This repository at git ``revision``, extracted (``git archive``) into folder/{commit}
    on first use. Raises :class:`Unavailable` if git cannot resolve ``revision`` here."""

    def git(*args: str) -> bytes:
        return checked_output(["git", "-C", str(REPO), *args], f"git {args[0]} {revision}")

    commit = git("rev-parse", "--verify", f"{revision}^{{commit}}").decode().strip()
    checkout = folder / commit
    if not (checkout / "Snakefile").is_file():
        partial = folder / f"{commit}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(git("archive", commit))) as archive:
            archive.extractall(partial, filter="data")
        shutil.rmtree(checkout, ignore_errors=True)
        partial.rename(checkout)
    return checkout


def methods(workdir: Path, skip_peers: bool) -> tuple[dict, dict]:
    """The methods to run besides the chain: {name: command function}; and {name: why not}."""
    commands, unavailable = {"floor": floor_command}, {}
    for name in PEER_PACKAGES:
        if skip_peers:
            unavailable[name] = "skipped (--skip-peers)"
            continue
        try:
            python = install_peer(workdir, name)
        except Unavailable as error:
            unavailable[name] = f"not installed: {error}"
            continue
        commands[name] = functools.partial(peer_command, name, python, peer_home(workdir, name))
    return commands, unavailable


# --- figures ------------------------------------------------------------------------------------


def peak(values) -> float:
    """The largest of ``values`` that is not NaN (NaN if none is)."""
    return max((value for value in values if not math.isnan(value)), default=math.nan)


def repeat_values(runs: dict, input_bytes: list[int]) -> dict[str, list[float]]:
    """Per figure (see FIGURES), its value in each repeat; methods without runs give none."""
    mean = statistics.fmean
    chain, formats = runs["chain"], runs["formats"]
    values = {
        "input_mb": [mean(input_bytes) / MB for _ in chain],
        "written_over_input": [run["compressed_written"] / input_bytes[0] for run in formats],
        "total_wall_s": [run["total_s"] for run in chain],
        "jobs_wall_s": [run["jobs_s"] for run in chain],
        "overhead": [run["total_s"] / (run["jobs_s"] / 2) for run in chain],
    }
    for rule in CHAIN_RULES:
        values[f"{rule}_wall_s"] = [mean(run[f"{rule}_s"]) for run in chain]
        values[f"{rule}_rss_mb"] = [peak(run[f"{rule}_rss_mb"]) for run in chain]
    for name in ("plain", "compressed"):
        values[f"{name}_written_mb"] = [run[f"{name}_written"] / MB for run in formats]
        values[f"{name}_write_s"] = [run[f"{name}_write_s"] for run in formats]
    for name, method_runs in runs.items():
        if method_runs and name != "formats":
            values[f"{name}_wall_s"] = [mean(run["wall_s"]) for run in method_runs]
            values[f"{name}_rss_mb"] = [peak(run["rss_mb"]) for run in method_runs]
            values[f"{name}_written_mb"] = [mean(run["written"]) / MB for run in method_runs]
    for key, (top, bottom) in RATIOS.items():
        if f"{top}_wall_s" in values and f"{bottom}_wall_s" in values:
            pairs = zip(values[f"{top}_wall_s"], values[f"{bottom}_wall_s"], strict=True)
            values[key] = [a / b for a, b in pairs]
    return values


def figures(values: dict[str, list[float]], unavailable: dict[str, str]) -> dict[str, dict]:
    """Every figure of FIGURES: label, median, min, max, target and whether the median meets
    it; or label, target and why it was not measured (``missing``)."""
    result = {}
    for key, (label, target) in FIGURES.items():
        figure = {"label": label.strip(), "target": target and f"{target[0]} {target[1]:g}"}
        if key in values:
            median = statistics.median(values[key])
            figure.update(median=median, min=min(values[key]), max=max(values[key]))
            if target:
                figure["met"] = median <= target[1] if target[0] == "<=" else median >= target[1]
        else:
            needed = RATIOS.get(key, (key.split("_")[0],))
            figure["missing"] = next(unavailable[name] for name in needed if name in unavailable)
        result[key] = figure
    return result


def number(value: float) -> str:
    """``value`` with about three significant digits, or NA."""
    if math.isnan(value):
        return "NA"
    digits = 0 if abs(value) >= 100 else 2 if abs(value) >= 1 else 3
    return f"{value:.{digits}f}"


def table(figures: dict[str, dict], labels=None, width=46, why=lambda f: f["missing"]) -> str:
    """The figures as a text table: median, min - max over the repeats, target, met.

    ``labels`` maps each figure's key to (label, ...) (default :data:`FIGURES`), ``width``
    is the label column's, ``why(figure)`` says why a figure was not measured.
    """
    rows = [f"{'figure':<{width}}{'median':>9}{'min - max':>22}   target"]
    for key, (label, _) in (FIGURES if labels is None else labels).items():
        figure = figures[key]
        if "missing" in figure:
            rows.append(f"{label:<{width}}   not measured: {why(figure)}")
            continue
        spread = f"{number(figure['min'])} - {number(figure['max'])}"
        row = f"{label:<{width}}{number(figure['median']):>9}{spread:>22}"
        if figure["target"]:
            row += f"   {figure['target']:<9}{'met' if figure['met'] else 'MISSED'}"
        rows.append(row)
    return "\n".join(rows)


# --- main ---------------------------------------------------------------------------------------


def chains(workdir: Path, frames: list[Path], revision: str) -> tuple[dict, dict, str | None]:
    """The chain and the baseline at git ``revision`` ("none": left out), each with its
    folder and configuration written and its header index built (a dry run, not timed):
    {name: (folder, repo)}; {name: why not}; the baseline's commit (None if left out)."""
    from benchmarks.scaletest import snakemake  # see write_data

    found, unavailable, commit = {"chain": (workdir, REPO)}, {}, None
    if revision == "none":
        unavailable["baseline"] = "left out (--baseline none)"
    else:
        try:
            repo = baseline_checkout(workdir / "baseline", revision)
            commit, found["baseline"] = repo.name, (workdir / "baseline" / "run", repo)
        except Unavailable as error:
            unavailable["baseline"] = f"not checked out: {error}"
    for folder, repo in found.values():
        write_config(folder, workdir / "data", frames, repo)
        elapsed, _ = snakemake(folder, "--dry-run", "--quiet", "rules", repo=repo)
        print(f"header index of the frames and masters for {repo} built in {elapsed:.1f} s")
    return found, unavailable, commit


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--frames", type=int, default=8, help="frames measured (1-18)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of every method")
    parser.add_argument("--shape", type=int, nargs=2, default=FULL_SHAPE, metavar=("NY", "NX"))
    parser.add_argument(
        "--baseline", default=BASELINE, metavar="REVISION",
        help=f"git revision of the earlier skyrms timed against (default {BASELINE}, 0.1.0; "
        "none: leave out)",
    )  # fmt: skip
    parser.add_argument("--skip-peers", action="store_true", help="leave out photutils, ezphot")
    args = parser.parse_args(argv)
    if min(args.shape) < BOX_SIZE or args.repeats < 1:
        parser.error(f"frames need at least {BOX_SIZE} px a side, and --repeats at least 1")

    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    frames = write_data(workdir / "data", tuple(args.shape), args.frames)
    scidata = workdir / "data" / "scidata"
    keys = [str(frame.relative_to(scidata))[: -len(".fits")] for frame, _ in frames]
    workflows, unavailable, commit = chains(workdir, [frame for frame, _ in frames], args.baseline)
    commands, more = methods(workdir, args.skip_peers)
    unavailable |= more
    runners = {
        name: functools.partial(chain_run, folder, keys, repo)
        for name, (folder, repo) in workflows.items()
    }
    for name, command in commands.items():
        runners[name] = functools.partial(method_run, workdir, name, command, frames)
    runs = {name: [] for name in runners} | {"formats": []}
    for repeat in range(1, args.repeats + 1):
        order = list(runners)
        if repeat % 2 == 0 and "baseline" in runners:  # the chain and the baseline take turns
            order[:2] = order[1::-1]
        for name in order:
            if name in unavailable:
                continue
            try:
                runs[name].append(runners[name]())
            except Unavailable as error:
                if name == "chain":
                    raise SystemExit(f"the chain failed: {error}") from None
                unavailable[name], runs[name] = f"failed: {error}", []
        runs["formats"].append(format_costs(workdir / "results", keys[0], workdir / "formats"))
        walls = ", ".join(
            f"{name} {statistics.fmean(done[-1]['wall_s']):.2f}"
            for name, done in runs.items()
            if done and name != "formats"
        )
        print(f"repeat {repeat}/{args.repeats}, wall time per frame (s): {walls}")
    input_bytes = [frame.stat().st_size for frame, _ in frames]
    results = figures(repeat_values(runs, input_bytes), unavailable)
    ny, nx = args.shape
    against = f"baseline skyrms at {commit[:10]}; " if commit else ""
    print(
        f"\n{len(frames)} frames of {nx}x{ny} px, {args.repeats} repeat(s), snakemake --cores 2; "
        f"{against}median and min - max over the repeats; MB = 2**20 bytes\n"
    )
    print(table(results))
    report = {
        "frames": [str(frame) for frame, _ in frames],
        "shape": [ny, nx],
        "repeats": args.repeats,
        "baseline": {"revision": args.baseline, "commit": commit},
        "figures": results,
        "unavailable": unavailable,
        "runs": runs,
    }
    (workdir / "benchmark.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten to {workdir / 'benchmark.json'}")


if __name__ == "__main__":
    main()
