"""Rule quicklook: the six-panel PNG of one frame and its maps."""

from skyrms.job import run
from skyrms.steps.quicklook import write_quicklook

run(
    snakemake,
    write_quicklook,
    frame=snakemake.input.frame,
    mask=snakemake.input.mask,
    background=snakemake.input.background,
    rms=snakemake.input.rms,
    propagated=snakemake.input.propagated or None,
    output=snakemake.output[0],
    name=snakemake.wildcards.key,
)
