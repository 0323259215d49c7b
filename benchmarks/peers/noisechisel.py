"""NoiseChisel (gnuastro 0.19, ``astnoisechisel``): SKY, SKY_STD and DETECTIONS (non-zero = masked).

Every try smooths the tile values over the filter size (``--smoothwidth``). NoiseChisel often
stops with advice instead of a product. The first try uses tiles of the box size; then the tuned
options of the team notes (16 px tiles,
``--meanmedqdiff=0.05 --interpnumngb=4``), then those with a lower ``--minnumfalse``. The
Outcome's note says which try made the maps; its time is that of the try that made them. Its
maps keep NaN where the frame is NaN.
"""

import shutil
from pathlib import Path

from astropy.io import fits

from benchmarks.peers import Outcome, clear_products, last_line, stem, timed, write_products

BINARY = "astnoisechisel"
MISSING = "not installed (apt-get install gnuastro)"
TUNED = ("--tilesize=16,16", "--meanmedqdiff=0.05", "--interpnumngb=4")
"""The options that made NoiseChisel accept every real test frame of the team notes."""
FEWER_FALSE = "--minnumfalse=20"
"""Fewer pseudo-detections for the S/N estimate than the default 100."""


def prepare(workdir: Path) -> str:
    """Empty when NoiseChisel can run, else why not (``workdir`` is not needed)."""
    return "" if shutil.which(BINARY) else MISSING


def tries(box: int) -> list[list[str]]:
    """The option sets to try in turn: box-sized tiles (``box`` px), then the tuned options,
    then those with fewer pseudo-detections."""
    return [[f"--tilesize={box},{box}"], list(TUNED), [*TUNED, FEWER_FALSE]]


def reason(stderr: str) -> str:
    """NoiseChisel's one-line reason: its first message that is not a warning, without the
    program's name."""
    prefix = f"{BINARY}: "
    messages = [
        line.removeprefix(prefix)
        for line in stderr.splitlines()
        if line.startswith(prefix) and "WARNING" not in line
    ]
    return messages[0] if messages else last_line(stderr)


def run(frame: Path, box: int, outdir: Path, log: Path, *, filter_size: int, workdir: Path):
    """Run NoiseChisel on ``frame`` (box ``box`` px, filter ``filter_size`` tiles), retrying
    with tuned options; split its output into the three products in ``outdir``, its messages
    into ``log`` (one file per try). ``workdir`` is not needed."""
    name = stem(frame)
    clear_products(outdir, name)
    output = Path(outdir) / f"{name}.noisechisel.fits"
    command = [BINARY, frame, "--hdu=0", "--numthreads=1", "--rawoutput", f"--output={output}"]
    command.append(f"--smoothwidth={filter_size}")
    for number, options in enumerate(tries(box), start=1):
        output.unlink(missing_ok=True)
        seconds, done = timed(command + options, Path(log).with_suffix(f".try{number}.log"))
        if done.returncode == 0:
            break
    else:
        return Outcome("failed", seconds, f"failed: {reason(done.stderr)}")
    with fits.open(output) as hdus:
        detections = hdus["DETECTIONS"].data
        write_products(outdir, name, hdus["SKY"].data, hdus["SKY_STD"].data, detections != 0)
    output.unlink()
    note = "" if number == 1 else f"try {number}: {' '.join(options)}"
    return Outcome("ok", seconds, note=note)
