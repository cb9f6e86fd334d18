"""Parse a request path into group, version, namespace, resource, name, subresource.

Mirrors apiserver `pkg/endpoints/request/requestinfo.go`: after
`/api/v1` or `/apis/<group>/<version>`, `namespaces/<ns>/` scopes the request
unless the next part is a namespace subresource (`status`, `finalize`).
"""

from __future__ import annotations

from dataclasses import dataclass

_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True)
class RequestInfo:
    group: str
    version: str
    namespace: str | None
    resource: str
    name: str
    subresource: str


def parse_resource_path(path: str) -> RequestInfo | None:
    """None when the path is not a resource path (discovery and the like)."""
    parts = [p for p in path.strip("/").split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
        else:
            # /namespaces/<name>[/status|/finalize]: the namespace object itself.
            namespace = None
            rest = ["namespaces", *rest[1:]]
    if len(rest) > 3:
        return None
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    return RequestInfo(group, version, namespace, resource, name, sub)
