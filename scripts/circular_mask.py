"""Rule circular_mask: merge the configured circular masks into the source mask."""

from skyrms import steps
from skyrms.snakescript import run

run(
    snakemake,
    steps.circular_mask,
    frame=snakemake.input.frame,
    source_mask_path=snakemake.input.source_mask,
    output=snakemake.output[0],
    specs=snakemake.params.circles,
)
