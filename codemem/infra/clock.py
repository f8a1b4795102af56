"""The clock: now and today in UTC, ISO text, and reading date bounds a person typed.

Every stored time is timezone-aware UTC to the second; a naive time read from anywhere is
taken as UTC.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone

from codemem.errors import UsageError


def utc_now() -> datetime:
    """Now, in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0)


def today() -> date:
    """Today's date on the local calendar (what a person at the keyboard calls today)."""
    return date.today()


def as_utc(moment: datetime) -> datetime:
    """A timezone-aware datetime; naive ones are taken as UTC."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def iso_utc(moment: datetime) -> str:
    """`2025-03-01T14:30:00Z`: the moment in UTC, to the second, with a `Z`."""
    when = as_utc(moment).astimezone(timezone.utc).replace(microsecond=0)
    return when.isoformat().replace("+00:00", "Z")


def utc_date(iso: str) -> str:
    """The UTC calendar date (`2025-03-01`) of an ISO 8601 time with an offset."""
    return datetime.fromisoformat(iso).astimezone(timezone.utc).date().isoformat()


def parse_when(value: datetime | date | str | None, end: bool = False) -> datetime | None:
    """A bound for a date filter: a datetime, a date or an ISO string (`2025-03-01`,
    `2025-03-01T12:00`). A bare date covers the whole day: its start, or with `end` its last
    moment. Naive times are UTC.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(
                f"cannot read the date '{text}': use ISO format, like 2025-03-01 or 2025-03-01T14:30"
            ) from None
    if isinstance(value, datetime):
        return as_utc(value)
    if end:
        return datetime.combine(value, time.max, timezone.utc)
    return datetime.combine(value, time.min, timezone.utc)


def in_range(moment: datetime, since: datetime | None, until: datetime | None) -> bool:
    """Whether `moment` lies within the inclusive bounds."""
    moment = as_utc(moment)
    return (since is None or moment >= since) and (until is None or moment <= until)
