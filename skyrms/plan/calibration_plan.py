"""The masters of a run: the library searched, the masters to build, and each frame's choice.

The library (``calibration.root``) is only read; masters built from raw frames
(``masters.enabled``) go into ``masters.root`` in the library's layout, and the lookup
searches both. A master to build is known to the lookup before it exists (from its raw
frames' headers), so frames choose among built and planned masters alike, and a planned
master's *content digest* (its raw frames', its combination's and the masters it is
corrected with) stands for its bytes: a changed raw frame changes exactly the choices of
the frames that use it.
"""

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from skyrms.io.headerindex import HeaderIndex
from skyrms.io.keywords import CONTSHA
from skyrms.plan import master_groups, master_lookup
from skyrms.plan.master_lookup import MasterChoice
from skyrms.settings import MastersSection, Settings


@dataclass(frozen=True)
class CalibrationPlan:
    """The masters a run searches, builds and chooses from.

    Attributes
    ----------
    roots : tuple of str
        The folders searched for masters: the library, then the built masters' folder
        (empty without calibration).
    built_root : str
        Where built masters go.
    max_days : Mapping
        ``calibration.max_days`` by master type, days.
    groups : dict
        Masters to build: relpath (under ``built_root``, without .fits) -> its group of
        raw frames.
    library : dict
        The lookup's library: built, planned and library masters by unit and type.
    prerequisites : dict
        Per planned relpath, the bias and dark it is corrected with (a MasterChoice of
        paths by type).
    planned_digests : dict
        Per planned master path: its content digest (hex SHA-256).
    indexed : tuple of str
        The masters' and raw frames' paths, refreshed in the header index.
    rebuilt : frozenset of str
        The planned masters' paths that this run builds: missing, or whose file records
        another content digest (CONTSHA) than planned. The others are followed by content,
        like the library's: a copy with new times rebuilds nothing.
    """

    roots: tuple[str, ...]
    built_root: str
    max_days: Mapping[str, float]
    groups: dict
    library: dict
    prerequisites: dict
    planned_digests: dict
    indexed: tuple[str, ...]
    rebuilt: frozenset[str]

    def as_inputs(self, paths) -> list[tuple[str, bool]]:
        """Each master path with whether this run builds it (see :attr:`rebuilt`): jobs
        follow those by time, the others by content."""
        return [(path, path in self.rebuilt) for path in paths]

    def corrected_with(self, relpath: str) -> list[tuple[str, bool]]:
        """The masters a planned master is corrected with (:meth:`as_inputs`)."""
        return self.as_inputs((self.prerequisites[relpath].masters or {}).values())

    def digest(self, index: HeaderIndex, path: str) -> str:
        """A master's content: its planned content digest, or its file's SHA-256."""
        return self.planned_digests.get(path) or index.digest(path)


def library_and_raws(
    index: HeaderIndex, roots, raw_root: str | None, log: logging.Logger
) -> tuple[dict[str, list[str]], list[str]]:
    """The masters' paths by library root and the raw frames' paths (``raw_root`` None when
    not building), refreshed in ``index``."""
    library = {root: master_lookup.library_paths(root) for root in roots}
    raws = master_groups.raw_paths(raw_root) if raw_root else []
    if raw_root and not raws:
        log.warning(f"masters.enabled, but no raw frames under {raw_root!r}")
    if count := index.refresh([path for paths in library.values() for path in paths] + raws):
        log.info(f"Indexed {count} new or changed masters and raw frames.")
    return library, raws


def planned_groups(
    raws: list[str],
    raw_root: str,
    built_root: str,
    index: HeaderIndex,
    night_starts: float,
    log: logging.Logger,
) -> dict:
    """The groups of raw frames to combine, by master relpath; skipped frames are logged."""
    groups, problems = master_groups.plan(
        raw_root, built_root, {path: index.fields(path) for path in raws}, night_starts
    )
    for problem in problems:
        log.warning(f"Raw calibration frames: skipped {problem}")
    return groups


def joined_library(library: dict, groups: dict, index: HeaderIndex, log: logging.Logger) -> dict:
    """The masters to choose from: each root's files (unreadable ones logged and skipped)
    and the planned ones, which replace a built file of the same path."""
    libraries = []
    for root, paths in library.items():
        masters, problems = master_lookup.build_library(
            root, {path: index.fields(path) for path in paths}
        )
        libraries.append(masters)
        for problem in problems:
            log.warning(f"Calibration library: skipped {problem}")
    return master_groups.add_to_library(master_lookup.joined(libraries), groups)


def prerequisites_and_digests(
    groups: dict, library: dict, max_days: dict, combination: str, index: HeaderIndex
) -> tuple[dict, dict]:
    """Per planned relpath, the masters it is corrected with (see :class:`CalibrationPlan`);
    and every planned master's content digest, which includes theirs (``combination``: the
    text of the masters settings)."""
    chosen, digests = {}, {}
    for group in sorted(groups.values(), key=master_groups.build_order):
        needs = master_groups.NEEDS[group.master.imagetyp]
        try:
            observation = master_groups.group_observation(group, index.fields(group.raws[0]))
            picks = master_lookup.choose(observation, library, max_days, "nearest", needs)
            chosen[group.relpath] = MasterChoice({t: p.master.path for t, p in picks.items()})
        except ValueError as error:
            picks, chosen[group.relpath] = {}, MasterChoice(reason=str(error))
        used = "".join(
            digests.get(pick.master.path) or index.digest(pick.master.path)
            for pick in picks.values()
        )
        digests[group.master.path] = master_groups.content_digest(
            group, index.digest, combination + used
        )
    return chosen, digests


def combination_text(masters: MastersSection) -> str:
    """The masters settings as text, part of every planned master's content digest: the
    ``masters`` mapping's items, keys sorted, as Python writes them."""
    return repr(sorted(asdict(masters).items()))


def plan_calibration(
    settings: Settings, index: HeaderIndex, log: logging.Logger
) -> CalibrationPlan:
    """The calibration plan of ``settings`` (masters refreshed in ``index``)."""
    calibration, masters = settings.calibration, settings.masters
    built_root = settings.built_masters_root
    if not calibration.enabled:
        return CalibrationPlan((), built_root, {}, {}, {}, {}, {}, (), frozenset())
    roots = (calibration.root, built_root)
    raw_root = masters.raw_root if masters.enabled else None
    paths, raws = library_and_raws(index, roots, raw_root, log)
    groups = (
        planned_groups(raws, raw_root, built_root, index, settings.inputs.night_starts, log)
        if raw_root
        else {}
    )
    library = joined_library(paths, groups, index, log)
    max_days = calibration.max_days
    prerequisites, digests = prerequisites_and_digests(
        groups, library, max_days, combination_text(masters), index
    )
    indexed = (*(path for root in roots for path in paths[root]), *raws)
    built = set(paths[built_root])
    rebuilt = frozenset(
        path
        for path, digest in digests.items()
        if path not in built or index.fields(path).get(CONTSHA) != digest
    )
    return CalibrationPlan(
        roots, built_root, max_days, groups, library, prerequisites, digests, indexed, rebuilt
    )


def master_choices(
    frames: dict[str, str], plan: CalibrationPlan, index: HeaderIndex, dark_exptime: str
) -> dict:
    """Per key of ``frames`` (key -> path), its masters' record or why none fits (a
    MasterChoice); empty without calibration."""
    if not plan.roots:
        return {}
    return master_lookup.choose_for_frames(
        frames,
        {path: index.fields(path) for path in frames.values()},
        plan.library,
        plan.max_days,
        dark_exptime,
        lambda path: plan.digest(index, path),
        plan.roots,
    )
