"""The envelope around every Kubernetes protobuf body.

Four magic bytes `k8s\\0`, then a `runtime.Unknown`: the object's typeMeta
(apiVersion, kind), the object's own message as `raw`, and a contentEncoding
and contentType that Go's decoder ignores (apimachinery
`runtime/serializer/protobuf/protobuf.go`, API-COMPAT.md §10). The error
texts for a missing prefix or an empty body are the ones that file uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from hakube.apiserver.protobuf.wire import LEN, ProtobufError, read_fields

MAGIC = b"k8s\x00"

_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"
_TYPE_META = "k8s.io.apimachinery.pkg.runtime.TypeMeta"


@dataclass(frozen=True)
class Envelope:
    api_version: str
    kind: str
    raw: bytes


def read_envelope(data: bytes) -> Envelope:
    """The type and payload of a protobuf body; ProtobufError if it is not one."""
    if not data:
        raise ProtobufError("empty data")
    if not data.startswith(MAGIC):
        raise ProtobufError("provided data does not appear to be a protobuf message, expected prefix "
                            f"[{' '.join(str(b) for b in MAGIC)}]")
    if len(data) == len(MAGIC):
        raise ProtobufError("empty body")
    unknown = read_fields(data[len(MAGIC):], _UNKNOWN, {1: LEN, 2: LEN, 3: LEN, 4: LEN})
    type_meta = read_fields(_bytes(unknown.get(1)), _TYPE_META, {1: LEN, 2: LEN})
    return Envelope(api_version=_text(type_meta.get(1)), kind=_text(type_meta.get(2)),
                    raw=_bytes(unknown.get(2)))


def _bytes(value: int | bytes | None) -> bytes:
    return value if isinstance(value, bytes) else b""


def _text(value: int | bytes | None) -> str:
    return _bytes(value).decode("utf-8", "replace")
