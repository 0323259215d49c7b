"""Rule propagated_rms: the background RMS map propagated from the CCD noise model."""

from skyrms.propagation import propagated_rms
from skyrms.snakescript import run

run(
    snakemake,
    propagated_rms,
    frame=snakemake.input.frame,
    background=snakemake.input.background,
    image_rms=snakemake.input.image_rms,
    masters=snakemake.input.masters,
    output=snakemake.output[0],
    settings=snakemake.params.settings,
)
