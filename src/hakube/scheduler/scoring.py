"""Score plugins: of the nodes that fit, which is best?

Each plugin scores every feasible node, normalizes to 0..100 and is weighted
as in kube-scheduler's default profile (k/k
`pkg/scheduler/apis/config/v1/default_plugins.go`): TaintToleration 3,
NodeAffinity 2, PodTopologySpread 2, InterPodAffinity 2, NodeResourcesFit
(LeastAllocated) 1, NodeResourcesBalancedAllocation 1. The formulas are
upstream's, integer arithmetic included:

* LeastAllocated (`noderesources/least_allocated.go`): (allocatable −
  requested) × 100 / allocatable for cpu and memory, averaged, with the
  scoring defaults (100m, 200Mi) for containers that request nothing.
* BalancedAllocation (`noderesources/balanced_allocation.go`): (1 − |cpu
  fraction − memory fraction| / 2) × 100.
* PodTopologySpread (`podtopologyspread/scoring.go`): per constraint,
  matching pods in the node's domain × log(domains + 2) + maxSkew − 1, then
  inverted so the emptiest domain scores 100. Pods without constraints that
  belong to a ReplicaSet, ReplicationController or StatefulSet get the system
  defaults (hostname maxSkew 3, zone maxSkew 5, ScheduleAnyway: `plugin.go`
  systemDefaultConstraints); their pods are found through the cache's
  per-owner counts instead of by re-matching labels over every pod.
* TaintToleration: fewer untolerated PreferNoSchedule taints is better.
* NodeAffinity: the summed weights of matching preferred terms.
* InterPodAffinity: the incoming pod's preferred (anti-)affinity terms.
"""

from __future__ import annotations

import math

from hakube.scheduler.cache import SchedulerCache
from hakube.scheduler.filters import count_matching, node_included, spread_constraints
from hakube.scheduler.matching import Taint, Toleration
from hakube.scheduler.nodeinfo import HOSTNAME, ZONE, NodeInfo, PodInfo

MAX_NODE_SCORE = 100

W_TAINT, W_NODE_AFFINITY, W_SPREAD, W_INTER_POD, W_LEAST, W_BALANCED = 3, 2, 2, 2, 1, 1

# plugins/podtopologyspread/plugin.go systemDefaultConstraints.
_DEFAULT_SPREAD = ((HOSTNAME, 3), (ZONE, 5))


