"""Pods as workload controllers see them: readiness, creation from a template,
deletion order, and adopting or releasing objects by selector.

Mirrors k/k `pkg/controller/controller_utils.go` (GetPodFromTemplate,
FilterActivePods, ActivePodsWithRanks), `pkg/api/v1/pod/util.go`
(IsPodReady, IsPodAvailable) and `pkg/controller/controller_ref_manager.go`
(ClaimObject, the adopt/release patches).
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime
from typing import Any

from hakube.client.api import ApiClient, ApiError, Obj, ResourceRef
from hakube.controllers.objects import controller_of, is_deleting, labels_of, parse_time, selector_matches, uid_of

# -- pod predicates --------------------------------------------------------------------------


def ready_condition(pod: Obj) -> Obj | None:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


def is_pod_ready(pod: Obj) -> bool:
    cond = ready_condition(pod)
    return cond is not None and cond.get("status") == "True"


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime) -> bool:
    """Ready for at least minReadySeconds (podutil.IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time((ready_condition(pod) or {}).get("lastTransitionTime"))
    return since is not None and (now - since).total_seconds() > min_ready_seconds


def is_pod_active(pod: Obj) -> bool:
    """Not finished and not being deleted (controller.IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not is_deleting(pod)


# -- creating and deleting ---------------------------------------------------------------


def pod_from_template(template: Obj, *, owner_name: str, namespace: str, owner_ref: Obj) -> Obj:
    """GetPodFromTemplate: template labels, annotations, finalizers and spec; name `<owner>-<random>`."""
    meta = template.get("metadata") or {}
    pod_meta: Obj = {"generateName": f"{owner_name}-", "namespace": namespace, "ownerReferences": [owner_ref]}
    for field in ("labels", "annotations", "finalizers"):
        if meta.get(field):
            pod_meta[field] = _copy(meta[field])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": _copy(template.get("spec") or {})}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def namespace_terminating(err: ApiError) -> bool:
    causes = ((err.status.get("details") or {}).get("causes")) or []
    return any(c.get("reason") == "NamespaceTerminating" for c in causes)


# -- which pods go first when scaling down -------------------------------------------------------

_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _max_restarts(pod: Obj) -> tuple[int, int]:
    status = pod.get("status") or {}
    regular = max((int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or []), default=0)
    sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []
                if c.get("restartPolicy") == "Always"}
    sidecar = max((int(c.get("restartCount") or 0) for c in status.get("initContainerStatuses") or []
                   if c.get("name") in sidecars), default=0)
    return regular, sidecar


def _log_rank(t: datetime, now: datetime) -> int:
    nanos = (now - t).total_seconds() * 1e9
    return int(math.log2(nanos)) if nanos > 0 else -1


def _after_or_zero(t1: datetime | None, t2: datetime | None) -> bool:
    if t1 is None or t2 is None:
        return t1 is None
    return t1 > t2


def _compare_times(t1: datetime | None, t2: datetime | None, uid1: str, uid2: str, now: datetime) -> bool:
    """LogarithmicScaleDown: times in the same power-of-two age bucket compare equal, then by uid."""
    if t1 is None or t2 is None:
        return _after_or_zero(t1, t2)
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return uid1 < uid2
    return diff < 0


def _less(a: Obj, b: Obj, rank_a: int, rank_b: int, now: datetime) -> bool:
    """ActivePodsWithRanks.Less (k/k pkg/controller/controller_utils.go), with the 1.32 default gates."""
    node_a, node_b = (a.get("spec") or {}).get("nodeName") or "", (b.get("spec") or {}).get("nodeName") or ""
    # 1. unassigned < assigned
    if node_a != node_b and (not node_a or not node_b):
        return not node_a
    # 2. Pending < Unknown < Running
    phase_a = _PHASE_ORDER.get((a.get("status") or {}).get("phase") or "", 0)
    phase_b = _PHASE_ORDER.get((b.get("status") or {}).get("phase") or "", 0)
    if phase_a != phase_b:
        return phase_a < phase_b
    # 3. not ready < ready
    ready_a, ready_b = is_pod_ready(a), is_pod_ready(b)
    if ready_a != ready_b:
        return not ready_a
    # 4. lower controller.kubernetes.io/pod-deletion-cost first
    cost_a, cost_b = _deletion_cost(a), _deletion_cost(b)
    if cost_a != cost_b:
        return cost_a < cost_b
    # 5. doubled up (more related pods on the same node) first
    if rank_a != rank_b:
        return rank_a > rank_b
    # 6. ready for less time first
    if ready_a and ready_b:
        t_a = parse_time((ready_condition(a) or {}).get("lastTransitionTime"))
        t_b = parse_time((ready_condition(b) or {}).get("lastTransitionTime"))
        if t_a != t_b:
            return _compare_times(t_a, t_b, uid_of(a), uid_of(b), now)
    # 7. more container restarts first
    restarts_a, restarts_b = _max_restarts(a), _max_restarts(b)
    if restarts_a != restarts_b:
        return restarts_a > restarts_b
    # 8. newer first
    c_a = parse_time((a.get("metadata") or {}).get("creationTimestamp"))
    c_b = parse_time((b.get("metadata") or {}).get("creationTimestamp"))
    if c_a != c_b:
        return _compare_times(c_a, c_b, uid_of(a), uid_of(b), now)
    return False


def _deletion_cost(pod: Obj) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get("controller.kubernetes.io/pod-deletion-cost")
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def pods_to_delete(pods: list[Obj], related: list[Obj], count: int) -> list[Obj]:
    """getPodsToDelete: rank by co-located related pods, then take the `count` smallest."""
    if count >= len(pods):
        return list(pods)
    on_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = (pod.get("spec") or {}).get("nodeName") or ""
            on_node[node] = on_node.get(node, 0) + 1
    now = datetime.now(UTC)
    ranked = [(pod, on_node.get((pod.get("spec") or {}).get("nodeName") or "", 0)) for pod in pods]

    def cmp(x: tuple[Obj, int], y: tuple[Obj, int]) -> int:
        if _less(x[0], y[0], x[1], y[1], now):
            return -1
        if _less(y[0], x[0], y[1], x[1], now):
            return 1
        return 0

    ranked.sort(key=functools.cmp_to_key(cmp))
    return [pod for pod, _rank in ranked[:count]]


# -- adoption and release (ControllerRefManager) ---------------------------------------------------


class RefManager:
    """ClaimObject for one controller: keep what it owns and matches, adopt matching orphans,
    release what it owns but no longer matches.

    Adoption is a strategic merge patch adding the controller reference, with the
    object's uid in the patch as a precondition (ownerRefControllerPatch);
    release deletes the reference by uid (GenerateDeleteOwnerRefStrategicMergeBytes).
    Before the first adoption the controller is re-read from the API, so a
    controller deleted meanwhile adopts nothing (RecheckDeletionTimestamp).
    """

    PATCH = "application/strategic-merge-patch+json"

    def __init__(self, client: ApiClient, *, owner: Obj, owner_ref: Obj, ref: ResourceRef,
                 owner_resource: ResourceRef, selector: Obj | None) -> None:
        self.client = client
        self.owner = owner
        self.owner_ref = owner_ref
        self.ref = ref
        self.owner_resource = owner_resource
        self.selector = selector
        self._can_adopt: bool | None = None

    def _matches(self, obj: Obj) -> bool:
        return selector_matches(self.selector, labels_of(obj))

    async def claim(self, objects: list[Obj]) -> list[Obj]:
        """Return the claimed objects; raise the first adopt/release error after trying all."""
        claimed: list[Obj] = []
        errors: list[Exception] = []
        owner_uid = uid_of(self.owner)
        for obj in objects:
            try:
                ref = controller_of(obj)
                if ref is not None:
                    if ref.get("uid") != owner_uid:
                        continue  # someone else's
                    if self._matches(obj):
                        claimed.append(obj)
                    elif not is_deleting(self.owner):
                        await self._release(obj)
                    continue
                if is_deleting(self.owner) or not self._matches(obj) or is_deleting(obj):
                    continue
                if (obj.get("metadata") or {}).get("namespace") != self.owner["metadata"].get("namespace"):
                    continue
                if await self._adopt(obj):
                    claimed.append(obj)
            except ApiError as err:
                errors.append(err)
        if errors:
            raise errors[0]
        return claimed

    async def _check_can_adopt(self) -> None:
        if self._can_adopt is None:
            meta = self.owner["metadata"]
            try:
                fresh = await self.client.get(self.owner_resource, meta["name"], meta.get("namespace"))
            except ApiError as err:
                if err.not_found:
                    fresh = None
                else:
                    raise
            self._can_adopt = (fresh is not None and uid_of(fresh) == uid_of(self.owner)
                               and not is_deleting(fresh))
        if not self._can_adopt:
            raise ApiError(409, "Conflict", f"{self.owner['metadata']['name']} was deleted or replaced; "
                                            "it cannot adopt")

    async def _adopt(self, obj: Obj) -> bool:
        await self._check_can_adopt()
        meta = obj["metadata"]
        patch = {"metadata": {"ownerReferences": [self.owner_ref], "uid": meta["uid"]}}
        try:
            await self.client.patch(self.ref, meta["name"], patch, meta.get("namespace"), patch_type=self.PATCH)
        except ApiError as err:
            if err.not_found:
                return False
            raise
        return True

    async def _release(self, obj: Obj) -> None:
        meta = obj["metadata"]
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid_of(self.owner)}],
                              "uid": meta["uid"]}}
        try:
            await self.client.patch(self.ref, meta["name"], patch, meta.get("namespace"), patch_type=self.PATCH)
        except ApiError as err:
            # Gone, or replaced by another object of the same name (the uid precondition): nothing to release.
            if not (err.not_found or err.code == 422):
                raise

