"""Rule mask_and_background: the final mask, background and background RMS maps of a frame."""

from skyrms.job import run
from skyrms.science.background import BackgroundParams
from skyrms.science.blanks import InvalidSpec
from skyrms.science.source_mask import MaskParams
from skyrms.steps.mask_and_background import mask_and_background

background = snakemake.params.background
run(
    snakemake,
    mask_and_background,
    frame=snakemake.input.frame,
    mask=snakemake.output.mask,
    background=snakemake.output.background,
    rms=snakemake.output.rms,
    params=MaskParams(**snakemake.params.source_mask),
    mesh=BackgroundParams(box_size=background["box_size"], filter_size=background["filter_size"]),
    specs=snakemake.params.circles,
    invalid=InvalidSpec(
        bad_pixel_mask=background["bad_pixel_mask"],
        blank_value=background["blank_value"],
        blank_run=background["blank_run"],
    ),
    frame_digest=snakemake.params.frame_sha256,
    compress=snakemake.params.compress,
)
