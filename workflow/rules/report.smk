"""For people: the night's summary table and a quick-look picture per frame.

Both are in the HTML report (snakemake --report report.html), with the captions in
workflow/report/. At the end of every run, successful or not (the Snakefile's onsuccess
and onerror), the run's summary has a row for each frame, a failed one with its reason,
and is kept by night (skyrms.steps.summary.record_run). A report shows the frames of the
last run's summary that were made: a failed frame has no quick-look to show, and its row
says why.
"""

from skyrms.steps.summary import record_run

SUMMARIZED = PLAN.summarized_products()
"""Per frame key, the products whose headers the summary reads."""


rule summary:
    input:
        [path for products in SUMMARIZED.values() for path in products.values()],
    output:
        report(
            LAYOUT.table("summary.tsv"),
            caption="../report/summary.rst",
            category="Summary",
        ),
    log:
        LAYOUT.table("logs/summary.log"),
    benchmark:
        LAYOUT.table("benchmarks/summary.tsv")
    conda:
        "../../envs/skyrms.yaml"
    params:
        frames=SUMMARIZED,
    script:
        "../../scripts/summary.py"


rule quicklook:
    input:
        frame=frame,
        mask=LAYOUT.product("mask"),
        background=LAYOUT.product("bkg"),
        rms=LAYOUT.product("bkgrms"),
        propagated=LAYOUT.product("proprms") if LAYOUT.calibrated else [],
    output:
        report(
            LAYOUT.product("quicklook"),
            caption="../report/quicklook.rst",
            category="Quick-looks",
            labels={"frame": "{key}"},
        ),
    log:
        LAYOUT.log("quicklook"),
    benchmark:
        LAYOUT.benchmark("quicklook")
    conda:
        "../../envs/quicklook.yaml"
    resources:
        mem_mb=PLAN.memory_mb["quicklook"],
    script:
        "../../scripts/quicklook.py"
