"""What a hollow kubelet writes: its Node, its Lease, node conditions and pod statuses.

Pure functions of their inputs and a timestamp, so the shapes are tested
without a cluster. The shapes follow what a 1.32 kubelet posts
(k/k `pkg/kubelet/kubelet_node_status.go`, `pkg/kubelet/nodestatus/setters.go`,
`pkg/kubelet/status/status_manager.go`), minus what needs real containers.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]

KUBELET_VERSION = "v1.32.4"
RUNTIME_VERSION = "hollow://1.0"
KUBELET_PORT = 10250
INSTANCE_TYPE = "hollow"
NODE_LEASE_NAMESPACE = "kube-node-lease"
# Hollow node addresses: 10.128.0.0/9 is far from the default pod (10.244/16) and service (10.96/12) ranges.
_NODE_IP_BASE = ipaddress.IPv4Address("10.128.0.1")


def now_time() -> str:
    """metav1.Time: RFC 3339, seconds, UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time() -> str:
    """metav1.MicroTime: six fractional digits (Lease renewTime)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def region_of(zone: str) -> str:
    """GCE-style zones name their region: `europe-west1-b` → `europe-west1`, `local-a` → `local`."""
    head, sep, _ = zone.rpartition("-")
    return head if sep and head else zone


# -- addressing --------------------------------------------------------------------------


def node_indices(names: Sequence[str]) -> dict[str, int]:
    """A number per node that fixes its pod CIDR and InternalIP.

    Names ending in `-<n>` with distinct n (what `hakube nodes add` gives:
    `hollow-<zone>-<n>`, n unique in the cluster) keep their n, so a node's
    addresses survive restarts and never collide across host processes;
    otherwise nodes are numbered by position (1, 2, …) within this process.
    """
    numbers: dict[str, int] = {}
    for name in names:
        m = re.search(r"-(\d+)$", name)
        if m is None:
            break
        numbers[name] = int(m.group(1))
    if len(numbers) == len(names) and len(set(numbers.values())) == len(names):
        return numbers
    return {name: i + 1 for i, name in enumerate(names)}


def pod_cidr(base: str, index: int) -> str:
    """`10.244` + node 5 → `10.244.5.0/24`; node 300 → `10.245.44.0/24` (a /24 per node, as kube's IPAM)."""
    first, second = (int(part) for part in base.split("."))
    second += index // 256
    if not (0 <= first <= 255 and 0 <= second <= 255):
        raise ValueError(f"node index {index} does not fit a /24 under {base}.0.0")
    return f"{first}.{second}.{index % 256}.0/24"


def node_ip(index: int) -> str:
    return str(_NODE_IP_BASE + index)


class IpAllocator:
    """Pod IPs from one node's podCIDR: .2 … .254 of the /24 (.1 is the bridge a real CNI keeps)."""

    def __init__(self, cidr: str) -> None:
        self.network = ipaddress.IPv4Network(cidr)
        self._by_key: dict[str, str] = {}
        self._used: set[str] = set()
        self._free = [str(ip) for ip in list(self.network.hosts())[1:]]
        self._free.reverse()  # pop() hands out the lowest first

    def get(self, key: str) -> str | None:
        return self._by_key.get(key)

    def allocate(self, key: str, preferred: str = "") -> str | None:
        """The key's address; a preferred one (a pod already running after a restart) if it is free."""
        have = self._by_key.get(key)
        if have is not None:
            return have
        ip = ""
        if preferred and preferred not in self._used and self._in_range(preferred):
            ip = preferred
            self._free.remove(preferred)
        while not ip and self._free:
            candidate = self._free.pop()
            if candidate not in self._used:
                ip = candidate
        if not ip:
            return None
        self._used.add(ip)
        self._by_key[key] = ip
        return ip

    def release(self, key: str) -> None:
        ip = self._by_key.pop(key, None)
        if ip is not None:
            self._used.discard(ip)
            self._free.append(ip)

    def _in_range(self, ip: str) -> bool:
        try:
            return ip in self._free and ipaddress.IPv4Address(ip) in self.network
        except ValueError:
            return False

    def __len__(self) -> int:
        return len(self._by_key)


# -- the Node and its Lease ------------------------------------------------------------------


@dataclass(frozen=True)
class NodeShape:
    """What every node of a host reports (kubelet flags and the machine it pretends to be)."""

    zone: str = ""
    region: str = ""
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    ephemeral_storage: str = "100Gi"


def node_conditions(previous: Sequence[Obj], now: str) -> list[Obj]:
    """Ready and the pressure conditions, keeping lastTransitionTime where the status did not change."""
    wanted = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    old = {c.get("type"): c for c in previous}
    conditions = []
    for kind, status, reason, message in wanted:
        prev = old.get(kind) or {}
        since = prev.get("lastTransitionTime") if prev.get("status") == status else None
        conditions.append({"type": kind, "status": status, "lastHeartbeatTime": now,
                           "lastTransitionTime": since or now, "reason": reason, "message": message})
    return conditions


def conditions_current(node: Obj) -> bool:
    """Whether the posted conditions are what this kubelet reports (nobody set them Unknown)."""
    want = {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False"}
    have = {c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []}
    return all(have.get(k) == v for k, v in want.items())


def node_labels(name: str, shape: NodeShape) -> dict[str, str]:
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": INSTANCE_TYPE,
    }
    if shape.zone:
        labels["topology.kubernetes.io/zone"] = shape.zone
    if shape.region:
        labels["topology.kubernetes.io/region"] = shape.region
    return labels


def node_status(name: str, *, ip: str, shape: NodeShape, previous: Sequence[Obj] = (), now: str) -> Obj:
    resources = {"cpu": shape.cpu, "memory": shape.memory, "pods": str(shape.pods),
                 "ephemeral-storage": shape.ephemeral_storage, "hugepages-2Mi": "0", "hugepages-1Gi": "0"}
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": node_conditions(previous, now),
        "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": digest[:32], "systemUUID": f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-"
                                                    f"{digest[16:20]}-{digest[20:32]}",
            "bootID": digest[32:64], "kernelVersion": "6.1.0-hollow", "osImage": "Hollow Node",
            "containerRuntimeVersion": RUNTIME_VERSION, "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": KUBELET_VERSION, "operatingSystem": "linux", "architecture": "amd64",
        },
        "images": [],
    }


