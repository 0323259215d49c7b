"""SExtractor 2.25 (Debian's ``source-extractor``): background, RMS and segmentation check-images.

Its background uses no source mask (clipped mode of each box); the mask of the peer table is its
segmentation (non-zero = masked). ``prepare`` writes the whole configuration into the work
folder: ``source-extractor -d``'s default, the parameter list of SEP's reference run and
SExtractor's default 3x3 detection filter (no catalogue is written).
"""

import shutil
import subprocess
from pathlib import Path

import numpy as np
from astropy.io import fits

from benchmarks.peers import Outcome, clear_products, last_line, products, read_map, stem, timed

BINARY = "source-extractor"
PARAMETERS = [
    "NUMBER", "X_IMAGE", "Y_IMAGE", "XWIN_IMAGE", "YWIN_IMAGE", "X2_IMAGE", "Y2_IMAGE",
    "XY_IMAGE", "ERRX2_IMAGE", "ERRY2_IMAGE", "ERRXY_IMAGE", "A_IMAGE", "FLUX_APER(1)",
    "FLUXERR_APER(1)", "KRON_RADIUS", "FLUX_AUTO", "FLUXERR_AUTO", "FLUX_RADIUS(3)", "FLAGS",
]  # fmt: skip
"""Catalogue columns, those of SEP's reference run (tests/data/sextractor/default.param). The
check-images do not depend on them, but SExtractor measures them even without a catalogue: they
are part of its time in the table, as in the figures of docs/source-masks.md."""
FILTER = """CONV NORM
# 3x3 ``all-ground'' convolution mask with FWHM = 2 pixels.
1 2 1
2 4 2
1 2 1
"""
"""SExtractor's default.conv: the detection filter of its default configuration."""
MISSING = "not installed (apt-get install source-extractor)"


def configuration(workdir: Path) -> Path:
    """The folder of SExtractor's configuration files in ``workdir``."""
    return Path(workdir) / "sextractor"


def prepare(workdir: Path) -> str:
    """Write default.sex, default.param and default.conv into ``configuration(workdir)``; empty
    when done, else why SExtractor cannot run."""
    if shutil.which(BINARY) is None:
        return MISSING
    folder = configuration(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([BINARY, "-d"], capture_output=True, text=True)
    if done.returncode != 0:
        return f"failed: source-extractor -d: {last_line(done.stderr)}"
    (folder / "default.sex").write_text(done.stdout)
    (folder / "default.param").write_text("\n".join(PARAMETERS) + "\n")
    (folder / "default.conv").write_text(FILTER)
    return ""


def run(frame: Path, box: int, outdir: Path, log: Path, *, filter_size: int, workdir: Path):
    """Run SExtractor on ``frame`` with ``box`` px boxes and a ``filter_size`` box filter, the
    configuration of ``prepare(workdir)``; write the products into ``outdir`` (the mask from the
    segmentation), its output into ``log``; return its Outcome."""
    name = stem(frame)
    clear_products(outdir, name)
    paths = products(outdir, name)
    segmentation = Path(outdir) / f"{name}.seg.fits"
    folder = configuration(workdir)
    command = [
        BINARY, frame,
        "-c", folder / "default.sex",
        "-PARAMETERS_NAME", folder / "default.param",
        "-FILTER_NAME", folder / "default.conv",
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
