"""The chain: the frame table, then per frame the mask and the masked background.

One job per frame makes the mask (iterated source detection, then the
circular masks) and fits the background and its RMS without it: the frame is
read once, and two jobs per frame with the calibration keep the job graph of
a large archive quick to build.
"""


rule frames:
    output:
        LAYOUT.table("frames.tsv"),
    log:
        LAYOUT.table("logs/frames.log"),
    benchmark:
        LAYOUT.table("benchmarks/frames.tsv")
    conda:
        "../../envs/skyrms.yaml"
    params:
        frames=dict(PLAN.frames),
    script:
        "../../scripts/frames.py"


MASK_AND_BACKGROUND = {
    "source_mask": SETTINGS["source_mask"],
    "background": SETTINGS["background"],
    "circles": SETTINGS["circular_masks"],
    "compress": OUTPUTS["compress"],
}
"""What the products of mask_and_background are made with, besides the frame."""


rule mask_and_background:
    input:
        frame=frame,
        settings=stamp("mask_and_background", MASK_AND_BACKGROUND),
    output:
        mask=LAYOUT.product("mask"),
        background=LAYOUT.product("bkg"),
        rms=LAYOUT.product("bkgrms"),
    log:
        LAYOUT.log("mask_and_background"),
    benchmark:
        LAYOUT.benchmark("mask_and_background")
    conda:
        "../../envs/skyrms.yaml"
    resources:
        mem_mb=PLAN.memory_mb["mask_and_background"],
    params:
        **MASK_AND_BACKGROUND,
        frame_sha256=frame_digest,
    script:
        "../../scripts/mask_and_background.py"
