"""skyrms: background, source-mask and background-RMS maps for survey frames.

`snakemake --cores all` runs config.yaml (here: the embedded demo); `snakemake --cores all
--configfile mine.yaml` runs mine.yaml alone, its missing settings the schema's defaults
(see README.md).
"""


include: "workflow/rules/settings.smk"
include: "workflow/rules/plan.smk"
include: "workflow/rules/chain.smk"
include: "workflow/rules/masters.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/weight.smk"
include: "workflow/rules/report.smk"


onsuccess:
    record_run(PLAN, success=True)
    logger.info(PLAN.where_things_are(CONFIG_FILES[0]))


onerror:
    logger.error(record_run(PLAN, success=False))
    logger.error(
        f"skyrms: see the failed jobs' logs under {LAYOUT.table('logs')}/; "
        "with --keep-going the other frames finish, and `skyrms products` lists what is missing."
    )


rule all:
    default_target: True
    input:
        PLAN.final_products(),
