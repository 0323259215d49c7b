"""skyrms: background, source-mask and background-RMS maps for survey frames.

The package holds the science as small pure functions (numpy arrays in,
numpy arrays out) and a thin layer of file-level steps that the Snakemake
scripts and the command line call.
"""

__version__ = "0.2.0.dev0"
