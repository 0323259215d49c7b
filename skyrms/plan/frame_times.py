"""Selecting frames by the time they were taken: a DATE-OBS range and the newest nights.

Times are naive UTC datetimes (see :mod:`skyrms.io.header_values`). A night runs from
``night_starts`` hours UTC (noon by default) to the same hour the next day and is named
by the date it starts on, so one observing night is one name wherever the telescope is
(set ``night_starts`` to the site's local noon in UTC).
"""

import contextlib
from datetime import date, datetime, time, timedelta

from skyrms.io.fitsfiles import InputError
from skyrms.io.header_values import as_utc


def time_bound(value: str | date | None, name: str, end: bool = False) -> datetime | None:
    """A bound of the DATE-OBS range as a naive UTC datetime (None: unbounded).

    A date alone stands for its whole day: its first instant as a start, its
    last (23:59:59.999999) as an ``end``. Raises InputError naming ``name``
    for text that is neither a date nor an ISO time.
    """
    if isinstance(value, str):
        value = parse_time(value, name)
    if value is None:
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime.combine(value, time.max if end else time.min)


def parse_time(text: str, name: str) -> date | datetime:
    """A date (2025-11-01) or an ISO time (2025-11-01T21:30:00, optionally with zone)."""
    for parse in (date.fromisoformat, datetime.fromisoformat):
        with contextlib.suppress(ValueError):
            return parse(text)
    raise InputError(f"{name}: {text!r} is neither a date (2025-11-01) nor an ISO time")


def within(moment: datetime | None, start: datetime | None, stop: datetime | None) -> bool:
    """True if ``moment`` lies in [start, stop]; without bounds, always (even when None)."""
    if start is None and stop is None:
        return True
    if moment is None:
        return False
    return (start is None or start <= moment) and (stop is None or moment <= stop)


def night_of(moment: datetime, night_starts: float) -> date:
    """The night a moment belongs to: the date of ``moment`` less ``night_starts`` hours."""
    return (moment - timedelta(hours=night_starts)).date()


def selected_by_time(
    moments: dict, since=None, until=None, newest_nights: int = 0, night_starts: float = 12.0
) -> list:
    """The keys of ``moments`` (key -> DATE-OBS as a naive UTC datetime, or None) taken
    within [since, until] (bounds as :func:`time_bound` makes them) and, with
    ``newest_nights`` > 0, in the newest that many nights among them. Without a bound or
    a night count every key is kept, even one without DATE-OBS; with one, such a key is not.
    """
    kept = [key for key, moment in moments.items() if within(moment, since, until)]
    if newest_nights > 0:
        nights = sorted({night_of(moments[key], night_starts) for key in kept if moments[key]})
        newest = set(nights[-newest_nights:])
        kept = [k for k in kept if moments[k] and night_of(moments[k], night_starts) in newest]
    return kept
