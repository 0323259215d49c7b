"""Lookup: what the workflow knows of every input file, and the masters each frame uses.

At parse time: refreshes the header index (RESULTS/header-index.json: reads
and hashes only new or changed frames and masters, on all cores) and chooses
each frame's master bias, dark and flat, so that they are the inputs of its
propagated_rms job: a nearer master arriving reruns exactly its frames.
"""

from skyrms import master_lookup
from skyrms.io.headerindex import HeaderIndex


def indexed_inputs():
    """The header index of every frame and master, refreshed; and the library's paths."""
    library = (
        master_lookup.library_paths(CALIBRATION["root"])
        if CALIBRATION["enabled"]
        else []
    )
    paths = [*FRAMES.values(), *library]
    index = HeaderIndex(os.path.join(RESULTS, "header-index.json"))
    if count := index.refresh(paths):
        logger.info(f"Indexed {count} new or changed input files.")
    index.save(keep=paths)
    return index, library


def master_choices():
    """Per frame key: (chosen masters, None) or (None, why none fits)."""
    groups, problems = master_lookup.build_library(
        CALIBRATION["root"], {path: INDEX.fields(path) for path in LIBRARY}
    )
    for problem in problems:
        logger.warning(f"Calibration library: skipped {problem}")
    return master_lookup.choose_for_frames(
        FRAMES,
        {path: INDEX.fields(path) for path in FRAMES.values()},
        groups,
        master_lookup.max_days_by_type(CALIBRATION["max_days"]),
        CALIBRATION["dark_exptime"],
        INDEX.digest,
    )


INDEX, LIBRARY = indexed_inputs()
CHOICES = master_choices() if CALIBRATION["enabled"] else {}


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


def chosen_masters(wildcards):
    """Paths of the masters chosen for this frame (none when the lookup failed)."""
    choice, _ = CHOICES[wildcards.key]
    return [ancient(choice[t]["path"]) for t in master_lookup.TYPES] if choice else []
