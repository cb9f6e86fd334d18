"""PodDisruptionBudgets as the autoscaler reads them before it evicts anything.

Our API server serves policy/v1 PodDisruptionBudgets but no disruption
controller fills in their status, and its eviction endpoint may not check
them; so the autoscaler uses `status.disruptionsAllowed` when the status is
current (observedGeneration == generation) and otherwise computes it the way
the disruption controller does (k/k `pkg/controller/disruption/disruption.go`
getExpectedPodCount / countHealthyPods), taking the pods that match the
selector as the expected count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hakube.client.api import ResourceRef
from hakube.scheduler.matching import label_selector

Obj = dict[str, Any]

PDBS = ResourceRef("policy", "v1", "poddisruptionbudgets")


def _ready(pod: Obj) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _matching(pdb: Obj, pods: Iterable[Obj]) -> list[Obj]:
    namespace = (pdb.get("metadata") or {}).get("namespace")
    selector = label_selector((pdb.get("spec") or {}).get("selector"))
    out = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        if meta.get("namespace") != namespace or meta.get("deletionTimestamp"):
            continue
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if selector.matches(meta.get("labels") or {}):
            out.append(pod)
    return out


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = int(value[:-1]) * total / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def disruptions_allowed(pdb: Obj, pods: Iterable[Obj]) -> int:
    meta, spec, status = pdb.get("metadata") or {}, pdb.get("spec") or {}, pdb.get("status") or {}
    if "disruptionsAllowed" in status and status.get("observedGeneration") == meta.get("generation"):
        return int(status["disruptionsAllowed"])
    matching = _matching(pdb, pods)
    expected = len(matching)
    healthy = sum(1 for p in matching if _ready(p))
    if spec.get("minAvailable") is not None:
        desired = _scaled(spec["minAvailable"], expected, round_up=True)
    elif spec.get("maxUnavailable") is not None:
        desired = max(0, expected - _scaled(spec["maxUnavailable"], expected, round_up=True))
    else:
        desired = expected  # policy/v1 with neither field: no voluntary disruption is allowed
    return max(0, healthy - desired)


def blocking_budget(pdbs: Iterable[Obj], pods: Iterable[Obj], evict: list[Obj]) -> str:
    """The name of a budget the eviction of all of `evict` would break, or ""."""
    all_pods = list(pods)
    for pdb in pdbs:
        hit = _matching(pdb, evict)
        if hit and disruptions_allowed(pdb, all_pods) < len(hit):
            meta = pdb.get("metadata") or {}
            return f"{meta.get('namespace')}/{meta.get('name')}"
    return ""
