"""Rule propagated_rms: record the chosen masters, then propagate the background RMS."""

from skyrms.propagation import record_and_propagate
from skyrms.snakescript import run

run(
    snakemake,
    record_and_propagate,
    frame=snakemake.input.frame,
    background=snakemake.input.background,
    image_rms=snakemake.input.image_rms,
    lookup=snakemake.params.lookup,
    record=snakemake.output.choice,
    output=snakemake.output.rms,
    settings=snakemake.params.settings,
)
