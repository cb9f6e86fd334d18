"""metav1.Time / MicroTime normalization and HumanDuration ages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from hakube.apiserver import timefmt


def test_now_forms() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", timefmt.now_time())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", timefmt.now_microtime())


@pytest.mark.parametrize(
    ("given", "time", "micro"),
    [
        ("2026-11-21T22:39:23Z", "2026-11-21T22:39:23Z", "2026-11-21T22:39:23.000000Z"),
        # What the Python client sends: isoformat(), +00:00, no fraction at zero microseconds.
        ("2026-11-21T22:39:23+00:00", "2026-11-21T22:39:23Z", "2026-11-21T22:39:23.000000Z"),
        ("2026-11-21T22:39:23.5+00:00", "2026-11-21T22:39:23Z", "2026-11-21T22:39:23.500000Z"),
        # Nanoseconds are cut, not rounded.
        ("2026-11-21T22:39:23.123456789Z", "2026-11-21T22:39:23Z", "2026-11-21T22:39:23.123456Z"),
        ("2026-11-22T00:09:23+01:30", "2026-11-21T22:39:23Z", "2026-11-21T22:39:23.000000Z"),
        ("2026-11-21T20:39:23.1-02:00", "2026-11-21T22:39:23Z", "2026-11-21T22:39:23.100000Z"),
    ],
)
def test_normalize(given: str, time: str, micro: str) -> None:
    assert timefmt.normalize_time(given) == time
    assert timefmt.normalize_microtime(given) == micro


def test_normalize_none_datetime_and_zero() -> None:
    assert timefmt.normalize_time(None) is None
    assert timefmt.normalize_microtime(None) is None
    dt = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=1)))
    assert timefmt.normalize_microtime(dt) == "2026-01-02T02:04:05.000006Z"
    assert timefmt.normalize_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02T03:04:05Z"
    # Go's zero time marshals as null.
    assert timefmt.normalize_time("0001-01-01T00:00:00Z") is None


@pytest.mark.parametrize(
    "bad", ["", "yesterday", "2026-11-21", "2026-11-21 22:39:23Z", "2026-11-21T22:39:23",
            "2026-13-01T00:00:00Z", "2026-11-21T22:39:23+24:00", 1700000000],
)
def test_normalize_rejects(bad: object) -> None:
    with pytest.raises(ValueError):
        timefmt.normalize_time(bad)


def test_parse_time_is_aware_utc() -> None:
    dt = timefmt.parse_time("2026-11-21T23:39:23+01:00")
    assert dt == datetime(2026, 11, 21, 22, 39, 23, tzinfo=UTC)
    assert dt.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=-5), "<invalid>"),
        (timedelta(seconds=-1), "0s"),
        (timedelta(milliseconds=-500), "0s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=90), "90s"),
        (timedelta(seconds=119), "119s"),
        (timedelta(minutes=2), "2m"),
        (timedelta(minutes=2, seconds=30), "2m30s"),
        (timedelta(minutes=10, seconds=30), "10m"),
        (timedelta(minutes=179), "179m"),
        (timedelta(hours=3), "3h"),
        (timedelta(hours=3, minutes=5), "3h5m"),
        (timedelta(hours=7, minutes=59), "7h59m"),
        (timedelta(hours=8, minutes=30), "8h"),
        (timedelta(hours=47), "47h"),
        (timedelta(days=2), "2d"),
        (timedelta(days=2, hours=3), "2d3h"),
        (timedelta(days=8, hours=3), "8d"),
        (timedelta(days=729), "729d"),
        (timedelta(days=730), "2y"),
        (timedelta(days=760), "2y30d"),
        (timedelta(days=365 * 8 + 40), "8y"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    assert timefmt.human_duration(delta) == text


def test_human_age() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert timefmt.human_age("2026-01-01T11:55:00Z", now) == "5m"
    assert timefmt.human_age("2026-01-01T11:57:30.250000Z", now) == "2m29s"
    assert timefmt.human_age(None, now) == "<unknown>"
    assert timefmt.human_age("", now) == "<unknown>"
    assert timefmt.human_age("garbage", now) == "<unknown>"
    assert timefmt.human_age("2026-01-01T12:00:00Z") != "<unknown>"
