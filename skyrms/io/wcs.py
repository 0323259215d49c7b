"""A frame's world coordinate system, read quietly."""

import warnings

from astropy.wcs import WCS, FITSFixedWarning


def frame_wcs(header) -> WCS:
    """The WCS of a FITS header.

    astropy repairs old-style cards as it reads them (a deprecated RADECSYS, a DATE-OBS
    in dd/mm/yy) and warns about each repair; the repairs are what we want and the frame
    is not ours to fix, so the warnings are not shown.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return WCS(header)


def celestial_wcs(header) -> WCS | None:
    """The celestial WCS of a FITS header, or None if it has none."""
    wcs = frame_wcs(header)
    return wcs.celestial if wcs.has_celestial else None
