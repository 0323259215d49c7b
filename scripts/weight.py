"""Rule weight: the inverse-variance weight map of a frame, for coadds."""

from skyrms.job import run
from skyrms.steps.weight import weight_map

run(
    snakemake,
    weight_map,
    rms_path=snakemake.input.rms,
    mask_path=snakemake.input.mask,
    output=snakemake.output[0],
    compress=snakemake.params.compress,
)
