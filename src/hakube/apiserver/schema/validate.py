"""Strict field validation: the unknown and duplicate fields that kube-apiserver
rejects under `fieldValidation=Strict` and reports as warnings under `Warn`.

kube-apiserver decodes JSON bodies with sigs.k8s.io/json `UnmarshalStrict`
(apimachinery `runtime/serializer/json`), and we mirror what it reports:

* paths join object keys with `.` and add list indexes as `[i]`, map keys as
  `.key`: `spec.template.spec.containers[0].bogus`, `metadata.labels.app`;
* an unknown field is reported once and not looked into; values of primitive
  and open types (Quantity, Time, IntOrString, FieldsV1, ...) are decoded by
  their own unmarshalers, so nothing inside them is reported either;
* errors come in document order, each (kind, path) once, at most 100;
* the message is `strict decoding error: ` and the errors joined by `, `
  (apimachinery `runtime/error.go`), each `unknown field "path"` or
  `duplicate field "path"` with the path quoted like Go's strconv.Quote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hakube.apiserver.schema.model import Field, ObjectType

UNKNOWN = "unknown field"
DUPLICATE = "duplicate field"
MAX_ERRORS = 100  # sigs.k8s.io/json saveStrictError stops collecting here


@dataclass(frozen=True)
class StrictError:
    """One strict decoding problem: `kind` is UNKNOWN or DUPLICATE."""

    kind: str
    path: str

    def __str__(self) -> str:
        return f"{self.kind} {go_quote(self.path)}"


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs, duplicates kept, in document order."""


def parse_pairs(raw_json: bytes | str) -> Any:
    """Parse JSON keeping every object as `_Pairs`, so duplicate keys survive."""
    return json.loads(raw_json, object_pairs_hook=_Pairs)


def strict_errors(
    types: Mapping[str, ObjectType], type_name: str, raw_json: bytes | str
) -> list[StrictError]:
    """Unknown and duplicate fields of `raw_json` decoded as `type_name`, in upstream order.

    Raises ValueError (json.JSONDecodeError) if the body is not JSON.
    """
    collector = _Collector()
    _walk_value(types, type_name, parse_pairs(raw_json), "", collector, check_duplicates=True)
    return collector.errors


def unknown_fields(types: Mapping[str, ObjectType], type_name: str, obj: Any) -> list[str]:
    """Paths of the fields of `obj` (already parsed JSON) that `type_name` does not have."""
    collector = _Collector()
    _walk_value(types, type_name, obj, "", collector, check_duplicates=False)
    return [err.path for err in collector.errors]


def prune_unknown(types: Mapping[str, ObjectType], type_name: str, obj: Any) -> None:
    """Drop, in place, the fields of `obj` that `type_name` does not have: what decoding into kube's Go
    types does under fieldValidation Warn and Ignore (the unknown fields never reach storage)."""
    obj_type = types.get(type_name)
    if obj_type is None or obj_type.open or not isinstance(obj, dict):
        return
    for key in [k for k in obj if k not in obj_type.fields]:
        del obj[key]
    for key, value in obj.items():
        fld = obj_type.fields[key]
        if fld.list and isinstance(value, list):
            for item in value:
                prune_unknown(types, fld.type, item)
        elif fld.map and isinstance(value, dict):
            for item in value.values():
                prune_unknown(types, fld.type, item)
        elif not fld.list and not fld.map:
            prune_unknown(types, fld.type, value)


def find_duplicate_fields(raw_json: bytes | str) -> list[str]:
    """Paths of keys that occur more than once in one object of a JSON document.

    Looks everywhere, without a schema (as decoding into a free-form map does).
    """
    collector = _Collector()
    _walk_any(parse_pairs(raw_json), "", collector)
    return [err.path for err in collector.errors]


def strict_error_message(unknown: Sequence[str], duplicates: Sequence[str]) -> str:
    """`strict decoding error: unknown field "a", duplicate field "b"`.

    Unknown fields come first; `strict_errors` + `format_strict_errors` keep the
    document order upstream uses when both kinds occur.
    """
    errors = [StrictError(UNKNOWN, p) for p in unknown] + [StrictError(DUPLICATE, p) for p in duplicates]
    return format_strict_errors(errors)


