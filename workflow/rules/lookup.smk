"""Lookup: what the workflow knows of every input file, and the masters each frame uses.

At parse time: refreshes the header index (RESULTS/header-index.json: reads
and hashes only new or changed frames, masters and raw calibration frames, on
all cores), plans the masters to build from raw frames (masters.enabled), and
adds to a time selection the earlier frames whose masters changed since their
products were made (inputs.add_rechosen: the nightly run), checks the frames'
folders, and chooses each frame's master bias, dark and flat among built and
planned ones, so that they are the inputs of its propagated_rms job: a nearer
master arriving, or a master whose raw frames changed, reruns exactly its
frames.
"""

from skyrms import master_groups, master_lookup, rechosen
from skyrms.io.discovery import PRODUCTS

MASTERS = SETTINGS["masters"]
BUILDING = CALIBRATION["enabled"] and MASTERS["enabled"]
BUILT_ROOT = MASTERS["root"] or os.path.join(RESULTS, "masters")
"""Where the built masters go, in the library's layout; the library itself is only read."""
LIBRARY_ROOTS = (CALIBRATION["root"], BUILT_ROOT) if CALIBRATION["enabled"] else ()
"""The folders the lookup searches for masters: the library and the masters built."""
MAX_DAYS = master_lookup.max_days_by_type(CALIBRATION["max_days"])
"""calibration.max_days as days by master type."""


def indexed_inputs():
    """The header index refreshed for the masters and raw frames too (the frames' entries
    are fresh, see selection.smk) and saved; the masters' paths by library root, and the
    raw frames' paths."""
    library = {root: master_lookup.library_paths(root) for root in LIBRARY_ROOTS}
    raws = master_groups.raw_paths(MASTERS["raw_root"]) if BUILDING else []
    if BUILDING and not raws:
        logger.warning(
            f"masters.enabled, but no raw frames under {MASTERS['raw_root']!r}"
        )
    masters = [path for paths in library.values() for path in paths]
    if count := INDEX.refresh([*masters, *raws]):
        logger.info(f"Indexed {count} new or changed masters and raw frames.")
    INDEX.save(keep=[*CANDIDATES.values(), *masters, *raws])
    return library, raws


def planned_masters():
    """The groups of raw frames to combine, by master relpath (empty unless building)."""
    if not BUILDING:
        return {}
    groups, problems = master_groups.plan(
        MASTERS["raw_root"],
        BUILT_ROOT,
        {path: INDEX.fields(path) for path in RAWS},
        SETTINGS["inputs"]["night_starts"],
    )
    for problem in problems:
        logger.warning(f"Raw calibration frames: skipped {problem}")
    return groups


def master_library():
    """The masters to choose from: the library's files, those built, and the planned ones."""
    libraries = []
    for root, paths in LIBRARY.items():
        groups, problems = master_lookup.build_library(
            root, {path: INDEX.fields(path) for path in paths}
        )
        libraries.append(groups)
        for problem in problems:
            logger.warning(f"Calibration library: skipped {problem}")
    return master_groups.add_to_library(master_lookup.joined(libraries), GROUPS)


def prerequisites():
    """Per planned master relpath: (the bias and dark it is corrected with, None) or
    (None, why none fits); and every planned master's content digest."""
    chosen, digests = {}, {}
    combination = repr(sorted(MASTERS.items()))
    for group in sorted(GROUPS.values(), key=master_groups.build_order):
        needs = master_groups.NEEDS[group.master.imagetyp]
        try:
            observation = master_groups.group_observation(
                group, INDEX.fields(group.raws[0])
            )
            picks = master_lookup.choose(
                observation, LIBRARY_GROUPS, MAX_DAYS, "nearest", needs
            )
            chosen[group.relpath] = ({t: p.master.path for t, p in picks.items()}, None)
        except ValueError as error:
            picks, chosen[group.relpath] = {}, (None, str(error))
        used = "".join(
            digests.get(pick.master.path) or INDEX.digest(pick.master.path)
            for pick in picks.values()
        )
        digests[group.master.path] = master_groups.content_digest(
            group, INDEX.digest, combination + used
        )
    return chosen, digests


def master_digest(path):
    """SHA-256 of a master's file, or the content digest of a planned master."""
    return PLANNED_DIGESTS.get(path) or INDEX.digest(path)


def master_choices(frames):
    """Per key of ``frames`` (key -> path): its master_lookup.MasterChoice."""
    return master_lookup.choose_for_frames(
        frames,
        {path: INDEX.fields(path) for path in frames.values()},
        LIBRARY_GROUPS,
        MAX_DAYS,
        CALIBRATION["dark_exptime"],
        master_digest,
        LIBRARY_ROOTS,
    )


