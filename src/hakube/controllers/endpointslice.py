"""The endpointslice controller: discovery.k8s.io/v1 EndpointSlices for every Service with a selector.

Each pod that should be in the endpoints (terminating ones included) is an
endpoint with conditions ready / serving / terminating, its targetRef,
nodeName and zone (from its Node's topology label). Endpoints are grouped by
the ports they resolve to, at most 100 to a slice; a Service with no
endpoints keeps one empty placeholder slice. Slices are labelled
`kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by`, and
owned by their Service, so the garbage collector removes them with it (k/k
`pkg/controller/endpointslice/endpointslice_controller.go`,
`staging/src/k8s.io/endpointslice/reconciler.go` and `utils.go` podToEndpoint,
getEndpointPorts, newEndpointSlice).

Unlike upstream, which moves as few endpoints as it can between slices, the
endpoints of one port set are sorted and cut into slices afresh each sync.
"""

from __future__ import annotations

import logging
from typing import Any

from hakube.client.api import ENDPOINTSLICES, NODES, PODS, SERVICES, ApiClient, ApiError, Obj
from hakube.client.informer import Informer
from hakube.client.workqueue import WorkQueue
from hakube.controllers.base import ControllerContext, run_queue
from hakube.controllers.endpointsutil import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    WrittenVersions,
    address_family,
    find_port,
    pod_ips,
    pod_ready,
    selected_pods,
    service_key,
    services_to_resync,
    should_be_in_endpoints,
    should_set_hostname,
    trigger_time,
)

log = logging.getLogger(__name__)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100  # --max-endpoints-per-slice


def _ports(service: Obj, pod: Obj) -> list[Obj]:
    """getEndpointPorts: every Service port that resolves on this pod."""
    out = []
    for service_port in (service.get("spec") or {}).get("ports") or []:
        number = find_port(pod, service_port)
        if number is None:
            continue
        port: Obj = {"name": service_port.get("name") or "", "protocol": service_port.get("protocol") or "TCP",
                     "port": number}
        if service_port.get("appProtocol"):
            port["appProtocol"] = service_port["appProtocol"]
        out.append(port)
    return out


