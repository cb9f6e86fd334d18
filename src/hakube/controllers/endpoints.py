"""The endpoints controller: core/v1 Endpoints for every Service with a selector.

Ready pods are `addresses`, pods not ready are `notReadyAddresses` (both, with
publishNotReadyAddresses, as ready), each with its targetRef and nodeName;
ports are the Service's, named targetPorts resolved against each pod's
container ports; addresses offering the same ports are packed into one subset.
The Endpoints of a deleted Service are deleted; a Service without a selector is
left to whoever manages its Endpoints (k/k
`pkg/controller/endpoint/endpoints_controller.go` syncService,
`pkg/api/v1/endpoints/util.go` RepackSubsets).
"""

from __future__ import annotations

import logging
from typing import Any

from hakube.client.api import ENDPOINTS, PODS, SERVICES, ApiClient, ApiError, Obj
from hakube.client.informer import Informer
from hakube.client.workqueue import WorkQueue
from hakube.controllers.base import ControllerContext, run_queue
from hakube.controllers.endpointsutil import (
    HEADLESS_LABEL,
    LAST_CHANGE_TRIGGER_TIME,
    WrittenVersions,
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


def _address(pod: Obj, service: Obj) -> Obj:
    """podToEndpointAddressForService."""
    meta, spec = pod["metadata"], pod.get("spec") or {}
    address: Obj = {"ip": pod_ips(pod)[0]}
    if should_set_hostname(pod, service):
        address["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        address["nodeName"] = spec["nodeName"]
    address["targetRef"] = {"kind": "Pod", "namespace": meta.get("namespace"), "name": meta.get("name"),
                            "uid": meta.get("uid")}
    return address


def _port(service_port: Obj, number: int) -> Obj:
    port: Obj = {"port": number, "protocol": service_port.get("protocol") or "TCP"}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


def desired_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    spec = service.get("spec") or {}
    tolerate_unready = bool(spec.get("publishNotReadyAddresses"))
    ports = spec.get("ports") or []
    # port (frozen; None for a headless service without ports) -> address key -> (address, ready)
    by_port: dict[Any, dict[tuple[str, str], tuple[Obj, bool]]] = {}
    port_of: dict[Any, Obj | None] = {}
    for pod in pods:
        if not should_be_in_endpoints(pod, include_terminating=tolerate_unready):
            continue
        address = _address(pod, service)
        ready = tolerate_unready or pod_ready(pod)
        key = (address["ip"], str(address["targetRef"]["uid"]))
        if not ports:
            if spec.get("clusterIP") == "None":
                by_port.setdefault(None, {})[key] = (address, ready)
                port_of[None] = None
            continue
        for service_port in ports:
            number = find_port(pod, service_port)
            if number is None:
                continue
            port = _port(service_port, number)
            frozen = _freeze(port)
            by_port.setdefault(frozen, {})[key] = (address, ready)
            port_of[frozen] = port
    # RepackSubsets: ports offered by the same set of (address, readiness) share a subset.
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[Any]] = {}
    members: dict[frozenset[tuple[tuple[str, str], bool]], dict[tuple[str, str], tuple[Obj, bool]]] = {}
    for frozen, addresses in by_port.items():
        group = frozenset((k, ready) for k, (_a, ready) in addresses.items())
        groups.setdefault(group, []).append(frozen)
        members[group] = addresses
    subsets = []
    for group, frozen_ports in groups.items():
        addresses = members[group]
        subset: Obj = {}
        ready_addresses = [a for _k, (a, r) in sorted(addresses.items()) if r]
        not_ready_addresses = [a for _k, (a, r) in sorted(addresses.items()) if not r]
        if ready_addresses:
            subset["addresses"] = ready_addresses
        if not_ready_addresses:
            subset["notReadyAddresses"] = not_ready_addresses
        port_list = [port_of[f] for f in frozen_ports if port_of[f] is not None]
        if port_list:
            subset["ports"] = sorted(port_list, key=lambda p: (p.get("name", ""), p["port"], p["protocol"]))
        subsets.append(subset)
    return sorted(subsets, key=lambda s: _freeze([s.get("ports") or [], s.get("addresses") or [],
                                                  s.get("notReadyAddresses") or []]))


class EndpointsController:
    name = "endpoints"

    def __init__(self) -> None:
        self.queue = WorkQueue()
        self._written = WrittenVersions()
        self._services: Informer | None = None
        self._pods: Informer | None = None
        self._endpoints: Informer | None = None

    def setup(self, ctx: ControllerContext) -> None:
        self._services = ctx.informers.get(SERVICES)
        self._pods = ctx.informers.get(PODS)
        self._endpoints = ctx.informers.get(ENDPOINTS)
        self._services.add_handler(lambda _t, obj, _old: self.queue.add(service_key(obj)))
        self._pods.add_handler(self._on_pod)
        self._endpoints.add_handler(self._on_endpoints)

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        assert self._services is not None
        for key in services_to_resync(self._services, event_type, pod, old):
            self.queue.add(key)

    def _on_endpoints(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        if event_type == "DELETED":
            self._written.forget(service_key(obj), str(obj["metadata"].get("uid")))
            self.queue.add(service_key(obj))  # recreate it if its Service still wants it

    async def run(self, ctx: ControllerContext) -> None:
        await run_queue(self.queue, lambda key: self.sync(ctx.client, key), workers=ctx.settings.workers,
                        name=self.name, log=log)

    async def sync(self, client: ApiClient, key: str) -> str:
        assert self._services is not None and self._pods is not None and self._endpoints is not None
        namespace, name = key.split("/", 1)
        service = self._services.get(key)
        current = self._endpoints.get(key)
        if service is None:
            if current is None:
                return ""
            try:
                await client.delete(ENDPOINTS, name, namespace, preconditions={"uid": current["metadata"]["uid"]})
            except ApiError as err:
                if not (err.not_found or err.conflict):
                    raise
            self._written.deleted(key, str(current["metadata"]["uid"]))
            return f"endpoints: deleted {key} (its Service is gone)"
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or not spec.get("selector"):
            return ""
        if self._written.stale(key, [current] if current is not None else []):
            self.queue.add_after(key, 0.05)
            return ""
        pods = selected_pods(self._pods, service)
        subsets = desired_subsets(service, pods)
        labels = dict(service["metadata"].get("labels") or {})
        if spec.get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        if current is not None and (current.get("subsets") or []) == subsets and (
                (current["metadata"].get("labels") or {}) == labels):
            return ""
        annotations = dict((current or {}).get("metadata", {}).get("annotations") or {})
        annotations[LAST_CHANGE_TRIGGER_TIME] = trigger_time(service, pods)
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "namespace": namespace, "labels": labels,
                                  "annotations": annotations},
                     "subsets": subsets}
        try:
            if current is None:
                written = await client.create(ENDPOINTS, body, namespace)
            else:
                body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
                written = await client.replace(ENDPOINTS, body)
        except ApiError as err:
            causes = (err.status.get("details") or {}).get("causes") or []
            if any(c.get("reason") == "NamespaceTerminating" for c in causes):
                return ""  # the namespace is going away; so will the Service
            raise
        self._written.wrote(key, written)
        ready = sum(len(s.get("addresses") or []) for s in subsets)
        not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
        return f"endpoints: {key}: {ready} ready, {not_ready} not ready address(es)"
