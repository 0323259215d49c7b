"""Rule background: the background map of one frame, fitted with the final mask."""

from skyrms.snakescript import run_background_map

run_background_map(snakemake, "BACKGROUND")
