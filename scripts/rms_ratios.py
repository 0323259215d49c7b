"""Rule rms_ratios: per frame, the propagated and image-based RMS medians and their ratio."""

from skyrms.propagation import write_ratio_table
from skyrms.snakescript import run

run(snakemake, write_ratio_table, products=list(snakemake.input), output=snakemake.output[0])
