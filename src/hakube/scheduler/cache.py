"""The scheduler's in-memory picture of nodes and of the pods bound or about to be bound to them.

Mirrors kube-scheduler's cache (k/k `pkg/scheduler/backend/cache/cache.go`):
pods seen bound by the informer are *added*; a pod the scheduler has just
placed is *assumed* onto its node at once — before the binding is even sent —
so the next decision already counts it and two pods can never be booked into
the same room; when the informer then shows the pod bound the assumption is
*confirmed*, and if the binding fails it is *forgotten*. Pods are keyed by
uid, as upstream does, so a pod deleted and recreated under the same name is
a different pod.

Nodes are iterated zone by zone, round robin (upstream `node_tree.go`), so
that a scheduler that only examines part of a large cluster still samples
every zone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from hakube.scheduler.nodeinfo import ZONE, NodeInfo, PodInfo

log = logging.getLogger(__name__)

Obj = dict[str, Any]
REGION = "topology.kubernetes.io/region"


@dataclass(slots=True)
class _PodState:
    info: PodInfo
    node: str
    assumed: bool


class SchedulerCache:
    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}
        self._pods: dict[str, _PodState] = {}
        self._order: list[NodeInfo] | None = None
        # owner uid -> node name -> pods (not terminating): default spreading without rescans.
        self.owner_counts: dict[str, dict[str, int]] = {}
        # Pods with required (anti-)affinity terms: every placement checks them (symmetry).
        self.affinity_pods: dict[str, PodInfo] = {}
        self.namespace_labels: dict[str, dict[str, str]] = {}

    # -- nodes -------------------------------------------------------------------------

    def node_list(self) -> list[NodeInfo]:
        """Nodes that exist, interleaved by zone."""
        if self._order is None:
            zones: dict[str, list[NodeInfo]] = {}
            for info in self.nodes.values():
                if info.obj is not None:
                    zone = f"{info.labels.get(REGION, '')}:\x00:{info.labels.get(ZONE, '')}"
                    zones.setdefault(zone, []).append(info)
            order: list[NodeInfo] = []
            columns = list(zones.values())
            for i in range(max((len(c) for c in columns), default=0)):
                order.extend(c[i] for c in columns if i < len(c))
            self._order = order
        return self._order

    def num_nodes(self) -> int:
        return len(self.node_list())

    def set_node(self, obj: Obj) -> NodeInfo:
        name = str(obj["metadata"]["name"])
        info = self.nodes.get(name)
        if info is None:
            info = self.nodes[name] = NodeInfo(name)
            self._order = None
        elif info.obj is None or _zone(info.labels) != _zone(obj["metadata"].get("labels") or {}):
            self._order = None
        info.set_node(obj)
        return info

    def remove_node(self, name: str) -> None:
        info = self.nodes.get(name)
        if info is None:
            return
        self._order = None
        if info.pods:
            info.obj = None  # keep accounting for its pods until they go (upstream keeps a ghost NodeInfo)
        else:
            del self.nodes[name]

    # -- pods --------------------------------------------------------------------------

    def is_assumed(self, uid: str) -> bool:
        state = self._pods.get(uid)
        return state is not None and state.assumed

    def has_pod(self, uid: str) -> bool:
        return uid in self._pods

    def assume(self, pod: PodInfo, node: str) -> None:
        """Count `pod` on `node` now; the binding is on its way."""
        if pod.uid in self._pods:
            self._remove(pod.uid)
        pod.node_name = node
        self._add(pod, node, assumed=True)

    def forget(self, uid: str) -> None:
        """The binding failed: the pod is not on the node after all."""
        state = self._pods.get(uid)
        if state is not None and state.assumed:
            self._remove(uid)

    def add_pod(self, pod: PodInfo) -> None:
        """The informer shows the pod bound to `pod.node_name` (confirming an assumption if there was one)."""
        state = self._pods.get(pod.uid)
        if state is not None:
            if state.assumed and state.node != pod.node_name:
                log.info("pod %s was bound to %s, not to %s as assumed", pod.key, pod.node_name, state.node)
            self._remove(pod.uid)
        self._add(pod, pod.node_name, assumed=False)

    def remove_pod(self, uid: str) -> None:
        if uid in self._pods:
            self._remove(uid)

    def _add(self, pod: PodInfo, node: str, *, assumed: bool) -> None:
        info = self.nodes.get(node)
        if info is None:
            info = self.nodes[node] = NodeInfo(node)
        info.add_pod(pod)
        self._pods[pod.uid] = _PodState(pod, node, assumed)
        if pod.owner_uid and not pod.terminating:
            counts = self.owner_counts.setdefault(pod.owner_uid, {})
            counts[node] = counts.get(node, 0) + 1
        if pod.has_required_pod_affinity:
            self.affinity_pods[pod.uid] = pod

    def _remove(self, uid: str) -> None:
        state = self._pods.pop(uid)
        pod, node = state.info, state.node
        info = self.nodes.get(node)
        if info is not None:
            info.add_pod(pod, -1)
            if info.obj is None and not info.pods:
                del self.nodes[node]
        if pod.owner_uid and not pod.terminating:
            counts = self.owner_counts.get(pod.owner_uid)
            if counts is not None:
                left = counts.get(node, 0) - 1
                if left > 0:
                    counts[node] = left
                else:
                    counts.pop(node, None)
                    if not counts:
                        del self.owner_counts[pod.owner_uid]
        self.affinity_pods.pop(uid, None)

    def node_of(self, uid: str) -> str | None:
        state = self._pods.get(uid)
        return state.node if state is not None else None

    def assumed_count(self) -> int:
        return sum(1 for s in self._pods.values() if s.assumed)

    def pod_count(self) -> int:
        return len(self._pods)


def _zone(labels: dict[str, str]) -> tuple[str, str]:
    return labels.get(REGION, ""), labels.get(ZONE, "")
