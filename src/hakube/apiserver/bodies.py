"""Reading and checking request bodies: size, media type, kind, strict fields.

The checks kube-apiserver makes before a body reaches the registry: bodies
over the limit get 413, unknown media types 415 (JSON, YAML and, for the kinds
the protobuf tables know, protobuf are decoded), undecodable bodies 400, a
kind or apiVersion that does not belong to the URL 400, and — with
`fieldValidation=Strict` — unknown or duplicate fields 400 naming them
(`Warn`, the default, turns them into `Warning` headers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hakube.apiserver import codec, protobuf, status
from hakube.apiserver.resources import Resource
from hakube.apiserver.schema.registry import TYPES, type_for
from hakube.apiserver.schema.validate import (
    find_duplicate_fields,
    prune_unknown,
    strict_error_message,
    unknown_fields,
)


@dataclass
class Body:
    obj: Any
    raw: bytes
    warnings: list[str] = field(default_factory=list)


async def read_raw(request: web.Request) -> bytes:
    length = request.content_length
    if length is not None and length > codec.MAX_BODY_BYTES:
        raise status.too_large(codec.MAX_BODY_BYTES)
    chunks = []
    total = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        total += len(chunk)
        if total > codec.MAX_BODY_BYTES:
            raise status.too_large(codec.MAX_BODY_BYTES)
        chunks.append(chunk)
    return b"".join(chunks)


def field_validation(request: web.Request) -> str:
    value = request.query.get("fieldValidation", "Warn") or "Warn"
    if value not in ("Strict", "Warn", "Ignore"):
        raise status.bad_request(f'fieldValidation must be one of "Ignore", "Warn", or "Strict", got "{value}"')
    return value


def check_fields(resource: Resource, obj: Any, raw: bytes, mode: str, *, kind: str | None = None,
                 group: str | None = None, version: str | None = None, json_body: bool = True) -> list[str]:
    """Unknown/duplicate field checking: raises (Strict), or drops unknown fields from `obj` in place and
    returns warnings (Warn) or nothing (Ignore), as decoding into kube's types does."""
    if not isinstance(obj, dict):
        return []
    type_name = type_for(group if group is not None else resource.group,
                         version if version is not None else resource.version,
                         kind or resource.kind)
    if mode == "Ignore":
        if type_name:
            prune_unknown(TYPES, type_name, obj)
        return []
    unknown = unknown_fields(TYPES, type_name, obj) if type_name else []
    duplicates = find_duplicate_fields(raw) if json_body and raw else []
    if not unknown and not duplicates:
        return []
    if mode == "Strict":
        raise status.bad_request(strict_error_message(unknown, duplicates))
    if unknown and type_name:
        prune_unknown(TYPES, type_name, obj)
    return [f'unknown field "{p}"' for p in unknown] + [f'duplicate field "{p}"' for p in duplicates]


def check_type(got_kind: Any, got_version: Any, want_kind: str, want_version: str) -> None:
    """400 when a body names another kind or apiVersion than the URL (an absent one takes the URL's)."""
    if got_kind and got_kind != want_kind:
        raise status.bad_request(
            f"{got_kind} in version \"{got_version or ''}\" cannot be handled as a {want_kind}: "
            f"the object provided is unrecognized in group version \"{want_version}\"")
    if got_version and got_version != want_version:
        raise status.bad_request(
            f'the API version in the data ({got_version}) does not match the expected API version '
            f'({want_version})')


async def read_object(request: web.Request, resource: Resource, *, kind: str | None = None,
                      api_version: str | None = None) -> Body:
    """A create/update body for `resource` (or for the given kind, for subresources)."""
    raw = await read_raw(request)
    content_type = request.headers.get("Content-Type", "")
    mt = codec.media_type(content_type)
    want_kind = kind or resource.kind
    want_version = api_version or resource.api_version
    if mt == codec.PROTOBUF:
        envelope = protobuf.read_envelope(raw)
        check_type(envelope.kind, envelope.api_version, want_kind, want_version)
        obj = protobuf.decode_object(envelope, kind=want_kind, api_version=want_version)
    else:
        obj = codec.decode_body(raw, content_type)
        if not isinstance(obj, dict):
            raise status.bad_request("Object 'Kind' is missing in '" + raw[:200].decode(errors="replace") + "'")
        check_type(obj.get("kind"), obj.get("apiVersion"), want_kind, want_version)
    obj["kind"], obj["apiVersion"] = want_kind, want_version
    group, _, version = want_version.rpartition("/")
    warnings = check_fields(resource, obj, raw, field_validation(request), kind=want_kind, group=group,
                            version=version, json_body=mt in ("", codec.JSON))
    return Body(obj, raw, warnings)
