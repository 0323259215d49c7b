"""One master bias from raw frames: skyrms's master step against ccdproc.combine and ezphot.

    python -m benchmarks.masters_benchmark WORKDIR [--frames 9] [--shape 6388 9576]
        [--method median|mean|minmax|sigma_clip] [--repeats 1] [--dtype uint16|float32]
        [--skip-peers]

Writes ``--frames`` raw bias frames of ``--shape`` under WORKDIR/raw (kept for the next
run), then measures, ``--repeats`` times in turn (the order alternating from one repeat
to the next), each in a fresh process:

1. skyrms: ``build_master("BIAS", raws, output, CombineParams(method), group=...)``
   (:mod:`skyrms.steps.masters`, the workflow's master job without the workflow): the
   master (float32, ADU) with its ERR and RDNOISE extensions and the INPUTS table, for
   which it computes every raw frame's SHA-256 (the workflow hands it the digests of its
   header index instead, so this is the slower case);
2. ccdproc: ``ccdproc.combine`` with the same combination and clipping
   (:mod:`benchmarks.peers.ccdproc_combine`), everything else its default: its
   ``mem_limit`` (16e9 bytes), float64 pixels, and the uncertainty it computes for every
   combination, written with a MASK extension;
3. ezphot: its combiner (``Stack().combiner.combine_images_parallel``, its default
   processes) with the same combination (:mod:`benchmarks.peers.ezphot_master`), the
   call its master builder ``Preprocess.generate_masterframe`` means to make: in ezphot
   0.4.15 the builder itself fails before combining anything (see that module).

The peers are installed on first use into their own virtual environments
(WORKDIR/venvs/ccdproc, WORKDIR/venvs/ezphot, by :func:`benchmarks.benchmark.install_peer`),
so skyrms does not depend on them; ``--skip-peers`` leaves them out and their figures read
"not measured". Both run as the
workflow's jobs do (:data:`benchmarks.benchmark.JOB_ENVIRONMENT`: one thread, numpy's
huge-page advice off), with the raw frames in the page cache (read once before the
first run). A wall time includes starting Python and importing the libraries; a peak
RSS is the kernel's (``wait4``), which counts the resident pages of memory-mapped files
too (skyrms reads the raw frames' rows without mapping them). MB are 2**20 bytes.

The raw frames are what the 7DT's CMOS camera (C3-61000, a 16-bit ADC) writes: unsigned
16-bit integers, stored as FITS does them (BITPIX 16, BZERO 32768); ``--dtype float32``
writes the same values as float32. Each frame is a fixed bias pattern (500 ADU, column
and pixel offsets of a few ADU), a small level drift per frame, and read noise whose
per-pixel sigma is lognormal around 6 e- (EGAIN 0.2561 e-/ADU, about 23 ADU) with a 0.2%
tail of noisier pixels (3x), rounded to whole ADU. Headers: IMAGETYP BIAS, DATE-OBS,
EXPTIME 0, EGAIN, GAIN, TELESCOP 7DT02, INSTRUME, OBSERVAT, SATURATE.

Prints, for each method, the median wall time and peak RSS over the repeats (with the
min - max), the ratios skyrms / ccdproc (target <= 0.5) and skyrms / ezphot of the wall
times (median of the repeats' ratios) and skyrms's peak RSS against its target (<= 1536
MB); then how far skyrms's master is from ccdproc's (largest difference in ADU, median
difference in units of each pixel's simulated read noise) and how skyrms's ERR and
RDNOISE compare with ccdproc's uncertainty and the simulated read noise. Writes
everything to WORKDIR/masters_benchmark.json. Exits with status 1 if skyrms failed.
"""

import argparse
import json
import statistics
import sys
from pathlib import Path
from unittest import mock

import numpy as np
from astropy.io import fits

from benchmarks import benchmark
from benchmarks.benchmark import MB, Unavailable, measured, method_figures
from skyrms.io import keywords as kw
from skyrms.science.combine import METHODS, CombineParams

HERE = Path(__file__).resolve().parent
FULL_SHAPE = benchmark.FULL_SHAPE  # ny, nx: a 7DT frame

PEER_PACKAGES = {"ccdproc": ["ccdproc"]}
"""The peer's packages, installed into WORKDIR/venvs/ccdproc by benchmark.install_peer."""
CCDPROC_DRIVER = HERE / "peers" / "ccdproc_combine.py"
EZPHOT_DRIVER = HERE / "peers" / "ezphot_master.py"
PEERS = ("ccdproc", "ezphot")

