"""The ReplicaSet controller: keep `spec.replicas` pods of the template alive.

A port of k/k `pkg/controller/replicaset/replica_set.go` and
`replica_set_utils.go`: claim the pods (adopt matching orphans, release
owned pods that no longer match), create or delete the difference in
slow-start batches, and publish counts through /status. Creations and
deletions in flight are remembered as expectations, so a sync that runs
before the informer caught up does not act twice.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from hakube.client.api import PODS, REPLICASETS, ApiError, Obj
from hakube.client.events import EventRecorder
from hakube.client.informer import Informer, key_of
from hakube.client.workqueue import WorkQueue
from hakube.controllers.base import ControllerContext
from hakube.controllers.expectations import Expectations
from hakube.controllers.objects import (
    OwnerIndex,
    controller_of,
    controller_ref,
    is_deleting,
    labels_of,
    now_time,
    selector_matches,
    uid_of,
)
from hakube.controllers.podcontrol import (
    RefManager,
    is_pod_active,
    is_pod_available,
    is_pod_ready,
    namespace_terminating,
    pod_from_template,
    pods_to_delete,
)

log = logging.getLogger(__name__)

KIND = "ReplicaSet"
API_VERSION = "apps/v1"
BURST_REPLICAS = 500  # burstReplicas: the most pods one sync creates or deletes
SLOW_START_INITIAL_BATCH = 1  # controller.SlowStartInitialBatchSize
STATUS_UPDATE_RETRIES = 1  # statusUpdateRetries


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Run `fn` count times in batches of 1, 2, 4, …; stop after the first batch with a failure.

    Returns (successes, first error) — a quota or admission error costs one
    call, not hundreds (k/k replica_set.go slowStartBatch).
    """
    remaining, successes, batch = count, 0, min(count, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        successes += batch - len(errors)
        for err in errors:
            if not isinstance(err, Exception):
                raise err  # cancellation
        if errors:
            first = errors[0]
            return successes, first if isinstance(first, Exception) else None
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


def _rv(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def described(rs: Obj) -> Obj:
    """The object as events name it (list items may lack kind/apiVersion)."""
    return {**rs, "kind": KIND, "apiVersion": API_VERSION}


def calculate_status(rs: Obj, pods: list[Obj], manage_error: Exception | None) -> Obj:
    """replica_set_utils.go calculateStatus."""
    spec = rs.get("spec") or {}
    status = copy.deepcopy(rs.get("status") or {})
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    now = datetime.now(UTC)
    fully = ready = available = 0
    for pod in pods:
        labels = labels_of(pod)
        if all(labels.get(k) == v for k, v in template_labels.items()):
            fully += 1
        if is_pod_ready(pod):
            ready += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
    conditions = [c for c in status.get("conditions") or []]
    failure = next((c for c in conditions if c.get("type") == "ReplicaFailure"), None)
    if manage_error is not None and failure is None:
        diff = len(pods) - int(spec.get("replicas", 1))
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        message = manage_error.message if isinstance(manage_error, ApiError) else str(manage_error)
        conditions.append({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": now_time(),
                           "reason": reason, "message": message})
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    status["replicas"] = len(pods)
    for field, value in (("fullyLabeledReplicas", fully), ("readyReplicas", ready),
                         ("availableReplicas", available)):
        if value:
            status[field] = value
        else:
            status.pop(field, None)  # omitempty, as the Go types marshal
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    return status


def _same_counts(rs: Obj, new: Obj) -> bool:
    old = rs.get("status") or {}
    fields = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    return (all(int(old.get(f) or 0) == int(new.get(f) or 0) for f in fields)
            and int(rs["metadata"].get("generation") or 0) == int(old.get("observedGeneration") or 0)
            and (old.get("conditions") or []) == (new.get("conditions") or []))


class ReplicaSetController:
    name = "replicaset"

    def __init__(self) -> None:
        self.queue = WorkQueue()
        self.expectations = Expectations()
        self.pods = OwnerIndex()
        self.replicasets = OwnerIndex()
        # uid -> the resourceVersion our own status write replaced (see DeploymentController).
        self._superseded: dict[str, str] = {}
        self._ctx: ControllerContext | None = None
        self._rs_informer: Informer | None = None

    @property
    def ctx(self) -> ControllerContext:
        assert self._ctx is not None, "setup() first"
        return self._ctx

    @property
    def rs_informer(self) -> Informer:
        assert self._rs_informer is not None, "setup() first"
        return self._rs_informer

    def setup(self, ctx: ControllerContext) -> None:
        self._ctx = ctx
        # Events name the controller, as upstream's per-controller recorders do.
        self.recorder = EventRecorder(ctx.client, "replicaset-controller", host=ctx.recorder.host)
        self._rs_informer = ctx.informers.get(REPLICASETS)
        self._rs_informer.add_handler(self._on_replicaset)
        ctx.informers.get(PODS).add_handler(self._on_pod)

    async def run(self, ctx: ControllerContext) -> None:
        for rs in self.rs_informer.items():
            self.queue.add(key_of(rs))
        try:
            await self.queue.run_workers(self.sync, workers=ctx.settings.workers, name=self.name)
        finally:
            self.queue.shutdown()

    # -- event handlers --------------------------------------------------------------

    def _on_replicaset(self, event_type: str, rs: Obj, old: Obj | None) -> None:
        self.replicasets.on_event(event_type, rs, old)
        uid = uid_of(rs)
        if uid in self._superseded and (event_type == "DELETED" or self._superseded[uid] != _rv(rs)):
            del self._superseded[uid]
        key = key_of(rs)
        if event_type == "DELETED" or (old is not None and uid_of(old) != uid_of(rs)):
            self.expectations.forget(key)
        self.queue.add(key)

    def _resolve(self, namespace: str, ref: Obj | None) -> Obj | None:
        if ref is None or ref.get("kind") != KIND:
            return None
        rs = self.rs_informer.get(f"{namespace}/{ref.get('name')}")
        return rs if rs is not None and uid_of(rs) == ref.get("uid") else None

    def _matching_replicasets(self, pod: Obj) -> list[Obj]:
        """ReplicaSets whose selector takes this orphan (getPodReplicaSets)."""
        namespace = pod["metadata"].get("namespace")
        return [rs for rs in self.rs_informer.items() if rs["metadata"].get("namespace") == namespace
                and selector_matches((rs.get("spec") or {}).get("selector"), labels_of(pod))]

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        self.pods.on_event(event_type, pod, old)
        if event_type == "DELETED" or is_deleting(pod):
            self._pod_deleted(pod)
            if old is not None and labels_of(old) != labels_of(pod):
                self._pod_deleted(old)
            return
        namespace = pod["metadata"].get("namespace") or ""
        ref = controller_of(pod)
        if old is None:  # addPod
            if ref is not None:
                rs = self._resolve(namespace, ref)
                if rs is not None:
                    self.expectations.creation_observed(key_of(rs))
                    self.queue.add(key_of(rs))
                return
            for rs in self._matching_replicasets(pod):
                self.queue.add(key_of(rs))
            return
        if old["metadata"].get("resourceVersion") == pod["metadata"].get("resourceVersion"):
            return
        old_ref = controller_of(old)
        if old_ref != ref and old_ref is not None:
            previous = self._resolve(namespace, old_ref)
            if previous is not None:
                self.queue.add(key_of(previous))
        if ref is not None:
            rs = self._resolve(namespace, ref)
            if rs is None:
                return
            self.queue.add(key_of(rs))
            min_ready = int((rs.get("spec") or {}).get("minReadySeconds") or 0)
            if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(pod):
                self.queue.add_after(key_of(rs), min_ready + 1)
            return
        if labels_of(old) != labels_of(pod) or old_ref != ref:
            for rs in self._matching_replicasets(pod):
                self.queue.add(key_of(rs))

    def _pod_deleted(self, pod: Obj) -> None:
        rs = self._resolve(pod["metadata"].get("namespace") or "", controller_of(pod))
        if rs is None:
            return
        key = key_of(rs)
        self.expectations.deletion_observed(key, key_of(pod))
        self.queue.add(key)

    # -- sync ------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        rs = self.rs_informer.get(key)
        if rs is None:
            self.expectations.forget(key)
            return
        if self._superseded.get(uid_of(rs)) == _rv(rs):
            return  # our last status write replaced this copy; its watch event queues us again
        needs_sync = self.expectations.satisfied(key)
        spec = rs.get("spec") or {}
        manager = RefManager(self.ctx.client, owner=rs,
                             owner_ref=controller_ref(rs, kind=KIND, api_version=API_VERSION),
                             ref=PODS, owner_resource=REPLICASETS, selector=spec.get("selector"))
        pods = await manager.claim([p for p in self.pods.candidates(rs) if is_pod_active(p)])
        manage_error: Exception | None = None
        if needs_sync and not is_deleting(rs):
            manage_error = await self.manage_replicas(key, rs, pods)
        status = calculate_status(rs, pods, manage_error)
        updated = await self.update_status(rs, status)
        min_ready = int(spec.get("minReadySeconds") or 0)
        if manage_error is None and min_ready > 0 and updated is not None:
            replicas = int((updated.get("spec") or {}).get("replicas", 1))
            new = updated.get("status") or {}
            if int(new.get("readyReplicas") or 0) == replicas and int(new.get("availableReplicas") or 0) != replicas:
                self.queue.add_after(key, min_ready)
        if manage_error is not None:
            raise manage_error

    async def manage_replicas(self, key: str, rs: Obj, pods: list[Obj]) -> Exception | None:
        """Create or delete the difference; returns the first error (the sync retries it)."""
        diff = len(pods) - int((rs.get("spec") or {}).get("replicas", 1))
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, count)
            log.info("%s: too few replicas (%d); creating %d", key, len(pods), count)
            names: list[str] = []
            created, error = await slow_start_batch(count, SLOW_START_INITIAL_BATCH,
                                                    lambda: self._create_pod(rs, names))
            # Events after the pods, as upstream's asynchronous recorder does: not in the batches' way.
            await asyncio.gather(*(self.recorder.record(described(rs), reason="SuccessfulCreate",
                                                        message=f"Created pod: {name}") for name in names))
            for _ in range(count - created):  # never attempted or failed: the informer will not see them
                self.expectations.creation_observed(key)
            return error
        if diff > 0:
            count = min(diff, BURST_REPLICAS)
            victims = pods_to_delete(pods, self._related_pods(rs), count)
            log.info("%s: too many replicas (%d); deleting %d", key, len(pods), count)
            self.expectations.expect_deletions(key, [key_of(p) for p in victims])
            results = await asyncio.gather(*(self._delete_pod(key, rs, p) for p in victims), return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result
            return next((r for r in results if isinstance(r, Exception)), None)
        return None

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet with the same controller (getIndirectlyRelatedPods)."""
        owner = controller_of(rs)
        if owner is None:
            return []
        related: dict[str, Obj] = {}
        for sibling in self.replicasets.owned_by(str(owner.get("uid"))):
            for pod in self.pods.owned_by(uid_of(sibling)):
                related.setdefault(uid_of(pod), pod)
        return list(related.values())

    async def _create_pod(self, rs: Obj, names: list[str]) -> None:
        meta = rs["metadata"]
        pod = pod_from_template((rs.get("spec") or {}).get("template") or {}, owner_name=meta["name"],
                                namespace=meta["namespace"],
                                owner_ref=controller_ref(rs, kind=KIND, api_version=API_VERSION))
        try:
            created = await self.ctx.client.create(PODS, pod, meta["namespace"])
        except ApiError as err:
            if namespace_terminating(err):
                return  # every create would fail; the namespace controller is removing it all
            await self.recorder.record(described(rs), reason="FailedCreate", type="Warning",
                                       message=f"Error creating: {err.message}")
            raise
        names.append(created["metadata"]["name"])

    async def _delete_pod(self, key: str, rs: Obj, pod: Obj) -> None:
        meta = pod["metadata"]
        try:
            await self.ctx.client.delete(PODS, meta["name"], meta.get("namespace"),
                                         preconditions={"uid": meta["uid"]})
        except ApiError as err:
            # The informer will not report this deletion: count it off now.
            self.expectations.deletion_observed(key, key_of(pod))
            if err.not_found or err.conflict:  # gone, or a new pod under the name (uid precondition)
                return
            await self.recorder.record(described(rs), reason="FailedDelete", type="Warning",
                                       message=f"Error deleting: {err.message}")
            raise
        await self.recorder.record(described(rs), reason="SuccessfulDelete", message=f"Deleted pod: {meta['name']}")

    async def update_status(self, rs: Obj, status: Obj) -> Obj | None:
        """PUT /status with the resourceVersion read; on a conflict re-read once (updateReplicaSetStatus)."""
        if _same_counts(rs, status):
            return rs
        generation = rs["metadata"].get("generation")
        if generation:
            status["observedGeneration"] = generation
        current = rs
        for attempt in range(STATUS_UPDATE_RETRIES + 1):
            try:
                updated: Obj = await self.ctx.client.replace(REPLICASETS, {**described(current), "status": status},
                                                             subresource="status")
                if _rv(updated) != _rv(current):  # an identical write is a no-op: same version
                    self._superseded[uid_of(rs)] = _rv(current)
                return updated
            except ApiError as err:
                if attempt >= STATUS_UPDATE_RETRIES or not err.conflict:
                    raise
            # A failed re-read raises: the counts cannot be trusted then.
            meta = rs["metadata"]
            current = await self.ctx.client.get(REPLICASETS, meta["name"], meta.get("namespace"))
        return None
