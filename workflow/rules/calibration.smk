"""The background RMS propagated from the calibration, with the masters chosen per frame.

The masters are chosen when the job graph is built (lookup.smk), so that they
are this rule's inputs: a nearer master arriving reruns exactly its frames.
"""


rule propagated_rms:
    input:
        frame=frame,
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
        lookup=lambda wildcards: CHOICES[wildcards.key],
        settings=CALIBRATION,
        fields=frame_fields,
        content=frame_digest,
        compress=OUTPUTS["compress"],
    script:
        "../../scripts/propagated_rms.py"
