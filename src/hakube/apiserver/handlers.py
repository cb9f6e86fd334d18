"""REST verbs: from an HTTP request on a resource path to a registry call and back.

The dispatch mirrors apiserver `pkg/endpoints/handlers` (create.go, get.go,
update.go, patch.go, delete.go): query parameters are parsed and checked
here, the registry does the storage semantics, and the response is JSON or a
Table as negotiated.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from aiohttp import web

from hakube.apiserver import codec, fieldmanager, listing, negotiate, patch, protobuf, status, subresources, watch
from hakube.apiserver.bodies import check_fields, check_type, field_validation, read_object, read_raw
from hakube.apiserver.listing import check_field_selector, list_options
from hakube.apiserver.registry import Registry, WriteOptions
from hakube.apiserver.requestinfo import RequestInfo
from hakube.apiserver.schema.registry import TYPES, type_for
from hakube.apiserver.strategy import Obj


def json_response(body: Any, *, code: int = 200, warnings: list[str] | None = None) -> web.Response:
    headers = {"Content-Type": "application/json"}
    resp = web.Response(body=codec.dumps(body), status=code, headers=headers)
    for w in warnings or []:
        resp.headers.add("Warning", warning_header(w))
    return resp


def warning_header(text: str) -> str:
    """A `Warning` value, `299 - "text"`, with `"` and `\\` escaped as apimachinery `util/net`
    NewWarningHeader does: client-go (and so kubectl) drops a warning it cannot parse."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'


def write_options(request: web.Request) -> WriteOptions:
    dry = request.query.getall("dryRun", [])
    for value in dry:
        if value != "All":
            raise status.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    # Without fieldManager the write is recorded for the User-Agent's product name
    # (apiserver handlers/rest.go prefixFromUserAgent).
    manager = request.query.get("fieldManager") or fieldmanager.default_manager(
        request.headers.get("User-Agent", ""))
    fieldmanager.check_manager(manager)
    return WriteOptions(dry_run=bool(dry), field_manager=manager)


