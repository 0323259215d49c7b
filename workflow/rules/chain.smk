"""The chain: the frame table, then per frame source mask, circular masks, background, RMS."""


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
        product(".srcmask.fits"),
    log:
        log_of("source_mask"),
    benchmark:
        benchmark_of("source_mask")
    conda:
        "../../envs/source_mask.yaml"
    params:
        mask=config["source_mask"],
        background=config["background"],
    script:
        "../../scripts/source_mask.py"


rule circular_mask:
    input:
        frame=frame,
        source_mask=product(".srcmask.fits"),
    output:
        product(".mask.fits"),
    log:
        log_of("circular_mask"),
    benchmark:
        benchmark_of("circular_mask")
    conda:
        "../../envs/circular_mask.yaml"
    params:
        circles=config["circular_masks"],
    script:
        "../../scripts/circular_mask.py"


rule background:
    input:
        frame=frame,
        mask=product(".mask.fits"),
    output:
        product(".bkg.fits"),
    log:
        log_of("background"),
    benchmark:
        benchmark_of("background")
    conda:
        "../../envs/background.yaml"
    params:
        background=config["background"],
    script:
        "../../scripts/background.py"


rule background_rms:
    input:
        frame=frame,
        mask=product(".mask.fits"),
    output:
        product(".bkgrms.fits"),
    log:
        log_of("background_rms"),
    benchmark:
        benchmark_of("background_rms")
    conda:
        "../../envs/background_rms.yaml"
    params:
        background=config["background"],
    script:
        "../../scripts/background_rms.py"
