"""Manual circular masks: centres in RA/Dec or pixels, radii in arcsec or pixels.

A circle is given as a mapping, as in the configuration file::

    {"ra": 10.68, "dec": -30.1, "radius_arcsec": 45}     # sky centre, degrees (ICRS)
    {"x": 512, "y": 300, "radius_pix": 20}                # FITS pixel centre, 1-based
    {..., "object": "T01462"}                             # only frames of this OBJECT

Pixel coordinates in the configuration follow the FITS (and DS9) convention:
the centre of the first pixel is (1, 1). Internally circles are 0-based.
"""

from dataclasses import dataclass

import numpy as np
import sep
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales


@dataclass(frozen=True)
class Circle:
    """A circle in 0-based pixel coordinates (pixels)."""

    x: float
    y: float
    radius: float

    def overlaps(self, shape: tuple[int, int]) -> bool:
        """True if any part of the circle lies on a frame of ``shape`` (ny, nx)."""
        ny, nx = shape
        dx = self.x - np.clip(self.x, -0.5, nx - 0.5)
        dy = self.y - np.clip(self.y, -0.5, ny - 0.5)
        return bool(self.radius > 0 and dx * dx + dy * dy < self.radius * self.radius)


def pixel_scale_arcsec(wcs: WCS) -> float:
    """Mean pixel scale of a celestial WCS, arcsec per pixel."""
    return float(np.mean(proj_plane_pixel_scales(wcs)) * 3600.0)


def applies_to(spec: dict, target: str) -> bool:
    """True if the circle has no ``object`` key or it equals the frame's ``target`` (OBJECT)."""
    return "object" not in spec or target.strip() == spec["object"]


def to_pixels(spec: dict, wcs: WCS | None) -> Circle:
    """Convert one circle specification to a 0-based pixel :class:`Circle`.

    Raises ValueError when the specification needs a WCS (a sky centre or an
    arcsec radius) and the frame has none.
    """
    uses_sky = "ra" in spec or "radius_arcsec" in spec
    if uses_sky and wcs is None:
        raise ValueError(f"circular mask {describe(spec)} needs a WCS and the frame has none")
    if "ra" in spec:
        x, y = wcs.all_world2pix([[spec["ra"], spec["dec"]]], 0)[0]
    else:
        x, y = spec["x"] - 1.0, spec["y"] - 1.0
    if "radius_arcsec" in spec:
        radius = spec["radius_arcsec"] / pixel_scale_arcsec(wcs)
    else:
        radius = float(spec["radius_pix"])
    return Circle(float(x), float(y), float(radius))


def describe(spec: dict) -> str:
    """Short human-readable text of a circle specification for logs and headers."""
    centre = (
        f"RA {spec['ra']:.5f} Dec {spec['dec']:+.5f}"
        if "ra" in spec
        else f"x {spec['x']:g} y {spec['y']:g}"
    )
    radius = (
        f"{spec['radius_arcsec']:g} arcsec"
        if "radius_arcsec" in spec
        else f"{spec['radius_pix']:g} px"
    )
    return f"{spec.get('name', 'circle')} at {centre} r={radius}"


def draw(shape: tuple[int, int], circles: list[Circle]) -> np.ndarray:
    """Boolean map, True where a pixel centre lies in any of ``circles`` (edge included).

    Circles of radius zero or less mask nothing.
    """
    drawn = np.zeros(shape, dtype=bool)
    circles = [c for c in circles if c.radius > 0]
    if circles:
        x = np.array([c.x for c in circles])
        y = np.array([c.y for c in circles])
        r = np.array([c.radius for c in circles])
        sep.mask_ellipse(drawn, x, y, r, r, np.zeros_like(r), r=1.0)
    return drawn
