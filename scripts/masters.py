"""Rule masters: record the master bias, dark and flat chosen for one frame."""

from skyrms.propagation import record_masters
from skyrms.snakescript import run

run(
    snakemake,
    record_masters,
    frame=snakemake.input.frame,
    choice=snakemake.params.choice,
    error=snakemake.params.error,
    output=snakemake.output[0],
)
