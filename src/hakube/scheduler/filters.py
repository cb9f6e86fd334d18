"""Filter plugins: can this pod run on this node at all?

The default filters of kube-scheduler, in upstream's order (k/k
`pkg/scheduler/apis/config/v1/default_plugins.go`), each answering with the
reason string upstream uses, because users read those in
"0/3 nodes are available: …" messages and tools match on them:

* NodeUnschedulable  `plugins/nodeunschedulable`  node(s) were unschedulable
* TaintToleration    `plugins/tainttoleration`    node(s) had untolerated taint {key: value}
* NodeAffinity       `plugins/nodeaffinity`       node(s) didn't match Pod's node affinity/selector
* NodePorts          `plugins/nodeports`          node(s) didn't have free ports for the requested pod ports
* NodeResourcesFit   `plugins/noderesources/fit.go`  Insufficient cpu / Insufficient memory / Too many pods
* PodTopologySpread  `plugins/podtopologyspread/filtering.go`
* InterPodAffinity   `plugins/interpodaffinity/filtering.go`

A node whose Ready condition is not True is treated as carrying the taint
the node lifecycle controller would give it (`node.kubernetes.io/not-ready`
or `…/unreachable`, NoSchedule), so it fails TaintToleration exactly as it
does in a real cluster, and pods that tolerate it (DaemonSets) still fit.

What depends on other pods (topology spread, inter-pod affinity) is counted
once per scheduling attempt in `pre_filter`, as the PreFilter extension point
does, so each node is then checked in constant time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hakube.scheduler.cache import SchedulerCache
from hakube.scheduler.matching import LabelSelector, Taint, first_untolerated, label_selector
from hakube.scheduler.nodeinfo import TAINT_UNSCHEDULABLE, AffinityTerm, NodeInfo, PodInfo

NODE_UNSCHEDULABLE = "NodeUnschedulable"
TAINT_TOLERATION = "TaintToleration"
NODE_AFFINITY = "NodeAffinity"
NODE_PORTS = "NodePorts"
NODE_RESOURCES_FIT = "NodeResourcesFit"
POD_TOPOLOGY_SPREAD = "PodTopologySpread"
INTER_POD_AFFINITY = "InterPodAffinity"

REASON_UNSCHEDULABLE = "node(s) were unschedulable"
REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
REASON_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports"
REASON_TOO_MANY_PODS = "Too many pods"
REASON_SPREAD = "node(s) didn't match pod topology spread constraints"
REASON_SPREAD_LABEL = REASON_SPREAD + " (missing required label)"
REASON_AFFINITY = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"

DO_NOT_SCHEDULE_EFFECTS = frozenset({"NoSchedule", "NoExecute"})
_UNSCHEDULABLE_TAINT = Taint(TAINT_UNSCHEDULABLE, "", "NoSchedule")


# -- topology spread constraints ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int = 1
    honor_node_affinity: bool = True  # nodeAffinityPolicy (default Honor)
    honor_node_taints: bool = False  # nodeTaintsPolicy (default Ignore)


def spread_constraints(pod: PodInfo, action: str) -> list[SpreadConstraint]:
    """The pod's own constraints with `whenUnsatisfiable == action` (filterTopologySpreadConstraints)."""
    out = []
    for c in pod.spread_constraints:
        if c.get("whenUnsatisfiable", "DoNotSchedule") != action:
            continue
        selector = label_selector(c.get("labelSelector"))
        keys = {k: pod.labels[k] for k in c.get("matchLabelKeys") or [] if k in pod.labels}
        if keys and not selector.nothing:
            selector = selector.with_labels(keys)
        out.append(SpreadConstraint(
            max_skew=int(c.get("maxSkew") or 1), topology_key=str(c.get("topologyKey") or ""), selector=selector,
            min_domains=int(c.get("minDomains") or 1),
            honor_node_affinity=c.get("nodeAffinityPolicy", "Honor") == "Honor",
            honor_node_taints=c.get("nodeTaintsPolicy", "Ignore") == "Honor"))
    return out


