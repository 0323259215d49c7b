"""Rule background: the final mask (circular masks merged), background and RMS maps."""

from skyrms.snakescript import run
from skyrms.steps import mask_and_background

run(
    snakemake,
    mask_and_background,
    frame=snakemake.input.frame,
    source_mask=snakemake.input.source_mask,
    mask=snakemake.output.mask,
    background=snakemake.output.background,
    rms=snakemake.output.rms,
    specs=snakemake.params.circles,
    box_size=snakemake.params.background["box_size"],
    filter_size=snakemake.params.background["filter_size"],
)
