"""Master-frame lookup: the nearest master bias, dark and flat of a science frame.

Masters live in a library laid out as the survey keeps them::

    {root}/{observatory}/{telkey}/{unit}/{imagetyp}/*.fits

A frame gets, for each type, the master of its own observatory, telkey and
unit that is nearest in time and within ``max_days``: a dark of the same
exposure time (or, if allowed, of the nearest exposure time, to be scaled),
a flat of the same filter, any bias. Ties go to the earlier master, then to
the path that sorts first, so the choice never depends on listing order.
"""

import glob
import os
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from pathlib import PurePosixPath

from skyrms.io.discovery import layout_fields
from skyrms.io.header_values import mjd_of, number_of
from skyrms.io.keywords import EXPTIME, FILTER, IMAGETYP, NCOMBINE, TELESCOP
from skyrms.io.keywords import MASTER_TYPES as TYPES

EXPTIME_TOLERANCE = 0.01
"""Exposure times closer than this (s) are the same."""


@dataclass(frozen=True)
class LibraryMaster:
    """A master of the lookup's library as its header tells it (a planned master: as its raw
    frames' headers do): where it is, its unit, MJD (days), EXPTIME (s, darks), FILTER
    (flats) and NCOMBINE (None when unknown). A master given in memory to the API, never in a
    library, has a placeholder for a path and its MJD None when its header has no time."""

    path: str
    imagetyp: str
    observatory: str
    telkey: str
    unit: str
    mjd: float | None
    exptime: float | None
    filter: str | None
    ncombine: int | None


@dataclass(frozen=True)
class Observation:
    """What the lookup needs to know of a science frame."""

    name: str
    observatory: str
    telkey: str
    unit: str
    mjd: float
    exptime: float
    filter: str


@dataclass(frozen=True)
class Pick:
    """The master chosen for one type: ``days`` apart (signed: master minus frame; None:
    unknown, for a master given in memory when it or the frame has no time)."""

    master: LibraryMaster
    days: float | None


@dataclass(frozen=True)
class MasterChoice:
    """The lookup's outcome for one frame or planned master: ``masters``, those chosen by
    type (a frame's as their record, see :func:`record`; a planned master's as their
    paths), or ``reason``, the one line saying why none fits."""

    masters: dict | None = None
    reason: str | None = None

    def as_param(self) -> tuple[dict | None, str | None]:
        """``(masters, reason)``, the choice as a Snakemake job parameter.

        Snakemake reruns a job whose parameters changed, comparing the ``repr`` of plain
        Python values only (it leaves other objects out): as this tuple the choice, with
        each master's SHA-256, reruns the frames whose masters changed, and it reads as the
        parameter recorded by earlier runs.
        """
        return (self.masters, self.reason)

    @classmethod
    def from_param(cls, param: tuple[dict | None, str | None]) -> "MasterChoice":
        """The choice back from :meth:`as_param`'s tuple."""
        masters, reason = param
        return cls(masters, reason)


class NoMasterError(ValueError):
    """No usable master of a type for a frame; the message says which and why."""


def library_paths(root: str) -> list[str]:
    """Every FITS file in the library's layout under ``root``, sorted."""
    return sorted(glob.glob(os.path.join(root, "*", "*", "*", "*", "*.fits")))


def master_of(path: str, root: str, fields: dict) -> LibraryMaster:
    """A :class:`LibraryMaster` from its path in the library layout and its header keywords."""
    layout = PurePosixPath(os.path.relpath(path, root)).parts[:4]
    return described_master(path, layout, fields, mjd_of(fields, path))


def described_master(path: str, layout, fields: dict, mjd: float | None) -> LibraryMaster:
    """A :class:`LibraryMaster` at ``path`` (for messages) with its ``layout`` (observatory,
    telkey, unit, type folder), header keywords ``fields`` and ``mjd`` (days, or None).

    Raises ValueError naming ``path`` when a dark has no usable EXPTIME."""
    observatory, telkey, unit, folder = layout
    imagetyp = str(fields.get(IMAGETYP, folder)).strip().upper()
    ncombine = fields.get(NCOMBINE)
    return LibraryMaster(
        path=path,
        imagetyp=imagetyp,
        observatory=observatory,
        telkey=telkey,
        unit=unit,
        mjd=mjd,
        exptime=number_of(fields, EXPTIME, path) if imagetyp == "DARK" else None,
        filter=str(fields[FILTER]).strip() if imagetyp == "FLAT" and FILTER in fields else None,
        ncombine=int(ncombine) if isinstance(ncombine, int | float) else None,
    )


