"""Property tests: header parsing and circle geometry never crash and give sensible results."""

import math
import string
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skyrms.io import header_values
from skyrms.io.headerindex import read_fields
from skyrms.plan import master_lookup
from skyrms.science import circles

PRINTABLE = st.text(alphabet=string.printable.strip("\t\n\r\x0b\x0c"), max_size=40)
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(), PRINTABLE
)
TIMES = st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2100, 1, 1))


@pytest.mark.filterwarnings("ignore:ERFA function")  # astropy's "dubious year" after 2028
@given(TIMES, st.sampled_from(["seconds", "milliseconds", "microseconds"]))
def test_iso_dates_give_the_mjd_astropy_gives(moment, precision):
    text = moment.isoformat(timespec=precision)
    expected = Time(text, format="isot", scale="utc").mjd
    # leap seconds are ignored: at most a second, 1.2e-5 days
    assert abs(header_values.mjd_of({"DATE-OBS": text}, "f.fits") - expected) < 2e-5


@given(TIMES, st.integers(-12 * 60, 14 * 60))
def test_dates_with_a_time_zone_are_converted_to_utc(moment, minutes):
    zone = timezone(timedelta(minutes=minutes))
    local = moment.replace(tzinfo=UTC).astimezone(zone)
    mjd = header_values.mjd_of({"DATE-OBS": local.isoformat()}, "f.fits")
    assert abs(mjd - header_values.mjd_of({"DATE-OBS": moment.isoformat()}, "f.fits")) < 1e-9


@given(ANY_VALUE)
def test_any_date_obs_gives_a_finite_mjd_or_one_error_naming_the_file(value):
    try:
        mjd = header_values.mjd_of({"DATE-OBS": value}, "frame.fits")
    except ValueError as error:
        assert str(error).startswith("frame.fits: malformed DATE-OBS")
    else:
        assert math.isfinite(mjd)


@given(ANY_VALUE)
def test_any_exptime_gives_a_positive_number_or_one_error_naming_the_file(value):
    try:
        exptime = header_values.number_of({"EXPTIME": value}, "EXPTIME", "frame.fits")
    except ValueError as error:
        assert str(error).startswith("frame.fits: EXPTIME ")
        assert (str(error) == "frame.fits: EXPTIME missing") == (value is None)
    else:
        assert 0 < exptime < math.inf and exptime == value


@given(st.one_of(st.none(), PRINTABLE), st.sampled_from(["m600", ""]))
def test_any_filter_name_is_used_stripped_or_taken_from_the_folder(value, folder):
    key = f"7DT/7DT_C361K_HIGH_1x1/T00001/7DT01/{folder}/f" if folder else "f"
    fields = {"DATE-OBS": "2025-11-20T03:00:00", "EXPTIME": 100.0}
    if value is not None:
        fields["FILTER"] = value
    try:
        frame = master_lookup.frame_observation(key, "f.fits", fields)
    except ValueError as error:
        assert str(error) == "f.fits: FILTER missing"
        assert not (value or "").strip() and not (value is None and folder)
    else:
        assert frame.filter == (folder if value is None else value.strip())
        assert frame.filter


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    date=st.one_of(TIMES.map(datetime.isoformat), PRINTABLE),
    exptime=st.one_of(st.floats(allow_nan=False, allow_infinity=False), PRINTABLE),
    filter_name=PRINTABLE,
)
def test_headers_written_to_fits_parse_or_fail_with_one_error(tmp_path, date, exptime, filter_name):
    path = tmp_path / "frame.fits"
    header = fits.Header([("DATE-OBS", date), ("EXPTIME", exptime), ("FILTER", filter_name)])
    fits.PrimaryHDU(np.zeros((4, 4), np.float32), header).writeto(path, overwrite=True)
    try:
        frame = master_lookup.frame_observation("f", str(path), read_fields(str(path)))
    except ValueError as error:
        assert str(error).startswith(f"{path}: ")
    else:
        assert math.isclose(frame.exptime, exptime, rel_tol=1e-12)  # 20 characters in a card
        assert frame.filter == filter_name.strip()
        assert math.isfinite(frame.mjd)


SHAPES = st.tuples(st.integers(1, 40), st.integers(1, 40))
COORDINATES = st.floats(-80, 120, allow_nan=False)
RADII = st.one_of(st.just(0.0), st.floats(0, 60, allow_nan=False))


@given(SHAPES, COORDINATES, COORDINATES, RADII)
def test_a_circle_masks_exactly_the_pixel_centres_inside_it(shape, x, y, radius):
    circle = circles.Circle(x, y, radius)
    drawn = circles.draw(shape, [circle])
    assert drawn.shape == shape and drawn.dtype == bool
    rows, columns = np.indices(shape)
    distance2 = (columns - x) ** 2 + (rows - y) ** 2
    edge = np.abs(distance2 - radius**2) <= 1e-6 * (1 + radius**2)
    inside = (distance2 < radius**2) & (radius > 0)
    assert np.array_equal(drawn[~edge], inside[~edge])
    if drawn.any():  # anything drawn means the circle touches the frame
        assert circle.overlaps(shape)
    if radius == 0:
        assert not drawn.any() and not circle.overlaps(shape)


@given(st.floats(-100, 200, allow_nan=False), st.floats(-100, 200, allow_nan=False), RADII)
def test_pixel_circles_from_the_configuration_are_one_based(x, y, radius):
    circle = circles.to_pixels({"x": x, "y": y, "radius_pix": radius}, None)
    assert (circle.x, circle.y, circle.radius) == (x - 1, y - 1, radius)
