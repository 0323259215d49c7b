"""Rule frames: the table of the selected frames (key, path, layout fields)."""

from skyrms.discovery import write_manifest
from skyrms.snakescript import run

run(snakemake, write_manifest, frames=snakemake.params.frames, output=snakemake.output[0])
