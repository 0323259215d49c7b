"""ezphot doing the chain's steps on one frame, for :mod:`benchmarks.benchmark`.

    PYTHON -I ezphot_steps.py FRAME OUTDIR --bias B --dark D --flat F --home DIR
        [--box 256] [--filter 3] [--sigma 3] [--mask-radius-factor 2] [--iterations 3]
    PYTHON -I ezphot_steps.py --home DIR     # only make ezphot's configuration

Run with the python of a virtual environment holding ezphot (``pip install ezphot
'photutils>=2.2,<3'``: photutils 3 dropped ``EPSFModel``, which ezphot imports);
it does not import skyrms. The steps, all ezphot calls (ezphot 0.4.15):

1. ``MaskGenerator.mask_invalidpixel``: NaN and empty regions;
2. ``MaskGenerator.mask_sources``, fed its own mask again until it stops growing
   or after ``--iterations`` passes: the source mask;
3. ``ErrormapGenerator.calculate_errormap_from_image`` with that mask: the
   background and background RMS maps (SEP, ``--box`` and ``--filter``);
4. ``ErrormapGenerator.calculate_bkgrms_from_propagation`` with the masters:
   the propagated RMS map;

and writes the mask, both maps and the propagated RMS to OUTDIR as FITS files
(with ezphot's ``.status`` and ``.info`` sidecars). ezphot keeps its
configuration in ``$HOME/ezphot``; HOME is set to ``--home``, where the
configuration is made on first use (or alone, without FRAME).
Exits with status 1 and the reason on stderr if any step fails.
"""

import argparse
import contextlib
import os
import sys
from pathlib import Path

TELKEY = "7DT_C361K_HIGH_1x1"  # skyrms.demo.survey.TELKEY: this driver runs without skyrms
"""ezphot's telescope key of the frames: observatory, camera, read-out mode, binning."""


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line arguments (sizes in pixels, sigma in units of the background RMS)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("frame", type=Path, nargs="?")
    parser.add_argument("outdir", type=Path, nargs="?")
    for master in ("--bias", "--dark", "--flat"):
        parser.add_argument(master, type=Path)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--box", type=int, default=256)
    parser.add_argument("--filter", type=int, default=3)
    parser.add_argument("--sigma", type=float, default=3.0)
    parser.add_argument("--mask-radius-factor", type=float, default=2.0)
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args(argv)
    if args.frame and not (args.outdir and args.bias and args.dark and args.flat):
        parser.error("a frame needs OUTDIR, --bias, --dark and --flat")
    return args


def write_as(product, path: Path) -> None:
    """Write an ezphot product (mask, background or error map) to ``path``."""
    product.savedir = path.parent
    product.path = path
    product.write(verbose=False)


def prepare(home: Path) -> None:
    """Point HOME at ``home`` and make ezphot's configuration there unless it exists."""
    home.mkdir(parents=True, exist_ok=True)
    os.environ["HOME"] = str(home.resolve())  # ezphot takes its paths from HOME on import
    from ezphot.configuration import Configuration

    configuration = Configuration()
    if not list((configuration.path_config_specific / TELKEY).glob("*.config")):
        configuration.initialize(copy_default=True)  # every telescope's default configuration


def run(args: argparse.Namespace) -> None:
    """The four steps of the module text on ``args.frame``; products in ``args.outdir``."""
    import numpy as np
    from ezphot.helper import Helper
    from ezphot.imageobjects import CalibrationImage, ScienceImage
    from ezphot.methods import ErrormapGenerator, MaskGenerator

    observatory, camera, mode, binning = TELKEY.split("_")
    telinfo = Helper().get_telinfo(observatory, camera, mode, int(binning.split("x")[0]))
    quiet = {"verbose": False, "visualize": False, "save_fig": False, "save": False}
    image = ScienceImage(str(args.frame), telinfo=telinfo, load=True)
    image.savedir = args.outdir
    masks, errors = MaskGenerator(), ErrormapGenerator()
    invalid = masks.mask_invalidpixel(image, **quiet)
    invalid = invalid if np.any(invalid.data) else None  # an empty one would blank the frame
    sources, size = None, -1
    for _ in range(args.iterations):
        sources = masks.mask_sources(
            image, target_mask=sources, sigma=args.sigma,
            mask_radius_factor=args.mask_radius_factor,
            saturation_level=float(image.header["SATURATE"]), **quiet,
        )  # fmt: skip
        if sources.data is None:  # nothing detected in the first pass
            sources.data = np.zeros(image.data.shape, dtype=bool)
        if np.count_nonzero(sources.data) == size:
            break
        size = np.count_nonzero(sources.data)
    rms, background, _ = errors.calculate_errormap_from_image(
        image, target_srcmask=sources, target_ivpmask=invalid, box_size=args.box,
        filter_size=args.filter, errormap_type="bkgrms", **quiet,
    )  # fmt: skip
    bias, dark, flat = (
        CalibrationImage(str(path), telinfo=telinfo, load=True)
        for path in (args.bias, args.dark, args.flat)
    )
    propagated = errors.calculate_bkgrms_from_propagation(
        image, background, bias, dark, flat, **quiet
    )
    name = args.frame.name[: -len(".fits")]
    for product, suffix in ((sources, "mask"), (background, "bkg"), (rms, "bkgrms")):
        write_as(product, args.outdir / f"{name}.{suffix}.fits")
    write_as(propagated, args.outdir / f"{name}.proprms.fits")


def main(argv=None) -> int:
    """Run the steps with ezphot's prints sent to stderr; 1 and the reason if one fails."""
    args = parse_args(argv)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            prepare(args.home)
            if args.frame:
                args.outdir.mkdir(parents=True, exist_ok=True)
                run(args)
    except Exception as error:
        print(f"ezphot failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
