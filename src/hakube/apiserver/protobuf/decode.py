"""Protobuf message bytes -> the JSON object a JSON client would have sent.

A Go client encodes the same struct either way, so the decoder rebuilds what
Go's JSON encoder would have written for it:

* Field names are the JSON names; map entries become objects, repeated
  fields lists, `inline` messages are flattened into their parent.
* Presence. Go's protobuf encoder writes every non-pointer field, zero or
  not (kubectl's ConfigMap carries an empty generateName, namespace, uid…),
  while its JSON encoder leaves zero scalars out (`omitempty`). So a zero
  scalar is dropped unless the table marks it `?`: a Go pointer, where zero
  is a value (`replicas: 0`, `optional: false`), or a field JSON writes even
  when zero (PriorityClass `value`). Messages are kept when sent
  (`"status": {}`, as Go's JSON has them). Empty lists and maps are left
  out; Go's JSON would write `null` for the few without `omitempty`.
* metav1.Time is written with seconds only (Go drops the nanos both ways:
  apimachinery `time_proto.go`); an empty Timestamp is Go's zero time, JSON
  null, and is left out. MicroTime keeps microseconds. IntOrString becomes an
  int or a string, Quantity its string, bytes base64, FieldsV1 and
  RawExtension the JSON (or nested protobuf envelope) they carry.
* A field number the table does not know is refused, naming the message and
  the number. kube-apiserver would skip it silently; we would rather say
  so than store an object that lost a field.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from hakube.apiserver import timefmt
from hakube.apiserver.protobuf import wire
from hakube.apiserver.protobuf.envelope import MAGIC, read_envelope
from hakube.apiserver.protobuf.messages import MESSAGES, message_for
from hakube.apiserver.protobuf.table import VARINT_TYPES, Message, ProtoField
from hakube.apiserver.protobuf.wire import LEN, VARINT, WIRE_TYPE_NAMES, ProtobufError, read_fields

# Far deeper than any Kubernetes type nests; only nested envelopes could go on.
MAX_DEPTH = 100

_TIMESTAMP = "k8s.io.apimachinery.pkg.apis.meta.v1.Timestamp"
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
_FIELDS_V1 = "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1"
_RAW_EXTENSION = "k8s.io.apimachinery.pkg.runtime.RawExtension"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GO_ZERO_SECONDS = -62135596800  # time.Time{} (0001-01-01T00:00:00Z) as Unix seconds

# Scalars whose zero value Go's JSON encoder leaves out of a non-pointer field.
_OMIT_ZERO = frozenset({"string", "bytes", "bool", "int32", "int64", "intstr"})


class _Absent:
    """No value: an empty Time, FieldsV1 or RawExtension (JSON null)."""


_ABSENT = _Absent()


def decode_message(data: bytes, message: Message) -> Any:
    """The JSON form of `data` read as `message` (a dict, or a list for a list message)."""
    return _message(data, message, 0, None)


def _message(data: bytes, message: Message, depth: int, into: dict[str, Any] | None) -> Any:
    if depth > MAX_DEPTH:
        raise ProtobufError("messages nested too deeply")
    out: dict[str, Any] = {} if into is None else into
    try:
        for number, wire_type, value in wire.fields(data):
            fld = message.fields.get(number)
            if fld is None:
                raise ProtobufError(f"unknown field (wire type {wire_type}); refused rather than dropped",
                                    number=number)
            _field(out, message, fld, wire_type, value, depth)
    except ProtobufError as err:
        if err.message is None:
            err.message = message.proto_name
        raise
    if message.list_wrapper:
        return out.get(message.fields[1].name, [])
    return out


def _field(out: dict[str, Any], owner: Message, fld: ProtoField, wire_type: int, value: int | bytes,
           depth: int) -> None:
    name = fld.name
    segment = name
    try:
        if fld.map:
            if not isinstance(value, bytes) or wire_type != LEN:
                raise _wire_type_error(wire_type, LEN)
            target = out.get(name)
            if not isinstance(target, dict):
                target = out[name] = {}
            key, item = _map_entry(value, owner, fld, depth)
            target[key] = item
        elif fld.repeated:
            items = out.get(name)
            if not isinstance(items, list):
                items = out[name] = []
            segment = f"{name}[{len(items)}]"
            if fld.type in VARINT_TYPES and isinstance(value, bytes) and wire_type == LEN:
                # A packed repeated scalar (parsers must accept both forms).
                items.extend(_varint(fld.type, v) for v in wire.packed_varints(value))
            else:
                item = _value(fld.type, wire_type, value, depth, None)
                items.append(_default(fld.type) if item is _ABSENT else item)
        elif fld.inline:
            if not isinstance(value, bytes) or wire_type != LEN:
                raise _wire_type_error(wire_type, LEN)
            _message(value, MESSAGES[fld.type], depth + 1, out)
        else:
            existing = out.get(name)
            item = _value(fld.type, wire_type, value, depth, existing if isinstance(existing, dict) else None)
            if item is _ABSENT or (not fld.keep_zero and fld.type in _OMIT_ZERO and item in ("", 0, False)):
                out.pop(name, None)
            else:
                out[name] = item
    except ProtobufError as err:
        if err.message is None and err.number is None:
            err.number = fld.number
        if not fld.inline:
            err.path.insert(0, segment)
        raise


def _map_entry(data: bytes, owner: Message, fld: ProtoField, depth: int) -> tuple[str, Any]:
    key: str | None = None
    item: Any = _ABSENT
    number = 0
    try:
        for number, wire_type, value in wire.fields(data):
            if number == 1:
                if not isinstance(value, bytes) or wire_type != LEN:
                    raise _wire_type_error(wire_type, LEN)
                key = value.decode("utf-8", "replace")
            elif number == 2:
                item = _value(fld.type, wire_type, value, depth, None)
            else:
                raise ProtobufError(f"unknown field (wire type {wire_type}) in a map entry", number=number)
    except ProtobufError as err:
        if err.message is None:
            err.message = f"{owner.proto_name}.{_entry_name(fld.name)}"
            if err.number is None and number:
                err.number = number
        if key is not None:
            err.path.insert(0, f"[{key}]")
        raise
    if key is None:
        key = ""
    return key, _default(fld.type) if item is _ABSENT else item


def _entry_name(field_name: str) -> str:
    """protoc's name for the entry message of a map field: `matchLabels` -> `MatchLabelsEntry`."""
    return f"{field_name[:1].upper()}{field_name[1:]}Entry"


