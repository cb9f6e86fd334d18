"""LIST with selectors, limit/continue and resourceVersion semantics (API-COMPAT.md §2.3).

Paginated and exact-revision lists read etcd at a pinned revision, so every
page comes from one consistent snapshot; the continue token is kube's
(apiserver `pkg/storage/continue.go`). Other lists come from the watch cache,
after it has caught up with etcd's current revision when a consistent read is
asked for (KEP-2340).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from hakube.apiserver import codec, status
from hakube.apiserver.registry import Registry, parse_rv, too_large_rv
from hakube.apiserver.selectors import (
    FieldSelector,
    LabelSelector,
    parse_field_selector,
    parse_label_selector,
)
from hakube.apiserver.strategy import Obj
from hakube.store.errors import Compacted

_EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - objects "
    "that were created, modified, or deleted between the time the first chunk was returned and now may "
    "show up in the list."
)


@dataclass(frozen=True)
class ListOptions:
    labels: LabelSelector | None = None
    fields: FieldSelector | None = None
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""
    resource_version_match: str = ""

    @property
    def filtered(self) -> bool:
        return bool(self.labels and not self.labels.empty()) or bool(self.fields and self.fields.requirements)


def matcher(reg: Registry, opts: ListOptions) -> Any:
    """A predicate over objects for the selectors, or None when nothing is filtered."""
    if not opts.filtered:
        return None
    labels, fields, strategy = opts.labels, opts.fields, reg.strategy

    def match(obj: Obj) -> bool:
        meta = obj.get("metadata") or {}
        if labels is not None and not labels.matches(meta.get("labels") or {}):
            return False
        return fields is None or fields.matches(strategy.selectable_fields(obj))

    return match


def encode_continue(revision: int, start: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": revision, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        if data.get("v") != "meta.k8s.io/v1":
            raise ValueError("version")
        rv, start = int(data["rv"]), str(data["start"])
    except (binascii.Error, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise status.bad_request("continue key is not valid: incorrect encoded start resourceVersion "
                                 "(version meta.k8s.io/v1)") from None
    if "/" in start.lstrip("/") and ".." in start:
        raise status.bad_request("continue key is not valid: path traversal")
    return rv, start


def validate(opts: ListOptions) -> None:
    if opts.continue_token and opts.resource_version and opts.resource_version != "0":
        raise status.bad_request("specifying resource version is not allowed when using continue")
    if opts.resource_version_match:
        if not opts.resource_version:
            raise status.StatusError(422, "Invalid", "resourceVersionMatch is forbidden unless "
                                     "resourceVersion is provided")
        if opts.resource_version_match not in ("Exact", "NotOlderThan"):
            raise status.StatusError(422, "Invalid", f'resourceVersionMatch: Unsupported value: '
                                     f'"{opts.resource_version_match}"')
        if opts.resource_version_match == "Exact" and opts.resource_version == "0":
            raise status.StatusError(422, "Invalid", "resourceVersionMatch \"exact\" is forbidden for "
                                     "resourceVersion \"0\"")
    if opts.limit < 0:
        raise status.bad_request("limit must not be negative")


async def list_objects(reg: Registry, namespace: str | None, opts: ListOptions) -> Obj:
    validate(opts)
    prefix = reg.resource.collection_prefix(namespace)
    match = matcher(reg, opts)
    rv = opts.resource_version
    if opts.continue_token:
        revision, start = decode_continue(opts.continue_token)
        return await _from_etcd(reg, prefix, match, opts, start_key=prefix + start,
                                revision=max(revision, 0), continuing=True)
    exact = opts.resource_version_match == "Exact" or (
        rv not in ("", "0") and opts.limit > 0 and opts.resource_version_match != "NotOlderThan")
    if exact:
        return await _from_etcd(reg, prefix, match, opts, start_key=None, revision=parse_rv(rv))
    if rv == "" and opts.limit > 0:
        return await _from_etcd(reg, prefix, match, opts, start_key=None, revision=0)
    cache = reg.cache
    if rv == "":
        wanted = await reg.storage.current_revision()
        if not await cache.wait_for(wanted, timeout=1.0):
            return await _from_etcd(reg, prefix, match, opts, start_key=None, revision=0)
    elif rv != "0":
        wanted = parse_rv(rv)
        if not await cache.wait_for(wanted):
            raise too_large_rv(wanted, cache.revision)
    items = cache.snapshot(prefix)
    if match is not None:
        items = [o for o in items if match(o)]
    if reg.converts:
        items = [reg.present(o) for o in items]
    return _list_body(reg, items, cache.revision, "", None)


def _list_body(reg: Registry, items: list[Obj], revision: int, cont: str, remaining: int | None) -> Obj:
    meta: Obj = {"resourceVersion": str(revision)}
    if cont:
        meta["continue"] = cont
    if remaining is not None and cont:
        meta["remainingItemCount"] = remaining
    return {"kind": f"{reg.resource.kind}List", "apiVersion": reg.resource.api_version,
            "metadata": meta, "items": items}


async def _from_etcd(
    reg: Registry, prefix: str, match: Any, opts: ListOptions, *,
    start_key: str | None, revision: int, continuing: bool = False,
) -> Obj:
    """A page from etcd at one revision; with selectors, keep reading until `limit` items match."""
    limit = opts.limit
    items: list[Obj] = []
    start = start_key
    try:
        while True:
            page = await reg.storage.list(prefix, limit=limit, start_key=start, revision=revision)
            revision = page.revision
            for i, kv in enumerate(page.items):
                # Selectors see the stored object, as from the watch cache (Strategy.selectable_fields).
                obj = codec.decode_from_storage(kv.value, kv.mod_revision)
                if match is None or match(obj):
                    items.append(reg.decorate(obj))
                if limit and len(items) >= limit:
                    more = page.more or i < len(page.items) - 1
                    last = kv.key
                    remaining = None if match is not None else page.remaining + (len(page.items) - 1 - i)
                    if not more:
                        return _list_body(reg, items, revision, "", None)
                    token = encode_continue(revision, last[len(prefix):] + "\0")
                    return _list_body(reg, items, revision, token, remaining)
            if not page.more or not page.items:
                return _list_body(reg, items, revision, "", None)
            start = page.items[-1].key + "\0"
    except Compacted:
        if continuing:
            token = encode_continue(-1, (start or prefix)[len(prefix):])
            raise status.StatusError(410, "Expired", _EXPIRED_CONTINUE,
                                     list_meta={"continue": token}) from None
        raise status.gone("The resourceVersion for the provided list is too old.") from None



def list_options(query: Mapping[str, str]) -> ListOptions:
    limit_text = query.get("limit", "") or "0"
    try:
        limit = int(limit_text)
    except ValueError:
        raise status.bad_request(f'invalid limit: "{limit_text}"') from None
    labels = parse_label_selector(query["labelSelector"]) if query.get("labelSelector") else None
    fields = parse_field_selector(query["fieldSelector"]) if query.get("fieldSelector") else None
    return ListOptions(labels=labels, fields=fields, limit=max(limit, 0),
                               continue_token=query.get("continue", ""),
                               resource_version=query.get("resourceVersion", ""),
                               resource_version_match=query.get("resourceVersionMatch", ""))


def check_field_selector(reg: Registry, opts: ListOptions) -> None:
    if opts.fields is None:
        return
    allowed = reg.strategy.allowed_fields()
    for field_name in opts.fields.fields():
        if field_name not in allowed:
            raise status.bad_request(f'field label not supported: {field_name}')
