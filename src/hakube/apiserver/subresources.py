"""Subresources: /status, /scale (autoscaling/v1 Scale), pods/binding, pods/eviction,
namespaces/finalize, pods/log (API-COMPAT.md §5)."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from hakube.apiserver import handlers, status, timefmt
from hakube.apiserver.bodies import read_object, read_raw
from hakube.apiserver.registry import Registry
from hakube.apiserver.requestinfo import RequestInfo
from hakube.apiserver.selectors import label_selector_to_string
from hakube.apiserver.strategy import Obj


async def handle(reg: Registry, info: RequestInfo, request: web.Request) -> web.StreamResponse:
    sub = reg.resource.subresource(info.subresource)
    if sub is None or not info.name:
        raise status.not_found(f"{reg.resource.plural}/{info.subresource}", reg.resource.group, info.name)
    method = request.method
    verb = {"GET": "get", "PUT": "update", "PATCH": "patch", "POST": "create"}.get(method, "")
    if verb not in sub.verbs:
        raise status.method_not_allowed(
            f"the server does not allow this method on the requested resource ({method} "
            f"{reg.resource.plural}/{sub.name})")
    if sub.name == "status":
        return await _status(reg, info, request)
    if sub.name == "scale":
        return await _scale(reg, info, request)
    if sub.name == "binding":
        return await _binding(reg, info, request)
    if sub.name == "eviction":
        return await _eviction(reg, info, request)
    if sub.name == "finalize":
        return await _finalize(reg, info, request)
    if sub.name == "log":
        return await _log(reg, info, request)
    raise status.not_found(f"{reg.resource.plural}/{sub.name}", reg.resource.group, info.name)


def _success(code: int = 201) -> web.Response:
    return handlers.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                   "status": "Success", "code": code}, code=code)


async def _status(reg: Registry, info: RequestInfo, request: web.Request) -> web.Response:
    if request.method == "GET":
        return handlers.json_response(await reg.get(info.namespace, info.name))
    if request.method == "PATCH":
        obj, _, warnings = await handlers.apply_patch(reg, info, request, subresource="status")
        return handlers.json_response(obj, warnings=warnings)
    body = await read_object(request, reg.resource)
    desired = body.obj
    obj, _ = await reg.update(info.namespace, info.name, lambda _old: copy.deepcopy(desired),
                              handlers.write_options(request), subresource="status")
    return handlers.json_response(obj, warnings=body.warnings)


# -- scale ------------------------------------------------------------------------


def to_scale(obj: Obj) -> Obj:
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    selector = spec.get("selector") or {}
    try:
        selector_text = label_selector_to_string(selector) if isinstance(selector, dict) else ""
    except ValueError:
        selector_text = ""  # a stored selector the validation of its day let through
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in meta},
        "spec": {"replicas": spec.get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                   "selector": selector_text},
    }


async def _scale(reg: Registry, info: RequestInfo, request: web.Request) -> web.Response:
    if request.method == "GET":
        return handlers.json_response(to_scale(await reg.get(info.namespace, info.name)))
    opts = handlers.write_options(request)
    if request.method == "PUT":
        body = await read_object(request, reg.resource, kind="Scale", api_version="autoscaling/v1")
        desired = body.obj

        def from_body(old: Obj) -> Any:
            return desired
    else:
        from hakube.apiserver import codec

        ctype = codec.media_type(request.headers.get("Content-Type"))
        if ctype not in (codec.JSON_PATCH, codec.MERGE_PATCH, codec.STRATEGIC_MERGE_PATCH):
            raise status.unsupported_media_type(ctype or "<none>",
                                                [codec.JSON_PATCH, codec.MERGE_PATCH, codec.STRATEGIC_MERGE_PATCH])
        raw = await read_raw(request)

        def from_body(old: Obj) -> Any:
            return handlers.patch_document(to_scale(old), raw, ctype, type_name=None)

    def mutate(old: Obj) -> Obj:
        scale = from_body(old)
        replicas = (scale.get("spec") or {}).get("replicas")
        if replicas is None:
            # autoscaling/v1 ScaleSpec.replicas is `omitempty`: a Go client scaling to 0
            # (kubectl scale --current-replicas=N --replicas=0 PUTs the Scale) leaves it out.
            replicas = 0
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise status.invalid("Scale", "autoscaling", info.name, [{
                "reason": "FieldValueInvalid", "field": "spec.replicas",
                "message": f"Invalid value: {replicas}: must be greater than or equal to 0"}])
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise reg.conflict(info.name)
        old.setdefault("spec", {})["replicas"] = replicas
        old["metadata"].pop("resourceVersion", None)
        return old

    obj, _ = await reg.update(info.namespace, info.name, mutate, opts)
    return handlers.json_response(to_scale(obj))


# -- pods/binding and pods/eviction --------------------------------------------------


async def _binding(reg: Registry, info: RequestInfo, request: web.Request) -> web.Response:
    """BindingREST (k/k pkg/registry/core/pod/storage): set nodeName inside a CAS update."""
    body = await read_object(request, reg.resource, kind="Binding", api_version="v1")
    target = body.obj.get("target") or {}
    node = target.get("name")
    if not node:
        raise status.invalid("Binding", "", info.name, [{"reason": "FieldValueRequired",
                                                           "field": "target.name", "message": "Required value"}])
    binding_meta = body.obj.get("metadata") or {}
    annotations = binding_meta.get("annotations") or {}
    # The binding's uid and resourceVersion are preconditions (setPodNodeAndMetadata): a decision
    # made for one pod must not land on another created since under the same name.
    preconditions = {k: binding_meta[k] for k in ("uid", "resourceVersion") if binding_meta.get(k)}

    def bind(pod: Obj) -> Obj:
        meta, spec = pod["metadata"], pod.setdefault("spec", {})
        if preconditions:
            reg._check_preconditions(pod, preconditions)
        if meta.get("deletionTimestamp"):
            raise status.conflict("pods", "", info.name,
                                  f"pod {info.name} is being deleted, cannot be assigned to a host")
        if spec.get("nodeName"):
            raise status.conflict("pods", "", info.name,
                                  f'pod {info.name} is already assigned to node "{spec["nodeName"]}"')
        spec["nodeName"] = node
        if annotations:
            meta.setdefault("annotations", {}).update(annotations)
        conditions = [c for c in (pod.setdefault("status", {}).get("conditions") or [])
                      if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True",
                           "lastTransitionTime": timefmt.now_time(), "lastProbeTime": None})
        pod["status"]["conditions"] = conditions
        meta.pop("resourceVersion", None)
        return pod

    # An internal update: a "status" one would keep the stored spec and drop the nodeName just set.
    await reg.update(info.namespace, info.name, bind, handlers.write_options(request), subresource="binding")
    return _success()


async def _eviction(reg: Registry, info: RequestInfo, request: web.Request) -> web.Response:
    """The eviction API without PodDisruptionBudgets (those come with the policy group)."""
    body = await read_object(request, reg.resource, kind="Eviction", api_version="policy/v1")
    options = body.obj.get("deleteOptions") or {}
    await reg.delete(info.namespace, info.name, options=options, opts=handlers.write_options(request))
    return _success()


async def _finalize(reg: Registry, info: RequestInfo, request: web.Request) -> web.Response:
    body = await read_object(request, reg.resource)
    finalizers = (body.obj.get("spec") or {}).get("finalizers") or []

    def finalize(ns: Obj) -> Obj:
        ns.setdefault("spec", {})["finalizers"] = list(finalizers)
        ns["metadata"].pop("resourceVersion", None)
        return ns

    # Written as a status-style update: the namespace strategy keeps spec otherwise.
    obj, _ = await reg.update(info.namespace, info.name, finalize, handlers.write_options(request),
                              subresource="finalize")
    return handlers.json_response(obj)


# -- pods/log -------------------------------------------------------------------------

NO_LOGS = "hakube's hollow nodes run no containers and keep no logs"


async def _log(reg: Registry, info: RequestInfo, request: web.Request) -> web.Response:
    """There is never a log to read: say so in one clear Status rather than failing obscurely.

    kube-apiserver answers 400 BadRequest for a log it cannot serve (`container "c" in pod
    "p" is waiting to start`, pkg/registry/core/pod/strategy.go LogLocation); we answer the
    same way, after the same checks of the pod and the container name.
    """
    pod = await reg.get(info.namespace, info.name)
    spec = pod.get("spec") or {}
    names = [c.get("name", "") for key in ("initContainers", "containers", "ephemeralContainers")
             for c in spec.get(key) or []]
    container = request.query.get("container", "")
    if not container:
        if len(spec.get("containers") or []) != 1:
            raise status.bad_request(
                f"a container name must be specified for pod {info.name}, choose one of: "
                f"[{' '.join(c.get('name', '') for c in spec.get('containers') or [])}]")
        container = spec["containers"][0].get("name", "")
    elif container not in names:
        raise status.bad_request(f"container {container} is not valid for pod {info.name}")
    raise status.bad_request(f'container "{container}" in pod "{info.name}" has no logs: {NO_LOGS}')
