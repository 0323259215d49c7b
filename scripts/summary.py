"""Rule summary: a row per frame from its products' headers, outliers flagged."""

from skyrms.job import run
from skyrms.steps.summary import write_summary

run(snakemake, write_summary, frames=snakemake.params.frames, output=snakemake.output[0])