SKYRMS_CALL = (
    "import sys; from skyrms.science.combine import CombineParams; "
    "from skyrms.steps.masters import build_master; "
    "build_master('BIAS', sys.argv[3:], sys.argv[2], CombineParams(sys.argv[1]), "
    "group='masters benchmark')"
)
"""skyrms's master of ``argv[3:]`` into ``argv[2]`` with method ``argv[1]``; imports skyrms only."""

# --- the simulated raw frames -------------------------------------------------------------------

SIMULATION = 1  # bumped whenever the frames below change: older files are written again
SEED = 14
EGAIN = 0.2561  # e-/ADU, the camera's HIGH read-out mode
CAMERA_GAIN = 2750  # the camera's gain setting (header GAIN) of that mode
READ_NOISE_E = 6.0  # typical read noise, e-
CORE_SPREAD = 0.1  # lognormal sigma of the per-pixel read noise
TAIL_FRACTION = 0.002  # pixels with a noisier read-out ...
TAIL_FACTOR = 3.0  # ... by this factor (lognormal, spread 0.4)
BIAS_LEVEL = 500.0  # ADU
COLUMN_PATTERN = 3.0  # ADU, sigma of the column offsets
PIXEL_PATTERN = 1.5  # ADU, sigma of the fixed pixel offsets
FRAME_DRIFT = 0.5  # ADU, sigma of each frame's level drift
DTYPES = {"uint16": np.uint16, "float32": np.float32}
"""Pixel types of the raw frames: uint16 as the camera writes them (FITS BITPIX 16 with
BZERO 32768), or the same values as float32."""


def read_noise(shape: tuple[int, int]) -> np.ndarray:
    """The simulated read noise of every pixel (ADU, float32): lognormal around
    READ_NOISE_E, TAIL_FRACTION of the pixels TAIL_FACTOR x noisier."""
    rng = np.random.default_rng(SEED)
    sigma = rng.standard_normal(shape, dtype=np.float32)
    sigma *= CORE_SPREAD
    np.exp(sigma, out=sigma)
    sigma *= READ_NOISE_E / EGAIN
    tail = rng.integers(0, sigma.size, int(TAIL_FRACTION * sigma.size))
    sigma.flat[tail] *= TAIL_FACTOR * np.exp(0.4 * rng.standard_normal(len(tail)))
    return sigma


def bias_pattern(shape: tuple[int, int]) -> np.ndarray:
    """The fixed bias structure (ADU, float32): level, column and pixel offsets."""
    rng = np.random.default_rng(SEED + 1)
    pattern = rng.standard_normal(shape, dtype=np.float32)
    pattern *= PIXEL_PATTERN
    pattern += BIAS_LEVEL + COLUMN_PATTERN * rng.standard_normal(shape[1], dtype=np.float32)
    return pattern


def raw_header(index: int) -> fits.Header:
    """Header of raw bias frame ``index`` (0-based), 5 s after the one before."""
    cards = [
        kw.IMAGETYP.card("BIAS"),
        kw.EXPTIME.card(0.0),
        kw.DATE_OBS.card(f"2025-01-15T21:{index * 5 // 60:02d}:{index * 5 % 60:02d}"),
        kw.TELESCOP.card("7DT02"),
        kw.INSTRUME.card("C3-61000 Pro"),
        kw.OBSERVAT.card("7DT"),
        kw.GAIN.card(CAMERA_GAIN),
        kw.EGAIN.card(EGAIN),
        kw.SATURATE.card(60000),
    ]
    return fits.Header(cards)


def write_raws(folder: Path, count: int, shape: tuple[int, int], dtype: str) -> list[Path]:
    """``count`` raw bias frames in ``folder`` (one folder per shape and dtype); those
    already written by this SIMULATION are kept."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / "frames.json"
    expected = {"simulation": SIMULATION, "shape": list(shape), "dtype": dtype}
    done = json.loads(stamp.read_text()) if stamp.is_file() else {}
    written = done.get("count", 0) if {k: done.get(k) for k in expected} == expected else 0
    paths = [folder / f"bias_{index:02d}.fits" for index in range(count)]
    if written >= count:
        return paths
    pattern, sigma = bias_pattern(shape), read_noise(shape)
    for index in range(written, count):
        rng = np.random.default_rng(SEED + 2 + index)
        pixels = rng.standard_normal(shape, dtype=np.float32)
        pixels *= sigma
        pixels += pattern
        pixels += FRAME_DRIFT * rng.standard_normal()
        np.rint(pixels, out=pixels)
        np.clip(pixels, 0, 65535, out=pixels)
        temporary = paths[index].with_suffix(".part")
        hdu = fits.PrimaryHDU(pixels.astype(DTYPES[dtype]), raw_header(index))
        hdu.writeto(temporary, overwrite=True)
        temporary.replace(paths[index])
        stamp.write_text(json.dumps(expected | {"count": index + 1}) + "\n")
    return paths


def warm(paths: list[Path]) -> None:
    """Read every file once, so that every method finds them in the page cache."""
    for path in paths:
        with path.open("rb") as handle:
            while handle.read(2**24):
                pass


# --- the methods ----------------------------------------------------------------------------------


def skyrms_command(method: str, paths: list[Path], output: Path) -> list[str]:
    """skyrms's master step in a fresh Python process (of this venv)."""
    return [sys.executable, "-c", SKYRMS_CALL, method, str(output), *map(str, paths)]


