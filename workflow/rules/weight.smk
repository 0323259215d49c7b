"""Weight maps for coadds (outputs.weight): 1/RMS^2 of the image-based or propagated RMS."""

WEIGHTED_RMS = {"image": "bkgrms", "propagated": "proprms"}
"""The RMS product a weight map inverts, by outputs.weight."""


rule weight:
    input:
        rms=LAYOUT.product(WEIGHTED_RMS.get(OUTPUTS["weight"], "bkgrms")),
        settings=stamp("weight", {key: OUTPUTS[key] for key in ("weight", "compress")}),
        mask=LAYOUT.product("mask"),
    output:
        LAYOUT.product("weight"),
    log:
        LAYOUT.log("weight"),
    benchmark:
        LAYOUT.benchmark("weight")
    conda:
        "../../envs/skyrms.yaml"
    resources:
        mem_mb=PLAN.memory_mb["weight"],
    params:
        compress=OUTPUTS["compress"],
    script:
        "../../scripts/weight.py"
