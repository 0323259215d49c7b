"""Rule mask_and_background: the final mask, background and background RMS maps of a frame."""

from skyrms import steps
from skyrms.blanks import InvalidSpec
from skyrms.snakescript import run
from skyrms.sources import MaskParams

background = snakemake.params.background
run(
    snakemake,
    steps.mask_and_background,
    frame=snakemake.input.frame,
    mask=snakemake.output.mask,
    background=snakemake.output.background,
    rms=snakemake.output.rms,
    params=MaskParams(
        **snakemake.params.mask,
        box_size=background["box_size"],
        filter_size=background["filter_size"],
    ),
    specs=snakemake.params.circles,
    invalid=InvalidSpec(
        bad_pixel_mask=background["bad_pixel_mask"],
        blank_value=background["blank_value"],
        blank_run=background["blank_run"],
    ),
    frame_digest=snakemake.params.content,
)
