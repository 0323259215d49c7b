"""The whole chain on one frame without the workflow, as ``skyrms run`` does it.

The mask and the maps (:mod:`skyrms.steps.mask_and_background`), then, with a master
library, the nearest masters looked up as the workflow looks them up
(:mod:`skyrms.plan.master_lookup`, among the library's masters and those built) and the
propagated RMS made with them (:mod:`skyrms.steps.propagated_rms`), then the weight map if
asked for. Every product is the workflow's, FRAMESHA included.
"""

import glob
import logging
import os
from pathlib import PurePosixPath

from skyrms.io.discovery import LAYOUT, frame_key
from skyrms.io.fitsfiles import InputError
from skyrms.io.headerindex import read_fields, sha256_of
from skyrms.plan.master_lookup import (
    MasterChoice,
    Observation,
    build_library,
    choose,
    frame_observation,
    joined,
    record,
)
from skyrms.settings import CalibrationSection
from skyrms.steps.propagated_rms import record_and_propagate

log = logging.getLogger(__name__)


def key_of(frame, root: str | None) -> str:
    """The frame's key: its path below ``root`` (inputs.root) when it lies there, else the last
    folders of its path as the survey lays frames out ({observatory}/{telkey}/{object}/{unit}/
    {filter}/{name}), which say which unit's masters it takes."""
    if root:
        try:
            return frame_key(frame, root)
        except ValueError:
            pass
    parts = PurePosixPath(os.path.abspath(frame)).parts
    return "/".join(parts[-len(LAYOUT) - 1 :])[: -len(".fits")]


def unit_masters(roots, observation: Observation) -> dict:
    """The masters of ``observation``'s unit in the library folders ``roots`` (those that
    exist), read from their headers and grouped as
    :func:`skyrms.plan.master_lookup.build_library` does."""
    libraries = []
    for root in roots:
        unit = os.path.join(root, observation.observatory, observation.telkey, observation.unit)
        paths = sorted(glob.glob(os.path.join(unit, "*", "*.fits")))
        library, problems = build_library(root, {path: read_fields(path) for path in paths})
        for problem in problems:
            log.warning(f"master library: skipped {problem}")
        libraries.append(library)
    return joined(libraries)


def chosen_masters(frame, key: str, fields: dict, calibration: CalibrationSection, roots) -> dict:
    """The lookup's record of the masters chosen for ``frame`` (see
    :func:`skyrms.plan.master_lookup.record`), from the ``calibration`` settings (max_days,
    dark_exptime) among the masters under ``roots``. Raises :class:`InputError` with the
    lookup's one line when a type has none in reach."""
    try:
        observation = frame_observation(key, frame, fields)
        picks = choose(
            observation,
            unit_masters(roots, observation),
            calibration.max_days,
            calibration.dark_exptime,
            searched=tuple(roots),
        )
    except ValueError as error:
        raise InputError(str(error)) from None
    return record(picks, sha256_of)


def propagate_one_frame(
    frame, products: dict, calibration: CalibrationSection, roots, key: str, digest
):
    """Look up ``frame``'s masters under ``roots`` and write its propagated RMS and the
    record of the masters (``products``: paths by kind, as :data:`discovery.PRODUCTS` names
    them) from its background maps, as the workflow's propagated_rms job does."""
    fields = read_fields(frame)
    if "error" in fields:
        raise InputError(fields["error"])
    choice = MasterChoice(masters=chosen_masters(frame, key, fields, calibration, roots))
    record_and_propagate(
        frame, products["bkg"], products["bkgrms"], choice.as_param(), products["masters"],
        products["proprms"], calibration, fields, digest,
    )  # fmt: skip


def frame_digest(frame) -> str:
    """The frame's SHA-256, for the products' FRAMESHA (InputError if it cannot be read)."""
    try:
        return sha256_of(frame)
    except OSError as error:
        raise InputError(f"{frame}: cannot be read ({error.strerror})") from None
