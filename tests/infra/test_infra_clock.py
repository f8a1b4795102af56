"""The clock: UTC times, ISO text and date bounds."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from codemem.errors import UsageError
from codemem.infra import as_utc, in_range, iso_utc, parse_when, utc_date, utc_now


def test_utc_now_is_aware_and_to_the_second():
    now = utc_now()
    assert (now.tzinfo, now.microsecond) == (timezone.utc, 0)


def test_iso_forms():
    paris = timezone(timedelta(hours=1))
    assert iso_utc(datetime(2025, 3, 1, 14, 30, 5, 999, tzinfo=paris)) == "2025-03-01T13:30:05Z"
    assert iso_utc(datetime(2025, 3, 1, 14, 30)) == "2025-03-01T14:30:00Z"  # naive: UTC
    assert utc_date("2025-03-01T23:30:00-02:00") == "2025-03-02"
    assert as_utc(datetime(2025, 3, 1)) == datetime(2025, 3, 1, tzinfo=timezone.utc)


def test_parse_when_bounds():
    assert parse_when("2025-03-01") == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert parse_when(date(2025, 3, 1), end=True) == datetime(
        2025, 3, 1, 23, 59, 59, 999999, tzinfo=timezone.utc
    )
    assert parse_when("2025-03-01T12:00") == datetime(2025, 3, 1, 12, tzinfo=timezone.utc)
    assert parse_when("") is None
    with pytest.raises(UsageError, match="^cannot read the date 'soon': use ISO format"):
        parse_when("soon")
    start, end = parse_when("2025-03-01"), parse_when("2025-03-01", end=True)
    assert in_range(datetime(2025, 3, 1, 18), start, end) is True
    assert in_range(datetime(2025, 3, 2), start, end) is False
