"""The OpenAPI v3 documents kube-apiserver serves at /openapi/v3.

kubectl needs them before `apply`, `create -f`, `replace` and `edit` (its
default `--validate=strict`): it fetches the index, then the document of the
object's group version, and looks for a PATCH operation whose
`x-kubernetes-group-version-kind` is the object's and which takes a
`fieldValidation` query parameter. Finding one, it leaves validation to the
server (cli-runtime `query_param_verifier_v3.go`). `kubectl explain` reads the
component schemas. Output is deterministic so its hash is a stable ETag.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hakube.apiserver.schema.openapi_schemas import component_schemas, ref
from hakube.apiserver.schema.registry import DELETE_OPTIONS, STATUS, TYPES, type_for

PATCH_BODY = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
PATCH_CONTENT_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
RESPONSE_CONTENT_TYPES = ("application/json", "application/yaml")

# Subresources whose body is another kind than their parent's.
SUBRESOURCE_KIND = {
    "scale": ("autoscaling", "v1", "Scale"),
    "eviction": ("policy", "v1", "Eviction"),
    "binding": ("", "v1", "Binding"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
}
# Subresources that only take a POST (create) of their kind.
CREATE_ONLY = frozenset({"eviction", "binding", "token"})
# Streaming subresources: kube marks them `connect`, with a kind per options type.
CONNECT_OPTIONS = {
    "attach": "AttachOptions",
    "exec": "ExecOptions",
    "portforward": "PortForwardOptions",
    "proxy": "ProxyOptions",
}

_QUERY: dict[str, tuple[str, str]] = {
    "allowWatchBookmarks": ("boolean", "Ask for BOOKMARK events on a watch."),
    "container": ("string", "The container to read logs of."),
    "continue": ("string", "The continue token of the previous page of a list."),
    "dryRun": ("string", "`All` to process the request without persisting it."),
    "fieldManager": ("string", "The name of the actor making the change (required for apply patches)."),
    "fieldSelector": ("string", "Select objects by their fields."),
    "fieldValidation": ("string", "How to treat unknown or duplicate fields: Ignore, Warn or Strict."),
    "follow": ("boolean", "Stream the log as it grows."),
    "force": ("boolean", "Take over conflicting fields on an apply patch."),
    "gracePeriodSeconds": ("integer", "Seconds before the object is deleted; 0 deletes at once."),
    "ignoreStoreReadErrorWithClusterBreakingPotential": ("boolean", "Delete an object that cannot be read."),
    "labelSelector": ("string", "Select objects by their labels."),
    "limit": ("integer", "The largest number of items to return in one page."),
    "limitBytes": ("integer", "Stop the log after this many bytes."),
    "orphanDependents": ("boolean", "Deprecated: use propagationPolicy."),
    "pretty": ("string", "`true` to pretty-print the output."),
    "previous": ("boolean", "The log of the previous, terminated container."),
    "propagationPolicy": ("string", "Orphan, Background or Foreground deletion of dependents."),
    "resourceVersion": ("string", "The resourceVersion a list or watch starts from."),
    "resourceVersionMatch": ("string", "How resourceVersion applies to a list: Exact or NotOlderThan."),
    "sendInitialEvents": ("boolean", "Start a watch with the current state as ADDED events."),
    "sinceSeconds": ("integer", "Only log lines newer than this many seconds."),
    "tailLines": ("integer", "Only the last lines of the log."),
    "timeoutSeconds": ("integer", "End a list or watch after this many seconds."),
    "timestamps": ("boolean", "Prefix each log line with its timestamp."),
    "watch": ("boolean", "Watch for changes instead of listing."),
}
_LIST_PARAMS = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_PARAMS = ("dryRun", "fieldManager", "fieldValidation")
_PATCH_PARAMS = (*_WRITE_PARAMS, "force")
_DELETE_PARAMS = (
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
)
_LOG_PARAMS = ("container", "follow", "limitBytes", "previous", "sinceSeconds", "tailLines", "timestamps")


@dataclass(frozen=True)
class ServedResource:
    """One resource as the server serves it (what discovery lists)."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...]
    subresources: tuple[str, ...] = ()


# The security scheme kube-apiserver publishes in its OpenAPI documents (v2 and v3).
BEARER_TOKEN = {"description": "Bearer Token authentication", "in": "header", "name": "authorization",
                "type": "apiKey"}