def _endpoint(pod: Obj, node: Obj | None, service: Obj, address_type: str) -> Obj:
    """podToEndpoint."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    serving = pod_ready(pod)
    terminating = bool(meta.get("deletionTimestamp"))
    # Never ready while terminating, unless the Service publishes addresses that are not ready.
    ready = bool((service.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: Obj = {
        "addresses": [ip for ip in pod_ips(pod) if address_family(ip) == address_type][:1],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
        "targetRef": {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
                      "uid": meta.get("uid")},
    }
    if spec.get("nodeName"):
        endpoint["nodeName"] = spec["nodeName"]
    zone = ((node or {}).get("metadata") or {}).get("labels", {}).get(ZONE_LABEL)
    if zone:
        endpoint["zone"] = zone
    if should_set_hostname(pod, service):
        endpoint["hostname"] = spec["hostname"]
    return endpoint


def _labels(service: Obj) -> dict[str, str]:
    """setEndpointSliceLabels: the Service's labels, then ours."""
    reserved = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)
    labels = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in reserved}
    labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if (service.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


def _key(ports: list[Obj]) -> tuple[Any, ...]:
    return tuple(sorted(tuple(sorted(p.items())) for p in ports))


def _owner(service: Obj) -> Obj:
    meta = service["metadata"]
    return {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta["uid"], "controller": True,
            "blockOwnerDeletion": True}


class EndpointSliceController:
    name = "endpointslice"

    def __init__(self) -> None:
        self.queue = WorkQueue()
        self._written = WrittenVersions()
        self._services: Informer | None = None
        self._pods: Informer | None = None
        self._slices: Informer | None = None
        self._nodes: Informer | None = None

    def setup(self, ctx: ControllerContext) -> None:
        self._services = ctx.informers.get(SERVICES)
        self._pods = ctx.informers.get(PODS)
        self._slices = ctx.informers.get(ENDPOINTSLICES)
        self._nodes = ctx.informers.get(NODES)
        self._services.add_handler(lambda _t, obj, _old: self.queue.add(service_key(obj)))
        self._pods.add_handler(self._on_pod)
        self._slices.add_handler(self._on_slice)

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        assert self._services is not None
        for key in services_to_resync(self._services, event_type, pod, old):
            self.queue.add(key)

    def _on_slice(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        meta = obj.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
            return
        key = f"{meta.get('namespace')}/{labels[SERVICE_NAME_LABEL]}"
        if event_type == "DELETED":
            self._written.forget(key, str(meta.get("uid")))
        self.queue.add(key)

    async def run(self, ctx: ControllerContext) -> None:
        await run_queue(self.queue, lambda key: self.sync(ctx.client, key), workers=ctx.settings.workers,
                        name=self.name, log=log)

    def _existing(self, namespace: str, name: str) -> list[Obj]:
        assert self._slices is not None
        return [s for s in self._slices.items()
                if s["metadata"].get("namespace") == namespace
                and (s["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL) == name
                and (s["metadata"].get("labels") or {}).get(MANAGED_BY_LABEL) == CONTROLLER_NAME]

    async def sync(self, client: ApiClient, key: str) -> str:
        assert self._services is not None and self._pods is not None and self._nodes is not None
        namespace, name = key.split("/", 1)
        service = self._services.get(key)
        if service is None or (service.get("spec") or {}).get("type") == "ExternalName" or not (
                (service.get("spec") or {}).get("selector")):
            return ""  # slices of a deleted Service go with it (ownerReference)
        existing = self._existing(namespace, name)
        if self._written.stale(key, existing):
            self.queue.add_after(key, 0.05)
            return ""
        existing = [s for s in existing if not s["metadata"].get("deletionTimestamp")]
        spec = service.get("spec") or {}
        families = spec.get("ipFamilies") or ["IPv4"]
        pods = selected_pods(self._pods, service)
        missing_node = False
        desired: dict[tuple[str, tuple[Any, ...]], tuple[list[Obj], list[Obj]]] = {}
        for pod in pods:
            if not should_be_in_endpoints(pod, include_terminating=True):
                continue
            node_name = (pod.get("spec") or {}).get("nodeName")
            node = self._nodes.get(node_name) if node_name else None
            if node_name and node is None and not spec.get("publishNotReadyAddresses"):
                missing_node = True  # left out, and looked at again later (reconciler.go)
                continue
            ports = _ports(service, pod)
            for family in families:
                endpoint = _endpoint(pod, node, service, family)
                if endpoint["addresses"]:
                    desired.setdefault((family, _key(ports)), (ports, []))[1].append(endpoint)
        said = await self._reconcile(client, service, existing, desired, trigger_time(service, pods))
        if missing_node:
            self.queue.add_after(key, 1.0)
        return said

    async def _reconcile(self, client: ApiClient, service: Obj, existing: list[Obj],
                         desired: dict[tuple[str, tuple[Any, ...]], tuple[list[Obj], list[Obj]]],
                         trigger: str) -> str:
        namespace, key = service["metadata"]["namespace"], service_key(service)
        labels = _labels(service)
        # (address type, ports) -> the existing slices for it, oldest name first.
        by_key: dict[tuple[str, tuple[Any, ...]], list[Obj]] = {}
        for s in sorted(existing, key=lambda s: s["metadata"]["name"]):
            by_key.setdefault((s.get("addressType", ""), _key(s.get("ports") or [])), []).append(s)
        if not desired:  # the placeholder: one empty slice
            family = ((service.get("spec") or {}).get("ipFamilies") or ["IPv4"])[0]
            desired = {(family, ()): ([], [])}
        updates: list[tuple[Obj, Obj]] = []  # (current, wanted)
        creates: list[Obj] = []
        kept: set[str] = set()
        for slice_key, (ports, endpoints) in sorted(desired.items(), key=lambda kv: repr(kv[0])):
            endpoints.sort(key=lambda e: (e["targetRef"]["name"], e["addresses"]))
            chunks = [endpoints[i:i + MAX_ENDPOINTS_PER_SLICE]
                      for i in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE)] or [[]]
            slots = by_key.get(slice_key, [])
            for i, chunk in enumerate(chunks):
                wanted: Obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                               "addressType": slice_key[0], "endpoints": chunk, "ports": ports}
                current = slots[i] if i < len(slots) else None
                if current is None:
                    creates.append(wanted)
                    continue
                kept.add(current["metadata"]["uid"])
                if ((current.get("endpoints") or []) != chunk or (current.get("ports") or []) != ports
                        or (current["metadata"].get("labels") or {}) != labels):
                    updates.append((current, wanted))
        deletes = [s for s in existing if s["metadata"]["uid"] not in kept]
        # A create and a delete of the same address type become an update (reconciler.go).
        for wanted in list(creates):
            reuse = next((s for s in deletes if s.get("addressType") == wanted["addressType"]
                          and any(r.get("uid") == service["metadata"]["uid"]
                                  for r in s["metadata"].get("ownerReferences") or [])), None)
            if reuse is not None:
                deletes.remove(reuse)
                creates.remove(wanted)
                updates.append((reuse, wanted))
        for current, wanted in updates:
            meta = {k: v for k, v in current["metadata"].items() if k != "managedFields"}
            meta["labels"] = labels
            meta["annotations"] = {**(meta.get("annotations") or {}), LAST_CHANGE_TRIGGER_TIME: trigger}
            self._written.wrote(key, await client.replace(ENDPOINTSLICES, {**wanted, "metadata": meta}))
        for wanted in creates:
            meta = {"generateName": f"{service['metadata']['name']}-", "namespace": namespace, "labels": labels,
                    "annotations": {LAST_CHANGE_TRIGGER_TIME: trigger}, "ownerReferences": [_owner(service)]}
            try:
                self._written.wrote(key, await client.create(ENDPOINTSLICES, {**wanted, "metadata": meta},
                                                             namespace))
            except ApiError as err:
                causes = (err.status.get("details") or {}).get("causes") or []
                if any(c.get("reason") == "NamespaceTerminating" for c in causes):
                    return ""  # the namespace is going away; so will the Service
                raise
        for s in deletes:
            uid = s["metadata"]["uid"]
            try:
                await client.delete(ENDPOINTSLICES, s["metadata"]["name"], namespace, preconditions={"uid": uid})
            except ApiError as err:
                if not (err.not_found or err.conflict):
                    raise
            self._written.deleted(key, uid)
        if not (creates or updates or deletes):
            return ""
        total = sum(len(e) for _p, e in desired.values())
        return (f"endpointslice: {key}: {total} endpoint(s); slices created {len(creates)}, "
                f"updated {len(updates)}, deleted {len(deletes)}")