def driver_command(python: Path, driver: Path, params: CombineParams, paths, output, *more):
    """A peer's driver (``driver``) run by the python of its venv, with the combination of
    ``params`` and the driver's ``more`` options."""
    return [
        str(python), "-I", str(driver), str(output), *map(str, paths),
        "--method", params.method, "--sigma", str(params.sigma), "--nlow", str(params.nlow),
        "--nhigh", str(params.nhigh), *more,
    ]  # fmt: skip


def peer_commands(workdir: Path, params: CombineParams, paths, outputs, info: Path) -> dict:
    """{peer: a function making its command}, each peer installed on first use (the function
    raises Unavailable); ccdproc writes what it used to ``info``, ezphot's configuration is
    in its home."""
    return {
        "ccdproc": lambda: driver_command(
            install_ccdproc(workdir), CCDPROC_DRIVER, params, paths, outputs["ccdproc"],
            "--info", str(info),
        ),
        "ezphot": lambda: driver_command(
            benchmark.install_peer(workdir, "ezphot"), EZPHOT_DRIVER, params, paths,
            outputs["ezphot"], "--home", str(benchmark.peer_home(workdir, "ezphot")),
        ),
    }  # fmt: skip


def install_ccdproc(workdir: Path) -> Path:
    """The python of WORKDIR/venvs/ccdproc, installed on first use (raises Unavailable)."""
    with mock.patch.dict(benchmark.PEER_PACKAGES, PEER_PACKAGES):
        return benchmark.install_peer(workdir, "ccdproc")


def run_once(workdir: Path, name: str, command: list[str], output: Path, repeat: int) -> dict:
    """One measured run of method ``name``: wall time (s), peak RSS (MB), bytes written."""
    output.unlink(missing_ok=True)
    wall, rss = measured(command, workdir / "logs" / f"{name}-{repeat}.log")
    return {"wall_s": wall, "rss_mb": rss, "written": output.stat().st_size}


# --- figures --------------------------------------------------------------------------------------

FIGURES = {
    **method_figures("skyrms", "skyrms build_master", "master file", rss_target=("<=", 1.5 * 1024)),
    **method_figures("ccdproc", "ccdproc.combine", "master file"),
    **method_figures("ezphot", "ezphot combiner", "master file"),
    "skyrms_over_ccdproc": ("ratio skyrms / ccdproc, wall time", ("<=", 0.5)),
    "skyrms_over_ezphot": ("ratio skyrms / ezphot, wall time", None),
    "rss_skyrms_over_ccdproc": ("ratio skyrms / ccdproc, peak RSS", None),
    "max_abs_diff_adu": ("master: max |skyrms - ccdproc| (ADU)", None),
    "median_diff_over_noise": ("master: median |skyrms - ccdproc| / read noise", ("<=", 0.01)),
    "differing_fraction": ("master: pixels off by > 0.01 read noise", None),
    "err_over_uncertainty": ("ERR: median skyrms ERR / ccdproc uncertainty", None),
    "rdnoise_over_truth": ("RDNOISE: median skyrms / simulated read noise", None),
    "max_abs_diff_ezphot_adu": ("master: max |skyrms - ezphot| (ADU)", None),
}
"""Every figure: its label in the table and its target (comparison, value) or None."""

NEEDS = {
    "skyrms_over_ccdproc": ("skyrms", "ccdproc"),
    "skyrms_over_ezphot": ("skyrms", "ezphot"),
    "max_abs_diff_ezphot_adu": ("skyrms", "ezphot"),
    "rss_skyrms_over_ccdproc": ("skyrms", "ccdproc"),
    "max_abs_diff_adu": ("skyrms", "ccdproc"),
    "median_diff_over_noise": ("skyrms", "ccdproc"),
    "differing_fraction": ("skyrms", "ccdproc"),
    "err_over_uncertainty": ("skyrms", "ccdproc"),
    "rdnoise_over_truth": ("skyrms",),
}
"""The methods a figure needs, when not the one its key starts with."""


