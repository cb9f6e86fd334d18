"""What-if scheduling: would these pods fit a new node of a group, or the nodes left after a removal?

The autoscaler never guesses: it loads the cluster into the scheduler's own
cache and asks the scheduler's own filters (`hakube.scheduler.filters`), the
way upstream's cluster-autoscaler runs the scheduler framework over a
snapshot (`simulator/clustersnapshot`, `estimator/binpacking_estimator.go`).
A new node of a group is a template built from what a hollow kubelet would
register (`hakube.nodes.objects`), so its labels, capacity and taints are the
real ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hakube.nodes.objects import NodeShape, node_labels, node_status, now_time, region_of
from hakube.scheduler.cache import SchedulerCache
from hakube.scheduler.filters import pre_filter, run_filters
from hakube.scheduler.nodeinfo import NodeInfo, PodInfo, pod_info

Obj = dict[str, Any]

ZONE = "topology.kubernetes.io/zone"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"
TO_BE_DELETED = "ToBeDeletedByClusterAutoscaler"  # upstream's taint key (utils/taints)


def template_node(zone: str, name: str) -> Obj:
    """The Node a new hollow node of `zone` would register."""
    shape = NodeShape(zone=zone, region=region_of(zone))
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": node_labels(name, shape)},
            "spec": {}, "status": node_status(name, ip="10.0.0.0", shape=shape, now=now_time())}


def is_unschedulable(pod: Obj) -> bool:
    """Pending, unbound, and marked by the scheduler PodScheduled=False reason Unschedulable."""
    spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, pod.get("metadata") or {}
    if spec.get("nodeName") or meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
        return False
    return any(c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable"
               for c in status.get("conditions") or [])


def is_daemonset_pod(pod: Obj) -> bool:
    return any(r.get("kind") == "DaemonSet" and r.get("controller")
               for r in (pod.get("metadata") or {}).get("ownerReferences") or [])


def is_mirror_pod(pod: Obj) -> bool:
    return "kubernetes.io/config.mirror" in ((pod.get("metadata") or {}).get("annotations") or {})


def has_controller(pod: Obj) -> bool:
    return any(r.get("controller") for r in (pod.get("metadata") or {}).get("ownerReferences") or [])


def is_active(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")


class Snapshot:
    """The scheduler's cache over a list of nodes and bound pods, changed freely by simulations."""

    def __init__(self, nodes: Iterable[Obj], pods: Iterable[Obj], namespaces: Iterable[Obj] = ()) -> None:
        self.cache = SchedulerCache()
        for node in nodes:
            self.cache.set_node(node)
        for pod in pods:
            if (pod.get("spec") or {}).get("nodeName") and is_active(pod):
                self.cache.add_pod(pod_info(pod))
        for ns in namespaces:
            meta = ns.get("metadata") or {}
            self.cache.namespace_labels[str(meta.get("name"))] = dict(meta.get("labels") or {})

    def node(self, name: str) -> NodeInfo | None:
        info = self.cache.nodes.get(name)
        return info if info is not None and info.obj is not None else None

    def add_node(self, obj: Obj) -> NodeInfo:
        return self.cache.set_node(obj)

    def remove_node(self, name: str) -> None:
        info = self.cache.nodes.get(name)
        if info is None:
            return
        for pod in list(info.pods.values()):
            self.cache.remove_pod(pod.uid)
        self.cache.remove_node(name)

    def fits(self, pod: PodInfo, node: NodeInfo) -> bool:
        return run_filters(pre_filter(pod, self.cache), node) is None

    def place(self, pod: PodInfo, candidates: Iterable[NodeInfo]) -> NodeInfo | None:
        """First candidate the pod fits (and book it there), or None."""
        state = pre_filter(pod, self.cache)
        for node in candidates:
            if node.obj is not None and run_filters(state, node) is None:
                self.cache.assume(pod, node.name)
                return node
        return None


@dataclass(frozen=True, slots=True)
class Estimate:
    """A group's answer to a scale-up question: how many new nodes would run which pods."""

    zone: str
    nodes: int
    pods: tuple[str, ...]  # keys of the pods that would run


def filter_out_schedulable(snapshot: Snapshot, pods: list[Obj]) -> list[Obj]:
    """Pods that fit no existing node (upstream `filterOutSchedulable`: the scheduler will place the others)."""
    left = []
    for pod in pods:
        if snapshot.place(pod_info(pod), snapshot.cache.node_list()) is None:
            left.append(pod)
    return left


def estimate(*, nodes: list[Obj], bound: list[Obj], pending: list[Obj], zone: str, room: int,
             namespaces: Iterable[Obj] = ()) -> Estimate:
    """Bin-pack `pending` onto at most `room` new nodes of `zone` (first fit, as upstream's estimator)."""
    snapshot = Snapshot(nodes, bound, namespaces)
    new: list[NodeInfo] = []
    helped: list[str] = []
    for obj in pending:
        pod = pod_info(obj)
        if snapshot.place(pod, new) is not None:
            helped.append(pod.key)
            continue
        if len(new) >= room:
            continue
        info = snapshot.add_node(template_node(zone, f"template-{zone}-{len(new)}"))
        if snapshot.place(pod, [info]) is None:
            snapshot.remove_node(info.name)  # this pod would not fit even an empty node of the group
            continue
        new.append(info)
        helped.append(pod.key)
    return Estimate(zone=zone, nodes=len(new), pods=tuple(helped))


def utilization(node: NodeInfo) -> float:
    """max(cpu, memory) requested / allocatable, DaemonSet and mirror pods left out
    (upstream `simulator/utilization`, with --ignore-daemonsets-utilization)."""
    cpu = mem = 0
    for pod in node.pods.values():
        if is_daemonset_pod(pod.obj) or is_mirror_pod(pod.obj):
            continue
        cpu += pod.requests.milli_cpu
        mem += pod.requests.memory
    alloc = node.allocatable
    ratios = [cpu / alloc.milli_cpu if alloc.milli_cpu else 0.0, mem / alloc.memory if alloc.memory else 0.0]
    return max(ratios)


def pods_to_move(node: NodeInfo) -> tuple[list[PodInfo], str]:
    """The pods a drain must move, or a reason the node cannot be drained (upstream `drain.GetPodsToMove`)."""
    out = []
    for pod in node.pods.values():
        if is_daemonset_pod(pod.obj) or is_mirror_pod(pod.obj) or pod.terminating:
            continue
        if not has_controller(pod.obj):
            return [], f"pod {pod.key} is not replicated"
        out.append(pod)
    return out, ""


def find_places(snapshot: Snapshot, node_name: str, pods: list[PodInfo], exclude: set[str]) -> bool:
    """Whether every pod fits some other node (not `exclude`); books them there in the snapshot."""
    others = [n for n in snapshot.cache.node_list() if n.name != node_name and n.name not in exclude]
    for pod in pods:
        snapshot.cache.remove_pod(pod.uid)
        if snapshot.place(pod, others) is None:
            return False
    return True
