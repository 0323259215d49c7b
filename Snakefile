"""skyrms: background, source-mask and background-RMS maps for survey frames.

Run `snakemake --cores all`; config.yaml says which frames and how (see README.md).
"""


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/chain.smk"
include: "workflow/rules/calibration.smk"


rule all:
    default_target: True
    input:
        final_products(),