def count_matching(node: NodeInfo, selector: LabelSelector, namespace: str) -> int:
    """countPodsMatchSelector: terminating pods and other namespaces do not count; an empty selector counts 0."""
    if selector.empty or selector.nothing:
        return 0
    return sum(1 for p in node.pods.values()
               if not p.terminating and p.namespace == namespace and selector.matches(p.labels))


def node_included(c: SpreadConstraint, pod: PodInfo, node: NodeInfo) -> bool:
    """matchNodeInclusionPolicies."""
    if c.honor_node_affinity and not pod.node_affinity.matches(node.labels, node.name):
        return False
    return not (c.honor_node_taints
                and first_untolerated(node.taints, pod.tolerations, DO_NOT_SCHEDULE_EFFECTS) is not None)


@dataclass(slots=True)
class SpreadFilterState:
    constraints: list[SpreadConstraint]
    pair_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    min_counts: dict[str, int] = field(default_factory=dict)
    domains: dict[str, int] = field(default_factory=dict)


def _spread_pre_filter(pod: PodInfo, cache: SchedulerCache) -> SpreadFilterState | None:
    constraints = spread_constraints(pod, "DoNotSchedule")
    if not constraints:
        return None
    state = SpreadFilterState(constraints)
    for node in cache.node_list():
        if not all(c.topology_key in node.labels for c in constraints):
            continue
        for c in constraints:
            if not node_included(c, pod, node):
                continue
            pair = (c.topology_key, node.labels[c.topology_key])
            state.pair_counts[pair] = state.pair_counts.get(pair, 0) + count_matching(node, c.selector, pod.namespace)
    for (key, _value), count in state.pair_counts.items():
        state.domains[key] = state.domains.get(key, 0) + 1
        state.min_counts[key] = min(state.min_counts.get(key, count), count)
    return state


def _spread_filter(state: SpreadFilterState, pod: PodInfo, node: NodeInfo) -> str | None:
    for c in state.constraints:
        value = node.labels.get(c.topology_key)
        if value is None:
            return REASON_SPREAD_LABEL
        min_count = state.min_counts.get(c.topology_key, 0)
        if state.domains.get(c.topology_key, 0) < c.min_domains:
            min_count = 0
        self_match = 1 if c.selector.matches(pod.labels) else 0
        skew = state.pair_counts.get((c.topology_key, value), 0) + self_match - min_count
        if skew > c.max_skew:
            return REASON_SPREAD
    return None


# -- inter-pod affinity ----------------------------------------------------------------------


@dataclass(slots=True)
class AffinityFilterState:
    existing_anti: dict[tuple[str, str], int] = field(default_factory=dict)
    affinity: dict[tuple[str, str], int] = field(default_factory=dict)
    anti: dict[tuple[str, str], int] = field(default_factory=dict)


def _count_terms(counts: dict[tuple[str, str], int], terms: tuple[AffinityTerm, ...], target: PodInfo,
                 node: NodeInfo, ns_labels: Mapping[str, Mapping[str, str]]) -> None:
    for term in terms:
        value = node.labels.get(term.topology_key)
        if value is not None and term.matches(target, ns_labels):
            pair = (term.topology_key, value)
            counts[pair] = counts.get(pair, 0) + 1


def _affinity_pre_filter(pod: PodInfo, cache: SchedulerCache) -> AffinityFilterState | None:
    if not cache.affinity_pods and not pod.has_required_pod_affinity:
        return None
    state = AffinityFilterState()
    ns_labels = cache.namespace_labels
    for existing in cache.affinity_pods.values():
        node = cache.nodes.get(existing.node_name)
        if node is not None and node.obj is not None and existing.anti_affinity:
            _count_terms(state.existing_anti, existing.anti_affinity, pod, node, ns_labels)
    if pod.has_required_pod_affinity:
        for node in cache.node_list():
            for existing in node.pods.values():
                _count_terms(state.affinity, pod.affinity, existing, node, ns_labels)
                _count_terms(state.anti, pod.anti_affinity, existing, node, ns_labels)
    return state


