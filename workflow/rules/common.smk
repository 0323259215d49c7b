"""Configuration, frame discovery, master lookup and path helpers shared by every rule."""

import os

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version, validate

from skyrms import calibration, demo, discovery
from skyrms.headerindex import HeaderIndex

min_version("9.0")

validate(config, "../schemas/config.schema.yaml", set_default=True)

ROOT = config["inputs"]["root"]
RESULTS = config["outputs"]["results"]
OUTDIR = ROOT if config["outputs"]["beside_inputs"] else RESULTS
DEMO = config["demo"]
CALIBRATION = config["calibration"]

if DEMO["enabled"] and demo.ensure(DEMO["root"], DEMO["shape"], DEMO["seed"]):
    logger.info(f"Wrote the demo survey under {DEMO['root']}.")


def selected_frames():
    """Frame paths: the explicit list if one is given, else a search of ROOT."""
    inputs = config["inputs"]
    listed = inputs["paths"] + (
        discovery.read_path_list(inputs["path_list"]) if inputs["path_list"] else []
    )
    return listed or discovery.discover(ROOT, discovery.Selection.from_config(inputs))


def keyed_frames():
    """Frames by key, with a one-line error when the selection is empty or clashes."""
    try:
        frames = discovery.frames_by_key(selected_frames(), ROOT)
    except (OSError, ValueError) as error:
        raise WorkflowError(f"inputs: {error}") from None
    if not frames:
        raise WorkflowError(
            f"inputs: no frame under {ROOT} matches the selection in the configuration"
        )
    return frames


def master_choices():
    """Per frame key: (chosen masters, None) or (None, why none fits).

    Headers come from an index kept in RESULTS that re-reads only new or
    changed files, so this stays cheap for large archives and libraries.
    """
    library = calibration.library_paths(CALIBRATION["root"])
    paths = [*FRAMES.values(), *library]
    index = HeaderIndex(os.path.join(RESULTS, "header-index.json"))
    fields = index.fields(paths)
    index.save(keep=paths)
    groups, problems = calibration.build_library(
        CALIBRATION["root"], {path: fields[path] for path in library}
    )
    for problem in problems:
        logger.warning(f"Calibration library: skipped {problem}")
    return calibration.choose_for_frames(
        FRAMES,
        fields,
        groups,
        calibration.max_days_by_type(CALIBRATION["max_days"]),
        CALIBRATION["dark_exptime"],
    )


FRAMES = keyed_frames()
CHOICES = master_choices() if CALIBRATION["enabled"] else {}


def frame(wildcards):
    """Path of the science frame with this key."""
    return FRAMES[wildcards.key]


def chosen_masters(wildcards):
    """Paths of the masters chosen for this frame (none when the lookup failed)."""
    choice, _ = CHOICES[wildcards.key]
    return [choice[t]["path"] for t in calibration.TYPES] if choice else []


def product(suffix):
    """Path pattern of a per-frame product, e.g. product('.bkg.fits')."""
    return os.path.join(OUTDIR, f"{{key}}{suffix}")


def products_of_all_frames(*suffixes):
    """Every selected frame's products with these suffixes."""
    return [os.path.join(OUTDIR, f"{key}{s}") for key in FRAMES for s in suffixes]


def final_products():
    """What a run makes: the frame table and the maps of every frame.

    With calibration the ratio table stands for all maps (it needs every
    frame's propagated RMS, which needs the others), which keeps the job
    graph small for large archives.
    """
    tables = [os.path.join(RESULTS, "frames.tsv")]
    if CALIBRATION["enabled"]:
        return tables + [os.path.join(RESULTS, "rms_ratios.tsv")]
    return tables + products_of_all_frames(".mask.fits", ".bkg.fits", ".bkgrms.fits")


def log_of(rule):
    """Path pattern of a rule's per-frame log file."""
    return os.path.join(RESULTS, "logs", rule, "{key}.log")


def benchmark_of(rule):
    """Path pattern of a rule's per-frame benchmark table."""
    return os.path.join(RESULTS, "benchmarks", rule, "{key}.tsv")
