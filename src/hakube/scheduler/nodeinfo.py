"""What the scheduler knows about a pod and a node, parsed once from the API objects.

`PodInfo` and `NodeInfo` mirror kube-scheduler's `framework.PodInfo` and
`framework.NodeInfo` (k/k `pkg/scheduler/framework/types.go`): a node's
allocatable, the sum of what the pods on it request (exact, and with the
scoring defaults for pods that request nothing), its used host ports and its
pods, so filters and scores read integers and sets instead of JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hakube.scheduler.matching import (
    NOTHING,
    LabelSelector,
    NodeSelectorTerm,
    RequiredNodeAffinity,
    Taint,
    Toleration,
    label_selector,
    preferred_node_affinity,
    required_node_affinity,
    taints_of,
    tolerations_of,
)
from hakube.scheduler.resources import Resources, pod_non_zero_requests, pod_requests, resources_from_list

Obj = dict[str, Any]

HOSTNAME = "kubernetes.io/hostname"
ZONE = "topology.kubernetes.io/zone"
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"

# Owners whose pods are spread by default (PodTopologySpread's system defaults take
# their selector from services, RCs, RSs and StatefulSets: plugins/helper DefaultSelector).
SPREAD_OWNER_KINDS = frozenset({"ReplicaSet", "ReplicationController", "StatefulSet"})


def pod_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A required or preferred pod (anti-)affinity term (framework.AffinityTerm)."""

    namespaces: frozenset[str]
    namespace_selector: LabelSelector
    selector: LabelSelector
    topology_key: str
    weight: int = 0

    def matches(self, pod: PodInfo, ns_labels: Mapping[str, Mapping[str, str]]) -> bool:
        """schedutil.PodMatchesTermsNamespaceAndSelector."""
        if pod.namespace not in self.namespaces and not (
                not self.namespace_selector.nothing
                and self.namespace_selector.matches(ns_labels.get(pod.namespace, {}))):
            return False
        return self.selector.matches(pod.labels)


def _affinity_terms(namespace: str, items: list[Obj] | None, *, weighted: bool) -> tuple[AffinityTerm, ...]:
    out = []
    for item in items or []:
        term = (item.get("podAffinityTerm") or {}) if weighted else item
        namespaces = frozenset(term.get("namespaces") or [])
        ns_selector = label_selector(term.get("namespaceSelector")) if "namespaceSelector" in term else NOTHING
        if not namespaces and ns_selector.nothing:
            namespaces = frozenset({namespace})
        selector = label_selector(term.get("labelSelector"))
        out.append(AffinityTerm(namespaces, ns_selector, selector, str(term.get("topologyKey") or ""),
                                int(item.get("weight") or 0) if weighted else 0))
    return tuple(out)


@dataclass(slots=True, eq=False)
class PodInfo:
    key: str
    uid: str
    namespace: str
    name: str
    labels: dict[str, str]
    obj: Obj
    requests: Resources
    non_zero_cpu: int
    non_zero_memory: int
    host_ports: tuple[tuple[str, str, int], ...]
    owner_uid: str  # the controlling ReplicaSet/RC/StatefulSet, for default spreading
    priority: int
    terminating: bool
    node_affinity: RequiredNodeAffinity
    preferred_node_affinity: tuple[tuple[int, NodeSelectorTerm], ...]
    tolerations: tuple[Toleration, ...]
    affinity: tuple[AffinityTerm, ...]
    anti_affinity: tuple[AffinityTerm, ...]
    preferred_affinity: tuple[AffinityTerm, ...]
    preferred_anti_affinity: tuple[AffinityTerm, ...]
    spread_constraints: tuple[Obj, ...]
    node_name: str = ""

    @property
    def has_required_pod_affinity(self) -> bool:
        return bool(self.affinity or self.anti_affinity)


