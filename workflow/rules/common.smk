"""Configuration, frame discovery and path helpers shared by every rule."""

import os

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from skyrms import demo, discovery

min_version("9.0")

validate(config, "../schemas/config.schema.yaml", set_default=True)

ROOT = config["inputs"]["root"]
RESULTS = config["outputs"]["results"]
OUTDIR = ROOT if config["outputs"]["beside_inputs"] else RESULTS
DEMO = config["demo"]


def demo_frames():
    """Paths of the demo survey's science frames (they need not exist yet)."""
    relpaths = demo.output_relpaths(DEMO["seed"])
    return [os.path.join(DEMO["root"], p) for p in relpaths if p.startswith("scidata/")]


def selected_frames():
    """Frame paths: the explicit list if given, else the demo plan or a search of ROOT."""
    inputs = config["inputs"]
    listed = inputs["paths"] + (
        discovery.read_path_list(inputs["path_list"]) if inputs["path_list"] else []
    )
    if listed:
        return listed
    selection = discovery.Selection.from_config(inputs)
    if DEMO["enabled"]:
        return [p for p in demo_frames() if selection.matches(os.path.relpath(p, ROOT))]
    return discovery.discover(ROOT, selection)


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


FRAMES = keyed_frames()


def frame(wildcards):
    """Path of the science frame with this key."""
    return FRAMES[wildcards.key]


def product(suffix):
    """Path pattern of a per-frame product, e.g. product('.bkg.fits')."""
    return os.path.join(OUTDIR, f"{{key}}{suffix}")


def products_of_all_frames(*suffixes):
    """Every selected frame's products with these suffixes."""
    return [os.path.join(OUTDIR, f"{key}{s}") for key in FRAMES for s in suffixes]


def log_of(rule):
    """Path pattern of a rule's per-frame log file."""
    return os.path.join(RESULTS, "logs", rule, "{key}.log")


def benchmark_of(rule):
    """Path pattern of a rule's per-frame benchmark table."""
    return os.path.join(RESULTS, "benchmarks", rule, "{key}.tsv")
