"""The background RMS propagated from the calibration, with the masters chosen per frame.

The masters are chosen when the job graph is built (plan.smk), so that they
are this rule's inputs: a nearer master arriving reruns exactly its frames.
"""

PROPAGATION = {"calibration": CALIBRATION, "compress": OUTPUTS["compress"]}
"""What the propagated RMS is made with, besides the frame, its maps and its masters."""


rule propagated_rms:
    input:
        frame=frame,
        settings=stamp("propagated_rms", PROPAGATION),
        background=LAYOUT.product("bkg"),
        image_rms=LAYOUT.product("bkgrms"),
        masters=chosen_masters,
    output:
        rms=LAYOUT.product("proprms"),
        choice=LAYOUT.product("masters"),
    log:
        LAYOUT.log("propagated_rms"),
    benchmark:
        LAYOUT.benchmark("propagated_rms")
    conda:
        "../../envs/skyrms.yaml"
    resources:
        mem_mb=PLAN.memory_mb["propagated_rms"],
    params:
        **PROPAGATION,
        lookup=master_choice,
        fields=frame_fields,
        frame_sha256=frame_digest,
    script:
        "../../scripts/propagated_rms.py"
