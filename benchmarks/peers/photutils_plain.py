"""photutils' background and background RMS maps of one frame, for :mod:`benchmarks.benchmark`.

    PYTHON -I photutils_plain.py FRAME OUTDIR [--box 256] [--filter 3]

Run with the python of a virtual environment holding photutils; it does not
import skyrms. Reads the frame with astropy, fits ``photutils.background.Background2D``
(box and median filter sizes in pixels and boxes, its default SExtractor
estimators with 3-sigma clipping) and writes the background and RMS maps
(float32, the frame's units) to OUTDIR as ``{name}.bkg.fits`` and ``{name}.bkgrms.fits``.
"""

import argparse
from pathlib import Path

import numpy as np
from astropy.io import fits
from photutils.background import Background2D


def main(argv=None) -> None:
    """Fit and write the two maps of the frame named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("frame", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--box", type=int, default=256)
    parser.add_argument("--filter", type=int, default=3)
    args = parser.parse_args(argv)
    data, header = fits.getdata(args.frame, header=True)
    model = Background2D(data.astype(np.float32), args.box, filter_size=args.filter)
    name = args.frame.name[: -len(".fits")]
    args.outdir.mkdir(parents=True, exist_ok=True)
    for suffix, values in (("bkg", model.background), ("bkgrms", model.background_rms)):
        fits.writeto(args.outdir / f"{name}.{suffix}.fits", values.astype(np.float32), header)


if __name__ == "__main__":
    main()