def master_arrivals():
    """When each master of the library arrived as it is now: a planned master when the
    newest of its raw frames and of the masters it is corrected with did."""
    seen = {}
    for group in sorted(GROUPS.values(), key=master_groups.build_order):
        needs = PREREQUISITES[group.relpath][0] or {}
        seen[group.master.path] = max(
            [INDEX.seen(path) for path in group.raws]
            + [seen.get(path) or INDEX.seen(path) for path in needs.values()]
        )
    return [
        rechosen.Arrival(
            unit=(m.observatory, m.telkey, m.unit),
            mjd=m.mjd,
            seen=seen.get(m.path) or INDEX.seen(m.path),
            imagetyp=m.imagetyp,
        )
        for masters in LIBRARY_GROUPS.values()
        for m in masters
    ]


def frame_arrival(key, path):
    """A frame's unit, time and arrival, for skyrms.rechosen (no unit if unreadable)."""
    try:
        frame = master_lookup.frame_observation(key, path, INDEX.fields(path))
        unit, mjd = (frame.observatory, frame.telkey, frame.unit), frame.mjd
    except ValueError:
        unit, mjd = (), float("nan")
    return rechosen.Arrival(unit=unit, mjd=mjd, seen=INDEX.seen(path))


def rechosen_frames():
    """The frames outside the time selection that this run looks at again, by key
    (inputs.add_rechosen): never attempted, arrived or changed since their products
    were made, or choosing other masters now that new ones arrived (skyrms.rechosen)."""
    outside = {key: path for key, path in CANDIDATES.items() if key not in FRAMES}
    if not (SETTINGS["inputs"]["add_rechosen"] and outside):
        return {}
    final = PRODUCTS["masters" if CALIBRATION["enabled"] else "bkgrms"]
    rules = ("propagated_rms", "mask_and_background")
    attempts = {
        key: rechosen.last_attempt(
            [
                os.path.join(OUTDIR, key + final),
                *(os.path.join(RESULTS, "logs", rule, f"{key}.log") for rule in rules),
            ]
        )
        for key in outside
    }
    new, served = rechosen.candidates(
        {key: frame_arrival(key, path) for key, path in outside.items()},
        master_arrivals() if CALIBRATION["enabled"] else [],
        attempts,
        MAX_DAYS,
    )
    choices = master_choices({key: outside[key] for key in served})
    changed = rechosen.frames_choosing_other_masters(
        {key: choice.masters for key, choice in choices.items()},
        {key: os.path.join(OUTDIR, key + final) for key in served},
    )
    logger.info(
        f"Nightly (inputs.add_rechosen): {len(FRAMES)} frames in the time selection, "
        f"{len(new)} earlier ones new or changed, {len(changed)} choosing other masters."
    )
    return {key: outside[key] for key in [*new, *changed]}


LIBRARY, RAWS = indexed_inputs()
GROUPS = planned_masters()
LIBRARY_GROUPS = master_library() if CALIBRATION["enabled"] else {}
PREREQUISITES, PLANNED_DIGESTS = prerequisites()
FRAMES = {**FRAMES, **rechosen_frames()}
check_output_folders()
CHOICES = master_choices(FRAMES) if CALIBRATION["enabled"] else {}
for reason, count in master_lookup.common_failures(CHOICES).items():
    logger.warning(f"Master lookup: {count} frames: {reason}")


# Inputs from the archive are ancient(): a sync that rewrites them with new
# modification times triggers nothing. Their content is followed instead: the
# frame's SHA-256 is a parameter of the jobs that read it, and each master's
# is in the recorded choice, so changed bytes rerun what they feed.


def frame(wildcards):
    """Path of the science frame with this key."""
    return ancient(FRAMES[wildcards.key])


def frame_digest(wildcards):
    """SHA-256 of the science frame with this key."""
    return INDEX.digest(FRAMES[wildcards.key])


def frame_fields(wildcards):
    """Header keywords of the science frame with this key, as the index holds them."""
    return INDEX.fields(FRAMES[wildcards.key])


def as_master_input(path):
    """A master as a job's input: a library file is ancient() (its content is followed),
    a planned master is not, so that rebuilding it reruns the jobs that use it (Snakemake
    does not check the parameters of jobs downstream of a rerun job whose inputs are
    all ancient)."""
    return path if path in PLANNED_DIGESTS else ancient(path)


def chosen_masters(wildcards):
    """Paths of the masters chosen for this frame (none when the lookup failed)."""
    choice = CHOICES[wildcards.key].masters
    return (
        [as_master_input(choice[t]["path"]) for t in master_lookup.TYPES]
        if choice
        else []
    )