def gv_path(group: str, version: str) -> str:
    """`api/v1` for the core group, `apis/<group>/<version>` otherwise (no leading slash)."""
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def openapi_index(resources: Sequence[ServedResource], hashes: Mapping[str, str]) -> dict[str, Any]:
    """The /openapi/v3 index: one entry per served group version, keyed by `gv_path`.

    `hashes` maps a `gv_path` to its document's hash (see `document_hash`).
    """
    paths: dict[str, Any] = {}
    for gv in sorted({gv_path(r.group, r.version) for r in resources}):
        url = f"/openapi/v3/{gv}"
        if gv in hashes:
            url += f"?hash={hashes[gv]}"
        paths[gv] = {"serverRelativeURL": url}
    return {"paths": paths}


def openapi_document(
    resources: Sequence[ServedResource],
    group: str,
    version: str,
    *,
    server_version: str = "v1.32.0",
) -> dict[str, Any]:
    """The full OpenAPI v3 document of one group version."""
    served = sorted(
        (r for r in resources if (r.group, r.version) == (group, version)), key=lambda r: r.plural
    )
    paths: dict[str, Any] = {}
    roots = {STATUS, DELETE_OPTIONS, PATCH_BODY}
    for res in served:
        _add_resource_paths(paths, res, roots)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": server_version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": component_schemas(TYPES, roots),
            "securitySchemes": {"BearerToken": BEARER_TOKEN},
        },
        "security": [{"BearerToken": []}],
    }


