"""Scale check: DAG building and the up-to-date check for a survey-sized archive.

    python -m benchmarks.scaletest /tmp/scale --frames 10000

Writes an archive of tiny frames (8x8 pixels, real headers) in the survey
layout with a master library, then times with the real ``snakemake``:

1. a dry run with nothing built;
2. a run when every product is present and newer than its inputs (no-op).
"""

import argparse
import os
import time
from pathlib import Path

import numpy as np
import yaml
from astropy.io import fits

from benchmarks.workflowrun import REPO, run_workflow
from skyrms.demo.survey import TELKEY
from skyrms.io.discovery import PRODUCTS

UNITS = [f"7DT{n:02d}" for n in range(1, 21)]
FILTERS = ["m400", "m500", "m600", "m700", "r"]
NIGHTS = [f"2025-11-{day:02d}" for day in range(1, 29)]


def write_fits(path: Path, **cards) -> None:
    """A tiny float32 FITS file with these header cards."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = fits.Header([(k.replace("_", "-"), v) for k, v in cards.items()])
    fits.PrimaryHDU(np.zeros((8, 8), np.float32), header).writeto(path, overwrite=True)


def write_archive(root: Path, frames: int) -> list[Path]:
    """``frames`` science frames spread over tiles, units, filters and nights, and masters."""
    paths = []
    for n in range(frames):
        unit, filt, night = UNITS[n % 20], FILTERS[(n // 20) % 5], NIGHTS[(n // 100) % 28]
        tile = f"T{(n // 500):05d}"
        stamp = f"{night.replace('-', '')}_{3 + n % 5:02d}{n % 60:02d}{(n // 60) % 60:02d}"
        name = f"calib_{unit}_{tile}_{stamp}_{filt}_100.fits"
        path = root / "scidata" / "7DT" / TELKEY / tile / unit / filt / name
        date = f"{night}T{3 + n % 5:02d}:{n % 60:02d}:{(n // 60) % 60:02d}"
        write_fits(
            path,
            OBJECT=tile,
            TELESCOP=unit,
            FILTER=filt,
            EXPTIME=100.0,
            DATE_OBS=date,
            EGAIN=0.2561,
        )
        paths.append(path)
    for unit in UNITS:
        calib = root / "calib" / "7DT" / TELKEY / unit
        for night in NIGHTS:
            date = f"{night}T10:00:00"
            write_fits(
                calib / "BIAS" / f"bias_{unit}_{night}.fits",
                IMAGETYP="BIAS",
                DATE_OBS=date,
                NCOMBINE=9,
            )
            write_fits(
                calib / "DARK" / f"dark_{unit}_{night}_100s.fits",
                IMAGETYP="DARK",
                DATE_OBS=date,
                EXPTIME=100.0,
                NCOMBINE=9,
            )
            for filt in FILTERS:
                write_fits(
                    calib / "FLAT" / f"flat_{unit}_{night}_{filt}.fits",
                    IMAGETYP="FLAT",
                    DATE_OBS=date,
                    FILTER=filt,
                    NCOMBINE=9,
                )
    return paths


def snakemake(workdir: Path, *args) -> tuple[float, str]:
    """Wall time (s) and output of the real snakemake on this repository's workflow."""
    elapsed, result = run_workflow(workdir, *args)
    if result.returncode != 0:
        raise SystemExit(f"snakemake failed:\n{result.stdout[-6000:]}")
    return elapsed, result.stdout


def touch_products(workdir: Path, frames: list[Path], root: Path) -> None:
    """Make every product exist, newer than its inputs, in the order the chain makes them."""
    order = ["mask", "bkg", "bkgrms", "masters", "proprms"]
    now = time.time()
    for step, kind in enumerate(order, start=1):
        for frame in frames:
            key = os.path.relpath(frame, root)[: -len(".fits")]
            path = workdir / "results" / (key + PRODUCTS[kind])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
            os.utime(path, (now + step, now + step))
    for table in ("frames.tsv", "summary.tsv"):
        path = workdir / "results" / table
        path.touch()
        os.utime(path, (now + 10, now + 10))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--frames", type=int, default=10000)
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    start = time.perf_counter()
    frames = write_archive(workdir / "archive", args.frames)
    print(f"wrote {len(frames)} frames and masters in {time.perf_counter() - start:.1f} s")
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["demo"]["enabled"] = False
    config["outputs"]["quicklook"] = False  # the default for survey data
    config["inputs"]["root"] = str(workdir / "archive" / "scidata")
    config["calibration"]["root"] = str(workdir / "archive" / "calib")
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    elapsed, output = snakemake(workdir, "--dry-run", "--quiet", "rules")
    print(f"dry run, nothing built: {elapsed:.1f} s")
    elapsed, _ = snakemake(workdir, "--dry-run", "--quiet", "rules")
    print(f"dry run, nothing built, header index warm: {elapsed:.1f} s")
    touch_products(workdir, frames, workdir / "archive" / "scidata")
    elapsed, output = snakemake(workdir)
    done = "Nothing to be done" in output
    verdict = "nothing to do" if done else "JOBS RAN"
    print(f"no-op run, everything up to date: {elapsed:.1f} s ({verdict})")


if __name__ == "__main__":
    main()