def _value(type_name: str, wire_type: int, value: int | bytes, depth: int, into: dict[str, Any] | None) -> Any:
    """One value of type `type_name`; a message field sent twice merges `into` the first one."""
    if isinstance(value, int):
        if wire_type != VARINT or type_name not in VARINT_TYPES:
            raise _wire_type_error(wire_type, LEN)
        return _varint(type_name, value)
    if wire_type != LEN or type_name in VARINT_TYPES:
        raise _wire_type_error(wire_type, VARINT if type_name in VARINT_TYPES else LEN)
    if type_name == "string":
        # Go keeps invalid UTF-8 as it came; its JSON encoder writes U+FFFD for it.
        return value.decode("utf-8", "replace")
    if type_name == "bytes":
        return base64.b64encode(value).decode("ascii")
    if type_name in ("time", "microtime"):
        return _time(value, micro=type_name == "microtime")
    if type_name == "quantity":
        return _quantity(value)
    if type_name == "intstr":
        return _int_or_string(value)
    if type_name == "fields":
        return _fields_v1(value)
    if type_name == "raw":
        return _raw_extension(value, depth)
    return _message(value, MESSAGES[type_name], depth + 1, into)


def _varint(type_name: str, value: int) -> int | bool:
    if type_name == "bool":
        return value != 0
    if type_name == "int32":
        return wire.int32(value)
    return wire.int64(value)


