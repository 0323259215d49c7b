"""SExtractor 2.25 (Debian's ``source-extractor``): background, RMS and segmentation check-images.

Its background uses no source mask (clipped mode of each box); the mask of the peer table is its
segmentation (non-zero = masked). The parameter and filter files are the team's references in
``../shared/reference/sextractor/``; the configuration is ``source-extractor -d``'s default.
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
from astropy.io import fits

from benchmarks.peers import Outcome, clear_products, last_line, products, read_map, stem, timed

BINARY = "source-extractor"
REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "sextractor"
"""Folder with the team's default.param and default.conv."""
MISSING = "not installed (apt-get install source-extractor)"


def prepare(workdir: Path) -> str:
    """Write ``workdir/sextractor/default.sex``; empty when done, else why SExtractor cannot run."""
    if shutil.which(BINARY) is None:
        return MISSING
    config = Path(workdir) / "sextractor" / "default.sex"
    config.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([BINARY, "-d"], capture_output=True, text=True)
    if done.returncode != 0:
        return f"failed: source-extractor -d: {last_line(done.stderr)}"
    config.write_text(done.stdout)
    return ""


def run(frame: Path, box: int, outdir: Path, log: Path, *, filter_size: int, workdir: Path):
    """Run SExtractor on ``frame`` with ``box`` px boxes and a ``filter_size`` box filter, the
    configuration of ``prepare(workdir)``; write the products into ``outdir`` (the mask from the
    segmentation), its output into ``log``; return its Outcome."""
    name = stem(frame)
    clear_products(outdir, name)
    paths = products(outdir, name)
    segmentation = Path(outdir) / f"{name}.seg.fits"
    command = [
        BINARY, frame,
        "-c", Path(workdir) / "sextractor" / "default.sex",
        "-PARAMETERS_NAME", REFERENCE / "default.param",
        "-FILTER_NAME", REFERENCE / "default.conv",
        "-CATALOG_TYPE", "NONE",
        "-BACK_SIZE", box,
        "-BACK_FILTERSIZE", filter_size,
        "-CHECKIMAGE_TYPE", "BACKGROUND,BACKGROUND_RMS,SEGMENTATION",
        "-CHECKIMAGE_NAME", f"{paths['background']},{paths['rms']},{segmentation}",
        "-NTHREADS", 1,
    ]  # fmt: skip
    seconds, done = timed(command, log)
    if done.returncode != 0 or not segmentation.exists():
        return Outcome("failed", seconds, f"failed: {last_line(done.stderr)}")
    fits.PrimaryHDU((read_map(segmentation) != 0).astype(np.uint8)).writeto(paths["mask"])
    segmentation.unlink()
    return Outcome("ok", seconds)