def _least_requested(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def least_allocated(pod: PodInfo, node: NodeInfo) -> int:
    alloc = node.allocatable
    cpu = _least_requested(node.non_zero_cpu + pod.non_zero_cpu, alloc.milli_cpu)
    memory = _least_requested(node.non_zero_memory + pod.non_zero_memory, alloc.memory)
    return (cpu + memory) // 2


def balanced_allocation(pod: PodInfo, node: NodeInfo) -> int:
    alloc = node.allocatable
    fractions = []
    if alloc.milli_cpu:
        fractions.append(min(1.0, (node.requested.milli_cpu + pod.requests.milli_cpu) / alloc.milli_cpu))
    if alloc.memory:
        fractions.append(min(1.0, (node.requested.memory + pod.requests.memory) / alloc.memory))
    std = abs(fractions[0] - fractions[1]) / 2 if len(fractions) == 2 else 0.0
    return int((1 - std) * MAX_NODE_SCORE)


def _default_normalize(scores: list[int], *, reverse: bool) -> list[int]:
    """helper.DefaultNormalizeScore."""
    top = max(scores, default=0)
    if top == 0:
        return [MAX_NODE_SCORE] * len(scores) if reverse else scores
    out = [MAX_NODE_SCORE * s // top for s in scores]
    return [MAX_NODE_SCORE - s for s in out] if reverse else out


def _prefer_no_schedule_untolerated(taints: tuple[Taint, ...], tolerations: tuple[Toleration, ...]) -> int:
    return sum(1 for t in taints if t.effect == "PreferNoSchedule" and not any(x.tolerates(t) for x in tolerations))


def _round(x: float) -> int:
    """Go's math.Round for the non-negative values scores are."""
    return math.floor(x + 0.5)


# -- topology spread --------------------------------------------------------------------------


def _spread_scores(pod: PodInfo, nodes: list[NodeInfo], cache: SchedulerCache) -> list[int] | None:
    constraints = spread_constraints(pod, "ScheduleAnyway")
    owner_counts: dict[str, int] | None = None
    if constraints:
        require_all = True
    elif not pod.spread_constraints and pod.owner_uid:
        owner_counts = cache.owner_counts.get(pod.owner_uid, {})
        require_all = False
    else:
        return None
    keys = [c.topology_key for c in constraints] if owner_counts is None else [k for k, _ in _DEFAULT_SPREAD]
    skews = [c.max_skew for c in constraints] if owner_counts is None else [s for _, s in _DEFAULT_SPREAD]

    def count(i: int, node: NodeInfo) -> int:
        if owner_counts is not None:
            return owner_counts.get(node.name, 0)
        c = constraints[i]
        return count_matching(node, c.selector, pod.namespace)

    # initPreScoreState: domains among the feasible nodes, and nodes to ignore.
    ignored: set[str] = set()
    domain_counts: list[dict[str, int]] = [{} for _ in keys]
    for node in nodes:
        if require_all and not all(k in node.labels for k in keys):
            ignored.add(node.name)
            continue
        for i, key in enumerate(keys):
            if key != HOSTNAME:
                domain_counts[i].setdefault(node.labels.get(key, ""), 0)
    weights = [math.log((len(nodes) - len(ignored) if key == HOSTNAME else len(domain_counts[i])) + 2)
               for i, key in enumerate(keys)]
    # PreScore: matching pods per domain over all nodes that pass the inclusion policies.
    if any(key != HOSTNAME for key in keys):
        for node in cache.node_list():
            if require_all and not all(k in node.labels for k in keys):
                continue
            for i, key in enumerate(keys):
                if key == HOSTNAME:
                    continue
                if owner_counts is None:
                    if not node_included(constraints[i], pod, node):
                        continue
                elif not pod.node_affinity.matches(node.labels, node.name):
                    continue
                value = node.labels.get(key, "")
                if value in domain_counts[i]:
                    domain_counts[i][value] += count(i, node)
    raw = []
    for node in nodes:
        if node.name in ignored:
            raw.append(-1)
            continue
        score = 0.0
        for i, key in enumerate(keys):
            label = node.labels.get(key)
            if label is None:
                continue
            n = count(i, node) if key == HOSTNAME else domain_counts[i].get(label, 0)
            score += n * weights[i] + (skews[i] - 1)
        raw.append(_round(score))
    valid = [s for s in raw if s >= 0]
    lo, hi = min(valid, default=0), max(valid, default=0)
    out = []
    for s in raw:
        if s < 0:
            out.append(0)
        elif hi == 0:
            out.append(MAX_NODE_SCORE)
        else:
            out.append(MAX_NODE_SCORE * (hi + lo - s) // hi)
    return out


# -- inter-pod affinity (preferred terms of the incoming pod) ----------------------------------


def _inter_pod_scores(pod: PodInfo, nodes: list[NodeInfo], cache: SchedulerCache) -> list[int] | None:
    if not pod.preferred_affinity and not pod.preferred_anti_affinity:
        return None
    ns_labels = cache.namespace_labels
    topology: dict[tuple[str, str], int] = {}
    for node in cache.node_list():
        for existing in node.pods.values():
            for terms, sign in ((pod.preferred_affinity, 1), (pod.preferred_anti_affinity, -1)):
                for term in terms:
                    value = node.labels.get(term.topology_key)
                    if value is not None and term.matches(existing, ns_labels):
                        pair = (term.topology_key, value)
                        topology[pair] = topology.get(pair, 0) + sign * term.weight
    raw = [sum(v for (k, val), v in topology.items() if node.labels.get(k) == val) for node in nodes]
    lo, hi = min(raw, default=0), max(raw, default=0)
    if hi - lo <= 0:
        return [0] * len(raw)
    return [int(MAX_NODE_SCORE * (s - lo) / (hi - lo)) for s in raw]


# -- all together --------------------------------------------------------------------------------


def score_nodes(pod: PodInfo, nodes: list[NodeInfo], cache: SchedulerCache) -> list[int]:
    """The weighted sum of every plugin's normalized score, per node (in `nodes` order)."""
    totals = [W_LEAST * least_allocated(pod, n) + W_BALANCED * balanced_allocation(pod, n) for n in nodes]

    def add(weight: int, scores: list[int] | None) -> None:
        if scores is not None:
            for i, s in enumerate(scores):
                totals[i] += weight * s

    if any(t.effect == "PreferNoSchedule" for n in nodes for t in n.taints):
        add(W_TAINT, _default_normalize(
            [_prefer_no_schedule_untolerated(n.taints, pod.tolerations) for n in nodes], reverse=True))
    if pod.preferred_node_affinity:
        add(W_NODE_AFFINITY, _default_normalize(
            [sum(w for w, term in pod.preferred_node_affinity if term.matches(n.labels, n.name)) for n in nodes],
            reverse=False))
    add(W_SPREAD, _spread_scores(pod, nodes, cache))
    add(W_INTER_POD, _inter_pod_scores(pod, nodes, cache))
    return totals

