"""skyrms: background, source-mask and background-RMS maps for survey frames.

Run `snakemake --cores all`; config.yaml says which frames and how (see README.md).
"""


configfile: "config.yaml"


include: "workflow/rules/common.smk"


if DEMO["enabled"]:

    include: "workflow/rules/demo.smk"


include: "workflow/rules/chain.smk"


rule all:
    default_target: True
    input:
        rules.frames.output,
        products_of_all_frames(".mask.fits", ".bkg.fits", ".bkgrms.fits"),
