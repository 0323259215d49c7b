"""Values of header keywords: observation times and positive numbers, parsed in one place.

Times are naive UTC datetimes or Modified Julian Dates (days); leap seconds are
ignored, which does not matter for a distance in days or a night's selection.
"""

import math
from datetime import UTC, datetime

from astropy.time import Time

from skyrms.io.keywords import DATE_OBS, MJD_OBS

MJD_ZERO = datetime(1858, 11, 17)
"""Day zero of the Modified Julian Date (UTC)."""

SECONDS_PER_DAY = 86400.0


def date_obs(fields: dict, what: str) -> datetime:
    """DATE-OBS of a header (or its keywords) as a naive UTC datetime.

    Python's own ISO parser comes first (thousands of frames are read when
    the job graph is built), astropy's for the forms it does not read; a time
    with a zone is converted to UTC. Raises ValueError naming ``what`` when
    DATE-OBS is missing or malformed.
    """
    if DATE_OBS not in fields:
        raise ValueError(f"{what}: no {DATE_OBS} in the header")
    text = str(fields[DATE_OBS]).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            return Time(text, format="isot", scale="utc").to_datetime()
        except ValueError:
            raise ValueError(f"{what}: malformed {DATE_OBS} {text!r}") from None
    return as_utc(moment)


def date_obs_or_none(fields: dict) -> datetime | None:
    """:func:`date_obs`, or None when DATE-OBS is missing or malformed."""
    try:
        return date_obs(fields, "")
    except ValueError:
        return None


def as_utc(moment: datetime) -> datetime:
    """A datetime in UTC without time zone; a naive one is taken to be UTC already."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def mjd_of_datetime(moment: datetime) -> float:
    """Modified Julian Date (days) of a naive UTC datetime."""
    return (moment - MJD_ZERO).total_seconds() / SECONDS_PER_DAY


def mjd_of(fields: dict, what: str) -> float:
    """Modified Julian Date (days) of an observation: MJD-OBS, else from DATE-OBS.

    Raises ValueError naming ``what`` when neither keyword is usable.
    """
    if isinstance(fields.get(MJD_OBS), int | float) and not isinstance(fields[MJD_OBS], bool):
        return float(fields[MJD_OBS])
    if DATE_OBS not in fields:
        raise ValueError(f"{what}: no {DATE_OBS} or {MJD_OBS} in the header")
    return mjd_of_datetime(date_obs(fields, what))


def number_of(fields: dict, keyword: str, what: str) -> float:
    """A positive, finite numeric header value (EXPTIME, EGAIN, NCOMBINE, RDNOISE, ...).

    Raises ValueError naming ``what`` when the keyword is missing, not a
    number, not finite, or not above zero.
    """
    value = fields.get(keyword)
    if value is None:
        raise ValueError(f"{what}: {keyword} missing")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(f"{what}: {keyword} malformed ({value!r}; a positive number is needed)")
    return float(value)
