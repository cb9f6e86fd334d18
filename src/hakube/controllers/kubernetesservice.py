"""The `default/kubernetes` Service, its Endpoints and its EndpointSlice.

Pods reach the API server at the first address of the service range,
10.96.0.1:443, which leads to the cluster's external IP on the secure port
(as kube-up points it at the master's public IP). The objects are created
when missing, put right when changed, and follow the external IP when the
controller-manager is restarted with another one. The Service has no
selector: the endpoints controllers leave its Endpoints to this one (k/k
`pkg/controlplane/controller/kubernetesservice/controller.go`,
`pkg/controlplane/reconcilers/endpointsadapter.go`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable

from hakube.client.api import ENDPOINTS, ENDPOINTSLICES, SERVICES, ApiClient, ApiError, Obj, ResourceRef
from hakube.controllers.base import ControllerContext

log = logging.getLogger(__name__)

NAMESPACE = "default"
NAME = "kubernetes"
SERVICE_IP = "10.96.0.1"  # the first address of the default service range 10.96.0.0/12
SERVICE_PORT = 443
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"


def desired_service() -> Obj:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": NAME, "namespace": NAMESPACE,
                     "labels": {"provider": "kubernetes", "component": "apiserver"}},
        "spec": {"type": "ClusterIP", "clusterIP": SERVICE_IP, "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": SERVICE_PORT, "protocol": "TCP", "targetPort": 0}]},
    }


def desired_endpoints(ip: str, port: int) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {SKIP_MIRROR_LABEL: "true"}},
            "subsets": [{"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]}


def desired_slice(ip: str, port: int) -> Obj:
    """getEndpointSliceFromEndpoints."""
    family = "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": {"kubernetes.io/service-name": NAME}},
            "addressType": family,
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
            "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}


class KubernetesServiceController:
    name = "kubernetes-service"

    def __init__(self, *, interval: float = 10.0) -> None:
        self.interval = interval  # EndpointInterval upstream
        self._wake = asyncio.Event()

    def setup(self, ctx: ControllerContext) -> None:
        for ref in (SERVICES, ENDPOINTS, ENDPOINTSLICES):
            ctx.informers.get(ref).add_handler(self._on_event)

    def _on_event(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("namespace") == NAMESPACE and meta.get("name") == NAME:
            self._wake.set()

    async def run(self, ctx: ControllerContext) -> None:
        port = ctx.settings.external_port
        target = desired_service()
        target["spec"]["ports"][0]["targetPort"] = port
        while True:
            self._wake.clear()
            try:
                said = await self.reconcile(ctx.client, target, ctx.settings.external_ip, port)
                if said:
                    log.info("%s", said)
            except ApiError as err:
                log.warning("kubernetes-service: %s", err)
            except Exception:  # the next round tries again
                log.exception("kubernetes-service: reconcile failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval)
                await asyncio.sleep(0.05)  # let a burst of events settle
            except TimeoutError:
                pass

    async def reconcile(self, client: ApiClient, service: Obj, ip: str, port: int) -> str:
        done = []
        if await _ensure(client, SERVICES, service, _service_fields):
            done.append("Service")
        if not ip:
            return "kubernetes-service: no external IP set; Endpoints left alone" if done else ""
        if await _ensure(client, ENDPOINTS, desired_endpoints(ip, port), _endpoints_fields):
            done.append("Endpoints")
        if await _ensure(client, ENDPOINTSLICES, desired_slice(ip, port), _slice_fields):
            done.append("EndpointSlice")
        return f"kubernetes-service: wrote {', '.join(done)} of {NAMESPACE}/{NAME} ({ip}:{port})" if done else ""


def _service_fields(obj: Obj) -> object:
    """getMasterServiceUpdateIfNeeded: only the ports and the type are put right."""
    spec = obj.get("spec") or {}
    ports = [{k: p.get(k) for k in ("name", "port", "protocol", "targetPort")} for p in spec.get("ports") or []]
    return ports, spec.get("type")


def _endpoints_fields(obj: Obj) -> object:
    return obj.get("subsets"), (obj["metadata"].get("labels") or {}).get(SKIP_MIRROR_LABEL)


def _slice_fields(obj: Obj) -> object:
    return (obj.get("addressType"), obj.get("endpoints"), obj.get("ports"),
            (obj["metadata"].get("labels") or {}).get("kubernetes.io/service-name"))


async def _ensure(client: ApiClient, ref: ResourceRef, want: Obj, fields: Callable[[Obj], object]) -> bool:
    """Create `want`, or update the fields that matter when they differ. True if it wrote."""
    try:
        current = await client.get(ref, NAME, NAMESPACE)
    except ApiError as err:
        if not err.not_found:
            raise
        try:
            await client.create(ref, want, NAMESPACE)
        except ApiError as create_err:
            if create_err.code == 409:
                return False  # someone was quicker; look again next round
            raise
        return True
    if fields(current) == fields(want):
        return False
    if "addressType" in want and current.get("addressType") != want["addressType"]:
        # addressType is immutable: the slice is replaced (the external IP changed family).
        await client.delete(ref, NAME, NAMESPACE, preconditions={"uid": current["metadata"]["uid"]})
        await client.create(ref, want, NAMESPACE)
        return True
    updated = dict(current)
    for key, value in want.items():
        if key == "metadata":
            updated["metadata"] = {**current["metadata"],
                                   "labels": {**(current["metadata"].get("labels") or {}), **value["labels"]}}
        elif key == "spec":
            updated["spec"] = {**(current.get("spec") or {}), "ports": value["ports"], "type": value["type"]}
        elif key not in ("apiVersion", "kind"):
            updated[key] = value
    await client.replace(ref, updated)
    return True
