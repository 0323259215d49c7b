"""Rule master: combine one group of raw calibration frames into a master with error maps."""

from skyrms.job import run
from skyrms.settings import MastersSection
from skyrms.steps.masters import build_group_master

run(
    snakemake,
    build_group_master,
    imagetyp=snakemake.params.imagetyp,
    raws=snakemake.input.raws,
    output=snakemake.output[0],
    group=snakemake.wildcards.master,
    prerequisites=snakemake.params.prerequisites,
    digests=snakemake.params.digests,
    settings=MastersSection.from_config(snakemake.params.settings),
    content=snakemake.params.content_digest,
)
