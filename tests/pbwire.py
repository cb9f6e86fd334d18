"""A small protobuf encoder for tests, the decoder's counterpart, driven by the same field table.

It writes what a Go client writes: the `k8s\\0` envelope around a
runtime.Unknown, fields in number order, maps as entries, Time as a
Timestamp of seconds, IntOrString as {type, intVal, strVal}. Unit tests use it
for round trips and fuzz seeds, integration tests for raw HTTP bodies.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from hakube.apiserver.protobuf import MAGIC, MESSAGES
from hakube.apiserver.protobuf.messages import message_for
from hakube.apiserver.protobuf.table import Message


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers as Go writes them: ten bytes of two's complement
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def vfield(number: int, value: int) -> bytes:
    """A varint field."""
    return tag(number, 0) + varint(value)


def lfield(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field."""
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = lfield(1, api_version) + lfield(2, kind)
    return MAGIC + lfield(1, type_meta) + lfield(2, raw) + lfield(3, b"") + lfield(4, b"")


def encode_object(obj: dict[str, Any]) -> bytes:
    """A whole body: `obj` (with kind and apiVersion) in its envelope."""
    group, _, version = obj["apiVersion"].rpartition("/")
    message = message_for(group, version, obj["kind"])
    assert message is not None, f"no table for {obj['apiVersion']} {obj['kind']}"
    return envelope(obj["apiVersion"], obj["kind"], encode_message(obj, message))


def encode_message(obj: Any, message: Message) -> bytes:
    if message.list_wrapper:
        obj = {message.fields[1].name: obj}
    out = bytearray()
    for number in sorted(message.fields):
        fld = message.fields[number]
        if fld.inline:
            out += lfield(number, encode_message(obj, MESSAGES[fld.type]))
            continue
        if fld.name not in obj:
            continue
        value = obj[fld.name]
        if fld.map:
            for key, item in value.items():
                out += lfield(number, lfield(1, key) + _value(2, fld.type, item))
        elif fld.repeated:
            for item in value:
                out += _value(number, fld.type, item)
        else:
            out += _value(number, fld.type, value)
    return bytes(out)


def _seconds(text: str) -> tuple[int, int]:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    whole = int((dt.replace(microsecond=0) - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    return whole, dt.microsecond * 1000


def _value(number: int, type_name: str, value: Any) -> bytes:
    if type_name == "string":
        return lfield(number, value)
    if type_name == "bytes":
        return lfield(number, base64.b64decode(value))
    if type_name in ("bool", "int32", "int64"):
        return vfield(number, int(value))
    if type_name in ("time", "microtime"):
        if value is None:
            return lfield(number, b"")
        seconds, nanos = _seconds(value)
        body = vfield(1, seconds) + (vfield(2, nanos) if type_name == "microtime" and nanos else b"")
        return lfield(number, body)
    if type_name == "quantity":
        return lfield(number, lfield(1, value))
    if type_name == "intstr":
        if isinstance(value, str):
            return lfield(number, vfield(1, 1) + vfield(2, 0) + lfield(3, value))
        return lfield(number, vfield(1, 0) + vfield(2, value) + lfield(3, b""))
    if type_name in ("fields", "raw"):
        return lfield(number, lfield(1, json.dumps(value).encode()))
    return lfield(number, encode_message(value, MESSAGES[type_name]))
