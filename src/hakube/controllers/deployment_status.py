"""The Deployment's status: counts, the Available and Progressing conditions, and
whether a rollout is complete, progressing or past its progressDeadlineSeconds.

From k/k `pkg/controller/deployment/sync.go` (calculateStatus) and
`pkg/controller/deployment/util/deployment_util.go` (conditions,
DeploymentComplete, DeploymentProgressing, DeploymentTimedOut). Pure functions.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

from hakube.client.api import Obj
from hakube.controllers.deployment_util import (
    MIN_AVAILABLE,
    MIN_UNAVAILABLE,
    NEW_RS_AVAILABLE,
    TIMED_OUT,
    has_progress_deadline,
    max_unavailable,
    replicas,
    total_replicas,
    total_status,
)
from hakube.controllers.objects import now_time, parse_time


def get_condition(status: Obj, kind: str) -> Obj | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return None


def new_condition(kind: str, status: str, reason: str, message: str) -> Obj:
    now = now_time()
    return {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: Obj, condition: Obj) -> None:
    """SetDeploymentCondition: same status and reason → no change; same status → keep the transition time."""
    current = get_condition(status, condition["type"])
    if current is not None and current.get("status") == condition["status"] \
            and current.get("reason") == condition["reason"]:
        return
    if current is not None and current.get("status") == condition["status"]:
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, condition["type"])
    status["conditions"] = [*(status.get("conditions") or []), condition]


def remove_condition(status: Obj, kind: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != kind]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def rs_condition_to_deployment(cond: Obj) -> Obj:
    return {"type": cond.get("type"), "status": cond.get("status"),
            "lastUpdateTime": cond.get("lastTransitionTime"), "lastTransitionTime": cond.get("lastTransitionTime"),
            "reason": cond.get("reason"), "message": cond.get("message")}


_STATUS_INTS = ("observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
                "unavailableReplicas")


def clean_status(status: Obj | None) -> Obj:
    """A DeploymentStatus as Go marshals it: zero counts and empty conditions left out."""
    out: Obj = {}
    for key, value in (status or {}).items():
        if key in _STATUS_INTS and not value:
            continue
        if key == "conditions" and not value:
            continue
        if value is None:
            continue
        out[key] = value
    return out


def calculate_status(all_rss: list[Obj | None], new_rs: Obj | None, d: Obj) -> Obj:
    """sync.go calculateStatus: counts from the ReplicaSets, the Available condition from maxUnavailable."""
    available = total_status(all_rss, "availableReplicas")
    unavailable = max(0, total_replicas(all_rss) - available)
    current = d.get("status") or {}
    status: Obj = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
        "conditions": copy.deepcopy(current.get("conditions") or []),
    }
    if current.get("collisionCount") is not None:
        status["collisionCount"] = current["collisionCount"]
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, new_condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability."))
    else:
        set_condition(status, new_condition("Available", "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability."))
    return clean_status(status)


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = replicas(d)
    return (int(status.get("updatedReplicas") or 0) == want and int(status.get("replicas") or 0) == want
            and int(status.get("availableReplicas") or 0) == want
            and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation") or 0))


def deployment_progressing(d: Obj, new: Obj) -> bool:
    old = d.get("status") or {}

    def get(s: Obj, f: str) -> int:
        return int(s.get(f) or 0)

    old_old = get(old, "replicas") - get(old, "updatedReplicas")
    new_old = get(new, "replicas") - get(new, "updatedReplicas")
    return (get(new, "updatedReplicas") > get(old, "updatedReplicas") or new_old < old_old
            or get(new, "readyReplicas") > get(old, "readyReplicas")
            or get(new, "availableReplicas") > get(old, "availableReplicas"))


def deployment_timed_out(d: Obj, status: Obj, now: datetime | None = None) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    if since is None:
        return False
    deadline = since + timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"]))
    return deadline < (now or datetime.now(UTC))
