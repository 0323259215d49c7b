"""ezphot combining raw frames into one master, for :mod:`benchmarks.masters_benchmark`.

    PYTHON -I ezphot_master.py OUTPUT RAW RAW ... --method median|mean|minmax|sigma_clip
        [--sigma 3] [--nlow 1] [--nhigh 1] --home DIR

Run with the python of a virtual environment holding ezphot (``pip install ezphot
'photutils>=2.2,<3'``); it does not import skyrms. ezphot's master builder,
``Preprocess.generate_masterframe`` (median of the frames after extrema clipping,
nlow = nhigh = 1, by default), fails in ezphot 0.4.15 before combining anything: it
passes ``target_errormaplist`` to ``Stack.stack_multiprocess``, which has no such
argument. This driver makes the call ``generate_masterframe`` means to make:
``Stack().stack_multiprocess`` on the raw frames as ezphot ``CalibrationImage`` objects,
one process (``n_proc=1``, as a workflow job), with skyrms's combination in ezphot's
words:

- ``median``: ``combine_type="median"``, no clipping;
- ``mean``: ``combine_type="mean"``, no clipping;
- ``minmax``: ``combine_type="mean"``, ``clip_type="extrema"`` with nlow, nhigh;
- ``sigma_clip``: ``combine_type="mean"``, ``clip_type="sigma"`` with sigma.

It writes the combined pixels as ezphot gives them (no error map: ezphot makes none for
masters) to OUTPUT. ezphot keeps its configuration in ``$HOME/ezphot``; HOME is set to
``--home`` (made by :func:`benchmarks.benchmark.install_peer`). Exits with status 1 and the
reason on stderr if ezphot fails.
"""

import argparse
import contextlib
import os
import sys
from pathlib import Path

TELKEY = "7DT_C361K_HIGH_1x1"  # skyrms.demo.survey.TELKEY: this driver runs without skyrms
"""ezphot's telescope key of the frames: observatory, camera, read-out mode, binning."""

COMBINATIONS = {
    "median": {"combine_type": "median", "clip_type": None},
    "mean": {"combine_type": "mean", "clip_type": None},
    "minmax": {"combine_type": "mean", "clip_type": "extrema"},
    "sigma_clip": {"combine_type": "mean", "clip_type": "sigma"},
}
"""skyrms's combination methods as ezphot's Stack.stack_multiprocess arguments."""


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments (sigma in units of each pixel's scatter)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("raws", type=Path, nargs="+")
    parser.add_argument("--method", choices=COMBINATIONS, default="median")
    parser.add_argument("--sigma", type=float, default=3.0)
    parser.add_argument("--nlow", type=int, default=1)
    parser.add_argument("--nhigh", type=int, default=1)
    parser.add_argument("--home", type=Path, required=True)
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    """Combine ``args.raws`` with ezphot and write the master to ``args.output``."""
    os.environ["HOME"] = str(args.home.resolve())  # ezphot takes its paths from HOME on import
    import numpy as np
    from astropy.io import fits
    from ezphot.helper import Helper
    from ezphot.imageobjects import CalibrationImage
    from ezphot.methods import Stack

    observatory, camera, mode, binning = TELKEY.split("_")
    telinfo = Helper().get_telinfo(observatory, camera, mode, int(binning.split("x")[0]))
    images = [CalibrationImage(str(path), telinfo=telinfo, load=True) for path in args.raws]
    combination = COMBINATIONS[args.method]
    data, _ = Stack().combiner.combine_images_parallel(
        image_list=[image.data for image in images], bkgrms_list=None,
        combine_method=combination["combine_type"], clip_method=combination["clip_type"],
        sigma=args.sigma, nlow=args.nlow, nhigh=args.nhigh, verbose=False,
    )  # fmt: skip
    fits.writeto(args.output, np.asarray(data), images[0].header, overwrite=True)


def main(argv=None) -> int:
    """Run with ezphot's prints sent to stderr; 1 and the reason if it fails."""
    args = parse_args(argv)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            run(args)
    except Exception as error:
        print(f"ezphot failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
