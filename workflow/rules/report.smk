"""For people: the night's summary table and a quick-look picture per frame.

Both are in the HTML report (snakemake --report report.html), with the
captions in workflow/report/. The summary of a run that failed frames is written by
the Snakefile's onerror (night.smk).
"""

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
