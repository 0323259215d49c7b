"""The chain: the frame table, then per frame the source mask and the masked background.

Circular masks are drawn in the background job: whenever they change the
background must be refitted anyway, and fewer jobs per frame keep the job
graph of a large archive quick to build.
"""


rule frames:
    output:
        os.path.join(RESULTS, "frames.tsv"),
    log:
        os.path.join(RESULTS, "logs", "frames.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "frames.tsv")
    conda:
        "../../envs/frames.yaml"
    params:
        frames=FRAMES,
    script:
        "../../scripts/frames.py"


rule source_mask:
    input:
        frame=frame,
    output:
        product("srcmask"),
    log:
        log_of("source_mask"),
    benchmark:
        benchmark_of("source_mask")
    conda:
        "../../envs/source_mask.yaml"
    resources:
        mem_mb=memory_mb("source_mask"),
    params:
        content=frame_digest,
        mask=config["source_mask"],
        background=config["background"],
    script:
        "../../scripts/source_mask.py"


rule background:
    input:
        frame=frame,
        source_mask=product("srcmask"),
    output:
        mask=product("mask"),
        background=product("bkg"),
        rms=product("bkgrms"),
    log:
        log_of("background"),
    benchmark:
        benchmark_of("background")
    conda:
        "../../envs/background.yaml"
    resources:
        mem_mb=memory_mb("background"),
    params:
        circles=config["circular_masks"],
        background=config["background"],
    script:
        "../../scripts/background.py"