def agreement(ours: Path | None, theirs: Path | None, shape, ezphot=None) -> dict[str, float]:
    """How skyrms's master (``ours``) compares with ccdproc's (``theirs``), ezphot's and the
    simulated read noise; figures of a missing master are left out."""
    noise = read_noise(shape)
    result = {}
    if ours and ezphot:
        difference = fits.getdata(ours).astype(np.float64) - fits.getdata(ezphot)
        result["max_abs_diff_ezphot_adu"] = float(np.nanmax(np.abs(difference)))
        del difference
    with fits.open(ours) if ours else fits.HDUList() as mine:
        if ours:
            rdnoise = mine[kw.READ_NOISE_EXTENSION].data.astype(np.float32) / np.float32(EGAIN)
            result["rdnoise_over_truth"] = float(np.nanmedian(rdnoise / noise))
            del rdnoise
        if not (ours and theirs):
            return result
        with fits.open(theirs) as peer:
            difference = np.abs(mine[0].data.astype(np.float64) - peer[0].data)
            result["max_abs_diff_adu"] = float(np.nanmax(difference))
            difference /= noise
            result["median_diff_over_noise"] = float(np.nanmedian(difference))
            result["differing_fraction"] = float(np.mean(difference > 0.01))
            del difference
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = mine[kw.ERROR_EXTENSION].data / peer["UNCERT"].data
            result["err_over_uncertainty"] = float(np.nanmedian(ratio))
    return result


def repeat_values(runs: dict[str, list[dict]], agreed: dict[str, float]) -> dict[str, list]:
    """Per figure (see FIGURES), its value in each repeat (the agreement: one value)."""
    values = {}
    for name, done in runs.items():
        if done:
            values[f"{name}_wall_s"] = [run["wall_s"] for run in done]
            values[f"{name}_rss_mb"] = [run["rss_mb"] for run in done]
            values[f"{name}_written_mb"] = [run["written"] / MB for run in done]
    ratios = {
        "skyrms_over_ccdproc": ("ccdproc", "wall_s"),
        "rss_skyrms_over_ccdproc": ("ccdproc", "rss_mb"),
        "skyrms_over_ezphot": ("ezphot", "wall_s"),
    }
    for figure, (peer, key) in ratios.items():
        if runs["skyrms"] and runs[peer]:
            pairs = zip(runs["skyrms"], runs[peer], strict=True)
            values[figure] = [ours[key] / theirs[key] for ours, theirs in pairs]
    values |= {key: [value] for key, value in agreed.items()}
    return values


def figures(values: dict[str, list[float]], unavailable: dict[str, str]) -> dict[str, dict]:
    """Every figure of FIGURES: label, median, min, max, target and whether the median meets
    it; or label, target and why it was not measured (``missing``)."""
    result = {}
    for key, (label, target) in FIGURES.items():
        figure = {"label": label, "target": target and f"{target[0]} {target[1]:g}"}
        if key in values:
            median = statistics.median(values[key])
            figure.update(median=median, min=min(values[key]), max=max(values[key]))
            if target:
                figure["met"] = median <= target[1] if target[0] == "<=" else median >= target[1]
        else:
            needed = NEEDS.get(key, (key.split("_")[0],))
            why = [(name, unavailable[name]) for name in needed if name in unavailable]
            figure["missing"] = why[0][1] if why else "no value"
            figure["missing_method"] = why[0][0] if why else None
        result[key] = figure
    return result


def why_missing(figure: dict) -> str:
    """Why a figure was not measured; a long failure is said once, below the table."""
    why = figure["missing"]
    return f"{figure['missing_method']} {why.split(':')[0]} (see below)" if len(why) > 40 else why


def table(results: dict[str, dict]) -> str:
    """The figures as a text table (:func:`benchmarks.benchmark.table`)."""
    return benchmark.table(results, FIGURES, 50, why_missing)


