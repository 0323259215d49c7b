"""The run's summary tables, written whenever a run ends, and the frames a report shows.

At the end of every run, successful or not (the Snakefile's onsuccess and onerror), the
run's summary has a row for each frame, a failed one with its reason, and is kept by night
(skyrms.steps.summary.write_run_tables). A report shows the frames of the last run's
summary that were made: a failed frame has no quick-look to show, and its row says why.
"""

from skyrms.steps import summary as summaries

LAST_SUMMARY = os.path.join(RESULTS, "summary.tsv")
if REPORTING and os.path.exists(LAST_SUMMARY):
    MADE = {
        row["frame"]
        for row in summaries.read_rows(LAST_SUMMARY)
        if row.get("status", "ok") == "ok"
    }
    FRAMES = {key: path for key, path in FRAMES.items() if key in MADE}


FRAME_JOBS = ("mask_and_background", "propagated_rms")
"""A frame's chain jobs, in the order they run: the first failure in their logs is its reason."""


def night_of_frame(row):
    """The night (ISO date) of a summary row's frame, from its DATE-OBS; None if unknown."""
    moment = date_obs_or_none(INDEX.fields(FRAMES[row["frame"]]))
    if moment is None:
        return None
    return frame_times.night_of(moment, SETTINGS["inputs"]["night_starts"]).isoformat()


def record_the_run(success):
    """The run's summary tables (skyrms.steps.summary.write_run_tables): on success the
    summary rule's table, else a row per frame from its products, or its failure's reason.
    """
    if success:
        rows = summaries.read_rows(LAST_SUMMARY)
    else:
        failures = {
            key: (
                summaries.failure_reason(
                    [log_of(rule).format(key=key) for rule in FRAME_JOBS]
                ),
                INDEX.fields(FRAMES[key]),
            )
            for key, products in SUMMARIZED.items()
            if not all(os.path.exists(path) for path in products.values())
        }
        rows = summaries.summary_rows(SUMMARIZED, failures)
    summaries.write_run_tables(rows, RESULTS, night_of_frame)
    failed = sum(row["status"] == "failed" for row in rows)
    return f"skyrms: summary of {len(rows)} frames, {failed} failed: {LAST_SUMMARY}"
