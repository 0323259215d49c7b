"""Rule frames: the table of the selected frames (key, path, layout fields)."""

from skyrms.job import run
from skyrms.steps.frames import write_frame_table

run(snakemake, write_frame_table, frames=snakemake.params.frames, output=snakemake.output[0])
