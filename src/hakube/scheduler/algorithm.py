"""One scheduling decision: filter the nodes, score the ones that fit, pick the best.

k/k `pkg/scheduler/schedule_one.go` (`schedulePod`, `findNodesThatFitPod`,
`numFeasibleNodesToFind`, `selectHost`) and `framework/types.go` (`FitError`):

* In a large cluster only enough nodes are examined to find a sample of
  feasible ones (at least 100, and 50 % − nodes/125 % of the cluster, no less
  than 5 %), starting where the previous attempt stopped, so every node gets
  its turn; a pod that fits nowhere is checked against every node so that its
  message counts them all.
* Ties between the best-scoring nodes are broken at random.
* The unschedulable message is upstream's: "0/N nodes are available: " and
  the sorted histogram of reasons, "1 node(s) had untolerated taint
  {node.kubernetes.io/unreachable: }, 2 Insufficient cpu."
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from hakube.scheduler.cache import SchedulerCache
from hakube.scheduler.filters import pre_filter, run_filters
from hakube.scheduler.nodeinfo import NodeInfo, PodInfo
from hakube.scheduler.scoring import score_nodes

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NO_NODES_AVAILABLE = "no nodes available to schedule pods"
NO_NODES = "NoNodes"  # what rejected a pod when there are no nodes at all (only a node event helps)


class FitError(Exception):
    """The pod fits on no node; `plugins` are the filters that rejected it (for requeueing)."""

    def __init__(self, num_nodes: int, reasons: Counter[str], plugins: frozenset[str]) -> None:
        self.num_nodes = num_nodes
        self.reasons = reasons
        self.plugins = plugins
        super().__init__(self.message)

    @property
    def message(self) -> str:
        if self.num_nodes == 0:
            return NO_NODES_AVAILABLE
        text = f"0/{self.num_nodes} nodes are available:"
        histogram = sorted(f"{count} {reason}" for reason, count in self.reasons.items())
        if histogram:
            text += f" {', '.join(histogram)}."
        return text


@dataclass(frozen=True, slots=True)
class Placement:
    node: str
    evaluated: int
    feasible: int


def num_feasible_nodes_to_find(num_all_nodes: int, percentage: int = 0) -> int:
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


class Algorithm:
    def __init__(self, cache: SchedulerCache, *, percentage_of_nodes_to_score: int = 0,
                 rng: random.Random | None = None) -> None:
        self.cache = cache
        self.percentage = percentage_of_nodes_to_score
        self.rng = rng or random.Random()
        self._next_start = 0

    def schedule(self, pod: PodInfo) -> Placement:
        """The node for `pod`; raises FitError if there is none."""
        nodes = self.cache.node_list()
        total = len(nodes)
        if total == 0:
            # UnschedulableAndUnresolvable: it waits for a node to be added, not for its back-off.
            raise FitError(0, Counter(), frozenset({NO_NODES}))
        state = pre_filter(pod, self.cache)
        wanted = num_feasible_nodes_to_find(total, self.percentage)
        feasible = []
        reasons: Counter[str] = Counter()
        plugins: set[str] = set()
        start = self._next_start % total
        processed = 0
        for i in range(total):
            node = nodes[(start + i) % total]
            processed += 1
            verdict = run_filters(state, node)
            if verdict is None:
                feasible.append(node)
                if len(feasible) >= wanted:
                    break
            else:
                plugins.add(verdict[0])
                reasons.update(verdict[1])
        self._next_start = (start + processed) % total
        if not feasible:
            raise FitError(total, reasons, frozenset(plugins))
        if len(feasible) == 1:
            return Placement(feasible[0].name, processed, 1)
        scores = score_nodes(pod, feasible, self.cache)
        return Placement(self._select_host(feasible, scores), processed, len(feasible))

    def _select_host(self, nodes: list[NodeInfo], scores: list[int]) -> str:
        """The highest score; ties broken uniformly at random (reservoir sampling, as upstream)."""
        best = scores[0]
        chosen = nodes[0].name
        ties = 1
        for node, score in zip(nodes[1:], scores[1:], strict=True):
            if score > best:
                best, chosen, ties = score, node.name, 1
            elif score == best:
                ties += 1
                if self.rng.randrange(ties) == 0:
                    chosen = node.name
        return chosen
