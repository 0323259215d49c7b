"""Scale check: the nightly run and the up-to-date check on a season-sized archive.

    python -m benchmarks.scaletest /tmp/scale --frames 100000

Writes an archive of tiny frames (8x8 pixels, real headers) in the survey
layout, spread over 20 units, 5 filters and 28 nights, with a master library
(a bias, a dark and five flats per unit and night), then times the real
``snakemake``:

1. the first one-night dry run (``inputs.newest_nights: 1``): the header index
   is built for the whole archive (cold);
2. the same dry run with the index warm;
3. with every product present and up to date: the one-night no-op run, then
   the whole archive's no-op run;
4. the nightly run after one new master bias is synced into an earlier night
   (``inputs.add_rechosen``): the dry run takes the newest night's frames and
   exactly the earlier frames that now choose that bias.

Snakemake's own floors are measured in the same run: the same dry run and no-op runs of
Snakemake alone (:data:`FLOORS`), on a trivial workflow (:data:`TRIVIAL`) and on one of
our jobs' shape without our code (:data:`OUR_SHAPE`), with as many jobs as each case's.
Each case prints its time, each floor's and the ratios; the ratio to the trivial jobs is
judged against its target (:data:`TARGETS`). The ratio to our shape's floor is what our
own code and parameters add; the floors' ratio is what the files of our jobs cost
Snakemake itself.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from astropy.io import fits

from benchmarks.workflowrun import REPO, run_workflow
from skyrms.demo.survey import TELKEY
from skyrms.io.discovery import PRODUCTS
from skyrms.io.headerindex import HeaderIndex
from skyrms.plan import master_lookup
from skyrms.settings import max_days_by_type

UNITS = [f"7DT{n:02d}" for n in range(1, 21)]
FILTERS = ["m400", "m500", "m600", "m700", "r"]
NIGHTS = [f"2025-11-{day:02d}" for day in range(1, 29)]
DATA = np.zeros((8, 8), ">f4").tobytes().ljust(2880, b"\0")
"""The data block every tiny frame shares (8x8 big-endian float32, padded)."""


def write_fits(path: Path, **cards) -> None:
    """A tiny float32 FITS file with these header cards (written directly: fast)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = fits.Header([("SIMPLE", True), ("BITPIX", -32), ("NAXIS", 2)])
    header["NAXIS1"], header["NAXIS2"] = 8, 8
    header.extend((k.replace("_", "-"), v) for k, v in cards.items())
    path.write_bytes(header.tostring().encode("ascii") + DATA)


