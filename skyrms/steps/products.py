"""A product map held in memory: its pixels and what its header records, written on request.

The steps compute products and write them; the public API (:mod:`skyrms.api`) returns the
same products, so a map made in a notebook and written is the file the workflow writes.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from skyrms.io.fitsfiles import write_float_map, write_mask
from skyrms.io.keywords import Keyword
from skyrms.io.provenance import product_header


@dataclass(frozen=True, eq=False)
class Product:
    """One product map of a frame.

    data : the map: uint8 mask bits, or a float map in the frame's units (ADU).
    kind : the product type (PRODTYPE), e.g. "MASK" or "BKGRMS".
    frame_header : header of the frame it belongs to (its identity and WCS are copied).
    inputs : keyword -> path of each input file (IN_FRAME, IN_MASK, ...).
    cards : (keyword, value, comment) cards of how it was made.
    """

    data: np.ndarray
    kind: str
    frame_header: fits.Header
    inputs: Mapping[Keyword, str]
    cards: tuple[tuple[str, object, str], ...]

    @property
    def is_mask(self) -> bool:
        """True for a mask (uint8 bits, no unit), False for a float map (ADU)."""
        return self.data.dtype == np.uint8

    @property
    def header(self) -> fits.Header:
        """The product's header (:func:`skyrms.io.provenance.product_header`), DATE now."""
        bunit = "" if self.is_mask else "adu"
        return product_header(
            self.frame_header, self.kind, bunit, dict(self.inputs), list(self.cards)
        )

    def write(self, path, compress: bool = False) -> None:
        """Write the product to ``path`` atomically: a plain image in the primary HDU, or with
        ``compress`` tile-compressed (see :func:`skyrms.io.fitsfiles.write_mask` and
        :func:`~skyrms.io.fitsfiles.write_float_map`)."""
        writer = write_mask if self.is_mask else write_float_map
        writer(path, self.data, self.header, compress)
