"""For people: the night's summary table and a quick-look picture per frame.

Both are in the HTML report (snakemake --report report.html), with the
captions in workflow/report/. At the end of every run, successful or not, the run's
summary is written with a row for each frame that failed and its reason, and kept by
night (record_the_run, called by the Snakefile's onsuccess and onerror). A report
shows the frames of the last run's summary that were made (a failed frame has no
quick-look to show; its row in the summary says why).
"""

import sys

from skyrms.steps import summary as summaries

LAST_SUMMARY = os.path.join(RESULTS, "summary.tsv")
REPORTING = "--report" in sys.argv and "--report-after-run" not in sys.argv
"""Whether this invocation only makes the report (Snakemake runs no job for it)."""
if REPORTING and os.path.exists(LAST_SUMMARY):
    rows = summaries.read_rows(LAST_SUMMARY)
    made = {row["frame"] for row in rows if row.get("status", "ok") == "ok"}
    FRAMES = {key: path for key, path in FRAMES.items() if key in made}

SUMMARIZED = frame_products(
    "mask", "bkg", "bkgrms", *(("proprms",) if CALIBRATION["enabled"] else ())
)
"""Per frame key, the products whose headers the summary reads."""


rule summary:
    input:
        flat(SUMMARIZED),
    output:
        report(
            os.path.join(RESULTS, "summary.tsv"),
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        os.path.join(RESULTS, "logs", "summary.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "summary.tsv")
    conda:
        "../../envs/skyrms.yaml"
    params:
        frames=SUMMARIZED,
    script:
        "../../scripts/summary.py"


rule quicklook:
    input:
        frame=frame,
        mask=product("mask"),
        background=product("bkg"),
        rms=product("bkgrms"),
        propagated=product("proprms") if CALIBRATION["enabled"] else [],
    output:
        report(
            product("quicklook"),
            caption="../report/quicklook.rst",
            category="Quick-looks",
            labels={"frame": "{key}"},
        ),
    log:
        log_of("quicklook"),
    benchmark:
        benchmark_of("quicklook")
    conda:
        "../../envs/quicklook.yaml"
    resources:
        mem_mb=memory_mb("quicklook"),
    script:
        "../../scripts/quicklook.py"


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
