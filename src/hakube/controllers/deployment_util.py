"""Pure helpers of the Deployment controller: maxSurge/maxUnavailable, the
pod-template hash, revisions and annotations, and choosing, sorting and sizing
ReplicaSets (conditions and status live in `deployment_status.py`).

A port of k/k `pkg/controller/deployment/util/deployment_util.go` (and the
ReplicaSet sort orders of `pkg/controller/controller_utils.go`). Nothing
here talks to the API; every function takes and returns plain objects.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import orjson

from hakube.client.api import Obj

HASH_LABEL = "pod-template-hash"  # apps.DefaultDeploymentUniqueLabelKey
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# Annotations a ReplicaSet never copies from its Deployment (annotationsToSkip).
SKIPPED_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})
MAX_REV_HISTORY_CHARS = 2000  # maxRevHistoryLengthInChars

# Condition reasons.
REPLICASET_UPDATED = "ReplicaSetUpdated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"

MAX_INT32 = 2**31 - 1

# -- small accessors ------------------------------------------------------------------------


def replicas(obj: Obj) -> int:
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_int(obj: Obj | None, field: str) -> int:
    return int(((obj or {}).get("status") or {}).get(field) or 0)


def annotations_of(obj: Obj) -> dict[str, str]:
    meta: dict[str, Any] = obj.setdefault("metadata", {})
    result: dict[str, str] = meta.setdefault("annotations", {})
    return result


def strategy_type(d: Obj) -> str:
    return str(((d.get("spec") or {}).get("strategy") or {}).get("type") or "RollingUpdate")


def is_rolling_update(d: Obj) -> bool:
    return strategy_type(d) == "RollingUpdate"


def has_progress_deadline(d: Obj) -> bool:
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return value is not None and int(value) != MAX_INT32


def revision_history_limit(d: Obj) -> int | None:
    value = (d.get("spec") or {}).get("revisionHistoryLimit")
    return None if value is None or int(value) == MAX_INT32 else int(value)


# -- maxSurge / maxUnavailable --------------------------------------------------------------


def scaled_value(value: int | str | None, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, "25%" of total rounded up or down."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}")
    percent = int(value[:-1])
    scaled = percent * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None,
                       desired: int) -> tuple[int, int]:
    """Surge rounds up, unavailability down; both zero would deadlock, so unavailable becomes 1."""
    surge = scaled_value(max_surge if max_surge is not None else 0, desired, round_up=True)
    unavailable = scaled_value(max_unavailable if max_unavailable is not None else 0, desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(d: Obj) -> Obj:
    return ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    rolling = _rolling(d)
    _, unavailable = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas(d))
    return min(unavailable, replicas(d))


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    rolling = _rolling(d)
    surge, _ = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas(d))
    return surge


# -- templates and hashes ----------------------------------------------------------------------

_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery rand.SafeEncodeString


def _fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: Obj, collision_count: int | None) -> str:
    """controller.ComputeHash: FNV-32a of the template (here its canonical JSON) and the
    collision count, its decimal digits mapped onto consonants and digits ("5d8f7c6b9")."""
    data = orjson.dumps(_semantic(template), option=orjson.OPT_SORT_KEYS)
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(4, "little") + b"\0\0\0\0"
    return "".join(_SAFE_ALPHANUMS[ord(ch) % len(_SAFE_ALPHANUMS)] for ch in str(_fnv32a(data)))


def _semantic(value: Any) -> Any:
    """Drop nulls and empty maps/lists: Go's semantic equality treats them as unset."""
    if isinstance(value, dict):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def _without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template or {})
    ((t.get("metadata") or {}).get("labels") or {}).pop(HASH_LABEL, None)
    return t


def equal_ignore_hash(t1: Obj, t2: Obj) -> bool:
    return bool(_semantic(_without_hash(t1)) == _semantic(_without_hash(t2)))


def template_of(obj: Obj) -> Obj:
    return (obj.get("spec") or {}).get("template") or {}


# -- revisions and annotations ----------------------------------------------------------------


def revision(rs: Obj) -> int:
    """The revision annotation, 0 without one; ValueError when it is not a number."""
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION)
    return 0 if value is None else int(value)


def max_revision(rss: Iterable[Obj]) -> int:
    best = 0
    for rs in rss:
        try:
            best = max(best, revision(rs))
        except ValueError:
            continue
    return best


def copy_annotations_to_rs(d: Obj, rs: Obj) -> bool:
    changed = False
    target = annotations_of(rs)
    for key, value in ((d.get("metadata") or {}).get("annotations") or {}).items():
        if key in SKIPPED_ANNOTATIONS or target.get(key) == value:
            continue
        target[key] = value
        changed = True
    return changed


