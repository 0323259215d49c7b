"""Command line: every step of the chain on one FITS file, without a workflow.

    skyrms run frame.fits -o products/          # the whole chain
    skyrms run frame.fits --configfile survey.yaml -o products/   # and the propagated RMS
    skyrms source-mask frame.fits frame.srcmask.fits
    skyrms circular-mask frame.fits frame.srcmask.fits frame.mask.fits --circle 150.1 -30.2 45
    skyrms background frame.fits frame.mask.fits frame.bkg.fits frame.bkgrms.fits
    skyrms weight frame.bkgrms.fits frame.mask.fits frame.weight.fits
    skyrms products --configfile config.yaml --object T00528 --paths bkgrms
    skyrms plain --configfile config.yaml --newest-nights 1 --kind bkgrms -o plain/

Parameters come from the built-in defaults, then ``--configfile`` (the
workflow's config.yaml format: sections background, source_mask and
circular_masks), then the options given.
"""

import argparse
import dataclasses
import logging
import sys
from pathlib import Path

from skyrms import __version__, browse, config
from skyrms.io.discovery import PRODUCTS, strip_fits_ending
from skyrms.io.fitsfiles import (
    InputError,
    SkyrmsError,
    all_or_none,
    ignore_nonstandard_cards,
    write_plain_copy,
)
from skyrms.science import blanks
from skyrms.science.background import BackgroundParams
from skyrms.science.source_mask import MaskParams
from skyrms.settings import CalibrationSection, CircularMask, Settings
from skyrms.steps import one_frame, single_steps
from skyrms.steps.mask_and_background import mask_and_background
from skyrms.steps.weight import weight_map


def with_options(params, args):
    """``params`` (a science dataclass, from the configuration) with the options given for its
    fields over it."""
    given = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(params)
        if getattr(args, field.name, None) is not None
    }
    return dataclasses.replace(params, **given)


def mask_params(args, settings: Settings) -> MaskParams:
    """Source-mask parameters from the configuration and the options."""
    return with_options(settings.source_mask.params(), args)


def background_params(args, settings: Settings) -> BackgroundParams:
    """The background mesh from the configuration and the options."""
    return with_options(settings.background.mesh(), args)


def invalid_spec(args, settings: Settings) -> blanks.InvalidSpec:
    """Which pixels are invalid besides non-finite ones, from the configuration and options."""
    return with_options(settings.background.invalid(), args)


def circle_specs(args, settings: Settings) -> list[dict]:
    """Circles from the configuration plus each ``--circle RA DEC RADIUS_ARCSEC``."""
    given = [
        CircularMask(ra=ra, dec=dec, radius_arcsec=radius) for ra, dec, radius in args.circle or []
    ]
    return settings.circle_specs() + [circle.spec() for circle in given]


def compressed(args, settings: Settings) -> bool:
    """The product format: ``--compress``/``--no-compress``, else ``outputs.compress`` of the
    configuration."""
    return settings.outputs.compress if args.compress is None else args.compress


def calibration_of(args, settings: Settings) -> CalibrationSection | None:
    """The ``calibration`` settings ``skyrms run`` propagates the RMS with: the
    configuration's, with ``--calibration-root`` over its root; None without a library or
    with calibration.enabled false."""
    calibration = settings.calibration
    if args.calibration_root:
        calibration = dataclasses.replace(calibration, root=args.calibration_root, enabled=True)
    return calibration if calibration.enabled and calibration.root else None


def library_roots(args, settings: Settings, calibration: CalibrationSection) -> list[str]:
    """The folders masters are looked up in: the library, and with a config file the folder
    of the masters the workflow built (masters.root, else {outputs.results}/masters) where
    it exists."""
    if args.configfile is None:
        return [calibration.root]
    built = settings.built_masters_root
    return [calibration.root, *([built] if Path(built).is_dir() else [])]


def weight_source(args, settings: Settings, calibrated: bool) -> str:
    """Which RMS map ``skyrms run`` inverts into a weight map: ``--weight``, else
    ``outputs.weight`` of the configuration; "none" for no weight map. A propagated-RMS
    weight needs the masters (``calibrated``)."""
    wanted = args.weight or settings.outputs.weight
    if wanted == "propagated" and not calibrated:
        raise InputError(
            "outputs.weight: propagated needs a master library (calibration.root in "
            "--configfile, or --calibration-root)"
        )
    return wanted


