"""The plan of one workflow run, made once when Snakemake parses the workflow.

:func:`make_plan` finds the frames (search or list, then the time selection, then the
earlier frames a nightly run adds), plans the masters to build and chooses each frame's,
and sizes each job's memory; the rule files only read the :class:`Plan` it returns. The
header index (``{results}/header-index.json``) is refreshed on the way and saved.
"""

import logging
from dataclasses import dataclass

from skyrms.io.header_values import date_obs_or_none
from skyrms.io.headerindex import HeaderIndex
from skyrms.io.tables import read_tsv
from skyrms.plan import frame_selection, master_lookup, memory, nightly
from skyrms.plan.calibration_plan import CalibrationPlan, master_choices, plan_calibration
from skyrms.plan.frame_times import night_of
from skyrms.plan.layout import Layout
from skyrms.settings import Settings

SUMMARIZED = ("mask", "bkg", "bkgrms")
"""The products whose headers the summary reads (and the propagated RMS, if calibrated)."""


@dataclass(frozen=True)
class Plan:
    """What a run does. Its mappings are the run's: read them, never change them.

    Attributes
    ----------
    settings : Settings
        The run's settings.
    layout : Layout
        Where the products, logs and tables go.
    index : HeaderIndex
        Header keywords and digests of every input file.
    frames : dict
        Key -> path of the frames this run processes.
    calibration : CalibrationPlan
        The masters searched, built and chosen from.
    choices : dict
        Per frame key, the masters chosen (their record) or why none fits (MasterChoice).
    memory_mb : dict
        Memory to reserve for one job of each rule, MB.
    """

    settings: Settings
    layout: Layout
    index: HeaderIndex
    frames: dict
    calibration: CalibrationPlan
    choices: dict
    memory_mb: dict

    def frame_products(self, *kinds: str) -> dict[str, dict[str, str]]:
        """Per frame key, the paths of its products of ``kinds``: {key: {kind: path}}."""
        return {
            key: {kind: self.layout.product(kind, key) for kind in kinds} for key in self.frames
        }

    def frame_fields(self, key: str) -> dict:
        """Header keywords of a frame, as the index holds them."""
        return self.index.fields(self.frames[key])

    def frame_digest(self, key: str) -> str:
        """SHA-256 of a frame's bytes (hex)."""
        return self.index.digest(self.frames[key])

    def night_of(self, key: str) -> str | None:
        """The night (ISO date) of a frame, from its DATE-OBS; None if unknown."""
        moment = date_obs_or_none(self.frame_fields(key))
        night_starts = self.settings.inputs.night_starts
        return None if moment is None else night_of(moment, night_starts).isoformat()

    def summarized_products(self) -> dict[str, dict[str, str]]:
        """Per frame key, the products whose headers the summary reads."""
        return self.frame_products(*SUMMARIZED, *(("proprms",) if self.layout.calibrated else ()))

    def final_products(self) -> list[str]:
        """What a run makes: the frame table, the summary (which stands for every frame's
        maps, keeping the job graph small), and the quick-looks and weight maps if asked."""
        outputs = self.settings.outputs
        asked = {"quicklook": outputs.quicklook, "weight": outputs.weight != "none"}
        made = self.frame_products(*(kind for kind, wanted in asked.items() if wanted))
        tables = [self.layout.table(name) for name in ("frames.tsv", "summary.tsv")]
        return tables + [path for paths in made.values() for path in paths.values()]

    def where_things_are(self, config_file: str) -> str:
        """The lines printed at the end of a successful run: where to look next."""
        layout, root = self.layout, self.settings.inputs.root
        lines = [
            f"skyrms: {len(self.frames)} frames. Summary: {layout.table('summary.tsv')}, "
            f"by night in {layout.table('nights')}/",
            f"Products: beside each frame in {root}"
            if layout.outdir == root
            else f"Products: {layout.outdir}/",
            f"Logs: {layout.table('logs')}/",
            "Report: snakemake --report report.html (summary and quick-looks, with captions)",
            f"Browse: skyrms products --configfile {config_file}",
        ]
        if self.settings.outputs.quicklook:
            lines.insert(2, f"Quick-looks: {layout.outdir}/**/*.quicklook.png")
        return "\n".join(lines)

    def masters_of(self, key: str) -> list[tuple[str, bool]]:
        """The masters chosen for a frame, bias, dark, flat, each as (path, whether this run
        builds it); none when its lookup failed."""
        choice = self.choices[key].masters
        paths = [choice[t]["path"] for t in master_lookup.TYPES] if choice else []
        return self.calibration.as_inputs(paths)


def made_frames(layout: Layout) -> set[str] | None:
    """Keys of the frames the last run's summary lists as made (None without a summary)."""
    rows = read_tsv(layout.table("summary.tsv"))
    return {row["frame"] for row in rows if row.get("status", "ok") == "ok"} if rows else None


def selected_frames(settings: Settings, layout: Layout, log: logging.Logger):
    """The header index and the candidate and time-selected frames (key -> path)."""
    inputs = settings.inputs
    frame_selection.check_writable(layout.results, "outputs.results")  # the index is there
    candidates = frame_selection.candidate_frames(inputs)
    index = HeaderIndex(layout.table("header-index.json"))
    if index.discarded:
        log.warning(f"Header index {index.discarded}")
    if count := index.refresh(list(candidates.values())):
        log.info(f"Indexed {count} new or changed frames.")
    return index, candidates, frame_selection.taken_in_time(candidates, inputs, index)


def make_plan(settings: Settings, log: logging.Logger, reporting: bool = False) -> Plan:
    """The plan of a run of ``settings``; a report's (``reporting``) shows only the frames
    the last run's summary made.

    Raises :class:`~skyrms.io.fitsfiles.InputError` (one line) when no frame is selected or
    a folder cannot be written.
    """
    inputs, outputs = settings.inputs, settings.outputs
    dark_exptime = settings.calibration.dark_exptime
    layout = Layout(
        outputs.results,
        inputs.root if outputs.beside_inputs else outputs.results,
        settings.calibration.enabled,
    )
    index, candidates, frames = selected_frames(settings, layout, log)
    calibration = plan_calibration(settings, index, log)
    index.save(keep=[*candidates.values(), *calibration.indexed])
    outside = {key: path for key, path in candidates.items() if key not in frames}
    if inputs.add_rechosen and outside:
        frames = frames | nightly.earlier_frames(
            outside, len(frames), calibration, index, layout.last_products, dark_exptime, log
        )
    if outputs.beside_inputs:
        frame_selection.check_frame_folders(frames)
    if reporting and (made := made_frames(layout)) is not None:
        frames = {key: path for key, path in frames.items() if key in made}
    choices = master_choices(frames, calibration, index, dark_exptime)
    for reason, count in master_lookup.common_failures(choices).items():
        log.warning(f"Master lookup: {count} frames: {reason}")
    pixels = memory.largest_frame(index.fields(path) for path in frames.values())
    return Plan(settings, layout, index, frames, calibration, choices, memory.memory_mb(pixels))
