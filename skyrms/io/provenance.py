"""Product headers: what the product is, where it came from, and how it was made."""

import os
from datetime import UTC, datetime

from astropy.io import fits

from skyrms import __version__
from skyrms.io.keywords import BUNIT, DATE, IDENTITY, PRODTYPE, SKYRMSV, Keyword
from skyrms.io.wcs import frame_wcs

LONG_VALUE = 50
"""Longest card value (characters) that keeps its comment on an 80-character card."""


def wcs_cards(frame_header: fits.Header) -> fits.Header:
    """The frame's celestial WCS (SIP included) as header cards, or none."""
    wcs = frame_wcs(frame_header)
    return wcs.to_header(relax=True) if wcs.has_celestial else fits.Header()


def product_header(
    frame_header: fits.Header,
    product: str,
    bunit: str,
    inputs: dict[Keyword, str],
    parameters: list[tuple[str, object, str]],
) -> fits.Header:
    """Header for a product map of a frame.

    Parameters
    ----------
    frame_header : header of the science frame the product belongs to.
    product : product type written to PRODTYPE, e.g. "BACKGROUND".
    bunit : physical unit of the pixel values, e.g. "adu" (empty for masks).
    inputs : keyword (see :mod:`skyrms.io.keywords`) -> path of each input file (stored as
        absolute paths).
    parameters : (keyword, value, comment) cards of the parameters used.
    """
    header = fits.Header()
    for key in IDENTITY:
        if key in frame_header:
            header[key] = (frame_header[key], frame_header.comments[key])
    header.update(wcs_cards(frame_header))
    header[PRODTYPE] = (product, PRODTYPE.comment)
    if bunit:
        header[BUNIT] = (bunit, BUNIT.comment)
    header[SKYRMSV] = (__version__, SKYRMSV.comment)
    header[DATE] = (datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"), DATE.comment)
    for key, path in inputs.items():
        path = os.path.abspath(path)  # a long path goes on CONTINUE cards, without a comment
        header[key] = (path, key.comment) if len(path) <= LONG_VALUE else path
    for key, value, comment in parameters:
        header[key] = (value, comment)
    return header
