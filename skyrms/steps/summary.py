"""The night's summary: a row per frame from its products' headers, with outliers flagged,
and a row with its one-line reason for each frame that failed.

Only headers are read, so the table costs a few milliseconds per frame. A
frame is flagged when its propagated/image RMS ratio or its masked fraction
lies more than :data:`OUTLIER_SIGMA` robust standard deviations (1.4826 x the
median absolute deviation, :data:`~skyrms.science.noise_model.MAD_TO_SIGMA`) from the
median of the frames of the same object and filter; groups of fewer than
:data:`MIN_GROUP` frames are not judged.

Every run leaves its summary whatever became of its frames (:func:`write_run_tables`):
``summary.tsv`` for the frames of the run, ``nights/{night}.tsv`` for each night it
covered (its frames' latest rows) and ``frames.latest.tsv`` with every frame's latest row.
"""

import os
import re
import statistics

from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import InputError, read_header
from skyrms.io.tables import read_tsv, write_tsv
from skyrms.plan.layout import FRAME_JOBS
from skyrms.plan.master_lookup import TYPES
from skyrms.plan.run_plan import Plan
from skyrms.science.noise_model import MAD_TO_SIGMA

OUTLIER_SIGMA = 5.0
"""Distance from the group median, in robust standard deviations, that flags a frame."""

MIN_GROUP = 3
"""Fewest frames of one object and filter for outliers to be flagged among them."""

MIN_SPREAD = 0.01
"""Floor of the robust spread, as a fraction of the median (identical values are not outliers)."""

IDENTITY = {"object": kw.OBJECT, "unit": kw.TELESCOP, "filter": kw.FILTER,
            "date_obs": kw.DATE_OBS, "exptime": kw.EXPTIME}  # fmt: skip
"""Columns taken from the frame's identity cards, copied into every product header."""


def passes(header, family: kw.Family) -> str:
    """Comma-separated counts of the source mask's passes (e.g. MSKSRC1, MSKSRC2, ... cards)."""
    return ",".join(str(header[family(n)]) for n in range(1, header.get(kw.MSKNITER, 0) + 1))


def frame_row(key: str, mask_path, bkg_path, rms_path, proprms_path=None) -> dict:
    """One frame's summary values (ADU, days) from the headers of its products."""
    mask, bkg, rms = read_header(mask_path), read_header(bkg_path), read_header(rms_path)
    row = {"frame": key, "status": "ok", "reason": ""}
    row |= {column: bkg.get(card, "") for column, card in IDENTITY.items()}
    row |= {
        "background_median": bkg.get(kw.BKGMED, ""),
        "image_rms_median": rms.get(kw.RMSMED, ""),
        "propagated_rms_median": "",
        "ratio": "",
        "masked_fraction": bkg.get(kw.MASKFRAC, ""),
        "sources_per_pass": passes(mask, kw.MSKSRC),
        "saturated_per_pass": passes(mask, kw.MSKSAT),
    }
    stop = mask.get(kw.MSKSTOP, "converged" if mask.get(kw.MSKCONV, True) else "iterations")
    warnings = {
        "converged": [],
        "iterations": ["source mask not converged"],
        "background": ["source mask stopped by the runaway guard"],
    }[stop]
    if proprms_path:
        prop = read_header(proprms_path)
        row |= {"propagated_rms_median": prop[kw.PROPMED], "ratio": prop[kw.RMSRATIO]}
        for imagetyp in TYPES:
            row[imagetyp.lower()] = os.path.basename(prop.get(kw.IN_MASTER(imagetyp), ""))
            row[f"{imagetyp.lower()}_days"] = prop.get(kw.MASTER_DAYS(imagetyp), "")
        if prop.get(kw.ASSUMED, "none") != "none":
            warnings.append(f"assumed {prop[kw.ASSUMED]}")
        if prop.get(kw.FLATERR) is False:
            warnings.append("no flat error map")
    row["warnings"] = "; ".join(warnings)
    return row


def robust_outliers(values: list[float]) -> list[bool]:
    """True for values more than OUTLIER_SIGMA robust standard deviations from the median."""
    if len(values) < MIN_GROUP:
        return [False] * len(values)
    middle = statistics.median(values)
    spread = MAD_TO_SIGMA * statistics.median(abs(v - middle) for v in values)
    spread = max(spread, MIN_SPREAD * abs(middle), 1e-12)
    return [abs(v - middle) > OUTLIER_SIGMA * spread for v in values]


def flag_outliers(rows: list[dict]) -> None:
    """Set each row's ``flags``: the columns in which it is an outlier for its object and filter."""
    groups = {}
    for row in rows:
        row["flags"] = ""
        groups.setdefault((row["object"], row["filter"]), []).append(row)
    for members in groups.values():
        for column in ("ratio", "masked_fraction"):
            judged = [row for row in members if isinstance(row[column], int | float)]
            for row, outlier in zip(
                judged, robust_outliers([row[column] for row in judged]), strict=True
            ):
                if outlier:
                    row["flags"] = ",".join(filter(None, [row["flags"], f"{column}_outlier"]))


