"""Timestamps as Kubernetes writes them, and ages as kubectl shows them.

Go clients parse `metav1.Time` with RFC 3339 and `metav1.MicroTime` with
`2006-01-02T15:04:05.000000Z07:00`, and both are always written in UTC
(apimachinery `pkg/apis/meta/v1/time.go`, `micro_time.go`). The Python client
sends `isoformat()` output instead: `+00:00` offsets and no fraction when the
microseconds are zero (API-COMPAT.md §11). So the server accepts any RFC 3339
form and stores the canonical one: seconds + `Z` for Time, exactly six
fractional digits + `Z` for MicroTime. Extra digits are cut, not rounded, as
Go's Format does.

`human_duration` is apimachinery `pkg/util/duration` HumanDuration, the AGE
column of every server-side table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hakube.apiserver.schema.model import Field, ObjectType

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:(Z)|([+-])(\d{2}):(\d{2}))"
)
# Go's zero time.Time; metav1.Time marshals it as null.
_ZERO = datetime(1, 1, 1, tzinfo=UTC)


def parse_time(value: str) -> datetime:
    """An RFC 3339 string as an aware UTC datetime (microsecond precision)."""
    m = _RFC3339.fullmatch(value)
    if m is None:
        raise ValueError(f"time {value!r} is not in RFC 3339 format (e.g. 2006-01-02T15:04:05Z)")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    micro = int((m.group(7) or "").ljust(6, "0")[:6])
    if m.group(8):
        tz = UTC
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise ValueError(f"time {value!r} has an offset out of range")
        sign = -1 if m.group(9) == "-" else 1
        tz = timezone(sign * timedelta(hours=oh, minutes=om))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"time {value!r} is out of range: {e}") from None


def _utc(dt: datetime) -> datetime:
    # Naive datetimes are taken to be UTC, never local time.
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _coerce(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        dt = _utc(value)
    elif isinstance(value, str):
        dt = parse_time(value)
    else:
        raise ValueError(f"time must be an RFC 3339 string, not {type(value).__name__}")
    return None if dt == _ZERO else dt


def format_time(dt: datetime) -> str:
    """metav1.Time: `2006-01-02T15:04:05Z`."""
    u = _utc(dt)
    # Not strftime: glibc prints year 1 as "1", Go as "0001".
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}Z"


def format_microtime(dt: datetime) -> str:
    """metav1.MicroTime: `2006-01-02T15:04:05.000000Z`."""
    u = _utc(dt)
    return f"{format_time(u)[:-1]}.{u.microsecond:06d}Z"


def now_time() -> str:
    return format_time(datetime.now(UTC))


def now_microtime() -> str:
    return format_microtime(datetime.now(UTC))


def normalize_time(value: Any) -> str | None:
    """Any accepted form (or None) → canonical metav1.Time; ValueError if malformed."""
    dt = _coerce(value)
    return None if dt is None else format_time(dt)


def normalize_microtime(value: Any) -> str | None:
    """Any accepted form (or None) → canonical metav1.MicroTime; ValueError if malformed."""
    dt = _coerce(value)
    return None if dt is None else format_microtime(dt)


class TimeFieldError(ValueError):
    """A Time or MicroTime field whose value is not a time."""

    def __init__(self, path: str, err: ValueError) -> None:
        super().__init__(f"{path}: {err}")
        self.path = path


def normalize_times(types: Mapping[str, ObjectType], type_name: str, obj: Any) -> None:
    """Rewrite, in place, every Time and MicroTime field of `obj` (an object of `type_name`) canonically.

    Go clients decode MicroTime with a fixed six-digit layout, so the Python
    client's `2026-01-02T03:04:05+00:00` must not reach them as it was sent.
    Raises TimeFieldError for a value that is not a time.
    """
    _normalize_object(types, type_name, obj, "")


def _normalize_object(types: Mapping[str, ObjectType], type_name: str, obj: Any, path: str) -> None:
    obj_type = types.get(type_name)
    if obj_type is None or obj_type.open or not isinstance(obj, dict):
        return
    for key, fld in obj_type.fields.items():
        if obj.get(key) is not None:
            _normalize_field(types, fld, obj, key, f"{path}.{key}" if path else key)


def _normalize_field(types: Mapping[str, ObjectType], fld: Field, parent: Any, key: Any, path: str) -> None:
    value = parent[key]
    if fld.list:
        if isinstance(value, list):
            for i in range(len(value)):
                _normalize_value(types, fld.type, value, i, f"{path}[{i}]")
    elif fld.map:
        if isinstance(value, dict):
            for k in list(value):
                _normalize_value(types, fld.type, value, k, f"{path}.{k}")
    else:
        _normalize_value(types, fld.type, parent, key, path)


def _normalize_value(types: Mapping[str, ObjectType], type_name: str, parent: Any, key: Any, path: str) -> None:
    if type_name in ("time", "microtime"):
        try:
            parent[key] = (normalize_time if type_name == "time" else normalize_microtime)(parent[key])
        except ValueError as err:
            raise TimeFieldError(path, err) from None
    else:
        _normalize_object(types, type_name, parent[key], path)


def human_duration(d: timedelta) -> str:
    """duration.HumanDuration: about two significant figures, e.g. 90s, 2m30s, 3h5m, 2d3h, 2y30d."""
    micros = (d.days * 86400 + d.seconds) * 1_000_000 + d.microseconds
    # Go's int(d.Seconds()) truncates toward zero.
    seconds = micros // 1_000_000 if micros >= 0 else -(-micros // 1_000_000)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = seconds // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def human_age(since: str | None, now: datetime | None = None) -> str:
    """printers.translateTimestampSince: the AGE of a timestamp, `<unknown>` if unset.

    A display helper, so an unparseable stored value also shows as `<unknown>`.
    """
    if not since:
        return "<unknown>"
    try:
        dt = _coerce(since)
    except ValueError:
        return "<unknown>"
    if dt is None:
        return "<unknown>"
    return human_duration((_utc(now) if now is not None else datetime.now(UTC)) - dt)