def document_bytes(doc: Mapping[str, Any]) -> bytes:
    """The canonical serialization of a document: sorted keys, compact."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def document_hash(doc: Mapping[str, Any]) -> str:
    """The hash kube-apiserver puts in `serverRelativeURL`: SHA-512, upper-case hex."""
    return hashlib.sha512(document_bytes(doc)).hexdigest().upper()


@dataclass(frozen=True)
class _Names:
    """How upstream names the operations of one resource (operationId and tag)."""

    res: ServedResource

    @property
    def gv(self) -> str:
        group = self.res.group.removesuffix(".k8s.io") or "core"
        return (
            "".join(part[:1].upper() + part[1:] for part in group.split(".")) + self.res.version.capitalize()
        )

    @property
    def tag(self) -> str:
        group = self.res.group.removesuffix(".k8s.io") or "core"
        parts = group.split(".")
        return parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:]) + "_" + self.res.version

    def op(self, verb: str, suffix: str = "", *, infix: str = "", all_namespaces: bool = False) -> str:
        """e.g. `patchCoreV1NamespacedPodStatus`, `deleteAppsV1CollectionNamespacedDeployment`."""
        scope = "Namespaced" if self.res.namespaced and not all_namespaces else ""
        tail = "ForAllNamespaces" if all_namespaces else ""
        return f"{verb}{self.gv}{infix}{scope}{self.res.kind}{suffix}{tail}"


def _add_resource_paths(paths: dict[str, Any], res: ServedResource, roots: set[str]) -> None:
    names = _Names(res)
    prefix = "/" + gv_path(res.group, res.version)
    scope = f"{prefix}/namespaces/{{namespace}}" if res.namespaced else prefix
    collection = f"{scope}/{res.plural}"
    item = f"{collection}/{{name}}"
    gvk = (res.group, res.version, res.kind)
    type_name = type_for(*gvk)
    list_type = type_for(res.group, res.version, f"{res.kind}List")
    roots.update(t for t in (type_name, list_type) if t)
    verbs = set(res.verbs)
    scope_params = [_path_param("namespace")] if res.namespaced else []

    ops: dict[str, Any] = {}
    if "list" in verbs:
        ops["get"] = _operation(
            names, "list", names.op("list"), gvk, params=_LIST_PARAMS, responses={"200": list_type}
        )
    if "create" in verbs:
        ops["post"] = _operation(
            names,
            "post",
            names.op("create"),
            gvk,
            params=_WRITE_PARAMS,
            body=type_name,
            responses={"200": type_name, "201": type_name, "202": type_name},
        )
    if "deletecollection" in verbs:
        ops["delete"] = _operation(
            names,
            "deletecollection",
            names.op("delete", infix="Collection"),
            gvk,
            params=(*_DELETE_PARAMS, *_LIST_PARAMS),
            body=DELETE_OPTIONS,
            responses={"200": STATUS},
        )
    if ops:
        paths[collection] = {**ops, "parameters": [*scope_params, _query_param("pretty")]}
    if res.namespaced and "list" in verbs:
        paths[f"{prefix}/{res.plural}"] = {
            "get": _operation(
                names,
                "list",
                names.op("list", all_namespaces=True),
                gvk,
                params=_LIST_PARAMS,
                responses={"200": list_type},
            ),
            "parameters": [_query_param("pretty")],
        }

    item_ops = _read_write_ops(names, gvk, type_name, "", verbs)
    if "delete" in verbs:
        item_ops["delete"] = _operation(
            names,
            "delete",
            names.op("delete"),
            gvk,
            params=_DELETE_PARAMS,
            body=DELETE_OPTIONS,
            responses={"200": STATUS, "202": STATUS},
        )
    item_params = [_path_param("name"), *scope_params, _query_param("pretty")]
    if item_ops:
        paths[item] = {**item_ops, "parameters": item_params}

    for sub in sorted(res.subresources):
        sub_ops = _subresource_ops(names, res, sub, roots)
        if sub_ops:
            paths[f"{item}/{sub}"] = {**sub_ops, "parameters": item_params}


def _subresource_ops(names: _Names, res: ServedResource, sub: str, roots: set[str]) -> dict[str, Any]:
    suffix = sub[:1].upper() + sub[1:]
    if sub in CONNECT_OPTIONS:
        gvk = (res.group, res.version, res.kind + CONNECT_OPTIONS[sub])
        return {
            method: _operation(
                names,
                "connect",
                names.op("connect", suffix, infix=method.capitalize()),
                gvk,
                params=(),
                responses={"200": "string"},
            )
            for method in ("get", "post")
        }
    gvk = SUBRESOURCE_KIND.get(sub, (res.group, res.version, res.kind))
    type_name = type_for(*gvk)
    if type_name:
        roots.add(type_name)
    if sub in CREATE_ONLY:
        return {
            "post": _operation(
                names,
                "post",
                names.op("create", suffix),
                gvk,
                params=_WRITE_PARAMS,
                body=type_name,
                responses={"200": type_name, "201": type_name, "202": type_name},
            )
        }
    if sub == "log":
        return {
            "get": _operation(
                names, "get", names.op("read", suffix), gvk, params=_LOG_PARAMS, responses={"200": "string"}
            )
        }
    return _read_write_ops(names, gvk, type_name, suffix, {"get", "update", "patch"})


def _read_write_ops(
    names: _Names, gvk: tuple[str, str, str], type_name: str | None, suffix: str, verbs: set[str]
) -> dict[str, Any]:
    ops: dict[str, Any] = {}
    if "get" in verbs:
        ops["get"] = _operation(
            names, "get", names.op("read", suffix), gvk, params=(), responses={"200": type_name}
        )
    if "update" in verbs:
        ops["put"] = _operation(
            names,
            "put",
            names.op("replace", suffix),
            gvk,
            params=_WRITE_PARAMS,
            body=type_name,
            responses={"200": type_name, "201": type_name},
        )
    if "patch" in verbs:
        ops["patch"] = _operation(
            names,
            "patch",
            names.op("patch", suffix),
            gvk,
            params=_PATCH_PARAMS,
            body=PATCH_BODY,
            body_types=PATCH_CONTENT_TYPES,
            responses={"200": type_name, "201": type_name},
        )
    return ops


_STATUS_TEXT = {"200": "OK", "201": "Created", "202": "Accepted"}


def _operation(
    names: _Names,
    action: str,
    operation_id: str,
    gvk: tuple[str, str, str],
    *,
    params: Sequence[str],
    responses: Mapping[str, str | None],
    body: str | None = None,
    body_types: Sequence[str] = ("*/*",),
) -> dict[str, Any]:
    group, version, kind = gvk
    op: dict[str, Any] = {
        "description": f"{action} {kind}",
        "operationId": operation_id,
        "responses": {code: _response(code, type_name) for code, type_name in responses.items()},
        "tags": [names.tag],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "kind": kind, "version": version},
    }
    if params:
        op["parameters"] = [_query_param(name) for name in params]
    if body:
        op["requestBody"] = {"content": {t: {"schema": ref(body)} for t in body_types}, "required": True}
    op["responses"]["401"] = {"description": "Unauthorized"}
    return op


def _response(code: str, type_name: str | None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": _STATUS_TEXT.get(code, code)}
    if type_name == "string":
        response["content"] = {"text/plain": {"schema": {"type": "string"}}}
    elif type_name:
        response["content"] = {t: {"schema": ref(type_name)} for t in RESPONSE_CONTENT_TYPES}
    return response


def _query_param(name: str) -> dict[str, Any]:
    kind, description = _QUERY[name]
    return {
        "description": description,
        "in": "query",
        "name": name,
        "schema": {"type": kind, "uniqueItems": True},
    }


def _path_param(name: str) -> dict[str, Any]:
    description = "The object name." if name == "name" else "The namespace of the object."
    return {
        "description": description,
        "in": "path",
        "name": name,
        "required": True,
        "schema": {"type": "string", "uniqueItems": True},
    }
