"""skyrms: background, source-mask and background-RMS maps for survey frames.

`snakemake --cores all` runs config.yaml (here: the embedded demo); `snakemake --cores all
--configfile mine.yaml` runs mine.yaml alone, its missing settings the schema's defaults
(see README.md).
"""


include: "workflow/rules/settings.smk"
include: "workflow/rules/selection.smk"
include: "workflow/rules/lookup.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/chain.smk"
include: "workflow/rules/masters.smk"
include: "workflow/rules/calibration.smk"
include: "workflow/rules/weight.smk"
include: "workflow/rules/night.smk"
include: "workflow/rules/report.smk"


onsuccess:
    record_the_run(success=True)
    logger.info(where_things_are())


onerror:
    logger.error(record_the_run(success=False))
    logger.error(
        f"skyrms: see the failed jobs' logs under {os.path.join(RESULTS, 'logs')}/; "
        "with --keep-going the other frames finish, and `skyrms products` lists what is missing."
    )


rule all:
    default_target: True
    input:
        final_products(),