def set_replicas_annotations(rs: Obj, desired: int, maximum: int) -> bool:
    target = annotations_of(rs)
    changed = False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(maximum))):
        if target.get(key) != value:
            target[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: Obj, desired: int, maximum: int) -> bool:
    current = (rs.get("metadata") or {}).get("annotations") or {}
    return current.get(DESIRED_REPLICAS) != str(desired) or current.get(MAX_REPLICAS) != str(maximum)


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, *, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations, raise the revision (keeping
    the former ones in revision-history when a rollback reuses this ReplicaSet)."""
    changed = copy_annotations_to_rs(d, rs)
    target = annotations_of(rs)
    old_text = target.get(REVISION)
    try:
        old_revision = int(old_text) if old_text else 0
    except ValueError:
        return False
    if old_revision < new_revision:
        target[REVISION] = str(new_revision)
        changed = True
        if old_text is not None:
            history = target.get(REVISION_HISTORY, "")
            entries = history.split(",") if history else []
            total = len(history) + len(old_text) + 1
            start = 0
            while total > MAX_REV_HISTORY_CHARS and start < len(entries):
                total -= len(entries[start]) + 1
                start += 1
            if total <= MAX_REV_HISTORY_CHARS:
                target[REVISION_HISTORY] = ",".join([*entries[start:], old_text])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_deployment_revision(d: Obj, value: str) -> bool:
    target = annotations_of(d)
    if target.get(REVISION) == value:
        return False
    target[REVISION] = value
    return True


def _int_annotation(rs: Obj, key: str) -> int | None:
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get(key)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _int_annotation(rs, DESIRED_REPLICAS)


# -- choosing and sorting ReplicaSets --------------------------------------------------------------


def by_creation(rs: Obj) -> tuple[str, str]:
    """ReplicaSetsByCreationTimestamp: oldest first, then by name."""
    meta = rs.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def sort_by_size_older(rss: list[Obj]) -> list[Obj]:
    """Largest first; among equals, the older first (scaling down)."""
    return sorted(sorted(rss, key=by_creation), key=replicas, reverse=True)


def sort_by_size_newer(rss: list[Obj]) -> list[Obj]:
    """Largest first; among equals, the newer first (scaling up)."""
    return sorted(sorted(rss, key=by_creation, reverse=True), key=replicas, reverse=True)


def sort_by_revision(rss: list[Obj]) -> list[Obj]:
    def key(rs: Obj) -> tuple[int, tuple[str, str]]:
        try:
            return revision(rs), by_creation(rs)
        except ValueError:
            return 0, by_creation(rs)

    return sorted(rss, key=key)


def replace_in(rss: list[Obj], updated: Obj) -> None:
    """Put the object a write returned in place of the one it was made from."""
    uid = (updated.get("metadata") or {}).get("uid")
    for i, rs in enumerate(rss):
        if (rs.get("metadata") or {}).get("uid") == uid:
            rss[i] = updated


def find_new_rs(d: Obj, rss: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template equals the Deployment's, hash label aside."""
    for rs in sorted(rss, key=by_creation):
        if equal_ignore_hash(template_of(rs), template_of(d)):
            return rs
    return None


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """FilterActiveReplicaSets: the ones with replicas > 0."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def present(rss: Iterable[Obj | None]) -> list[Obj]:
    return [rs for rs in rss if rs is not None]


def total_replicas(rss: Iterable[Obj | None]) -> int:
    return sum(replicas(rs) for rs in present(rss))


def total_status(rss: Iterable[Obj | None], field: str) -> int:
    return sum(status_int(rs, field) for rs in present(rss))


def new_rs_new_replicas(d: Obj, all_rss: list[Obj | None], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now (NewRSNewReplicas)."""
    if strategy_type(d) == "Recreate":
        return replicas(d)
    if strategy_type(d) != "RollingUpdate":
        raise ValueError(f"deployment type {strategy_type(d)} isn't supported")
    surge = scaled_value(_rolling(d).get("maxSurge"), replicas(d), round_up=True)
    current = total_replicas(all_rss)
    max_total = replicas(d) + surge
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, replicas(d) - replicas(new_rs))


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    if rs is None:
        return False
    return (replicas(rs) == replicas(d) and desired_replicas_annotation(rs) == replicas(d)
            and status_int(rs, "availableReplicas") == replicas(d))


def find_active_or_latest(new_rs: Obj | None, old_rss: list[Obj]) -> Obj | None:
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=by_creation, reverse=True)
    live = active([*newest_first, new_rs])
    if not live:
        return new_rs if new_rs is not None else newest_first[0]
    return live[0] if len(live) == 1 else None


def rs_proportion(rs: Obj, d: Obj, to_add: int, added: int) -> int:
    """GetReplicaSetProportion: this ReplicaSet's share of a scaling during a rollout."""
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _rs_fraction(rs: Obj, d: Obj) -> int:
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_max = replicas(d) + max_surge(d)
    before = _int_annotation(rs, MAX_REPLICAS)
    if not before:
        before = status_int(d, "replicas")
        if before == 0:
            return 0
    size = replicas(rs) * deployment_max / before
    return int(math.floor(size + 0.5) if size >= 0 else math.ceil(size - 0.5)) - replicas(rs)
