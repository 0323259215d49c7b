"""photutils Background2D on one frame: the usual recipe of the team notes, with a local threshold.

Runs in a venv of its own (photutils is no dependency of skyrms), so it imports neither skyrms
nor benchmarks::

    python photutils_background.py FRAME BOX FILTER BKG.fits RMS.fits MASK.fits

1. A first Background2D without a source mask gives the threshold: its background plus 2 x its
   RMS (ADU), which follows a sky gradient where one global threshold would not.
2. ``detect_sources`` (10 connected pixels) and ``make_source_mask`` with a circular footprint of
   radius 10 px make the source mask.
3. Background2D with that mask (box BOX px, filter FILTER boxes, SigmaClip(3), MedianBackground,
   StdBackgroundRMS) gives the background and RMS maps (ADU).

Pixels that are not finite are coverage-masked (maps 0 there). If photutils refuses the frame
(e.g. "All boxes contain <= N unmasked or finite pixels"), the message is the last line of
stderr and the exit status is 1.
"""

import argparse

import numpy as np
from astropy.io import fits
from astropy.stats import SigmaClip
from photutils.background import Background2D, MedianBackground, StdBackgroundRMS
from photutils.segmentation import detect_sources
from photutils.utils import circular_footprint

N_PIXELS = 10
"""Fewest connected pixels above the threshold that make a source."""
FOOTPRINT_RADIUS = 10
"""Radius of the circular footprint the source mask is dilated with, px."""
THRESHOLD_RMS = 2.0
"""Detection threshold above the first background, x its RMS."""


def background(data, box: int, filter_size: int, invalid, mask=None) -> Background2D:
    """Background2D of ``data`` (ADU) in ``box`` px boxes and a ``filter_size`` box filter."""
    return Background2D(
        data,
        (box, box),
        filter_size=(filter_size, filter_size),
        sigma_clip=SigmaClip(sigma=3.0),
        bkg_estimator=MedianBackground(),
        bkg_rms_estimator=StdBackgroundRMS(),
        mask=mask,
        coverage_mask=invalid,
    )


def source_mask(data, box: int, filter_size: int, invalid) -> np.ndarray:
    """Pixels of sources (True), detected above a first unmasked background + 2 x its RMS."""
    first = background(data, box, filter_size, invalid)
    threshold = first.background + THRESHOLD_RMS * first.background_rms
    segments = detect_sources(data, threshold, N_PIXELS, mask=invalid)
    if segments is None:
        return np.zeros(data.shape, bool)
    return segments.make_source_mask(footprint=circular_footprint(FOOTPRINT_RADIUS))


def main(argv=None) -> None:
    """Read the frame, make the maps, write the three FITS files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("frame")
    parser.add_argument("box", type=int, help="box, px")
    parser.add_argument("filter_size", type=int, help="filter, boxes")
    parser.add_argument("background_out")
    parser.add_argument("rms_out")
    parser.add_argument("mask_out")
    args = parser.parse_args(argv)
    with fits.open(args.frame) as hdus:
        data = next(hdu.data for hdu in hdus if hdu.data is not None).astype(np.float64)
    invalid = ~np.isfinite(data)
    try:
        mask = source_mask(data, args.box, args.filter_size, invalid)
        final = background(data, args.box, args.filter_size, invalid, mask)
    except ValueError as error:
        raise SystemExit(" ".join(str(error).split())) from None
    fits.PrimaryHDU(final.background.astype(np.float32)).writeto(args.background_out)
    fits.PrimaryHDU(final.background_rms.astype(np.float32)).writeto(args.rms_out)
    fits.PrimaryHDU(mask.astype(np.uint8)).writeto(args.mask_out)


if __name__ == "__main__":
    main()
