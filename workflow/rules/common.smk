"""Configuration, frame discovery, master lookup and path helpers shared by every rule."""

import os
import tempfile

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version, validate

from skyrms import calibration, demo, discovery
from skyrms.headerindex import HeaderIndex
from skyrms.snakescript import JOB_ENVIRONMENT

min_version("9.0")

# Jobs inherit these (cluster jobs too: they read this file again); see JOB_ENVIRONMENT.
for name, value in JOB_ENVIRONMENT.items():
    os.environ.setdefault(name, value)

validate(config, "../schemas/config.schema.yaml", set_default=True)


def canonical(value):
    """``value`` with every mapping's keys sorted.

    Snakemake compares parameters by their text, so settings passed to rules
    in this form rerun nothing when config.yaml only lists keys in another order.
    """
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


SETTINGS = canonical(config)
ROOT = SETTINGS["inputs"]["root"]
RESULTS = SETTINGS["outputs"]["results"]
OUTDIR = ROOT if SETTINGS["outputs"]["beside_inputs"] else RESULTS
DEMO = SETTINGS["demo"]
CALIBRATION = SETTINGS["calibration"]

if DEMO["enabled"] and demo.ensure(DEMO["root"], DEMO["shape"], DEMO["seed"]):
    logger.info(f"Wrote the demo survey under {DEMO['root']}.")


def selected_frames():
    """Frame paths: the explicit list if one is given, else a search of ROOT."""
    inputs = SETTINGS["inputs"]
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


def check_writable(folder, setting):
    """Stop before any work when ``folder`` cannot be created or written to."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise WorkflowError(
            f"{setting}: cannot write to {folder} ({error.strerror})"
        ) from None


def check_output_folders():
    """The results folder, and with beside_inputs every frame's folder, must be writable."""
    check_writable(RESULTS, "outputs.results")
    if SETTINGS["outputs"]["beside_inputs"]:
        for folder in sorted({os.path.dirname(path) for path in FRAMES.values()}):
            check_writable(folder, "outputs.beside_inputs")


def indexed_inputs():
    """The header index of every frame and master, refreshed; and the library's paths.

    The index (RESULTS/header-index.json) re-reads and re-hashes only files
    that are new or whose size or modification time changed.
    """
    library = (
        calibration.library_paths(CALIBRATION["root"]) if CALIBRATION["enabled"] else []
    )
    paths = [*FRAMES.values(), *library]
    index = HeaderIndex(os.path.join(RESULTS, "header-index.json"))
    if count := index.refresh(paths):
        logger.info(f"Indexed {count} new or changed input files.")
    index.save(keep=paths)
    return index, library


def master_choices():
    """Per frame key: (chosen masters, None) or (None, why none fits)."""
    groups, problems = calibration.build_library(
        CALIBRATION["root"], {path: INDEX.fields(path) for path in LIBRARY}
    )
    for problem in problems:
        logger.warning(f"Calibration library: skipped {problem}")
    return calibration.choose_for_frames(
        FRAMES,
        {path: INDEX.fields(path) for path in FRAMES.values()},
        groups,
        calibration.max_days_by_type(CALIBRATION["max_days"]),
        CALIBRATION["dark_exptime"],
        INDEX.digest,
    )


def largest_frame():
    """Pixels in the largest selected frame (from the index; 0 if none is readable)."""
    headers = (INDEX.fields(path) for path in FRAMES.values())
    return max((h.get("NAXIS1", 0) * h.get("NAXIS2", 0) for h in headers), default=0)


def memory_mb(rule):
    """Memory to reserve for one job of ``rule``, MB, from the largest frame's size.

    Peak resident memory per frame pixel plus the interpreter and libraries
    (100 MB), set when the rules peaked at 1.46, 1.28 and 0.70 GB on a
    9576x6388 frame. They now peak at about 1.06 and 1.02 GB (python -m
    skyrms.benchmark); the difference is kept as headroom.
    """
    bytes_per_pixel = {
        "mask_and_background": 24,
        "propagated_rms": 21,
        "quicklook": 11,
    }[rule]
    return int(100 + bytes_per_pixel * PIXELS / 2**20)


