"""Selecting frames by time: a DATE-OBS range and the newest nights (skyrms.plan.frame_times)."""

from datetime import date, datetime

import pytest

from skyrms.io.fitsfiles import InputError
from skyrms.plan.frame_times import night_of, selected_by_time, time_bound

MOMENTS = {
    "a": datetime(2025, 11, 20, 2, 30),  # night of the 19th (nights start at 12 UTC)
    "b": datetime(2025, 11, 20, 23, 0),  # night of the 20th
    "c": datetime(2025, 11, 21, 11, 59),  # still the night of the 20th
    "d": datetime(2025, 11, 22, 3, 0),  # night of the 21st
    "e": None,  # no readable DATE-OBS
}


def test_nights_start_at_the_configured_hour():
    assert night_of(MOMENTS["c"], 12) == date(2025, 11, 20)
    assert night_of(MOMENTS["c"], 0) == date(2025, 11, 21)
    assert night_of(datetime(2025, 11, 21, 16, 0), 16.5) == date(2025, 11, 20)


@pytest.mark.parametrize(
    ("since", "until", "nights", "expected"),
    [
        (None, None, 0, ["a", "b", "c", "d", "e"]),  # no selection: all, even without a date
        ("2025-11-20", None, 0, ["a", "b", "c", "d"]),  # a date is its whole day
        (None, "2025-11-20", 0, ["a", "b"]),  # ... to its very end
        ("2025-11-20T12:00:00", "2025-11-21T12:00:00", 0, ["b", "c"]),
        ("2025-11-20T13:00:00+01:00", None, 0, ["b", "c", "d"]),  # a zone is taken into account
        (None, None, 1, ["d"]),
        (None, None, 2, ["b", "c", "d"]),
        (None, "2025-11-21", 1, ["b", "c"]),  # the newest night within the range
        ("2025-12-01", None, 0, []),
    ],
)
def test_frames_are_selected_by_date_obs_and_newest_nights(since, until, nights, expected):
    start, stop = time_bound(since, "since"), time_bound(until, "until", end=True)
    assert selected_by_time(MOMENTS, start, stop, nights, 12) == expected


def test_a_malformed_time_is_one_line_naming_the_setting():
    with pytest.raises(InputError, match="inputs.since: 'last week' is neither a date"):
        time_bound("last week", "inputs.since")