class ResourceHandler:
    """Handles every verb on one resource path, given its registry."""

    def __init__(self, reg: Registry, info: RequestInfo) -> None:
        self.reg = reg
        self.info = info
        self.resource = reg.resource

    async def handle(self, request: web.Request) -> web.StreamResponse:
        info, method = self.info, request.method
        if info.subresource:
            return await subresources.handle(self.reg, info, request)
        if not info.name:
            if method == "GET":
                if request.query.get("watch") in ("1", "true", "True"):
                    return await watch.serve(self.reg, info.namespace, request)
                return await self.list(request)
            if method == "POST":
                return await self.create(request)
            if method == "DELETE":
                return await self.delete_collection(request)
        else:
            if method == "GET":
                return await self.get(request)
            if method == "PUT":
                return await self.update(request)
            if method == "PATCH":
                return await self.patch(request)
            if method == "DELETE":
                return await self.delete(request)
        raise status.method_not_allowed("the server does not allow this method on the requested resource")

    def _respond(self, request: web.Request, obj: Obj, *, code: int = 200,
                 warnings: list[str] | None = None) -> web.Response:
        out = negotiate.choose_output(request.headers.get("Accept"), request.query.get("includeObject"))
        if out.table:
            meta = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
            return json_response(negotiate.to_table(self.resource, [obj], meta, out), code=code,
                                 warnings=warnings)
        return json_response(obj, code=code, warnings=warnings)

    # -- reads ----------------------------------------------------------------

    async def get(self, request: web.Request) -> web.Response:
        obj = await self.reg.get(self.info.namespace, self.info.name,
                                 resource_version=request.query.get("resourceVersion", ""))
        return self._respond(request, obj)

    async def list(self, request: web.Request) -> web.Response:
        out = negotiate.choose_output(request.headers.get("Accept"), request.query.get("includeObject"))
        opts = list_options(request.query)
        check_field_selector(self.reg, opts)
        body = await listing.list_objects(self.reg, self.info.namespace, opts)
        if out.table:
            meta = body["metadata"]
            return json_response(negotiate.to_table(self.resource, body["items"], meta, out))
        return json_response(body)

    # -- writes ----------------------------------------------------------------

    def _check_identity(self, obj: Obj, *, name: str | None) -> None:
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = meta = {}
        if not isinstance(meta, dict):
            raise status.bad_request("metadata must be an object")
        body_ns = meta.get("namespace")
        if self.resource.namespaced and body_ns and body_ns != self.info.namespace:
            raise status.bad_request("the namespace of the provided object does not match the namespace "
                                     "sent on the request")
        if name is not None and meta.get("name") and meta["name"] != name:
            raise status.bad_request(f"the name of the object ({meta['name']}) does not match the name on "
                                     f"the URL ({name})")

    async def create(self, request: web.Request) -> web.Response:
        body = await read_object(request, self.resource)
        self._check_identity(body.obj, name=None)
        obj = await self.reg.create(self.info.namespace, body.obj, write_options(request))
        return self._respond(request, obj, code=201, warnings=body.warnings)

    async def update(self, request: web.Request) -> web.Response:
        body = await read_object(request, self.resource)
        self._check_identity(body.obj, name=self.info.name)
        desired = body.obj
        desired["metadata"].setdefault("name", self.info.name)
        create = copy.deepcopy(desired) if self.resource.strategy.extra.get("create_on_update") else None
        obj, created = await self.reg.update(
            self.info.namespace, self.info.name, lambda _old: copy.deepcopy(desired),
            write_options(request), create_if_missing=create)
        return self._respond(request, obj, code=201 if created else 200, warnings=body.warnings)

    async def patch(self, request: web.Request) -> web.Response:
        obj, created, warnings = await apply_patch(self.reg, self.info, request, subresource="")
        return self._respond(request, obj, code=201 if created else 200, warnings=warnings)

    async def delete(self, request: web.Request) -> web.Response:
        options = await delete_options(request)
        obj, removed = await self.reg.delete(self.info.namespace, self.info.name, options=options,
                                             opts=write_options(request))
        if not removed or self.resource.strategy.extra.get("return_deleted"):
            return json_response(obj)
        details: Obj = {"name": self.info.name, "kind": self.resource.plural,
                        "uid": obj["metadata"].get("uid", "")}
        if self.resource.group:
            details["group"] = self.resource.group
        return json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                              "details": details})

    async def delete_collection(self, request: web.Request) -> web.Response:
        options = await delete_options(request)
        opts = list_options(request.query)
        check_field_selector(self.reg, opts)
        body = await listing.list_objects(self.reg, self.info.namespace,
                                          listing.ListOptions(labels=opts.labels, fields=opts.fields))
        deleted = []
        wopts = write_options(request)
        for item in body["items"]:
            meta = item["metadata"]
            try:
                obj, _ = await self.reg.delete(meta.get("namespace"), meta["name"], options=options, opts=wopts)
            except status.StatusError as err:
                if err.code == 404:
                    continue
                raise
            deleted.append(obj)
        body["items"] = deleted
        return json_response(body)


async def delete_options(request: web.Request) -> Obj:
    raw = await read_raw(request)
    options: Obj = {}
    content_type = request.headers.get("Content-Type", "")
    if codec.media_type(content_type) == codec.PROTOBUF and raw:
        options = protobuf.decode_delete_options(raw)
    elif raw.strip():
        parsed = codec.decode_body(raw, content_type)
        if not isinstance(parsed, dict):
            raise status.bad_request("DeleteOptions must be an object")
        options = parsed
    if "gracePeriodSeconds" in request.query:
        try:
            options["gracePeriodSeconds"] = int(request.query["gracePeriodSeconds"])
        except ValueError:
            raise status.bad_request("gracePeriodSeconds must be an integer") from None
    if "propagationPolicy" in request.query:
        options["propagationPolicy"] = request.query["propagationPolicy"]
    policy = options.get("propagationPolicy")
    if policy not in (None, "Orphan", "Background", "Foreground"):
        raise status.StatusError(422, "Invalid", f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: '
                                 f'Unsupported value: "{policy}": supported values: "Foreground", '
                                 '"Background", "Orphan", "nil"')
    return options


def _patch_type_name(reg: Registry) -> str | None:
    return type_for(reg.resource.group, reg.resource.version, reg.resource.kind)