def build_library(root: str, fields_by_path: dict[str, dict]) -> tuple[dict, list[str]]:
    """Masters grouped by (observatory, telkey, unit, type), each group sorted by MJD, and
    one line per unusable file."""
    groups, problems = {}, []
    for path, fields in fields_by_path.items():
        try:
            if "error" in fields:
                raise ValueError(fields["error"])
            master = master_of(path, root, fields)
        except ValueError as error:
            problems.append(str(error))
            continue
        key = (master.observatory, master.telkey, master.unit, master.imagetyp)
        groups.setdefault(key, []).append(master)
    return {key: sorted(group, key=mjd_of_master) for key, group in groups.items()}, problems


def joined(libraries) -> dict:
    """One library (as :func:`build_library` makes them) of the masters of ``libraries``."""
    groups = {}
    for library in libraries:
        for key, masters in library.items():
            groups.setdefault(key, []).extend(masters)
    return {key: sorted(masters, key=mjd_of_master) for key, masters in groups.items()}


def matches(master: LibraryMaster, frame: Observation, dark_exptime: str) -> bool:
    """Whether ``master`` may calibrate ``frame`` apart from its date."""
    if master.imagetyp == "FLAT":
        return master.filter == frame.filter
    if master.imagetyp == "DARK" and dark_exptime == "exact":
        return abs(master.exptime - frame.exptime) < EXPTIME_TOLERANCE
    return True


def preference(master: LibraryMaster, frame: Observation):
    """Sort key: exposure-time mismatch (darks), then distance in days, earlier, path."""
    mismatch = abs(master.exptime - frame.exptime) if master.imagetyp == "DARK" else 0.0
    mismatch = 0.0 if mismatch < EXPTIME_TOLERANCE else mismatch
    return (mismatch, abs(master.mjd - frame.mjd), master.mjd, master.path)


SLACK = 1e-6
"""Days added to both ends of the window searched by MJD; the exact test follows."""


def mjd_of_master(master: LibraryMaster) -> float:
    """The sort key of a library group: the master's MJD."""
    return master.mjd


def choose(
    frame: Observation,
    groups: dict,
    max_days: dict[str, float],
    dark_exptime: str = "exact",
    types: tuple[str, ...] = TYPES,
    searched: tuple[str, ...] = (),
) -> dict[str, Pick]:
    """The chosen master of each of ``types`` for ``frame``.

    ``groups`` holds the masters by (observatory, telkey, unit, type), each list
    sorted by MJD (as :func:`build_library` makes them); ``max_days`` gives the
    largest allowed time distance per type (days);
    ``dark_exptime`` is "exact" (the dark's EXPTIME must equal the frame's) or
    "nearest" (the nearest exposure time, to be scaled). Raises
    :class:`NoMasterError` naming the type, the frame and the nearest candidate, or the
    folders ``searched`` (library roots) when there is none at all.
    """
    chosen = {}
    for imagetyp in types:
        group = groups.get((frame.observatory, frame.telkey, frame.unit, imagetyp), [])
        days = max_days[imagetyp]
        near = group[
            bisect_left(group, frame.mjd - days - SLACK, key=mjd_of_master) : bisect_right(
                group, frame.mjd + days + SLACK, key=mjd_of_master
            )
        ]
        within = [
            m for m in near if abs(m.mjd - frame.mjd) <= days and matches(m, frame, dark_exptime)
        ]
        if not within:
            candidates = [m for m in group if matches(m, frame, dark_exptime)]
            raise NoMasterError(no_master_message(frame, imagetyp, candidates, days, searched))
        best = min(within, key=lambda m: preference(m, frame))
        chosen[imagetyp] = Pick(best, best.mjd - frame.mjd)
    return chosen


