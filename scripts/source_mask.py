"""Rule source_mask: the iterated source mask of one frame."""

from skyrms import steps
from skyrms.snakescript import run
from skyrms.sources import MaskParams

background = snakemake.params.background
run(
    snakemake,
    steps.source_mask,
    frame=snakemake.input.frame,
    output=snakemake.output[0],
    params=MaskParams(
        **snakemake.params.mask,
        box_size=background["box_size"],
        filter_size=background["filter_size"],
    ),
    bad_pixels=background["bad_pixel_mask"],
)
