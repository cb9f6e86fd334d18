"""Taint-based eviction: pods on a node with NoExecute taints go after their tolerations run out.

Mirrors k/k `pkg/controller/tainteviction` (the NoExecute taint manager):
- a pod that does not tolerate every NoExecute taint of its node is deleted
  at once; one that tolerates them all is deleted after the smallest
  `tolerationSeconds` among the tolerations used, counted from when this
  controller first saw the pod under those taints; tolerations without
  seconds tolerate forever;
- kube's DefaultTolerationSeconds admission gives every pod 300 s tolerations
  for `node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable`
  unless it brings its own; we have no such admission, so a pod without one
  is treated as if it had it, with `pod_eviction_timeout` seconds.

Deletion carries a uid precondition. A pod on an unreachable node is deleted
with grace 0: kube deletes gracefully and leaves the pod Terminating until
the kubelet comes back or pod GC force-deletes it, but a hollow node that
stopped heartbeating is dead and nothing would ever finish it. Pods on a
node that is tainted but reachable are deleted gracefully (its kubelet
finishes them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from hakube.client.api import PODS, ApiClient, ApiError, Obj
from hakube.client.events import EventRecorder
from hakube.client.informer import Informer, key_of
from hakube.client.workqueue import WorkQueue

log = logging.getLogger("taint-eviction")

TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
NO_EXECUTE = "NoExecute"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """v1.Toleration.ToleratesTaint."""
    effect, key = toleration.get("effect") or "", toleration.get("key") or ""
    if effect and effect != taint.get("effect"):
        return False
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def with_default_tolerations(tolerations: Sequence[Obj], seconds: float) -> list[Obj]:
    """What DefaultTolerationSeconds admission adds (plugin/pkg/admission/defaulttolerationseconds)."""
    result = list(tolerations)
    for key in (TAINT_NOT_READY, TAINT_UNREACHABLE):
        covered = any((t.get("key") or "") in ("", key) and (t.get("effect") or "") in ("", NO_EXECUTE)
                      for t in tolerations)
        if not covered:
            result.append({"key": key, "operator": "Exists", "effect": NO_EXECUTE, "tolerationSeconds": seconds})
    return result


def eviction_delay(tolerations: Sequence[Obj], taints: Sequence[Obj]) -> float | None:
    """Seconds until eviction under NoExecute `taints`: 0 = now, None = never (getMinTolerationTime)."""
    used = []
    for taint in taints:
        match = next((t for t in tolerations if tolerates(t, taint)), None)
        if match is None:
            return 0.0
        used.append(match)
    if not used:
        return None
    bounded = [float(t["tolerationSeconds"]) for t in used if t.get("tolerationSeconds") is not None]
    if not bounded:
        return None
    return max(0.0, min(bounded))


def no_execute_taints(node: Obj | None) -> list[Obj]:
    return [t for t in ((node or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == NO_EXECUTE]


class TaintEviction:
    """Schedules and carries out evictions; fed by the node lifecycle controller's informers."""

    def __init__(self, *, pods: Informer, nodes: Informer, default_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pods = pods
        self.nodes = nodes
        self.default_seconds = default_seconds
        self.queue = WorkQueue(max_delay=5.0)
        self._clock = clock
        self._since: dict[str, tuple[str, float]] = {}  # pod key → (uid, first seen under NoExecute taints)

    def pod_changed(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        key = key_of(pod)
        if event_type == "DELETED":
            self._since.pop(key, None)
            return
        spec, old_spec = pod.get("spec") or {}, (old or {}).get("spec") or {}
        if not spec.get("nodeName"):
            return
        if old is None or spec.get("nodeName") != old_spec.get("nodeName") or \
                spec.get("tolerations") != old_spec.get("tolerations"):
            self.queue.add(key)

    def node_taints_changed(self, pod_keys: Sequence[str]) -> None:
        for key in pod_keys:
            self.queue.add(key)

    async def sync(self, key: str, *, client: ApiClient, recorder: EventRecorder) -> None:
        pod = self.pods.get(key)
        node_name = ((pod or {}).get("spec") or {}).get("nodeName")
        taints = no_execute_taints(self.nodes.get(node_name)) if node_name else []
        if pod is None or not taints:
            if self._since.pop(key, None) is not None and pod is not None:
                log.info("%s: taints gone from %s; eviction cancelled", key, node_name)
            return
        meta = pod["metadata"]
        tolerations = with_default_tolerations((pod.get("spec") or {}).get("tolerations") or [],
                                               self.default_seconds)
        delay = eviction_delay(tolerations, taints)
        if delay is None:
            self._since.pop(key, None)
            return
        uid = meta.get("uid", "")
        seen_uid, since = self._since.get(key, ("", 0.0))
        if seen_uid != uid:
            since = self._clock()
            self._since[key] = (uid, since)
        remaining = since + delay - self._clock()
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        unreachable = any(t.get("key") == TAINT_UNREACHABLE for t in taints)
        await recorder.record(pod, reason="TaintManagerEviction", message=f"Marking for deletion Pod {key}")
        try:
            await client.delete(PODS, meta["name"], meta.get("namespace"), preconditions={"uid": uid},
                                grace_period=0 if unreachable else None)
        except ApiError as err:
            if not (err.not_found or err.conflict):
                raise
        self._since.pop(key, None)
        log.info("%s: evicted from %s (NoExecute %s after %.0fs%s)", key, node_name,
                 ",".join(str(t.get("key")) for t in taints), delay, ", grace 0" if unreachable else "")
