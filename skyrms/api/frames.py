"""Many frames from Python: ``skyrms run`` on each of a list of frames, in worker processes.

Each frame goes through the command's own code path (:func:`skyrms.cli.run_chain`, the
chain of :mod:`skyrms.steps.one_frame`), so its products are those of ``skyrms run`` (and,
with the same settings, the workflow's); a frame that fails is reported with the command's
one-line reason and the others go on. This, not a Snakemake run from Python, because a
notebook's list of frames need not be a survey selection, needs no workflow files and shows
its progress in the notebook; for nightly runs, reruns of what changed and clusters, run
the workflow (``snakemake``, see docs/operations.md). The progress is a plain line (done,
failed, of how many), without a progress-bar dependency.
"""

import contextlib
import io
import os
import sys
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from skyrms.cli import parser, products_of, run_chain
from skyrms.config import load_settings
from skyrms.io.discovery import frame_key
from skyrms.io.fitsfiles import InputError, SkyrmsError


@dataclass(frozen=True)
class FrameRun:
    """One frame's run.

    frame : its path.
    products : the products written, paths by kind ("mask", "bkg", "bkgrms", "masters",
        "proprms", "weight"); empty when it failed.
    error : the one-line reason it failed, or None.
    """

    frame: str
    products: dict[str, str]
    error: str | None = None


def run_frames(
    frames: Iterable, outdir, *, root=None, workers: int = 2, configfile=None,
    calibration_root=None, weight: str | None = None, progress: bool = True, **options,
) -> list[FrameRun]:  # fmt: skip
    """Run ``skyrms run`` on each of ``frames`` with ``workers`` processes.

    Parameters
    ----------
    frames : FITS paths (e.g. :func:`skyrms.select`'s records' ``.path``).
    outdir : the folder the products go to, named as the workflow names them.
    root : the input root the frames lie under: each frame's products go to its folders
        below ``root`` under ``outdir``, as the workflow lays out its results (so
        :func:`skyrms.select` with ``results=outdir`` finds them); None: all in ``outdir``.
    workers : worker processes (each holds about one frame's chain in memory).
    configfile : a YAML configuration (the workflow's ``config.yaml`` format): its settings,
        circles and master library; None: the defaults.
    calibration_root : a master library (the propagated RMS and its masters record).
    weight : also a weight map of this RMS: "image", "propagated" or "none".
    progress : print a progress line to standard error as frames finish.
    **options : ``skyrms run``'s options by their Python names, e.g. ``box_size``
        (pixels), ``sigma`` (x the local RMS), ``saturation_level`` (ADU), ``circle``
        (``(ra, dec, radius_arcsec)``, degrees and arcsec).

    Returns
    -------
    list of FrameRun : one per frame, in the order given.
    """
    frames = [os.fspath(frame) for frame in frames]
    given = {"configfile": configfile, "calibration_root": calibration_root, "weight": weight}
    common = run_options(given | options)
    parser().parse_args(["run", "frame", *common])  # bad options fail here, not per frame
    place = (outdir, root)
    runs = {}
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_frame, frame, place, common): frame for frame in frames}
        for future in as_completed(futures):
            runs[futures[future]] = future.result()
            if progress:
                failed = sum(run.error is not None for run in runs.values())
                print(f"\rskyrms: {len(runs)}/{len(frames)} frames, {failed} failed",
                      end="\n" if len(runs) == len(frames) else "", file=sys.stderr)  # fmt: skip
    return [runs[frame] for frame in frames]


def run_options(options: dict) -> list[str]:
    """``skyrms run``'s options from their Python names (those given, not None); a sequence
    gives an option's values, e.g. ``circle=(ra, dec, radius_arcsec)``."""
    given = {name: value for name, value in options.items() if value is not None}
    return [
        text
        for name, value in given.items()
        for text in (f"--{name.replace('_', '-')}", *map(str, values_of(value)))
    ]


def values_of(value) -> tuple:
    """An option's values: those of a list or tuple, else the value alone."""
    return tuple(value) if isinstance(value, list | tuple) else (value,)


def run_frame(frame: str, place: tuple, options: list[str]) -> FrameRun:
    """``skyrms run`` on ``frame`` with ``options`` in a worker, its products in the folder
    ``place`` says (``(outdir, root)``, see :func:`run_frames`): the products it wrote, or
    the one-line reason it failed (an unexpected error too, named by its type)."""
    printed = io.StringIO()  # the command prints the products it wrote, one a line
    try:
        outdir = products_folder(frame, *place)
        args = parser().parse_args(["run", frame, "-o", outdir, *options])
        with contextlib.redirect_stdout(printed):
            run_chain(args, load_settings(args.configfile))
    except SkyrmsError as error:
        return FrameRun(frame, {}, str(error))
    except Exception as error:  # a bug stops this frame, not the others
        return FrameRun(frame, {}, f"{type(error).__name__}: {error}")
    written = set(printed.getvalue().splitlines())
    products = products_of(frame, outdir)
    return FrameRun(frame, {kind: p for kind, p in products.items() if p in written})


def products_folder(frame: str, outdir, root) -> str:
    """Where ``frame``'s products go: ``outdir``, or with ``root`` the frame's folders below
    ``root`` under ``outdir`` (InputError for a frame outside ``root``)."""
    if root is None:
        return os.fspath(outdir)
    try:
        key = frame_key(frame, os.fspath(root))
    except ValueError as error:
        raise InputError(str(error)) from None
    return os.path.join(outdir, os.path.dirname(key))