def check_run_paths(settings: Settings, calibration: CalibrationSection | None) -> None:
    """Raise :class:`InputError` naming the setting when a file or folder ``skyrms run``
    reads cannot be read: the configuration's bad-pixel mask, the master library with a
    propagation (see :func:`skyrms.config.check_path`)."""
    used = {
        "background.bad_pixel_mask": settings.background.bad_pixel_mask,
        "calibration.root": calibration.root if calibration else None,
    }
    for name, path in used.items():
        if path:
            config.check_path(name, path)


CHAIN = ("mask", "bkg", "bkgrms", "masters", "proprms", "weight")
"""The products of ``skyrms run``, in the order they are made (the propagated RMS and its
masters record with a master library, the weight on request)."""


def products_of(frame: str, outdir: str) -> dict[str, str]:
    """Product paths for ``frame`` in ``outdir``, named like the workflow's."""
    try:
        stem = strip_fits_ending(Path(frame).name)
    except ValueError as error:
        raise InputError(str(error)) from None
    return {kind: str(Path(outdir) / (stem + PRODUCTS[kind])) for kind in CHAIN}


def run_chain(args, settings: Settings) -> None:
    """All steps on one frame, the propagated RMS too with a master library (see
    :mod:`skyrms.steps.one_frame`). Products made together stand or fall together, as the
    workflow's jobs' do: the mask and maps, the masters record and the propagated RMS, the
    weight; a step that fails leaves the earlier steps' products complete."""
    calibration = calibration_of(args, settings)
    check_run_paths(settings, calibration)
    out = products_of(args.frame, args.outdir)
    weight = weight_source(args, settings, calibration is not None)
    compress = compressed(args, settings)
    digest = one_frame.frame_digest(args.frame)
    mask_and_background(
        args.frame, out["mask"], out["bkg"], out["bkgrms"], mask_params(args, settings),
        background_params(args, settings), circle_specs(args, settings),
        invalid_spec(args, settings), digest, compress,
    )  # fmt: skip
    made = ["mask", "bkg", "bkgrms"]
    if calibration:
        key = one_frame.key_of(args.frame, settings.inputs.root)
        roots = library_roots(args, settings, calibration)
        with all_or_none(out["masters"], out["proprms"]):
            one_frame.propagate_one_frame(args.frame, out, calibration, roots, key, digest)
        made += ["masters", "proprms"]
    if weight != "none":
        rms = out["proprms" if weight == "propagated" else "bkgrms"]
        weight_map(rms, out["mask"], out["weight"], compress)
        made.append("weight")
    for kind in made:
        print(out[kind])


PLAIN_KINDS = ("mask", "bkg", "bkgrms", "proprms", "weight")
"""The products ``skyrms plain`` copies: the FITS maps."""


def plain_copies(args, settings: Settings) -> None:
    """``skyrms plain``: plain copies of the products named, or of the selected frames'
    products of ``--kind``, into ``--outdir`` (the products' layout below it); the
    originals are only read."""
    if args.products:
        pairs = [(path, Path(args.outdir) / Path(path).name) for path in args.products]
    else:
        records = browse.selected_records(args, settings)
        kinds = args.kind or PLAIN_KINDS
        pairs = [
            (record.products[kind], Path(args.outdir) / (record.key + PRODUCTS[kind]))
            for record in records
            for kind in kinds
            if record.status[kind] != "missing"
        ]
        stale = stale_products(records)
        if count := sum(source in stale for source, _ in pairs):
            print(f"skyrms: {count} of these products are stale", file=sys.stderr)
    for source, target in pairs:
        if Path(target).resolve() == Path(source).resolve():
            raise InputError(f"{source}: the copy would replace it; choose another --outdir")
        write_plain_copy(source, target)
        print(target)


def stale_products(records) -> set[str]:
    """The paths of the records' products whose status is stale."""
    return {
        record.products[kind]
        for record in records
        for kind, status in record.status.items()
        if status == "stale"
    }


def parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per step."""
    main = argparse.ArgumentParser(prog="skyrms", description=__doc__.split("\n\n")[0])
    main.add_argument("--version", action="version", version=f"skyrms {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--configfile", help="YAML file in the workflow's config.yaml format")
    common.add_argument("--box-size", dest="box_size", type=int, help="background box, pixels")
    common.add_argument("--filter-size", dest="filter_size", type=int, help="filter, boxes")
    common.add_argument(
        "--compress", action=argparse.BooleanOptionalAction,
        help="tile-compressed products (default: outputs.compress, else plain images)",
    )  # fmt: skip
    detect = argparse.ArgumentParser(add_help=False)
    detect.add_argument("--sigma", type=float, help="detection threshold, x local RMS")
    detect.add_argument(
        "--grow-sigma", dest="grow_sigma", type=float, help="ring significance to grow a source"
    )
    detect.add_argument(
        "--mask-level", dest="mask_level", type=float, help="mask faded light to this, x RMS"
    )
    detect.add_argument("--saturation-level", dest="saturation_level", type=float, help="ADU")
    detect.add_argument("--max-iterations", dest="max_iterations", type=int)
    detect.add_argument("--bad-pixel-mask", dest="bad_pixel_mask", help="FITS, non-zero = bad")
    detect.add_argument("--blank-value", dest="blank_value", type=float, help="no-data value")
    detect.add_argument(
        "--blank-run", dest="blank_run", type=int, help="runs of one value this long are blank"
    )
    circle = argparse.ArgumentParser(add_help=False)
    circle.add_argument(
        "--circle",
        nargs=3,
        type=float,
        action="append",
        metavar=("RA", "DEC", "ARCSEC"),
        help="mask a circle: centre RA and Dec in degrees, radius in arcsec (repeatable)",
    )
    commands = main.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[common, detect, circle], help="the whole chain")
    run.add_argument("frame")
    run.add_argument("-o", "--outdir", default=".", help="folder for the products")
    run.add_argument(
        "--weight", choices=("none", "image", "propagated"),
        help="also the weight map 1/RMS^2 of this RMS (default: outputs.weight, else none)",
    )  # fmt: skip
    run.add_argument(
        "--calibration-root", dest="calibration_root", metavar="FOLDER",
        help="master library: look up the masters and propagate the RMS (calibration.root)",
    )  # fmt: skip
    run.set_defaults(action=run_chain)

    sm = commands.add_parser("source-mask", parents=[common, detect], help="iterated source mask")
    sm.add_argument("frame")
    sm.add_argument("output")
    sm.set_defaults(
        action=lambda a, s: single_steps.source_mask(
            a.frame,
            a.output,
            mask_params(a, s),
            background_params(a, s),
            invalid_spec(a, s),
            compressed(a, s),
        )
    )

    cm = commands.add_parser("circular-mask", parents=[common, circle], help="add circles")
    cm.add_argument("frame")
    cm.add_argument("source_mask")
    cm.add_argument("output")
    cm.set_defaults(
        action=lambda a, s: single_steps.circular_mask(
            a.frame, a.source_mask, a.output, circle_specs(a, s), compressed(a, s)
        )
    )

    bg = commands.add_parser("background", parents=[common], help="background and RMS maps")
    bg.add_argument("frame")
    bg.add_argument("mask", help="the final mask product")
    bg.add_argument("background", help="output: the background map")
    bg.add_argument("rms", help="output: the background RMS map")
    bg.set_defaults(
        action=lambda a, s: single_steps.masked_background_maps(
            a.frame, a.mask, a.background, a.rms, background_params(a, s), compressed(a, s)
        )
    )

    wt = commands.add_parser("weight", parents=[common], help="weight map 1/RMS^2 for coadds")
    wt.add_argument("rms", help="an RMS product: .bkgrms.fits or .proprms.fits")
    wt.add_argument("mask", help="the frame's mask product")
    wt.add_argument("output", help="output: the weight map")
    wt.set_defaults(action=lambda a, s: weight_map(a.rms, a.mask, a.output, compressed(a, s)))

    pr = commands.add_parser("products", help="which products the selected frames have")
    browse.add_arguments(pr)
    pr.set_defaults(action=browse.command)

    pl = commands.add_parser("plain", help="plain copies of products, for SExtractor and SWarp")
    pl.add_argument("products", nargs="*", help="product files (else the selected frames')")
    browse.add_selection_arguments(pl)
    pl.add_argument(
        "--kind", action="append", choices=PLAIN_KINDS,
        help="of the selected frames, these products (repeatable; default: all maps)",
    )  # fmt: skip
    pl.add_argument("-o", "--outdir", required=True, help="folder for the copies")
    pl.set_defaults(action=plain_copies)
    return main


def main(argv=None) -> int:
    """Entry point of the ``skyrms`` command: the action of the sub-command with the settings
    of ``--configfile`` (the schema's defaults without one)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="skyrms: %(message)s", stream=sys.stderr)
    ignore_nonstandard_cards()
    try:
        args.action(args, config.load_settings(args.configfile))
    except SkyrmsError as error:
        print(f"skyrms: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
