"""skyrms: background, source-mask and background-RMS maps for survey frames.

The package holds the science as small pure functions (numpy arrays in, numpy arrays
out), a thin layer of file-level steps that the Snakemake scripts and the command line
call, and on top a public API for notebooks (:mod:`skyrms.api`, its names re-exported
here)::

    import skyrms
    first = skyrms.source_mask_pass("frame.fits", sigma=5, saturation_level=50000)
    second = first.next_pass()          # second.last_pass.sources: new sources
    mask = skyrms.circular_mask(second, [skyrms.CircularMask(ra=150.1, dec=-30.2,
                                                             radius_arcsec=45)])
    maps = skyrms.background("frame.fits", mask)       # maps.rms.data, maps.write(...)

The API is imported on first use of one of its names, so ``import skyrms`` stays cheap.
"""

import importlib

__version__ = "0.2.0.dev0"

__all__ = [
    "BackgroundResult",
    "CircularMask",
    "CircularMaskResult",
    "FrameRecord",
    "FrameRun",
    "InputError",
    "MaskResult",
    "MastersResult",
    "PropagatedRMSResult",
    "SourceMaskResult",
    "background",
    "circular_mask",
    "nearest_masters",
    "propagated_rms",
    "quicklook",
    "run_frames",
    "select",
    "source_mask",
    "source_mask_pass",
]


def __getattr__(name: str):
    """The API's names (:data:`__all__`), imported from :mod:`skyrms.api` when first asked for."""
    if name in __all__:
        return getattr(importlib.import_module("skyrms.api"), name)
    raise AttributeError(f"module 'skyrms' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
