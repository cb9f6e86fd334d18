"""Protobuf request bodies (`application/vnd.kubernetes.protobuf`).

kubectl's typed commands (`create configmap|secret|deployment|…`, `autoscale`,
`auth can-i`, `auth whoami`, `create token`) send protobuf and do not fall back
to JSON (API-COMPAT.md §0 item 2, §10). A body is the `k8s\\0` envelope
around a `runtime.Unknown` holding the object's own message; this package
turns it into the same JSON object the JSON path would have received, so
everything after decoding (field validation, defaults, storage) is shared.
Responses stay JSON: every client accepts it.

The field numbers are facts published in upstream `generated.proto`; the
tables in `tables/` hold them in our own compact form (see `table.py`).
Every malformed body is a 400 Status naming what is wrong and where, a kind
with no table a 415; no decoding error escapes as a 500.
"""

from __future__ import annotations

from typing import Any

from hakube.apiserver import status
from hakube.apiserver.protobuf.decode import decode_message
from hakube.apiserver.protobuf.envelope import MAGIC, Envelope
from hakube.apiserver.protobuf.envelope import read_envelope as _read_envelope
from hakube.apiserver.protobuf.messages import KINDS, MESSAGES, message_for
from hakube.apiserver.protobuf.wire import ProtobufError

_JSON_TYPES = ["application/json", "application/yaml"]


def read_envelope(raw: bytes) -> Envelope:
    """The envelope of a protobuf body; a 400 Status if it is not one."""
    try:
        return _read_envelope(raw)
    except ProtobufError as err:
        raise status.bad_request(f"unable to decode the protobuf body: {err}") from None


def decode_object(envelope: Envelope, *, kind: str, api_version: str) -> dict[str, Any]:
    """The object in `envelope`, read as `kind` of `api_version` (the caller has checked they match).

    415 when this server has no table for the kind, 400 when the bytes are
    not a valid encoding of it.
    """
    group, _, version = api_version.rpartition("/")
    message = message_for(group, version, kind)
    if message is None:
        raise status.StatusError(
            415, "UnsupportedMediaType",
            f"the body of the request was in an unknown format - {kind} in {api_version} is not accepted as "
            f"protobuf; accepted media types include: {', '.join(_JSON_TYPES)}",
            details={"causes": [{"reason": "UnsupportedMediaType",
                                 "message": "application/vnd.kubernetes.protobuf"}]})
    try:
        obj = decode_message(envelope.raw, message)
    except ProtobufError as err:
        raise status.bad_request(f"unable to decode the protobuf body as {kind} ({api_version}): {err}") from None
    return {"kind": kind, "apiVersion": api_version, **obj}


def decode_delete_options(raw: bytes) -> dict[str, Any]:
    """A protobuf DeleteOptions body (typed Go clients send one with DELETE), in any group version."""
    envelope = read_envelope(raw)
    kind = envelope.kind or "DeleteOptions"
    api_version = envelope.api_version or "meta.k8s.io/v1"
    if kind != "DeleteOptions":
        raise status.bad_request(f'{kind} in version "{api_version}" cannot be handled as a DeleteOptions')
    return decode_object(envelope, kind=kind, api_version=api_version)


__all__ = [
    "KINDS",
    "MAGIC",
    "MESSAGES",
    "Envelope",
    "ProtobufError",
    "decode_delete_options",
    "decode_message",
    "decode_object",
    "read_envelope",
]
