"""API discovery: aggregated (apidiscovery.k8s.io/v2) when asked for, legacy otherwise.

client-go asks `/api` and `/apis` for the aggregated form first and treats a
response as aggregated only by its Content-Type parameters (API-COMPAT.md
§1.1); both endpoints must answer consistently. The legacy per-group-version
documents (`/api/v1`, `/apis/<g>/<v>`) are served too.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from hakube.apiserver.resources import Resource, ResourceTable

AGGREGATED_CONTENT_TYPE = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def wants_aggregated(accept: str | None) -> bool:
    for part in (accept or "").split(","):
        pieces = [p.strip() for p in part.split(";")]
        params = dict(p.split("=", 1) for p in pieces[1:] if "=" in p)
        if (pieces[0] == "application/json" and params.get("g") == "apidiscovery.k8s.io"
                and params.get("as") == "APIGroupDiscoveryList"):
            return params.get("v") == "v2"
        if pieces[0] in ("application/json", "*/*"):
            return False
    return False


def _storage_hash(r: Resource) -> str:
    # Of the version objects are stored in (apiserver endpoints/discovery StorageVersionHash): the
    # same for versions sharing a storage, e.g. events.k8s.io/v1 and core/v1 Events.
    stored = r.strategy.storage_version or r.api_version
    group, _, version = stored.rpartition("/")
    digest = hashlib.sha256(f"{group}/{version}/{r.kind}".encode()).digest()[:8]
    return base64.b64encode(digest).decode()


def _legacy_resources(resources: list[Resource]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in resources:
        entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                                 "kind": r.kind, "verbs": list(r.verbs),
                                 "storageVersionHash": _storage_hash(r)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub in r.subresources:
            sub_entry: dict[str, Any] = {"name": f"{r.plural}/{sub.name}", "singularName": "",
                                         "namespaced": r.namespaced, "kind": sub.kind, "verbs": list(sub.verbs)}
            if sub.group is not None:
                sub_entry["group"], sub_entry["version"] = sub.group, sub.version
            out.append(sub_entry)
    return out


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group_list(table: ResourceTable) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        _group(g, [v for gg, v in table.group_versions() if gg == g]) for g in _groups(table)]}


def api_group(table: ResourceTable, group: str) -> dict[str, Any] | None:
    versions = [v for g, v in table.group_versions() if g == group]
    if not group or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(group, versions)}


def _groups(table: ResourceTable) -> list[str]:
    seen: dict[str, None] = {}
    for g, _ in table.group_versions():
        if g:
            seen.setdefault(g, None)
    return list(seen)


def _group(group: str, versions: list[str]) -> dict[str, Any]:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def resource_list(table: ResourceTable, group: str, version: str) -> dict[str, Any] | None:
    resources = table.in_group_version(group, version)
    if not resources:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv,
            "resources": _legacy_resources(resources)}


def aggregated(table: ResourceTable, *, core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList for `/api` (core) or `/apis` (every other group)."""
    items = []
    names = [""] if core else _groups(table)
    for group in names:
        versions = []
        for g, v in table.group_versions():
            if g != group:
                continue
            versions.append({"version": v, "freshness": "Current",
                             "resources": [_aggregated_resource(r) for r in table.in_group_version(g, v)]})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}


def _aggregated_resource(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": "Namespaced" if r.namespaced else "Cluster",
        "singularResource": r.singular,
        "verbs": list(r.verbs),
    }
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    if r.subresources:
        entry["subresources"] = [{
            "subresource": s.name,
            "responseKind": {"group": s.group if s.group is not None else r.group,
                             "version": s.version or r.version, "kind": s.kind},
            "verbs": list(s.verbs)} for s in r.subresources]
    return entry
