"""Rule demo_survey: write the embedded demo survey (frames, masters, truth tables)."""

from skyrms import demo
from skyrms.snakescript import run

run(
    snakemake,
    demo.write,
    root=snakemake.params.root,
    shape=tuple(snakemake.params.shape),
    seed=snakemake.params.seed,
)
