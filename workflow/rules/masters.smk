"""Masters built from raw calibration frames (masters.enabled), into masters.root.

One job per group of raw frames (type, unit, night; darks per EXPTIME, flats per
FILTER): darks are corrected with a master bias, flats with a bias and a dark, each
chosen as a science frame's are. The content parameter is the digest of the raw
frames and the masters used, so a new raw frame reruns its group's master and then
exactly the science frames that use it.
"""

import re


rule master:
    input:
        raws=lambda wildcards: [ancient(p) for p in GROUPS[wildcards.master].raws],
        masters=lambda wildcards: [
            as_master_input(path)
            for path in (PREREQUISITES[wildcards.master][0] or {}).values()
        ],
        settings=stamp("master", MASTERS),
    output:
        os.path.join(BUILT_ROOT, "{master}.fits"),
    log:
        os.path.join(RESULTS, "logs", "master", "{master}.log"),
    benchmark:
        os.path.join(RESULTS, "benchmarks", "master", "{master}.tsv")
    wildcard_constraints:
        master="|".join(re.escape(relpath) for relpath in GROUPS) or "(?!)",
    conda:
        "../../envs/skyrms.yaml"
    resources:
        mem_mb=memory_mb("master"),
    params:
        content=lambda wildcards: PLANNED_DIGESTS[GROUPS[wildcards.master].master.path],
        imagetyp=lambda wildcards: GROUPS[wildcards.master].master.imagetyp,
        prerequisites=lambda wildcards: PREREQUISITES[wildcards.master],
        digests=lambda wildcards: {
            path: INDEX.digest(path) for path in GROUPS[wildcards.master].raws
        },
        settings=MASTERS,
    script:
        "../../scripts/master.py"
