"""Bytes ⇄ objects: request bodies, stored values, and response media types.

Stored values are JSON without `metadata.resourceVersion`: the version is the
etcd `mod_revision`, filled in on read (apiserver `PrepareObjectForStorage`,
API-COMPAT.md §2.1). Request bodies may be JSON (also when the Content-Type
is empty, as the Python client sends) or YAML (negotiate.go).
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml

from hakube.apiserver import status

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

BODY_TYPES = [JSON, YAML]
PATCH_TYPES = [JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH]

# Request bodies above this are refused with 413 (kube-apiserver's
# maxRequestBodyBytes is 3 MiB; etcd's own request limit is 1.5 MiB).
MAX_BODY_BYTES = 3 * 1024 * 1024


def media_type(header: str | None) -> str:
    """The bare media type of a Content-Type header, lower-cased; '' when absent."""
    if not header:
        return ""
    return header.split(";", 1)[0].strip().lower()


def decode_body(raw: bytes, content_type: str) -> Any:
    """Decode a request body of a create/update by its media type."""
    mt = media_type(content_type)
    if mt in ("", JSON, "*/*"):
        return _json(raw)
    if mt in (YAML, "application/x-yaml", "text/yaml"):
        return _yaml(raw)
    raise status.unsupported_media_type(mt, BODY_TYPES)


def decode_patch(raw: bytes) -> Any:
    return _json(raw)


def decode_apply_patch(raw: bytes) -> Any:
    return _yaml(raw)


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise status.bad_request(f"couldn't get version/kind; json parse error: {err}") from None


def _yaml(raw: bytes) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as err:
        msg = str(err).replace("\n", " ")
        raise status.bad_request(f"error converting YAML to JSON: yaml: {msg}") from None


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


def encode_for_storage(obj: dict[str, Any]) -> bytes:
    """Serialize an object for etcd, without its resourceVersion."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "resourceVersion" in meta:
        meta = {k: v for k, v in meta.items() if k != "resourceVersion"}
        obj = {**obj, "metadata": meta}
    return orjson.dumps(obj)


def decode_from_storage(value: bytes, mod_revision: int) -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(mod_revision)
    return obj
