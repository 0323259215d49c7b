"""Master-frame lookup and the background RMS propagated from the calibration."""


rule masters:
    input:
        frame=frame,
        masters=chosen_masters,
    output:
        product(".masters.json"),
    log:
        log_of("masters"),
    benchmark:
        benchmark_of("masters")
    conda:
        "../../envs/masters.yaml"
    params:
        choice=lambda wildcards: CHOICES[wildcards.key][0],
        error=lambda wildcards: CHOICES[wildcards.key][1],
    script:
        "../../scripts/masters.py"


rule propagated_rms:
    input:
        frame=frame,
        background=product(".bkg.fits"),
        image_rms=product(".bkgrms.fits"),
        masters=product(".masters.json"),
        calibration=chosen_masters,
    output:
        product(".proprms.fits"),
    log:
        log_of("propagated_rms"),
    benchmark:
        benchmark_of("propagated_rms")
    conda:
        "../../envs/propagated_rms.yaml"
    params:
        settings=CALIBRATION,
    script:
        "../../scripts/propagated_rms.py"


rule rms_ratios:
    input:
        products_of_all_frames(".proprms.fits"),
    output:
        os.path.join(RESULTS, "rms_ratios.tsv"),
    log:
        os.path.join(RESULTS, "logs", "rms_ratios.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "rms_ratios.tsv")
    conda:
        "../../envs/rms_ratios.yaml"
    script:
        "../../scripts/rms_ratios.py"
