"""Run a background estimator on one frame as a subprocess and keep its maps in one format.

Every method writes, for a frame ``{stem}.fits`` and a box, three FITS files into its own folder,
named like skyrms's products: ``{stem}.bkg.fits`` (background, ADU), ``{stem}.bkgrms.fits`` (RMS,
ADU) and ``{stem}.mask.fits`` (uint8, non-zero = masked). The peer table reads them all alike with
``read_map``. ``sextractor`` and ``noisechisel`` drive the Debian binaries; photutils runs in a
venv of its own (``photutils_background.py`` is its driver), launched from here.
"""

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits

SUFFIXES = {"background": ".bkg.fits", "rms": ".bkgrms.fits", "mask": ".mask.fits"}
"""File name endings of the three products, after the frame's stem."""
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""Environment that keeps numerical libraries on one thread."""
PHOTUTILS_DRIVER = Path(__file__).with_name("photutils_background.py")
"""The photutils driver script; it imports neither skyrms nor benchmarks."""
REFERENCE_DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
"""The repository's reference frames (see its README.md), read by the tests and the peer table."""
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class Outcome:
    """How one run of a method went.

    ``status`` is "ok", "failed", "missing" (tool not installed) or "skipped"; ``seconds`` the
    wall time of the subprocess that made the products (s); ``reason`` one line saying why there
    are no products; ``note`` what is worth showing beside the numbers (e.g. options a retry
    needed).
    """

    status: str
    seconds: float | None = None
    reason: str = ""
    note: str = ""


def stem(frame: Path) -> str:
    """The name of ``frame`` without ``.fits``: the products' prefix."""
    return Path(frame).name.removesuffix(".fits")


def products(outdir: Path, name: str) -> dict[str, Path]:
    """Paths of the three products of the frame of stem ``name`` in ``outdir``."""
    return {kind: Path(outdir) / (name + suffix) for kind, suffix in SUFFIXES.items()}


def clear_products(outdir: Path, name: str) -> None:
    """Remove old products of ``name`` so that a failed run cannot be read as a new one."""
    Path(outdir).mkdir(parents=True, exist_ok=True)
    for path in products(outdir, name).values():
        path.unlink(missing_ok=True)


def timed(command: list, log: Path) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``command`` on one thread; return its wall time (s) and the finished process.

    Its stdout and stderr are also written to ``log``.
    """
    environment = {**os.environ, **ONE_THREAD}
    start = time.perf_counter()
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, env=environment
    )
    seconds = time.perf_counter() - start
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    Path(log).write_text(f"$ {' '.join(map(str, command))}\n{done.stdout}\n{done.stderr}")
    return seconds, done


def last_line(text: str) -> str:
    """The last non-empty line of ``text`` without terminal escape codes ("" if none)."""
    lines = [line.strip() for line in ANSI.sub("", text).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def read_map(path: Path) -> np.ndarray:
    """The data of the first HDU of ``path`` that has data (compressed or not)."""
    with fits.open(path) as hdus:
        return next(hdu.data for hdu in hdus if hdu.data is not None)


def write_products(outdir: Path, name: str, background, rms, mask) -> None:
    """Write the products of ``name``: background and RMS (ADU, as float32) and ``mask`` (True =
    masked, as uint8)."""
    paths = products(outdir, name)
    fits.PrimaryHDU(np.asarray(background, np.float32)).writeto(paths["background"])
    fits.PrimaryHDU(np.asarray(rms, np.float32)).writeto(paths["rms"])
    fits.PrimaryHDU(np.asarray(mask, bool).astype(np.uint8)).writeto(paths["mask"])


def photutils_python(workdir: Path) -> tuple[Path | None, str]:
    """The python of the venv ``workdir/venvs/photutils``, made and filled with photutils on
    first use; ``(None, reason)`` if that fails (e.g. no network)."""
    venv = Path(workdir) / "venvs" / "photutils"
    python = venv / "bin" / "python"
    check = [python, "-c", "import photutils"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    steps = {
        "venv": [sys.executable, "-m", "venv", venv],
        "pip install photutils": [python, "-m", "pip", "install", "photutils"],
    }
    for name, step in steps.items():
        _, done = timed(step, Path(workdir) / "logs" / f"photutils-{name.split()[0]}.log")
        if done.returncode != 0:
            return None, f"not installed ({name} failed: {last_line(done.stderr)})"
    return python, ""


def run_photutils(frame: Path, box: int, outdir: Path, log: Path, *, filter_size: int, python):
    """Run the photutils driver with ``python`` (of ``photutils_python``) on ``frame`` with
    ``box`` px boxes and a ``filter_size`` box filter, into ``outdir``; return its Outcome."""
    clear_products(outdir, stem(frame))
    paths = products(outdir, stem(frame))
    command = [python, PHOTUTILS_DRIVER, frame, box, filter_size]
    seconds, done = timed(command + [paths["background"], paths["rms"], paths["mask"]], log)
    if done.returncode != 0:
        return Outcome("failed", seconds, f"failed: {last_line(done.stderr)}")
    return Outcome("ok", seconds)