# --- main -----------------------------------------------------------------------------------------


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--frames", type=int, default=9, help="raw frames combined (>= 3)")
    parser.add_argument("--shape", type=int, nargs=2, default=FULL_SHAPE, metavar=("NY", "NX"))
    parser.add_argument("--method", choices=METHODS, default="median")
    parser.add_argument("--repeats", type=int, default=1, help="runs of every method")
    parser.add_argument("--dtype", choices=DTYPES, default="uint16", help="raw frames' pixels")
    parser.add_argument("--skip-peers", action="store_true", help="leave out ccdproc, ezphot")
    args = parser.parse_args(argv)
    if args.frames < 3 or args.repeats < 1 or min(args.shape) < 1:
        parser.error("--frames must be at least 3, --repeats at least 1")
    workdir = args.workdir.resolve()
    shape = tuple(args.shape)
    params = CombineParams(args.method)
    ny, nx = shape
    raw_folder = workdir / "raw" / f"{args.dtype}-{nx}x{ny}"
    paths = write_raws(raw_folder, args.frames, shape, args.dtype)
    warm(paths)
    out = workdir / "out"
    out.mkdir(parents=True, exist_ok=True)
    outputs = {name: out / f"{name}.fits" for name in ("skyrms", *PEERS)}
    info_path = out / "ccdproc.json"
    commands = {"skyrms": skyrms_command(args.method, paths, outputs["skyrms"])}
    unavailable = {}
    for name, command in peer_commands(workdir, params, paths, outputs, info_path).items():
        if args.skip_peers:
            unavailable[name] = "skipped (--skip-peers)"
            continue
        try:
            commands[name] = command()
        except Unavailable as error:
            unavailable[name] = f"not installed: {error}"
    runs = {name: [] for name in outputs}
    for repeat in range(1, args.repeats + 1):
        names = list(commands) if repeat % 2 else list(reversed(commands))  # alternating
        for name in names:
            if name in unavailable:
                continue
            try:
                runs[name].append(run_once(workdir, name, commands[name], outputs[name], repeat))
            except Unavailable as error:
                unavailable[name], runs[name] = f"failed: {error}", []
        walls = ", ".join(f"{name} {done[-1]['wall_s']:.2f}" for name, done in runs.items() if done)
        print(f"repeat {repeat}/{args.repeats}, wall time (s): {walls or 'none'}", flush=True)
    measured_masters = {name: outputs[name] if runs[name] else None for name in outputs}
    agreed = agreement(
        measured_masters["skyrms"], measured_masters["ccdproc"], shape, measured_masters["ezphot"]
    )
    results = figures(repeat_values(runs, agreed), unavailable)
    ccdproc_info = json.loads(info_path.read_text()) if runs["ccdproc"] else None
    writes = {
        "skyrms": "float32 master + ERR + RDNOISE + INPUTS (SHA-256 of every raw frame, "
        "computed in the run)",
        "ccdproc": "float64 master + UNCERT + MASK (its defaults)",
        "ezphot": "the combined pixels as its combiner returns them (no error map)",
    }
    kind = "uint16, BZERO 32768" if args.dtype == "uint16" else "float32"
    print(
        f"\none master bias from {len(paths)} raw frames of {nx}x{ny} px ({kind}), "
        f"{params.describe()}, {args.repeats} repeat(s); a fresh process per run, one "
        f"thread, raw frames in the page cache; median and min - max over the repeats; "
        f"MB = 2**20 bytes"
    )
    call = f"build_master('BIAS', ..., CombineParams({args.method!r}))"
    print(f"skyrms: {call} writes {writes['skyrms']}")
    if ccdproc_info:
        arguments = ", ".join(f"{k}={v!r}" for k, v in ccdproc_info["arguments"].items())
        print(
            f"ccdproc {ccdproc_info['version']}: combine({arguments}), mem_limit "
            f"{ccdproc_info['mem_limit']:g} bytes (its default; {ccdproc_info['chunks']} "
            f"chunk(s) a frame), dtype {ccdproc_info['dtype']}; writes {writes['ccdproc']}"
        )
    else:
        print(f"ccdproc: not measured: {unavailable.get('ccdproc', 'no run')}")
    if runs["ezphot"]:
        print(f"ezphot: Stack().combiner.combine_images_parallel; writes {writes['ezphot']}")
    else:
        print(f"ezphot: not measured: {unavailable.get('ezphot', 'no run')}")
    print()
    print(table(results))
    for name, why in unavailable.items():
        if len(why) > 40:
            print(f"{name}: {why}")
    report = {
        "frames": [str(path) for path in paths],
        "shape": [ny, nx],
        "dtype": args.dtype,
        "method": args.method,
        "repeats": args.repeats,
        "figures": results,
        "unavailable": unavailable,
        "runs": runs,
        "ccdproc": ccdproc_info,
        "writes": writes,
    }
    (workdir / "masters_benchmark.json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwritten to {workdir / 'masters_benchmark.json'}")
    if "skyrms" in unavailable:
        raise SystemExit(f"skyrms {unavailable['skyrms']}")


if __name__ == "__main__":
    main()