def write_frames(root: Path, frames: int) -> list[Path]:
    """``frames`` science frames spread over tiles, units, filters and nights."""
    paths = []
    for n in range(frames):
        unit, filt, night = UNITS[n % 20], FILTERS[(n // 20) % 5], NIGHTS[(n // 100) % 28]
        tile = f"T{(n // 500):05d}"
        clock = f"{3 + n % 5:02d}:{n % 60:02d}:{(n // 60) % 60:02d}"
        stamp = f"{night}_{clock}".replace("-", "").replace(":", "")
        name = f"calib_{unit}_{tile}_{stamp}_{filt}_100.fits"
        path = root / "scidata" / "7DT" / TELKEY / tile / unit / filt / name
        write_fits(
            path,
            OBJECT=tile,
            TELESCOP=unit,
            FILTER=filt,
            EXPTIME=100.0,
            DATE_OBS=f"{night}T{clock}",
            EGAIN=0.2561,
        )
        paths.append(path)
    return paths


def write_master(calib: Path, unit: str, imagetyp: str, moment: str, **cards) -> Path:
    """One master of the library layout, taken at ``moment`` (ISO)."""
    suffix = "_".join(str(v) for v in cards.values())
    path = calib / unit / imagetyp / f"{imagetyp.lower()}_{unit}_{moment}{suffix}.fits"
    write_fits(path, IMAGETYP=imagetyp, DATE_OBS=moment, NCOMBINE=9, **cards)
    return path


def write_library(root: Path) -> None:
    """A bias, a 100 s dark and a flat per filter for every unit and night."""
    calib = root / "calib" / "7DT" / TELKEY
    for unit in UNITS:
        for night in NIGHTS:
            moment = f"{night}T10:00:00"
            write_master(calib, unit, "BIAS", moment)
            write_master(calib, unit, "DARK", moment, EXPTIME=100.0)
            for filt in FILTERS:
                write_master(calib, unit, "FLAT", moment, FILTER=filt)


def snakemake(workdir: Path, *args, repo: Path = REPO) -> tuple[float, str]:
    """Wall time (s) and output of the real snakemake on the workflow in ``repo`` (by
    default this repository's); a failed run exits with the end of its output."""
    elapsed, result = run_workflow(workdir, *args, repo=repo)
    if result.returncode != 0:
        raise SystemExit(f"snakemake ({repo}) failed:\n{result.stdout[-6000:]}")
    return elapsed, result.stdout


def write_config(workdir: Path, **inputs) -> None:
    """The workflow configuration for the archive, with these ``inputs`` settings."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["demo"]["enabled"] = False
    config["masters"]["enabled"] = False  # the library holds every master
    config["outputs"]["quicklook"] = False  # the default for survey data
    config["outputs"]["weight"] = "none"  # the default: two jobs per frame
    config["inputs"].update(root=str(workdir / "archive" / "scidata"), **inputs)
    config["calibration"]["root"] = str(workdir / "archive" / "calib")
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


def recorded_choices(workdir: Path, frames: list[Path]) -> dict[str, dict]:
    """Per frame key, the masters the workflow chooses for it, as its record holds them
    (the choice is the product's own code working on the warm header index)."""
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    index = HeaderIndex(workdir / "results" / "header-index.json")
    calib, root = config["calibration"]["root"], config["inputs"]["root"]
    library = master_lookup.library_paths(calib)
    groups, _ = master_lookup.build_library(calib, {p: index.fields(p) for p in library})
    keys = {os.path.relpath(f, root)[: -len(".fits")]: str(f) for f in frames}
    choices = master_lookup.choose_for_frames(
        keys,
        {path: index.fields(path) for path in keys.values()},
        groups,
        max_days_by_type(config["calibration"]["max_days"]),
        config["calibration"]["dark_exptime"],
        index.digest,
    )
    return {key: choice.masters for key, choice in choices.items()}


CHAIN = ("mask", "bkg", "bkgrms", "masters", "proprms")
"""A frame's products of the chain, in the order its two jobs write them."""


def make_products(workdir: Path, frames: list[Path], root: Path) -> None:
    """Make every product exist, newer than its inputs, in the order the chain makes them;
    the masters' records hold the real choices."""
    choices = recorded_choices(workdir, frames)
    now = time.time()
    for step, kind in enumerate(CHAIN, start=1):
        for frame in frames:
            key = os.path.relpath(frame, root)[: -len(".fits")]
            path = workdir / "results" / (key + PRODUCTS[kind])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(choices[key], indent=1) if kind == "masters" else "")
            os.utime(path, (now + step, now + step))
    for table in ("frames.tsv", "summary.tsv"):
        path = workdir / "results" / table
        path.touch()
        os.utime(path, (now + 10, now + 10))


TRIVIAL = """
rule all:
    input: expand("out/{n}.b", n=range(JOBS // 2))
rule a:
    input: "in/{n}.fits"
    output: "out/{n}.a"
    log: "logs/a/{n}.log"
    shell: "touch {output}"
rule b:
    input: "out/{n}.a"
    output: "out/{n}.b"
    log: "logs/b/{n}.log"
    shell: "touch {output}"
"""
"""A workflow of two trivial jobs per file: the floor that Snakemake's own work sets."""

OUR_SHAPE = """
rule all:
    input: expand("out/{n}.{kind}", n=range(JOBS // 2), kind=("mask", "bkg", "bkgrms", "proprms"))
rule mask_and_background:
    input: ancient("in/{n}.fits"), "settings/mask_and_background"
    output: "out/{n}.mask", "out/{n}.bkg", "out/{n}.bkgrms"
    log: "logs/mask_and_background/{n}.log"
    benchmark: "benchmarks/mask_and_background/{n}.tsv"
    resources: mem_mb=1000
    shell: "touch {output}"
rule propagated_rms:
    input:
        ancient("in/{n}.fits"), "settings/propagated_rms", "out/{n}.bkg", "out/{n}.bkgrms",
        ancient("masters/bias.fits"), ancient("masters/dark.fits"), ancient("masters/flat.fits")
    output: "out/{n}.proprms", "out/{n}.masters"
    log: "logs/propagated_rms/{n}.log"
    benchmark: "benchmarks/propagated_rms/{n}.tsv"
    resources: mem_mb=1000
    shell: "touch {output}"
"""
"""Our two jobs per frame as Snakemake sees their files: as many inputs (the frame and the
masters followed by content, the settings stamp, the maps), outputs, logs and benchmark
tables, and a memory request, but no parameter and no code of ours. The floor that
Snakemake's own work sets for a job graph of our shape; a test keeps it in step with the
workflow's jobs (tests/workflow/test_scaletest.py)."""


@dataclass(frozen=True)
class Floor:
    """A workflow of Snakemake alone: its Snakefile (``JOBS`` set before it), the files
    all its jobs read, and the files of frame ``{n}``, its input first, in the order its
    jobs write them."""

    snakefile: str
    shared: tuple[str, ...]
    per_frame: tuple[str, ...]


JUDGED = "trivial jobs"
"""The floor the targets are ratios to."""

FLOORS = {
    JUDGED: Floor(TRIVIAL, (), ("in/{n}.fits", "out/{n}.a", "out/{n}.b")),
    "jobs of our shape": Floor(
        OUR_SHAPE,
        (
            "settings/mask_and_background",
            "settings/propagated_rms",
            *(f"masters/{kind}.fits" for kind in ("bias", "dark", "flat")),
        ),
        (
            "in/{n}.fits",
            *(f"out/{{n}}.{kind}" for kind in CHAIN),
        ),
    ),
}
"""Snakemake's floors measured beside each of our cases, by name."""


def floor_workflow(folder: Path, floor: Floor, jobs: int, made: bool = True) -> Path:
    """A folder with ``floor``'s workflow for ``jobs`` jobs, its inputs present and its
    outputs up to date if ``made`` (else none: every job is to run, as in our first dry
    run)."""
    names = floor.per_frame if made else floor.per_frame[:1]
    for name in floor.shared:
        touched(folder / name, 1e9)
    for n in range(jobs // 2):
        for step, name in enumerate(names, start=1):
            touched(folder / name.format(n=n), 1e9 + step)
    (folder / "Snakefile").write_text(f"JOBS = {jobs}\n{floor.snakefile}")
    return folder


def touched(path: Path, moment: float) -> None:
    """Make an empty file at ``path`` (and its folder), modified at ``moment`` (s)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    os.utime(path, (moment, moment))


def snakemake_alone(folder: Path, *args) -> tuple[float, str]:
    """Wall time (s) and output (stdout and stderr merged) of snakemake with ``args`` on the
    :func:`floor_workflow` in ``folder``."""
    command = [sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(folder)]
    start = time.perf_counter()
    result = subprocess.run(
        [*command, *args], cwd=folder, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    return time.perf_counter() - start, result.stdout.decode()


def floors(workdir: Path, case: str, jobs: int, *args, made: bool = True) -> dict[str, float]:
    """Snakemake alone's time (s) for each of :data:`FLOORS` with ``jobs`` jobs and ``args``,
    in folders named after ``case`` under ``workdir``."""
    return {
        name: snakemake_alone(
            floor_workflow(workdir / "alone" / case / name.replace(" ", "-"), floor, jobs, made),
            *args,
        )[0]
        for name, floor in FLOORS.items()
    }


TARGETS = {"dry run": 1.5, "no-op": 1.5, "archive no-op": 1.3}
"""The largest ratios to Snakemake's floor of trivial jobs aimed at: a night's dry run and
no-op run, and the whole archive's no-op run."""
COLD_INDEX_TARGET = 300.0
"""The longest first dry run aimed at, header index cold (s)."""


def compared(label: str, ours: float, alone: dict[str, float], target: float) -> str:
    """A line with our time (s), each floor's and our ratio to it; the ratio to the trivial
    jobs' is judged against ``target``."""
    parts = []
    for name, floor in alone.items():
        ratio = ours / floor
        judged = name == JUDGED
        verdict = (
            f", target <= {target}: {'met' if ratio <= target else 'MISSED'}" if judged else ""
        )
        parts.append(f"{name} {floor:.1f} s (ratio {ratio:.2f}{verdict})")
    return f"{label}: {ours:.1f} s; Snakemake alone: {', '.join(parts)}"


def jobs_listed(output: str, rule: str) -> int:
    """How many jobs of ``rule`` a dry run's job table lists."""
    match = re.search(rf"^{rule}\s+(\d+)", output, re.MULTILINE)
    return int(match.group(1)) if match else 0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--frames", type=int, default=10000)
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    archive = workdir / "archive"
    start = time.perf_counter()
    frames = write_frames(archive, args.frames)
    write_library(archive)
    print(f"wrote {len(frames)} frames and the masters in {time.perf_counter() - start:.1f} s")
    write_config(workdir, newest_nights=1)
    dry_run = ("--dry-run", "--quiet", "rules")
    elapsed, output = snakemake(workdir, *dry_run)
    night = jobs_listed(output, "mask_and_background")
    verdict = "met" if elapsed <= COLD_INDEX_TARGET else "MISSED"
    print(
        f"one night ({night} frames), dry run, header index cold (first build): {elapsed:.1f} s "
        f"(target <= {COLD_INDEX_TARGET:.0f} s: {verdict})"
    )
    elapsed, _ = snakemake(workdir, *dry_run)
    alone = floors(workdir, "dry-run", 2 * night, *dry_run, made=False)
    print(compared("one night, dry run, header index warm", elapsed, alone, TARGETS["dry run"]))
    make_products(workdir, frames, archive / "scidata")
    for label, inputs, jobs, target in (
        ("one night", {"newest_nights": 1}, 2 * night, TARGETS["no-op"]),
        ("whole archive", {}, 2 * len(frames), TARGETS["archive no-op"]),
    ):
        write_config(workdir, **{"newest_nights": 0, **inputs})
        elapsed, output = snakemake(workdir)
        verdict = "nothing to do" if "Nothing to be done" in output else "JOBS RAN"
        alone = floors(workdir, label.replace(" ", "-"), jobs)
        print(compared(f"{label}, no-op run ({verdict})", elapsed, alone, target))
    write_master(archive / "calib" / "7DT" / TELKEY, UNITS[0], "BIAS", f"{NIGHTS[-8]}T04:00:00")
    write_config(workdir, newest_nights=1, add_rechosen=True)
    elapsed, output = snakemake(workdir, *dry_run)
    added = re.search(r"Nightly \(inputs.add_rechosen\): (.*)\.", output)
    print(f"nightly run after a new bias in an earlier night, dry run: {elapsed:.1f} s")
    print(f"  {added.group(1) if added else 'NO NIGHTLY SELECTION REPORTED'}")


if __name__ == "__main__":
    main()
