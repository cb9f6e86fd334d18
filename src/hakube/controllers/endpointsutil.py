"""What the endpoints and endpointslice controllers share: which pods back a Service, on
which ports, whether they are ready, and a guard against acting on a stale informer cache.

Mirrors k/k `pkg/api/v1/pod/util.go` (FindPort, IsPodReady),
`staging/src/k8s.io/endpointslice/util/controller_utils.go` (ShouldPodBeInEndpoints,
ShouldSetHostname) and the endpointslice controller's `EndpointSliceTracker`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from hakube.client.api import Obj
from hakube.client.informer import Informer

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS_LABEL = "service.kubernetes.io/headless"


def service_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


def pod_ready(pod: Obj) -> bool:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return bool(cond.get("status") == "True")
    return False


def pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [str(p.get("ip")) for p in status.get("podIPs") or [] if isinstance(p, dict) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return ips


def should_be_in_endpoints(pod: Obj, *, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not terminal, has an IP, and not terminating unless asked for."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not (pod.get("metadata") or {}).get("deletionTimestamp")


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"] and (
        pod["metadata"].get("namespace") == service["metadata"].get("namespace"))


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """FindPort: a numeric targetPort as is; a named one from the pod's container ports of the
    same protocol (sidecar init containers included)."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if not isinstance(target, str):
        return None
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = list(spec.get("containers") or [])
    containers += [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in containers:
        for port in container.get("ports") or []:
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port.get("containerPort") or 0) or None
    return None


def selected_pods(pods: Informer, service: Obj) -> list[Obj]:
    selector = (service.get("spec") or {}).get("selector") or {}
    namespace = service["metadata"].get("namespace")
    return [p for p in pods.items() if (p.get("metadata") or {}).get("namespace") == namespace
            and _matches(selector, (p.get("metadata") or {}).get("labels") or {})]


def services_for_pod(services: Informer, pod: Obj) -> list[str]:
    """Keys of the Services in the pod's namespace whose selector takes it."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    out = []
    for svc in services.items():
        selector = (svc.get("spec") or {}).get("selector")
        if svc["metadata"].get("namespace") == meta.get("namespace") and selector and _matches(selector, labels):
            out.append(service_key(svc))
    return out


def _matches(selector: dict[str, Any], labels: dict[str, Any]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def endpoint_facts(pod: Obj) -> tuple[Any, ...]:
    """What of a pod the endpoints depend on; a change elsewhere needs no sync (podEndpointsChanged)."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ports = [c.get("ports") for c in spec.get("containers") or []]
    return (pod_ips(pod), pod_ready(pod), meta.get("deletionTimestamp"), (pod.get("status") or {}).get("phase"),
            spec.get("nodeName"), spec.get("hostname"), spec.get("subdomain"), ports,
            sorted((meta.get("labels") or {}).items()))


def trigger_time(service: Obj, pods: list[Obj]) -> str:
    """The newest change behind these endpoints (EndpointsChangeTriggerTime): the Service's
    creation or a pod's last readiness transition (its creation when it has none)."""
    times = [str(service["metadata"].get("creationTimestamp") or "")]
    for pod in pods:
        when = pod["metadata"].get("creationTimestamp")
        for cond in (pod.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready" and cond.get("lastTransitionTime"):
                when = cond["lastTransitionTime"]
        times.append(str(when or ""))
    return max(times)


def address_family(ip: str) -> str:
    try:
        return "IPv6" if ipaddress.ip_address(ip).version == 6 else "IPv4"
    except ValueError:
        return ""


class WrittenVersions:
    """The resourceVersion we last wrote of each object, by the key it was written for, so a
    sync that finds an older copy in its informer (or none yet, or one we deleted) waits for
    the cache instead of acting on it (the endpointslice controller's EndpointSliceTracker)."""

    def __init__(self) -> None:
        self._written: dict[str, int] = {}  # uid -> resourceVersion; -1 once we deleted it
        self._by_key: dict[str, set[str]] = {}

    def wrote(self, key: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if meta.get("uid") and str(meta.get("resourceVersion") or "").isdigit():
            self._written[str(meta["uid"])] = int(meta["resourceVersion"])
            self._by_key.setdefault(key, set()).add(str(meta["uid"]))

    def deleted(self, key: str, uid: str) -> None:
        self._written[uid] = -1
        self._by_key.setdefault(key, set()).add(uid)

    def forget(self, key: str, uid: str) -> None:
        """The informer saw it deleted: nothing more to wait for."""
        self._written.pop(uid, None)
        uids = self._by_key.get(key)
        if uids is not None:
            uids.discard(uid)
            if not uids:
                del self._by_key[key]

    def stale(self, key: str, cached: list[Obj]) -> bool:
        seen = set()
        for obj in cached:
            meta = obj.get("metadata") or {}
            uid = str(meta.get("uid") or "")
            seen.add(uid)
            written = self._written.get(uid)
            if written is None:
                continue
            if written < 0 and not meta.get("deletionTimestamp"):
                return True  # we deleted it; the cache has not heard
            if written >= 0 and int(meta.get("resourceVersion") or 0) < written:
                return True
        return any(uid not in seen and self._written.get(uid, -1) >= 0 for uid in self._by_key.get(key, ()))


def services_to_resync(services: Informer, event_type: str, pod: Obj, old: Obj | None) -> set[str]:
    """Keys of the Services a pod change concerns: those selecting it before or after, unless
    nothing that endpoints show (addresses, readiness, ports) changed."""
    if event_type == "MODIFIED" and old is not None and endpoint_facts(old) == endpoint_facts(pod):
        return set()
    keys = set(services_for_pod(services, pod))
    if old is not None:
        keys |= set(services_for_pod(services, old))
    return keys
