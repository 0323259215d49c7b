"""Rule propagated_rms: record the chosen masters, then propagate the background RMS."""

from skyrms.job import run
from skyrms.settings import CalibrationSection
from skyrms.steps.propagated_rms import record_and_propagate

run(
    snakemake,
    record_and_propagate,
    frame=snakemake.input.frame,
    background=snakemake.input.background,
    image_rms=snakemake.input.image_rms,
    lookup=snakemake.params.lookup,
    record=snakemake.output.choice,
    output=snakemake.output.rms,
    settings=CalibrationSection.from_config(snakemake.params.calibration),
    fields=snakemake.params.fields,
    frame_digest=snakemake.params.frame_sha256,
    compress=snakemake.params.compress,
)