def node_object(name: str, *, index: int, cidr: str, shape: NodeShape, now: str) -> Obj:
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": node_labels(name, shape),
                     "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                     "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr], "providerID": f"hollow://{name}"},
        "status": node_status(name, ip=node_ip(index), shape=shape, now=now),
    }


def lease_object(name: str, *, node_uid: str, duration: int) -> Obj:
    """The node's heartbeat (kubelet `nodelease`): holder = node name, owned by the Node."""
    meta: Obj = {"name": name, "namespace": NODE_LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": name, "leaseDurationSeconds": duration, "renewTime": micro_time()}}


# -- pods ------------------------------------------------------------------------------


_KUBELET_POD_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                           "PodScheduled")


def _image_id(image: str) -> str:
    return f"{image.split('@')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def running_status(pod: Obj, *, host_ip: str, pod_ip: str, now: str) -> Obj:
    """The status a kubelet posts once every container of `pod` runs and is ready.

    Times of what did not change are kept; a container whose image changed
    counts as restarted (the kubelet recreates it).
    """
    old: Obj = pod.get("status") or {}
    spec: Obj = pod.get("spec") or {}
    uid = (pod.get("metadata") or {}).get("uid", "")
    start = old.get("startTime") or now
    previous = {c.get("type"): c for c in old.get("conditions") or []}
    conditions = []
    for kind in _KUBELET_POD_CONDITIONS:
        prev = previous.get(kind) or {}
        since = prev.get("lastTransitionTime") if prev.get("status") == "True" else None
        conditions.append({"type": kind, "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": since or now})
    # Conditions others own (DisruptionTarget, readiness gates) stay as they are.
    conditions += [c for t, c in previous.items() if t not in _KUBELET_POD_CONDITIONS]
    old_containers = {c.get("name"): c for c in old.get("containerStatuses") or []}
    statuses = []
    for c in spec.get("containers") or []:
        name, image = c.get("name", ""), c.get("image", "")
        prev = old_containers.get(name) or {}
        restarted = bool(prev) and prev.get("image") != image
        running = (prev.get("state") or {}).get("running") or {}
        started = now if restarted else running.get("startedAt") or now
        status: Obj = {"name": name, "state": {"running": {"startedAt": started}}, "lastState": {},
                       "ready": True, "restartCount": int(prev.get("restartCount") or 0) + int(restarted),
                       "image": image, "imageID": _image_id(image), "containerID": f"hollow://{uid}/{name}",
                       "started": True}
        if restarted:
            status["lastState"] = {"terminated": {"exitCode": 0, "reason": "Completed",
                                                  "startedAt": running.get("startedAt") or start,
                                                  "finishedAt": now,
                                                  "containerID": prev.get("containerID", "")}}
        statuses.append(status)
    init_statuses = [
        {"name": c.get("name", ""), "ready": True, "restartCount": 0, "started": False,
         "image": c.get("image", ""), "imageID": _image_id(c.get("image", "")),
         "containerID": f"hollow://{uid}/{c.get('name', '')}", "lastState": {},
         "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": start, "finishedAt": start,
                                  "containerID": f"hollow://{uid}/{c.get('name', '')}"}}}
        for c in spec.get("initContainers") or []
    ]
    status = {**old, "phase": "Running", "conditions": conditions, "hostIP": host_ip,
              "hostIPs": [{"ip": host_ip}], "podIP": pod_ip, "podIPs": [{"ip": pod_ip}], "startTime": start,
              "containerStatuses": statuses}
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status.setdefault("qosClass", "BestEffort")
    return status


def is_running(pod: Obj, *, host_ip: str, pod_ip: str) -> bool:
    """Whether `pod` already shows what `running_status` would post (so nothing is written)."""
    status: Obj = pod.get("status") or {}
    if status.get("phase") != "Running" or status.get("podIP") != pod_ip or status.get("hostIP") != host_ip:
        return False
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    if any(conditions.get(kind) != "True" for kind in ("Ready", "ContainersReady", "Initialized")):
        return False
    have = {c.get("name"): c for c in status.get("containerStatuses") or []}
    for c in (pod.get("spec") or {}).get("containers") or []:
        s = have.get(c.get("name"))
        if s is None or not s.get("ready") or s.get("image") != c.get("image"):
            return False
    return True