def failed_row(key: str, reason: str, fields: dict) -> dict:
    """The row of a frame whose products were not all made: its identity from its header's
    keywords (``fields``), and why."""
    row = {"frame": key, "status": "failed", "reason": reason}
    return row | {column: fields.get(card, "") for column, card in IDENTITY.items()}


def summary_rows(frames: dict[str, dict[str, str]], failures: dict[str, str] | None = None):
    """A row per frame key of ``frames`` (key -> {kind: product path}), outliers flagged
    among the frames that were made; a frame in ``failures`` (key -> (reason, header
    keywords)) gets :func:`failed_row`."""
    failures = failures or {}
    rows = [
        failed_row(key, *failures[key]) if key in failures else made_row(key, products)
        for key, products in frames.items()
    ]
    flag_outliers([row for row in rows if row["status"] == "ok"])
    return rows


def made_row(key: str, products: dict[str, str]) -> dict:
    """:func:`frame_row` of a frame's ``products``; a product that cannot be read fails the
    frame's row with its one line."""
    try:
        return frame_row(key, products["mask"], products["bkg"], products["bkgrms"],
                         products.get("proprms"))  # fmt: skip
    except InputError as error:
        return failed_row(key, str(error), {})


def write_rows(rows: list[dict], output) -> None:
    """The rows as a tab-separated table, their columns in the order they first appear."""
    columns = list(dict.fromkeys(column for row in rows for column in row))
    write_tsv(output, [columns, *([row.get(column, "") for column in columns] for row in rows)])


def write_summary(frames: dict[str, dict[str, str]], output) -> None:
    """Tab-separated summary, a row per frame key; ``frames`` maps key -> {kind: product path}."""
    write_rows(summary_rows(frames), output)


ERROR_LINE = re.compile(r" ERROR: (.*)$")
"""The one line a failed job logs (skyrms.job): '{time} {rule} ERROR: {message}'."""


def failure_reason(logs) -> str:
    """Why a frame's products were not all made: the first ERROR line in the logs of its
    jobs (paths, in the order the jobs run), else that its jobs did not finish."""
    for log in logs:
        try:
            with open(log) as handle:
                for line in handle:
                    if match := ERROR_LINE.search(line.rstrip("\n")):
                        return match.group(1)
        except FileNotFoundError:
            continue
    return "not made: its jobs did not run to the end (an earlier job failed, or the run stopped)"


def write_run_tables(rows: list[dict], results, night_of) -> list[str]:
    """Write a run's summary (its ``rows``) into ``results`` and keep it: ``summary.tsv``
    (this run), ``nights/{night}.tsv`` for every night of its frames (``night_of(row)``, an
    ISO date or "" for none: 'undated'), merged with the rows kept there of the night's other
    frames, and ``frames.latest.tsv``, every frame's latest row. Returns the files written."""
    written = [os.path.join(results, "summary.tsv")]
    write_rows(rows, written[0])
    nights = {}
    for row in rows:
        nights.setdefault(night_of(row) or "undated", []).append(row)
    for night, members in sorted(nights.items()):
        written.append(os.path.join(results, "nights", f"{night}.tsv"))
        write_rows(merged(read_tsv(written[-1]), members), written[-1])
    written.append(os.path.join(results, "frames.latest.tsv"))
    write_rows(merged(read_tsv(written[-1]), rows), written[-1])
    return written


def merged(kept: list[dict], new: list[dict]) -> list[dict]:
    """``kept`` rows with those of the frames in ``new`` replaced by ``new``'s, by frame key,
    sorted by frame."""
    rows = {row["frame"]: row for row in kept} | {row["frame"]: row for row in new}
    return [rows[key] for key in sorted(rows)]


def record_run(plan: Plan, success: bool) -> str:
    """The run's summary tables (:func:`write_run_tables`), written when a run ends: on
    success the summary rule's table, else a row per frame from its products, or its
    failure's reason. Returns the line that says so."""
    summarized, layout = plan.summarized_products(), plan.layout
    if success:
        rows = read_tsv(layout.table("summary.tsv"))
    else:
        failures = {
            key: (
                failure_reason([layout.log(rule, key) for rule in FRAME_JOBS]),
                plan.frame_fields(key),
            )
            for key, products in summarized.items()
            if not all(os.path.exists(path) for path in products.values())
        }
        rows = summary_rows(summarized, failures)
    write_run_tables(rows, layout.results, lambda row: plan.night_of(row["frame"]))
    failed = sum(row["status"] == "failed" for row in rows)
    return f"skyrms: summary of {len(rows)} frames, {failed} failed: {layout.table('summary.tsv')}"