def _affinity_filter(state: AffinityFilterState, pod: PodInfo, node: NodeInfo,
                     ns_labels: Mapping[str, Mapping[str, str]]) -> str | None:
    labels = node.labels
    if pod.affinity:
        pods_exist = True
        for term in pod.affinity:
            value = labels.get(term.topology_key)
            if value is None:
                return REASON_AFFINITY
            if state.affinity.get((term.topology_key, value), 0) <= 0:
                pods_exist = False
        # The first pod of a group with affinity to itself may go anywhere (satisfyPodAffinity).
        if not pods_exist and not (not state.affinity and all(t.matches(pod, ns_labels) for t in pod.affinity)):
            return REASON_AFFINITY
    for term in pod.anti_affinity:
        value = labels.get(term.topology_key)
        if value is not None and state.anti.get((term.topology_key, value), 0) > 0:
            return REASON_ANTI_AFFINITY
    for (key, value), count in state.existing_anti.items():
        if count > 0 and labels.get(key) == value:
            return REASON_EXISTING_ANTI_AFFINITY
    return None


# -- the filters -------------------------------------------------------------------------------


@dataclass(slots=True)
class CycleState:
    """What PreFilter computed for one scheduling attempt of one pod."""

    pod: PodInfo
    spread: SpreadFilterState | None
    affinity: AffinityFilterState | None
    namespace_labels: Mapping[str, Mapping[str, str]]


def pre_filter(pod: PodInfo, cache: SchedulerCache) -> CycleState:
    return CycleState(pod, _spread_pre_filter(pod, cache), _affinity_pre_filter(pod, cache),
                      cache.namespace_labels)


def fit_reasons(pod: PodInfo, node: NodeInfo) -> list[str]:
    """NodeResourcesFit (fitsRequest): every resource the node is short of."""
    reasons = []
    alloc, used = node.allocatable, node.requested
    if len(node.pods) + 1 > alloc.allowed_pods:
        reasons.append(REASON_TOO_MANY_PODS)
    want = pod.requests
    if want.is_zero():
        return reasons
    if want.milli_cpu > 0 and want.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
    if want.memory > 0 and want.memory > alloc.memory - used.memory:
        reasons.append("Insufficient memory")
    if want.ephemeral_storage > 0 and want.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
    for name, amount in want.scalars.items():
        if amount > 0 and amount > alloc.scalars.get(name, 0) - used.scalars.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def run_filters(state: CycleState, node: NodeInfo) -> tuple[str, list[str]] | None:
    """None if the pod fits the node, else (the failing plugin, its reasons); stops at the first failure."""
    pod = state.pod
    if node.unschedulable and not any(t.tolerates(_UNSCHEDULABLE_TAINT) for t in pod.tolerations):
        return NODE_UNSCHEDULABLE, [REASON_UNSCHEDULABLE]
    if node.taints:
        taint = first_untolerated(node.taints, pod.tolerations, DO_NOT_SCHEDULE_EFFECTS)
        if taint is not None:
            return TAINT_TOLERATION, [f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"]
    if not pod.node_affinity.trivial and not pod.node_affinity.matches(node.labels, node.name):
        return NODE_AFFINITY, [REASON_NODE_AFFINITY]
    if pod.host_ports and node.ports_conflict(pod.host_ports):
        return NODE_PORTS, [REASON_NODE_PORTS]
    reasons = fit_reasons(pod, node)
    if reasons:
        return NODE_RESOURCES_FIT, reasons
    if state.spread is not None:
        reason = _spread_filter(state.spread, pod, node)
        if reason:
            return POD_TOPOLOGY_SPREAD, [reason]
    if state.affinity is not None:
        reason = _affinity_filter(state.affinity, pod, node, state.namespace_labels)
        if reason:
            return INTER_POD_AFFINITY, [reason]
    return None