FRAMES = keyed_frames()
check_output_folders()
INDEX, LIBRARY = indexed_inputs()
CHOICES = master_choices() if CALIBRATION["enabled"] else {}
PIXELS = largest_frame()

# Without --resources mem_mb=..., jobs may use 90% of this machine's memory in
# all, so that --cores N never starts more jobs than fit.
if "mem_mb" not in workflow.global_resources:
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    workflow.register_resource("mem_mb", int(0.9 * physical / 2**20))


# Inputs from the archive are ancient(): a sync that rewrites them with new
# modification times triggers nothing. Their content is followed instead: the
# frame's SHA-256 is a parameter of the first job that reads it, and each
# master's is in the recorded choice, so changed bytes rerun what they feed.


def frame(wildcards):
    """Path of the science frame with this key."""
    return ancient(FRAMES[wildcards.key])


def frame_digest(wildcards):
    """SHA-256 of the science frame with this key."""
    return INDEX.digest(FRAMES[wildcards.key])


def chosen_masters(wildcards):
    """Paths of the masters chosen for this frame (none when the lookup failed)."""
    choice, _ = CHOICES[wildcards.key]
    return [ancient(choice[t]["path"]) for t in calibration.TYPES] if choice else []


def product(kind):
    """Path pattern of a per-frame product, e.g. product("bkg") (see discovery.PRODUCTS)."""
    return os.path.join(OUTDIR, f"{{key}}{discovery.PRODUCTS[kind]}")


def frame_products(*kinds):
    """Per frame key, the paths of its products of these kinds: {key: {kind: path}}."""
    return {
        key: {
            kind: os.path.join(OUTDIR, key + discovery.PRODUCTS[kind]) for kind in kinds
        }
        for key in FRAMES
    }


def products_of_all_frames(*kinds):
    """Every selected frame's products of these kinds."""
    return flat(frame_products(*kinds))


def flat(products):
    """The paths of a {key: {kind: path}} mapping, in one list."""
    return [path for paths in products.values() for path in paths.values()]


SUMMARIZED = frame_products(
    "mask", "bkg", "bkgrms", *(("proprms",) if CALIBRATION["enabled"] else ())
)
"""Per frame key, the products whose headers the summary reads."""


def final_products():
    """What a run makes: the frame table, the summary and the quick-looks if asked for.

    The summary stands for every frame's maps (it reads their headers), which
    keeps the job graph small for large archives.
    """
    tables = [os.path.join(RESULTS, name) for name in ("frames.tsv", "summary.tsv")]
    if SETTINGS["outputs"]["quicklook"]:
        return tables + products_of_all_frames("quicklook")
    return tables


def where_things_are():
    """The lines printed at the end of a successful run: where to look next."""
    lines = [
        f"skyrms: {len(FRAMES)} frames. Summary: {os.path.join(RESULTS, 'summary.tsv')}",
        (
            f"Products: beside each frame in {ROOT}"
            if OUTDIR == ROOT
            else f"Products: {OUTDIR}/"
        ),
        f"Logs: {os.path.join(RESULTS, 'logs')}/",
        "Report: snakemake --report report.html (summary and quick-looks, with captions)",
        "Browse: skyrms products --configfile config.yaml",
    ]
    if SETTINGS["outputs"]["quicklook"]:
        lines.insert(2, f"Quick-looks: {OUTDIR}/**/*.quicklook.png")
    return "\n".join(lines)


def log_of(rule):
    """Path pattern of a rule's per-frame log file."""
    return os.path.join(RESULTS, "logs", rule, "{key}.log")


def benchmark_of(rule):
    """Path pattern of a rule's per-frame benchmark table."""
    return os.path.join(RESULTS, "benchmarks", rule, "{key}.tsv")
