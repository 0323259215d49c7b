"""Rule mask_and_background: the final mask, background and background RMS maps of a frame."""

from skyrms.job import run
from skyrms.settings import BackgroundSection, CircularMask, SourceMaskSection
from skyrms.steps.mask_and_background import mask_and_background

background = BackgroundSection.from_config(snakemake.params.background)
run(
    snakemake,
    mask_and_background,
    frame=snakemake.input.frame,
    mask=snakemake.output.mask,
    background=snakemake.output.background,
    rms=snakemake.output.rms,
    params=SourceMaskSection.from_config(snakemake.params.source_mask).params(),
    mesh=background.mesh(),
    specs=[CircularMask.from_config(circle).spec() for circle in snakemake.params.circles],
    invalid=background.invalid(),
    frame_digest=snakemake.params.frame_sha256,
    compress=snakemake.params.compress,
)
