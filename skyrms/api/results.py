"""What the API's functions return: frozen results holding the products the steps write.

Each result holds :class:`~skyrms.steps.products.Product` objects, the same the workflow's
steps write: ``.header`` is the header the product file gets (its DATE the time it is
asked for) and ``.write(path, compress=False)`` writes the same file.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.nddata import StdDevUncertainty
from matplotlib.figure import Figure

from skyrms.api.pictures import quicklook
from skyrms.io import keywords as kw
from skyrms.io.fitsfiles import InputError
from skyrms.plan.master_lookup import MasterChoice
from skyrms.science.source_mask import Iteration
from skyrms.steps.mask_and_background import write_products
from skyrms.steps.products import Product
from skyrms.steps.propagated_rms import record_masters


@dataclass(frozen=True, eq=False)
class MaskResult:
    """A mask of a frame: uint8 bits (:mod:`skyrms.science.maskbits`), 0 = unmasked.

    product : the mask product (kind "SOURCEMASK", or "MASK" with circles merged).
    """

    product: Product

    @property
    def mask(self) -> np.ndarray:
        """The mask bits (uint8), shape (ny, nx) of the frame."""
        return self.product.data

    @property
    def header(self) -> fits.Header:
        """The header the mask product gets."""
        return self.product.header

    @property
    def source(self) -> str:
        """The frame the mask was made from: its path, or "image" for an array."""
        return self.product.inputs.get(kw.IN_FRAME, "image")

    def write(self, path, compress: bool = False) -> None:
        """Write the mask product to ``path``: a plain 8-bit image, or with ``compress``
        PLIO tile-compressed (lossless)."""
        self.product.write(path, compress)

    def plot(self, frame) -> Figure:
        """The quick-look's panel of ``frame`` (array, NDData or path) with this mask."""
        return quicklook(frame, self, panels=["masked frame"])


@dataclass(frozen=True, eq=False)
class SourceMaskResult(MaskResult):
    """The iterated source mask after its last pass so far.

    passes : what each pass did (:class:`~skyrms.science.source_mask.Iteration`: new
        sources not saturated and saturated, sources grown further, pixels added).
    stop : why the passes stopped: "converged" (nothing new), "iterations"
        (``max_iterations`` reached) or "background" (the runaway guard); None while
        :meth:`next_pass` may go on.
    growth_stops : per reason a source's growth stopped, how many sources stopped for it in
        the last pass.
    largest_radius : the largest mask radius of a source, pixels.
    """

    passes: tuple[Iteration, ...]
    stop: str | None
    growth_stops: Mapping[str, int]
    largest_radius: float
    continuation: Callable[[int], "SourceMaskResult"] | None = field(default=None, repr=False)

    @property
    def last_pass(self) -> Iteration:
        """What the last pass did."""
        return self.passes[-1]

    def next_pass(self) -> "SourceMaskResult":
        """The mask after one more pass, which starts from this one (and its sources' radii).

        Raises :class:`~skyrms.io.fitsfiles.InputError` when the passes have stopped.
        """
        if self.stop is not None or self.continuation is None:
            raise InputError(f"{self.source}: the passes have stopped ({self.stop})")
        return self.continuation(len(self.passes) + 1)


@dataclass(frozen=True, eq=False)
class CircularMaskResult(MaskResult):
    """A mask with circles merged (bit MANUAL).

    drawn : how many of the circles touch the frame and were drawn.
    """

    drawn: int


@dataclass(frozen=True, eq=False)
class BackgroundResult:
    """A frame's background and background-RMS maps, fitted without its masked pixels.

    background : the background map product (ADU).
    rms : the background-RMS map product (ADU), corrected for the sigma-clipping bias as in
        the workflow's products (:func:`skyrms.science.background.unbiased_rms`).
    """

    background: Product
    rms: Product

    @property
    def uncertainty(self) -> StdDevUncertainty:
        """The RMS map as an astropy uncertainty (ADU), e.g. for a CCDData."""
        return StdDevUncertainty(self.rms.data, unit=u.adu)

    def write(self, background, rms, compress: bool = False) -> None:
        """Write the background map to ``background`` and the RMS map to ``rms``, both or
        neither; plain images, or with ``compress`` tile-compressed (lossy, see
        :data:`skyrms.io.fitsfiles.MAP_PRECISION`)."""
        write_products({background: self.background, rms: self.rms}, compress)

    def plot(self) -> Figure:
        """The quick-look's background and image-based RMS panels."""
        return quicklook(background=self)


@dataclass(frozen=True, eq=False)
class MastersResult:
    """The masters chosen for a frame, as ``skyrms run`` records them in ``.masters.json``.

    frame : the frame's path (or "image").
    masters : by type (BIAS, DARK, FLAT), the lookup's record
        (:func:`skyrms.plan.master_lookup.record`): path, sha256, days (master minus frame,
        days), mjd, exptime (s), filter, ncombine. A master given in memory has a
        placeholder path ("<BIAS array>"), the SHA-256 of its pixels and days None when
        unknown (see :mod:`skyrms.api.masters`).
    in_memory : the masters given in memory, by type, as the HDU lists read in place of
        files (so that the result can be given to :func:`skyrms.propagated_rms` again).
    """

    frame: str
    masters: Mapping[str, Mapping]
    in_memory: Mapping[str, fits.HDUList] = field(default_factory=dict)

    @property
    def paths(self) -> dict[str, str]:
        """The chosen masters' paths by type (placeholders for masters given in memory)."""
        return {imagetyp: pick["path"] for imagetyp, pick in self.masters.items()}

    def write(self, path) -> None:
        """Write the record (JSON) to ``path``, the ``.masters.json`` of ``skyrms run``."""
        record_masters(MasterChoice(masters=dict(self.masters)), path)


@dataclass(frozen=True, eq=False)
class PropagatedRMSResult:
    """A frame's background RMS propagated from the noise model and its masters.

    rms : the propagated RMS map product (ADU, kind "PROPRMS").
    masters : the masters it was made with.
    """

    rms: Product
    masters: MastersResult

    @property
    def header(self) -> fits.Header:
        """The header the propagated RMS product gets."""
        return self.rms.header

    @property
    def ratio(self) -> float:
        """RMSRATIO: the median over pixels of propagated / image-based RMS."""
        return dict((key, value) for key, value, _ in self.rms.cards)[kw.RMSRATIO]

    def write(self, path, masters=None, compress: bool = False) -> None:
        """Write the propagated RMS map to ``path`` (plain, or with ``compress``
        tile-compressed) and, if given, the masters' record to ``masters``, first."""
        if masters is not None:
            self.masters.write(masters)
        self.rms.write(path, compress)

    def plot(self, background: BackgroundResult | None = None) -> Figure:
        """The quick-look's propagated RMS panel, and with the image-based ``background``
        the ratio of the two."""
        panels = ["propagated", "ratio"] if background is not None else ["propagated"]
        return quicklook(background=background, propagated=self, panels=panels)