def patch_document(doc: Obj, raw: bytes, content_type: str, *, type_name: str | None) -> Obj:
    """Apply a JSON, merge or strategic-merge patch to `doc`."""
    try:
        if content_type == codec.JSON_PATCH:
            result = patch.apply_json_patch(doc, codec.decode_patch(raw))
        elif content_type == codec.MERGE_PATCH:
            result = patch.apply_merge_patch(doc, codec.decode_patch(raw))
        else:
            result = patch.apply_strategic_merge_patch(doc, codec.decode_patch(raw), types=TYPES,
                                                       root=type_name)
    except patch.PatchError as err:
        raise status.StatusError(422, "Invalid", str(err)) from None
    if not isinstance(result, dict):
        raise status.bad_request("the patch produced something that is not an object")
    return result


async def apply_patch(
    reg: Registry, info: RequestInfo, request: web.Request, *, subresource: str
) -> tuple[Obj, bool, list[str]]:
    """PATCH on the object or its /status: read, patch, validate, CAS; retried on a lost race."""
    content_type = codec.media_type(request.headers.get("Content-Type"))
    if content_type not in codec.PATCH_TYPES:
        raise status.unsupported_media_type(content_type or "<none>", codec.PATCH_TYPES)
    raw = await read_raw(request)
    opts = write_options(request)
    mode = field_validation(request)
    type_name = _patch_type_name(reg)
    warnings: list[str] = []
    if content_type == codec.APPLY_PATCH:
        return await _server_side_apply(reg, info, request, raw, opts, mode, warnings, subresource)
    if content_type != codec.JSON_PATCH:
        decoded = codec.decode_patch(raw)
        if not isinstance(decoded, dict):
            raise status.bad_request("the body of a merge or strategic merge patch must be a JSON object")

    def mutate(old: Obj) -> Obj:
        new = patch_document(old, raw, content_type, type_name=type_name)
        warnings[:] = check_fields(reg.resource, new, b"", mode)
        return new

    obj, created = await reg.update(info.namespace, info.name, mutate, opts, subresource=subresource)
    return obj, created, warnings


async def _server_side_apply(
    reg: Registry, info: RequestInfo, request: web.Request, raw: bytes, opts: WriteOptions, mode: str,
    warnings: list[str], subresource: str,
) -> tuple[Obj, bool, list[str]]:
    """Server-side apply (API-COMPAT.md §4): merge the applied configuration into the live
    object (or create it) with field ownership, conflicts and pruning (see fieldmanager)."""
    if not request.query.get("fieldManager"):
        raise status.StatusError(
            422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
            "required for apply patch")
    force_param = request.query.get("force", "false")
    if force_param not in ("true", "false", "1", "0", "True", "False"):
        raise status.bad_request(f'force: invalid boolean value "{force_param}"')
    force = force_param in ("true", "1", "True")
    applied = codec.decode_apply_patch(raw)
    if not isinstance(applied, dict):
        raise status.bad_request("the body of an apply patch must be an object")
    # An apply configuration names its type (apiserver fieldmanager structuredmerge.go Apply).
    if not applied.get("apiVersion"):
        raise status.bad_request("Incorrect version specified in apply patch. Specified patch version: , "
                                 f"expected: {reg.resource.api_version}")
    if not applied.get("kind"):
        raise status.bad_request("Object 'Kind' is missing in '" + raw[:200].decode(errors="replace") + "'")
    check_type(applied.get("kind"), applied.get("apiVersion"), reg.resource.kind, reg.resource.api_version)
    ResourceHandler(reg, info)._check_identity(applied, name=info.name)
    warnings[:] = check_fields(reg.resource, applied, b"", mode)
    applied["metadata"]["name"] = info.name
    if reg.resource.namespaced:
        applied["metadata"]["namespace"] = info.namespace
    type_name = _patch_type_name(reg)

    def mutate(old: Obj | None) -> Obj:
        return fieldmanager.apply(old, applied, manager=opts.field_manager, force=force,
                                  api_version=reg.resource.api_version, type_name=type_name,
                                  subresource=subresource, has_status=reg.strategy.has_status,
                                  versions=reg.versions)

    obj, created = await reg.update(info.namespace, info.name, mutate, dataclasses.replace(opts, applied=True),
                                    subresource=subresource, create_if_missing=mutate(None))
    return obj, created, warnings