def no_master_message(
    frame: Observation, imagetyp: str, candidates, max_days: float, searched=()
) -> str:
    """One line saying that no master of ``imagetyp`` fits ``frame``, and the nearest one, or
    where none was found (the unit's folder of that type under each root ``searched``)."""
    what = {"DARK": f" of {frame.exptime:g} s", "FLAT": f" in {frame.filter}"}.get(imagetyp, "")
    text = (
        f"{frame.name}: no master {imagetyp.lower()}{what} for {frame.observatory}/"
        f"{frame.telkey}/{frame.unit} within {max_days:g} days"
    )
    if not candidates:
        folders = [
            os.path.join(root, frame.observatory, frame.telkey, frame.unit, imagetyp)
            for root in searched
        ]
        where = " or ".join(folders) or "the library"
        return text + f" (no {imagetyp.lower()}{what} in {where} at all)"
    nearest = min(candidates, key=lambda m: (abs(m.mjd - frame.mjd), m.path))
    return text + f"; nearest is {nearest.path}, {abs(nearest.mjd - frame.mjd):.2f} days away"


def frame_observation(key: str, path: str, fields: dict) -> Observation:
    """The lookup's view of a frame: layout fields from its key, the rest from its header.

    A frame outside the survey layout takes its unit from TELESCOP. Raises
    ValueError naming the frame when a needed keyword is missing or malformed.
    """
    if "error" in fields:
        raise ValueError(fields["error"])
    layout = layout_fields(key)
    unit = layout["unit"] or str(fields.get(TELESCOP, "")).strip()
    filter_name = str(fields.get(FILTER, layout["filter"])).strip()
    if not filter_name:
        raise ValueError(f"{path}: {FILTER} missing")
    return Observation(
        name=path,
        observatory=layout["observatory"],
        telkey=layout["telkey"],
        unit=unit,
        mjd=mjd_of(fields, path),
        exptime=number_of(fields, EXPTIME, path),
        filter=filter_name,
    )


def record(picks: dict[str, Pick], digest) -> dict:
    """The choice as plain data (JSON-ready): per type path, SHA-256, days, date, NCOMBINE.

    ``digest`` gives a file's SHA-256 from its path. Days unknown (None) stay None.
    """
    return {
        imagetyp: {
            "path": pick.master.path,
            "sha256": digest(pick.master.path),
            "days": None if pick.days is None else round(pick.days, 6),
            "mjd": pick.master.mjd,
            "exptime": pick.master.exptime,
            "filter": pick.master.filter,
            "ncombine": pick.master.ncombine,
        }
        for imagetyp, pick in picks.items()
    }


def choose_for_frames(
    frames: dict[str, str],
    frame_fields: dict,
    groups: dict,
    max_days: dict,
    dark_exptime: str,
    digest,
    searched: tuple[str, ...] = (),
) -> dict[str, MasterChoice]:
    """For each frame key, its :class:`MasterChoice`: the recorded choice or the one-line error.

    ``digest`` gives a master's SHA-256 from its path, for the record; ``searched`` are the
    library roots the masters come from, named when a type has none at all.
    """
    chosen = {}
    for key, path in frames.items():
        try:
            observation = frame_observation(key, path, frame_fields[path])
            picks = choose(observation, groups, max_days, dark_exptime, TYPES, searched)
            chosen[key] = MasterChoice(masters=record(picks, digest))
        except ValueError as error:
            chosen[key] = MasterChoice(reason=str(error))
    return chosen


def common_failures(choices: dict[str, MasterChoice]) -> dict[str, int]:
    """Reasons shared by several frames' failed lookups (see :func:`choose_for_frames`), each
    with how many: a unit without any master of a type says so once. A reason is the
    error's text after the frame's path."""
    reasons = {}
    for choice in choices.values():
        if choice.reason:
            reason = choice.reason.split(": ", 1)[-1]
            reasons[reason] = reasons.get(reason, 0) + 1
    return {reason: count for reason, count in reasons.items() if count > 1}
