"""Which masters to build: raw calibration frames grouped by type, unit and night.

Raw frames live as the master library does, one folder per type::

    {raw_root}/{observatory}/{telkey}/{unit}/{BIAS,DARK,FLAT}/*.fits

(IMAGETYP in the header wins over the folder). A group is the frames of one type,
observatory, telkey and unit taken in one night (from ``night_starts`` UTC to the
same hour the next day), darks of one EXPTIME and flats of one FILTER. Its master
goes into the folder of built masters, which the lookup searches with the library::

    {built_root}/{observatory}/{telkey}/{unit}/{TYPE}/{type}_{unit}_{night}[_{exptime}s|_{filter}].fits

and it is known to the lookup before it is built (its time, exposure, filter and
frame count come from the raw headers), so science frames choose among built and
planned masters alike. A master's *content digest* is the SHA-256 of its raw frames'
digests and the combination: a new raw frame in a group changes it, and with it the
choice recorded for exactly the frames that use that master.
"""

import glob
import hashlib
import os
from dataclasses import dataclass
from pathlib import PurePosixPath

from skyrms.io.header_values import date_obs, mjd_of, number_of
from skyrms.io.keywords import EXPTIME, FILTER, IMAGETYP
from skyrms.plan.frame_times import night_of
from skyrms.plan.master_lookup import TYPES, LibraryMaster, Observation, mjd_of_master


@dataclass(frozen=True)
class Group:
    """The raw frames of one master to build, and where it goes (``relpath`` under the
    library root, without .fits)."""

    relpath: str
    master: LibraryMaster
    raws: tuple[str, ...]


def raw_paths(root: str) -> list[str]:
    """Every FITS file in the raw layout under ``root``, sorted."""
    return sorted(glob.glob(os.path.join(root, "*", "*", "*", "*", "*.fits")))


def night_name(fields: dict, path: str, night_starts: float) -> str:
    """The night (date, ISO) a frame belongs to (:func:`skyrms.plan.frame_times.night_of`)."""
    return night_of(date_obs(fields, path), night_starts).isoformat()


def group_key(path: str, root: str, fields: dict, night_starts: float) -> tuple:
    """(observatory, telkey, unit, type, night, exptime, filter) of a raw frame."""
    observatory, telkey, unit, folder = PurePosixPath(os.path.relpath(path, root)).parts[:4]
    imagetyp = str(fields.get(IMAGETYP, folder)).strip().upper()
    if imagetyp not in TYPES:
        raise ValueError(f"{path}: IMAGETYP {imagetyp!r} is not one of {', '.join(TYPES)}")
    exptime = round(number_of(fields, EXPTIME, path), 3) if imagetyp == "DARK" else None
    if imagetyp == "FLAT" and FILTER not in fields:
        raise ValueError(f"{path}: {FILTER} missing")
    filter_name = str(fields[FILTER]).strip() if imagetyp == "FLAT" else None
    night = night_name(fields, path, night_starts)
    return (observatory, telkey, unit, imagetyp, night, exptime, filter_name)


def relpath_of(key: tuple) -> str:
    """Where a group's master goes under the library root, without .fits."""
    observatory, telkey, unit, imagetyp, night, exptime, filter_name = key
    name = f"{imagetyp.lower()}_{unit}_{night}"
    name += f"_{exptime:g}s" if exptime is not None else ""
    name += f"_{filter_name}" if filter_name is not None else ""
    return f"{observatory}/{telkey}/{unit}/{imagetyp}/{name}"


def plan(root: str, built_root: str, fields_by_path: dict, night_starts: float):
    """The groups to build (by relpath, their masters under ``built_root``) and one line per
    raw frame under ``root`` that cannot be used."""
    members, problems = {}, []
    for path, fields in fields_by_path.items():
        try:
            if "error" in fields:
                raise ValueError(fields["error"])
            key = group_key(path, root, fields, night_starts)
            members.setdefault(key, []).append((path, mjd_of(fields, path)))
        except ValueError as error:
            problems.append(str(error))
    groups = {}
    for key, frames in sorted(members.items(), key=lambda item: relpath_of(item[0])):
        observatory, telkey, unit, imagetyp, _, exptime, filter_name = key
        relpath = relpath_of(key)
        master = LibraryMaster(
            path=os.path.join(built_root, relpath + ".fits"), imagetyp=imagetyp,
            observatory=observatory, telkey=telkey, unit=unit,
            mjd=sum(mjd for _, mjd in frames) / len(frames), exptime=exptime,
            filter=filter_name, ncombine=len(frames),
        )  # fmt: skip
        groups[relpath] = Group(relpath, master, tuple(sorted(path for path, _ in frames)))
    return groups, problems


def content_digest(group: Group, digest, combination: str) -> str:
    """SHA-256 naming a master's content before it is built: its raw frames' digests
    (``digest`` gives a file's from its path) and the ``combination`` text."""
    text = "\n".join([combination, *(digest(path) for path in group.raws)])
    return hashlib.sha256(text.encode()).hexdigest()


def add_to_library(library: dict, groups: dict[str, Group]) -> dict:
    """The lookup's library (see :func:`skyrms.plan.master_lookup.build_library`) with the
    planned masters in it; a built master's file is replaced by its group's plan."""
    planned = {group.master.path for group in groups.values()}
    merged = {
        key: [m for m in masters if m.path not in planned] for key, masters in library.items()
    }
    for group in groups.values():
        m = group.master
        merged.setdefault((m.observatory, m.telkey, m.unit, m.imagetyp), []).append(m)
    return {key: sorted(masters, key=mjd_of_master) for key, masters in merged.items()}


def group_observation(group: Group, first_fields: dict) -> Observation:
    """The lookup's view of a group of raw frames (``first_fields``: its first frame's header
    keywords), to choose the masters its frames are corrected with
    (darks: a bias; flats: a bias and a dark of the flats' EXPTIME, or the nearest, scaled)."""
    m = group.master
    exptime = number_of(first_fields, EXPTIME, group.raws[0]) if m.imagetyp == "FLAT" else 1.0
    return Observation(
        name=m.path, observatory=m.observatory, telkey=m.telkey, unit=m.unit, mjd=m.mjd,
        exptime=m.exptime or exptime, filter=m.filter or "",
    )  # fmt: skip


NEEDS = {"BIAS": (), "DARK": ("BIAS",), "FLAT": ("BIAS", "DARK")}
"""The masters subtracted from each type's raw frames."""


def build_order(group: Group) -> tuple:
    """Sort key that puts biases before darks before flats (a master's digest includes
    those of the masters it is corrected with)."""
    return (TYPES.index(group.master.imagetyp), group.relpath)