def pod_info(obj: Obj) -> PodInfo:
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    namespace = str(meta.get("namespace") or "default")
    ports = []
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            host_port = int(port.get("hostPort") or 0)
            if host_port > 0:
                ports.append((str(port.get("hostIP") or "0.0.0.0"), str(port.get("protocol") or "TCP"), host_port))
    owner_uid = ""
    for ref in meta.get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") in SPREAD_OWNER_KINDS:
            owner_uid = str(ref.get("uid") or "")
    affinity = spec.get("affinity") or {}
    pod_aff = affinity.get("podAffinity") or {}
    pod_anti = affinity.get("podAntiAffinity") or {}
    cpu, memory = pod_non_zero_requests(spec)
    return PodInfo(
        key=f"{namespace}/{meta.get('name')}", uid=str(meta.get("uid") or ""), namespace=namespace,
        name=str(meta.get("name") or ""), labels=dict(meta.get("labels") or {}), obj=obj,
        requests=pod_requests(spec), non_zero_cpu=cpu, non_zero_memory=memory, host_ports=tuple(ports),
        owner_uid=owner_uid, priority=int(spec.get("priority") or 0),
        terminating=bool(meta.get("deletionTimestamp")),
        node_affinity=required_node_affinity(spec), preferred_node_affinity=preferred_node_affinity(spec),
        tolerations=tolerations_of(spec.get("tolerations")),
        affinity=_affinity_terms(namespace, pod_aff.get("requiredDuringSchedulingIgnoredDuringExecution"),
                                 weighted=False),
        anti_affinity=_affinity_terms(namespace, pod_anti.get("requiredDuringSchedulingIgnoredDuringExecution"),
                                      weighted=False),
        preferred_affinity=_affinity_terms(
            namespace, pod_aff.get("preferredDuringSchedulingIgnoredDuringExecution"), weighted=True),
        preferred_anti_affinity=_affinity_terms(
            namespace, pod_anti.get("preferredDuringSchedulingIgnoredDuringExecution"), weighted=True),
        spread_constraints=tuple(spec.get("topologySpreadConstraints") or ()),
        node_name=str(spec.get("nodeName") or ""),
    )


def _condition_taint(status: Obj, taints: tuple[Taint, ...]) -> Taint | None:
    """The taint the node lifecycle controller puts on a node that is not Ready
    (TaintNodesByCondition: k/k pkg/controller/nodelifecycle), unless it is already there."""
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = (ready or {}).get("status", "Unknown")
    if state == "True":
        return None
    key = TAINT_NOT_READY if state == "False" else TAINT_UNREACHABLE
    if any(t.key == key and t.effect == "NoSchedule" for t in taints):
        return None
    return Taint(key, "", "NoSchedule")


@dataclass(slots=True, eq=False)
class NodeInfo:
    name: str
    obj: Obj | None = None  # None: pods refer to a node we have not seen (or no longer see)
    labels: dict[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    unschedulable: bool = False
    allocatable: Resources = field(default_factory=Resources)
    requested: Resources = field(default_factory=Resources)
    non_zero_cpu: int = 0
    non_zero_memory: int = 0
    pods: dict[str, PodInfo] = field(default_factory=dict)
    used_ports: dict[tuple[str, str, int], int] = field(default_factory=dict)
    pods_with_affinity: int = 0  # pods here with required (anti-)affinity terms

    def set_node(self, obj: Obj) -> None:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        self.obj = obj
        self.labels = dict((obj.get("metadata") or {}).get("labels") or {})
        taints = taints_of(spec.get("taints"))
        implicit = _condition_taint(status, taints)
        self.taints = (*taints, implicit) if implicit else taints
        self.unschedulable = bool(spec.get("unschedulable"))
        # Upstream uses status.allocatable only; a node that reports just capacity is read as
        # allocating all of it rather than nothing.
        self.allocatable = resources_from_list(status.get("allocatable") or status.get("capacity"))

    def add_pod(self, pod: PodInfo, sign: int = 1) -> None:
        self.requested.add(pod.requests, sign)
        self.non_zero_cpu += sign * pod.non_zero_cpu
        self.non_zero_memory += sign * pod.non_zero_memory
        if pod.has_required_pod_affinity:
            self.pods_with_affinity += sign
        for port in pod.host_ports:
            count = self.used_ports.get(port, 0) + sign
            if count > 0:
                self.used_ports[port] = count
            else:
                self.used_ports.pop(port, None)
        if sign > 0:
            self.pods[pod.key] = pod
        else:
            self.pods.pop(pod.key, None)

    def ports_conflict(self, ports: tuple[tuple[str, str, int], ...]) -> bool:
        """HostPortInfo.CheckConflict: 0.0.0.0 conflicts with every IP on the same protocol/port."""
        for ip, protocol, port in ports:
            for used_ip, used_protocol, used_port in self.used_ports:
                if used_port == port and used_protocol == protocol and (
                        ip == used_ip or ip == "0.0.0.0" or used_ip == "0.0.0.0"):
                    return True
        return False
