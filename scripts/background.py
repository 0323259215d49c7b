"""Rule background: the background map of one frame, fitted with the final mask."""

from skyrms import steps
from skyrms.snakescript import run

run(
    snakemake,
    steps.masked_background_map,
    frame=snakemake.input.frame,
    mask_path=snakemake.input.mask,
    output=snakemake.output[0],
    kind="BACKGROUND",
    box_size=snakemake.params.background["box_size"],
    filter_size=snakemake.params.background["filter_size"],
)
