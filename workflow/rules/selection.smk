"""Selection: which frames this run processes, and where their products go.

At parse time: searches inputs.root (or reads the path list) for the frames
that match the layout fields and the file pattern, refreshes their entries in
the header index (RESULTS/header-index.json: only new or changed files are
read), and keeps those taken in the time selection (inputs.since,
inputs.until, inputs.newest_nights: from the index, no frame is opened); the
results folder is checked first (the index lives there). lookup.smk may add
the earlier frames a nightly run must look at again (inputs.add_rechosen) and
then checks the frames' folders.
"""

import tempfile

from skyrms import frame_times
from skyrms.io import discovery, stamps
from skyrms.io.header_values import date_obs_or_none
from skyrms.io.headerindex import HeaderIndex


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
    """With beside_inputs, every selected frame's folder must be writable."""
    if OUTPUTS["beside_inputs"]:
        for folder in sorted({os.path.dirname(path) for path in FRAMES.values()}):
            check_writable(folder, "outputs.beside_inputs")


def time_selection(candidates):
    """The candidates (by key) taken in the configured time selection (all without one)."""
    inputs = SETTINGS["inputs"]
    try:
        since = frame_times.time_bound(inputs["since"] or None, "inputs.since")
        until = frame_times.time_bound(
            inputs["until"] or None, "inputs.until", end=True
        )
    except InputError as error:
        raise WorkflowError(str(error)) from None
    moments = {
        key: date_obs_or_none(INDEX.fields(path)) for key, path in candidates.items()
    }
    keys = frame_times.selected_by_time(
        moments, since, until, inputs["newest_nights"], inputs["night_starts"]
    )
    if not keys:
        raise WorkflowError(
            f"inputs: none of the {len(candidates)} frames matching the selection was "
            "taken in the time selection (inputs.since, until, newest_nights)"
        )
    return {key: candidates[key] for key in keys}


check_writable(RESULTS, "outputs.results")  # before the index, which lives there
CANDIDATES = keyed_frames()
INDEX = HeaderIndex(os.path.join(RESULTS, "header-index.json"))
if INDEX.discarded:
    logger.warning(f"Header index {INDEX.discarded}")
if count := INDEX.refresh(list(CANDIDATES.values())):
    logger.info(f"Indexed {count} new or changed frames.")
FRAMES = time_selection(CANDIDATES)


def stamp(rule, settings):
    """The settings stamp of ``rule`` in RESULTS, an input of its jobs (skyrms.io.stamps);
    a dry run or a report only previews it."""
    return stamps.settings_stamp(RESULTS, rule, settings, preview=DRY_RUN or REPORTING)


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


def final_products():
    """What a run makes: the frame table, the summary, and the quick-looks and weight maps
    if asked for.

    The summary stands for every frame's maps (it reads their headers), which
    keeps the job graph small for large archives.
    """
    tables = [os.path.join(RESULTS, name) for name in ("frames.tsv", "summary.tsv")]
    wanted = [
        kind for kind in ("quicklook", "weight") if OUTPUTS[kind] not in (False, "none")
    ]
    return tables + products_of_all_frames(*wanted)


def where_things_are():
    """The lines printed at the end of a successful run: where to look next."""
    lines = [
        f"skyrms: {len(FRAMES)} frames. Summary: {os.path.join(RESULTS, 'summary.tsv')}, "
        f"by night in {os.path.join(RESULTS, 'nights')}/",
        (
            f"Products: beside each frame in {ROOT}"
            if OUTDIR == ROOT
            else f"Products: {OUTDIR}/"
        ),
        f"Logs: {os.path.join(RESULTS, 'logs')}/",
        "Report: snakemake --report report.html (summary and quick-looks, with captions)",
        f"Browse: skyrms products --configfile {CONFIG_FILES[0]}",
    ]
    if OUTPUTS["quicklook"]:
        lines.insert(2, f"Quick-looks: {OUTDIR}/**/*.quicklook.png")
    return "\n".join(lines)


def log_of(rule):
    """Path pattern of a rule's per-frame log file."""
    return os.path.join(RESULTS, "logs", rule, "{key}.log")


def benchmark_of(rule):
    """Path pattern of a rule's per-frame benchmark table."""
    return os.path.join(RESULTS, "benchmarks", rule, "{key}.tsv")
