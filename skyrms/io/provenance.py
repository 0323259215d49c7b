"""Product headers: what the product is, where it came from, and how it was made."""

import os
import warnings
from datetime import UTC, datetime

from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning

from skyrms import __version__
from skyrms.io.keywords import BUNIT, DATE, IDENTITY, PRODTYPE, SKYRMSV, Keyword
from skyrms.io.wcs import frame_wcs


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
        set_card(header, key, os.path.abspath(path), key.comment)
    for key, value, comment in parameters:
        set_card(header, key, value, comment)
    return header


def set_card(header: fits.Header, key: str, value, comment: str) -> None:
    """Set ``key`` in ``header`` with its whole comment, or without one where the value leaves
    no room for it on the card: a comment is never cut.

    A string longer than a card goes on CONTINUE cards (the FITS long-string convention),
    its comment on the last one; a shorter value whose comment does not fit (a 64-digit
    FRAMESHA, a path of 60 characters) is written without it. The comments are in
    :mod:`skyrms.io.keywords`.
    """
    card = fits.Card(key, value, comment)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VerifyWarning)
        try:
            _ = card.image  # astropy warns here when it would cut the comment
        except VerifyWarning:
            card = fits.Card(key, value)
    header[key] = (card.value, card.comment)
