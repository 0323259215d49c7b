"""Masters built from raw calibration frames (masters.enabled), into masters.root.

One job per group of raw frames (type, unit, night; darks per EXPTIME, flats per
FILTER): darks are corrected with a master bias, flats with a bias and a dark, each
chosen as a science frame's are. The content digest is that of the raw frames and the
masters used, so a new raw frame reruns its group's master and then exactly the science
frames that use it.
"""

import re

BUILDS = PLAN.calibration.groups
"""The masters to build: relpath under masters.root -> its group of raw frames."""


rule master:
    input:
        raws=lambda wildcards: [ancient(p) for p in BUILDS[wildcards.master].raws],
        masters=lambda wildcards: as_inputs(
            PLAN.calibration.corrected_with(wildcards.master)
        ),
        settings=stamp("master", SETTINGS["masters"]),
    output:
        os.path.join(PLAN.calibration.built_root, "{master}.fits"),
    log:
        LAYOUT.table("logs/master/{master}.log"),
    benchmark:
        LAYOUT.table("benchmarks/master/{master}.tsv")
    wildcard_constraints:
        master="|".join(re.escape(relpath) for relpath in BUILDS) or "(?!)",
    conda:
        "../../envs/skyrms.yaml"
    resources:
        mem_mb=PLAN.memory_mb["master"],
    params:
        content_digest=lambda wildcards: PLAN.calibration.planned_digests[
            BUILDS[wildcards.master].master.path
        ],
        imagetyp=lambda wildcards: BUILDS[wildcards.master].master.imagetyp,
        prerequisites=lambda wildcards: PLAN.calibration.prerequisites[
            wildcards.master
        ].as_param(),
        digests=lambda wildcards: {
            path: PLAN.index.digest(path) for path in BUILDS[wildcards.master].raws
        },
        settings=SETTINGS["masters"],
    script:
        "../../scripts/master.py"