def format_strict_errors(errors: Sequence[StrictError]) -> str:
    """The message of apimachinery's strictDecodingError for `errors`."""
    return "strict decoding error: " + ", ".join(str(err) for err in errors)


def cannot_handle_message(*, kind: str, version: str, into_kind: str, detail: str) -> str:
    """The BadRequest message a failed decode gets (apiserver handlers/rest.go transformDecodeError).

    e.g. `Pod in version "v1" cannot be handled as a Pod: strict decoding error: ...`
    """
    return f"{kind} in version {go_quote(version)} cannot be handled as a {into_kind}: {detail}"


def go_quote(text: str) -> str:
    """Quote `text` the way Go's strconv.Quote does (for the usual characters)."""
    out = ['"']
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


class _Collector:
    """Errors in order, each once, at most MAX_ERRORS."""

    def __init__(self) -> None:
        self.errors: list[StrictError] = []
        self._seen: set[StrictError] = set()

    def add(self, kind: str, path: str) -> None:
        err = StrictError(kind, path)
        if len(self.errors) < MAX_ERRORS and err not in self._seen:
            self._seen.add(err)
            self.errors.append(err)


def _pairs(value: Any) -> Iterable[tuple[str, Any]] | None:
    """The key/value pairs of a JSON object (parsed with or without duplicates), else None."""
    if isinstance(value, _Pairs):
        return value
    if isinstance(value, Mapping):
        return value.items()
    return None


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _walk_object(
    types: Mapping[str, ObjectType],
    type_name: str,
    pairs: Iterable[tuple[str, Any]],
    path: str,
    out: _Collector,
    *,
    check_duplicates: bool,
) -> None:
    obj_type = types.get(type_name)
    if obj_type is None or obj_type.open:
        return
    seen: set[str] = set()
    for key, value in pairs:
        fld = obj_type.fields.get(key)
        if fld is None:
            out.add(UNKNOWN, _join(path, key))
            continue
        if check_duplicates:
            if key in seen:
                out.add(DUPLICATE, _join(path, key))
            seen.add(key)
        _walk_field(types, fld, value, _join(path, key), out, check_duplicates=check_duplicates)


def _walk_field(
    types: Mapping[str, ObjectType],
    fld: Field,
    value: Any,
    path: str,
    out: _Collector,
    *,
    check_duplicates: bool,
) -> None:
    if fld.list:
        if isinstance(value, list):
            for i, item in enumerate(value):
                _walk_value(types, fld.type, item, f"{path}[{i}]", out, check_duplicates=check_duplicates)
    elif fld.map:
        pairs = _pairs(value)
        if pairs is not None:
            seen: set[str] = set()
            for key, item in pairs:
                if check_duplicates:
                    if key in seen:
                        out.add(DUPLICATE, _join(path, key))
                    seen.add(key)
                _walk_value(types, fld.type, item, _join(path, key), out, check_duplicates=check_duplicates)
    else:
        _walk_value(types, fld.type, value, path, out, check_duplicates=check_duplicates)


def _walk_value(
    types: Mapping[str, ObjectType],
    type_name: str,
    value: Any,
    path: str,
    out: _Collector,
    *,
    check_duplicates: bool,
) -> None:
    # A value of the wrong JSON type is a decode error, not a strict one: skip it.
    pairs = _pairs(value)
    if pairs is not None:
        _walk_object(types, type_name, pairs, path, out, check_duplicates=check_duplicates)


def _walk_any(value: Any, path: str, out: _Collector) -> None:
    pairs = _pairs(value)
    if pairs is not None:
        seen: set[str] = set()
        for key, item in pairs:
            if key in seen:
                out.add(DUPLICATE, _join(path, key))
            seen.add(key)
            _walk_any(item, _join(path, key), out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk_any(item, f"{path}[{i}]", out)