def _default(type_name: str) -> Any:
    """The JSON of a zero value, for a map entry or list item sent without one."""
    if type_name in ("string", "bytes"):
        return ""
    if type_name == "bool":
        return False
    if type_name in ("int32", "int64", "intstr"):
        return 0
    if type_name == "quantity":
        return "0"
    if type_name in ("time", "microtime", "fields", "raw"):
        return None
    return [] if MESSAGES[type_name].list_wrapper else {}


def _wire_type_error(got: int, expected: int, number: int | None = None) -> ProtobufError:
    return ProtobufError(f"wire type {got} ({WIRE_TYPE_NAMES.get(got, 'invalid')}), expected {expected} "
                         f"({WIRE_TYPE_NAMES[expected]})", number=number)


def _int(value: int | bytes | None) -> int:
    return value if isinstance(value, int) else 0


def _bytes(value: int | bytes | None) -> bytes:
    return value if isinstance(value, bytes) else b""


def _time(data: bytes, *, micro: bool) -> Any:
    if not data:
        return _ABSENT  # Go's zero time: Time.Size() is 0
    parts = read_fields(data, _TIMESTAMP, {1: VARINT, 2: VARINT})
    seconds = wire.int64(_int(parts.get(1)))
    nanos = wire.int32(_int(parts.get(2))) if micro else 0
    # time.Duration(nanos).Truncate(time.Microsecond): towards zero.
    micros = seconds * 1_000_000 + int(nanos / 1000)
    if micros == _GO_ZERO_SECONDS * 1_000_000:
        return _ABSENT
    try:
        dt = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        raise ProtobufError(f"time {seconds}s after 1970 is outside years 1 to 9999") from None
    return timefmt.format_microtime(dt) if micro else timefmt.format_time(dt)


def _quantity(data: bytes) -> str:
    parts = read_fields(data, _QUANTITY, {1: LEN})
    if 1 not in parts:
        return "0"  # resource.Quantity{} marshals as "0"
    return _bytes(parts[1]).decode("utf-8", "replace")


def _int_or_string(data: bytes) -> int | str:
    parts = read_fields(data, _INT_OR_STRING, {1: VARINT, 2: VARINT, 3: LEN})
    kind = wire.int64(_int(parts.get(1)))
    if kind == 0:
        return wire.int32(_int(parts.get(2)))
    if kind == 1:
        return _bytes(parts.get(3)).decode("utf-8", "replace")
    raise ProtobufError(f"IntOrString type {kind} is neither 0 (int) nor 1 (string)")


def _fields_v1(data: bytes) -> Any:
    raw = _bytes(read_fields(data, _FIELDS_V1, {1: LEN}).get(1))
    if not raw:
        return _ABSENT
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ProtobufError(f"fieldsV1 does not hold JSON: {err}") from None


def _raw_extension(data: bytes, depth: int) -> Any:
    raw = _bytes(read_fields(data, _RAW_EXTENSION, {1: LEN}).get(1))
    if not raw:
        return _ABSENT
    if raw.startswith(MAGIC):
        return decode_envelope(raw, depth + 1)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise ProtobufError(f"an embedded object is neither JSON nor protobuf: {err}") from None


def decode_envelope(data: bytes, depth: int = 0) -> dict[str, Any]:
    """An embedded object in its own envelope, of any kind the tables know."""
    env = read_envelope(data)
    group, _, version = env.api_version.rpartition("/")
    message = message_for(group, version, env.kind)
    if message is None:
        raise ProtobufError(f"an embedded {env.kind or '<no kind>'} of {env.api_version or '<no apiVersion>'} "
                            "is not a kind this server decodes from protobuf")
    obj = _message(env.raw, message, depth + 1, None)
    return {"apiVersion": env.api_version, "kind": env.kind, **obj}
