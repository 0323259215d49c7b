"""The embedded demo survey, generated once (deterministic seed)."""


rule demo_survey:
    output:
        [os.path.join(DEMO["root"], p) for p in demo.output_relpaths(DEMO["seed"])],
    log:
        os.path.join(RESULTS, "logs", "demo_survey.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "demo_survey.tsv")
    conda:
        "../../envs/demo.yaml"
    params:
        shape=DEMO["shape"],
        seed=DEMO["seed"],
        root=lambda wildcards, output: os.path.commonpath(output),
    script:
        "../../scripts/demo_survey.py"
