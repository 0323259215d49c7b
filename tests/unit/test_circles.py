"""Circular masks: sky and pixel centres, arcsec and pixel radii, frame edges."""

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from skyrms.io.wcs import celestial_wcs
from skyrms.science import circles

SCALE = 0.505  # arcsec per pixel


def tan_header(shape=(200, 300), ra=150.0, dec=-30.0):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [shape[1] / 2 + 0.5, shape[0] / 2 + 0.5]
    wcs.wcs.cd = [[-SCALE / 3600, 0], [0, SCALE / 3600]]
    header = wcs.to_header()
    header["OBJECT"] = "T00001"
    return header


def test_sky_circle_lands_on_the_wcs_position_with_arcsec_radius():
    header = tan_header()
    wcs = celestial_wcs(header)
    circle = circles.to_pixels({"ra": 150.0, "dec": -30.0, "radius_arcsec": 10.1}, wcs)
    assert circle.x == pytest.approx(149.5, abs=1e-6)
    assert circle.y == pytest.approx(99.5, abs=1e-6)
    assert circle.radius == pytest.approx(20.0, rel=1e-3)
    assert circles.pixel_scale_arcsec(wcs) == pytest.approx(SCALE, rel=1e-6)


def test_pixel_circle_uses_fits_one_based_coordinates():
    circle = circles.to_pixels({"x": 1, "y": 1, "radius_pix": 3}, None)
    assert (circle.x, circle.y, circle.radius) == (0.0, 0.0, 3.0)
    drawn = circles.draw((10, 10), [circle])
    assert drawn[0, 0] and drawn[3, 0] and not drawn[4, 0] and not drawn[3, 1]


def test_drawn_area_matches_the_circle():
    drawn = circles.draw((200, 200), [circles.Circle(99.5, 99.5, 40)])
    assert drawn.sum() == pytest.approx(np.pi * 40**2, rel=0.01)


def test_sky_circle_without_wcs_is_a_clear_error():
    with pytest.raises(ValueError, match="needs a WCS"):
        circles.to_pixels({"ra": 1.0, "dec": 2.0, "radius_pix": 3}, None)
    assert celestial_wcs(fits.Header()) is None


@pytest.mark.parametrize(
    ("circle", "inside"),
    [
        (circles.Circle(-10, 50, 5), False),
        (circles.Circle(-3, 50, 5), True),
        (circles.Circle(150, 250, 60), True),
        (circles.Circle(50, 50, 0), False),
    ],
)
def test_overlap_with_the_frame(circle, inside):
    assert circle.overlaps((200, 300)) is inside


def test_object_restriction():
    header = tan_header()
    assert circles.applies_to({"object": "T00001"}, header["OBJECT"])
    assert not circles.applies_to({"object": "T00002"}, header["OBJECT"])
    assert circles.applies_to({}, header["OBJECT"])
