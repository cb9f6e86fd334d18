"""The scheduler: informer events in, bindings out.

The shape of kube-scheduler (k/k `pkg/scheduler/scheduler.go`,
`eventhandlers.go`, `schedule_one.go`):

* informer handlers keep the cache and the queue current — bound pods go to
  the cache, pending pods of our scheduler name to the queue, and every
  change that could make a waiting pod fit (a node added or changed, a bound
  pod gone) moves waiting pods back to be tried;
* one loop pops a pod, decides synchronously on the in-memory cache, assumes
  the pod onto the chosen node and goes on to the next pod while the binding
  is sent (the "binding cycle" runs concurrently, at most
  `parallel_bindings` at a time);
* a binding that fails forgets its assumption and the pod is retried after
  its back-off; a pod that fits nowhere gets PodScheduled=False/Unschedulable
  with upstream's message and a FailedScheduling event.

Informers run whether or not this replica leads, so a standby takes over
with a warm cache; only `run` — the loop that writes — needs leadership.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from hakube.client.api import PODS, ApiClient, ApiError
from hakube.client.events import EventRecorder
from hakube.leaderelection import NotLeader
from hakube.scheduler.algorithm import Algorithm, FitError
from hakube.scheduler.cache import SchedulerCache
from hakube.scheduler.filters import (
    INTER_POD_AFFINITY,
    NODE_PORTS,
    NODE_RESOURCES_FIT,
    POD_TOPOLOGY_SPREAD,
)
from hakube.scheduler.nodeinfo import pod_info, pod_key
from hakube.scheduler.queue import QueuedPod, SchedulingQueue

log = logging.getLogger("hakube.scheduler")

Obj = dict[str, Any]
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
DEFAULT_SCHEDULER_NAME = "default-scheduler"

# Which filters a cluster event can change the verdict of (each plugin's EventsToRegister).
_POD_GONE = frozenset({NODE_RESOURCES_FIT, NODE_PORTS, INTER_POD_AFFINITY, POD_TOPOLOGY_SPREAD})
_POD_ADDED = frozenset({INTER_POD_AFFINITY, POD_TOPOLOGY_SPREAD})


@dataclass(frozen=True)
class SchedulerSettings:
    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    parallel_bindings: int = 16
    percentage_of_nodes_to_score: int = 0  # 0: upstream's adaptive percentage
    initial_backoff: float = 1.0  # podInitialBackoffSeconds
    max_backoff: float = 10.0  # podMaxBackoffSeconds
    max_unschedulable: float = 300.0  # podMaxInUnschedulablePodsDuration
    background_writes: int = 8  # events and status patches in flight
    max_pending_events: int = 1000  # beyond this, events are dropped (the broadcaster's queue)


@dataclass
class Stats:
    bound: int = 0
    unschedulable: int = 0
    bind_errors: int = 0


class Background:
    """Best-effort writes (events, status patches) with bounded concurrency; failures are logged."""

    def __init__(self, limit: int, max_pending: int) -> None:
        self._sem = asyncio.Semaphore(limit)
        self._max_pending = max_pending
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str, droppable: bool = True) -> None:
        if droppable and len(self._tasks) >= self._max_pending:
            coro.close()
            log.debug("dropped %s: %d writes pending", name, len(self._tasks))
            return
        task = asyncio.create_task(self._guarded(coro, name), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guarded(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        async with self._sem:
            try:
                await coro
            except NotLeader:
                pass
            except ApiError as err:
                log.debug("%s failed: %s", name, err)
            except Exception:
                log.exception("%s failed", name)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _node_signature(obj: Obj | None) -> Any:
    """What of a node matters to scheduling (nodeSchedulingPropertiesChange), heartbeats excluded."""
    if obj is None:
        return None
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    return ((obj.get("metadata") or {}).get("labels"), spec.get("taints"), spec.get("unschedulable"),
            status.get("allocatable"), ready)


class Scheduler:
    def __init__(self, settings: SchedulerSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.cache = SchedulerCache()
        self.queue = SchedulingQueue(clock=clock, initial_backoff=settings.initial_backoff,
                                     max_backoff=settings.max_backoff, max_unschedulable=settings.max_unschedulable)
        self.algorithm = Algorithm(self.cache, percentage_of_nodes_to_score=settings.percentage_of_nodes_to_score)
        self.stats = Stats()
        self.lookup_pod: Callable[[str], Obj | None] = lambda key: None  # the pod informer's store
        self._binds: dict[str, asyncio.Task[None]] = {}

    # -- informer handlers ---------------------------------------------------------------

    def on_pod(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        meta, spec = obj.get("metadata") or {}, obj.get("spec") or {}
        key, uid = pod_key(obj), str(meta.get("uid") or "")
        phase = (obj.get("status") or {}).get("phase")
        if event_type == "DELETED" or phase in ("Succeeded", "Failed"):
            self.queue.delete(key)
            if self.cache.has_pod(uid):  # bound, or assumed with its binding still on the way
                self.cache.remove_pod(uid)
                self.queue.move_all("AssignedPodDelete", _POD_GONE)
            return
        if spec.get("nodeName"):
            self.queue.delete(key)
            was_bound = old is not None and bool((old.get("spec") or {}).get("nodeName"))
            self.cache.add_pod(pod_info(obj))
            if not was_bound:
                self.queue.move_all("AssignedPodAdd", _POD_ADDED)
            elif (old or {}).get("metadata", {}).get("labels") != meta.get("labels"):
                self.queue.move_all("AssignedPodUpdate", _POD_ADDED)
            return
        if spec.get("schedulerName", DEFAULT_SCHEDULER_NAME) != self.settings.scheduler_name:
            return
        if self.cache.is_assumed(uid):
            return  # our binding is on its way
        if meta.get("deletionTimestamp"):
            self.queue.delete(key)
            return
        if old is not None and (old.get("metadata") or {}).get("uid") != uid:
            self.queue.delete(key)  # deleted and recreated under the same name
        self.queue.add(obj)

    def on_node(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        name = str((obj.get("metadata") or {}).get("name"))
        if event_type == "DELETED":
            self.cache.remove_node(name)
            return
        self.cache.set_node(obj)
        if event_type == "ADDED" or old is None:
            self.queue.move_all("NodeAdd")
        elif _node_signature(old) != _node_signature(obj):
            self.queue.move_all("NodeUpdate")

    def on_namespace(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name"))
        if event_type == "DELETED":
            self.cache.namespace_labels.pop(name, None)
            return
        labels = dict(meta.get("labels") or {})
        if self.cache.namespace_labels.get(name) != labels:
            self.cache.namespace_labels[name] = labels
            self.queue.move_all("NamespaceUpdate", frozenset({INTER_POD_AFFINITY}))

    # -- the scheduling loop (leader only) --------------------------------------------------

    async def run(self, client: ApiClient, recorder: EventRecorder) -> None:
        """Schedule until cancelled; in-flight bindings are abandoned (and their assumptions forgotten)."""
        slots = asyncio.Semaphore(self.settings.parallel_bindings)
        writes = Background(self.settings.background_writes, self.settings.max_pending_events)
        reporter = asyncio.create_task(self._report(), name="scheduler-report")
        try:
            while True:
                await slots.acquire()
                qp, cycle = await self.queue.pop()
                try:
                    started = self._schedule_one(client, recorder, writes, slots, qp, cycle)
                except Exception:
                    log.exception("scheduling %s failed", qp.key)
                    self.queue.add_after_error(qp)
                    started = False
                if not started:
                    slots.release()
                await asyncio.sleep(0)  # let informers and bindings run between decisions
        finally:
            reporter.cancel()
            binds = list(self._binds.values())
            for task in binds:
                task.cancel()
            await asyncio.gather(*binds, reporter, return_exceptions=True)
            await writes.close()

    def _schedule_one(self, client: ApiClient, recorder: EventRecorder, writes: Background,
                      slots: asyncio.Semaphore, qp: QueuedPod, cycle: int) -> bool:
        """Decide for one pod; True if a binding was started (it releases its slot when done)."""
        pod = qp.info
        if pod.terminating or self.cache.has_pod(pod.uid):
            self.queue.done(qp.key)  # being deleted, or already bound/assumed
            return False
        try:
            placement = self.algorithm.schedule(pod)
        except FitError as err:
            self._unschedulable(recorder, writes, qp, cycle, err)
            return False
        self.cache.assume(pod, placement.node)
        self.queue.done(qp.key)
        task = asyncio.create_task(self._bind(client, recorder, writes, slots, qp, placement.node),
                                   name=f"bind-{qp.key}")
        self._binds[pod.uid] = task
        return True

    def _unschedulable(self, recorder: EventRecorder, writes: Background, qp: QueuedPod, cycle: int,
                       err: FitError) -> None:
        self.stats.unschedulable += 1
        self.queue.add_unschedulable(qp, cycle, err.plugins)
        message = err.message
        log.info("unable to schedule %s: %s", qp.key, message)
        obj = {**qp.obj, "kind": "Pod", "apiVersion": "v1"}
        writes.spawn(recorder.record(obj, reason="FailedScheduling", message=message, type="Warning"),
                     name=f"event-{qp.key}")
        condition = _pod_scheduled_condition(qp.obj, status="False", reason="Unschedulable", message=message)
        if condition is not None:
            writes.spawn(self._patch_condition(recorder.client, qp, condition), name=f"status-{qp.key}",
                         droppable=False)

    async def _patch_condition(self, client: ApiClient, qp: QueuedPod, condition: Obj) -> None:
        """updatePod: a strategic merge patch of the PodScheduled condition (merge key `type`)."""
        meta = qp.obj["metadata"]
        await client.patch(PODS, meta["name"], {"status": {"conditions": [condition]}}, meta.get("namespace"),
                           patch_type=STRATEGIC_MERGE_PATCH, subresource="status")

    async def _bind(self, client: ApiClient, recorder: EventRecorder, writes: Background,
                    slots: asyncio.Semaphore, qp: QueuedPod, node: str) -> None:
        pod = qp.info
        meta = qp.obj["metadata"]
        # The uid makes the binding conditional on this very pod (DefaultBinder sets it).
        body = {"apiVersion": "v1", "kind": "Binding",
                "metadata": {"name": pod.name, "namespace": pod.namespace, "uid": pod.uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        started = time.perf_counter()
        try:
            await client.create(PODS, body, pod.namespace, name=pod.name, subresource="binding")
        except asyncio.CancelledError:
            self._binding_failed(qp)
            raise
        except NotLeader:
            self._binding_failed(qp)
        except ApiError as err:
            self.stats.bind_errors += 1
            self._binding_failed(qp)
            log.warning("binding %s to %s failed: %s", qp.key, node, err)
            if err.code not in (404, 409):
                obj = {**qp.obj, "kind": "Pod", "apiVersion": "v1"}
                writes.spawn(recorder.record(obj, reason="FailedScheduling", type="Warning",
                                             message=f"Binding rejected: {err.message or err}"),
                             name=f"event-{qp.key}")
        else:
            self.stats.bound += 1
            log.info("bound %s/%s to %s (%.1f ms)", meta.get("namespace"), meta["name"], node,
                     (time.perf_counter() - started) * 1e3)
            obj = {**qp.obj, "kind": "Pod", "apiVersion": "v1"}
            writes.spawn(recorder.record(obj, reason="Scheduled",
                                         message=f"Successfully assigned {pod.namespace}/{pod.name} to {node}"),
                         name=f"event-{qp.key}")
        finally:
            self._binds.pop(pod.uid, None)
            slots.release()

    def _binding_failed(self, qp: QueuedPod) -> None:
        """Forget the assumption; retry the pod if it is still pending (as the informer sees it)."""
        uid = qp.info.uid
        if not self.cache.is_assumed(uid):
            return  # the informer already saw it bound (the binding did happen)
        self.cache.forget(uid)
        self.queue.move_all("AssignedPodDelete", _POD_GONE)
        current = self.lookup_pod(qp.key)
        if current is None or (current.get("metadata") or {}).get("uid") != uid:
            return
        if (current.get("spec") or {}).get("nodeName") or (current.get("metadata") or {}).get("deletionTimestamp"):
            return
        qp.set_obj(current)
        self.queue.add_after_error(qp)

    async def _report(self, every: float = 10.0) -> None:
        """Say what the loop did, every `every` seconds in which it did something."""
        last = Stats()
        while True:  # until cancelled with the loop it reports on
            await asyncio.sleep(every)
            s = self.stats
            if (s.bound, s.unschedulable, s.bind_errors) == (last.bound, last.unschedulable, last.bind_errors):
                continue
            counts = self.queue.counts()
            log.info("scheduler: bound %d pods (%.1f/s), %d unschedulable attempts, %d binding errors in %.0fs; "
                     "queue: %d active, %d backing off, %d unschedulable; %d bindings in flight",
                     s.bound - last.bound, (s.bound - last.bound) / every, s.unschedulable - last.unschedulable,
                     s.bind_errors - last.bind_errors, every, counts["active"], counts["backoff"],
                     counts["unschedulable"], len(self._binds))
            last = Stats(s.bound, s.unschedulable, s.bind_errors)


def _pod_scheduled_condition(pod: Obj, *, status: str, reason: str, message: str) -> Obj | None:
    """The condition to write, or None when the pod already says so (podutil.UpdatePodCondition)."""
    current = next((c for c in (pod.get("status") or {}).get("conditions") or []
                    if c.get("type") == "PodScheduled"), None)
    if current is not None and (current.get("status"), current.get("reason"), current.get("message")) == (
            status, reason, message):
        return None
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    transition = current.get("lastTransitionTime") if current and current.get("status") == status else now
    return {"type": "PodScheduled", "status": status, "reason": reason, "message": message,
            "lastProbeTime": None, "lastTransitionTime": transition or now}

