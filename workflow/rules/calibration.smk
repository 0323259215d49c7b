"""The background RMS propagated from the calibration, with the masters chosen per frame.

The masters are chosen when the job graph is built (lookup.smk), so that they
are this rule's inputs: a nearer master arriving reruns exactly its frames.
"""

PROPAGATION = {"calibration": CALIBRATION, "compress": OUTPUTS["compress"]}
"""What the propagated RMS is made with, besides the frame, its maps and its masters."""


rule propagated_rms:
    input:
        frame=frame,
        settings=stamp("propagated_rms", PROPAGATION),
        background=product("bkg"),
        image_rms=product("bkgrms"),
        masters=chosen_masters,
    output:
        rms=product("proprms"),
        choice=product("masters"),
    log:
        log_of("propagated_rms"),
    benchmark:
        benchmark_of("propagated_rms")
    conda:
        "../../envs/skyrms.yaml"
    resources:
        mem_mb=memory_mb("propagated_rms"),
    params:
        **PROPAGATION,
        lookup=lambda wildcards: CHOICES[wildcards.key].as_param(),
        fields=frame_fields,
        content=frame_digest,
    script:
        "../../scripts/propagated_rms.py"
