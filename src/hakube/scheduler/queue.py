"""The scheduling queue: which pending pod to try next, and when to try a failed one again.

Mirrors kube-scheduler's PriorityQueue (k/k
`pkg/scheduler/backend/queue/scheduling_queue.go`) with its three parts:

* activeQ — pods ready to be tried, highest priority first, then oldest
  (the PrioritySort plugin);
* backoffQ — pods that failed and wait out a per-pod back-off of 1 s doubling
  to 10 s (`podInitialBackoffDuration` / `podMaxBackoffDuration`), then move
  to activeQ by themselves;
* unschedulablePods — pods that fit nowhere. They wait for a cluster event
  that could make them fit: `move_all` (MoveAllToActiveOrBackoffQueue) moves
  those whose failing plugins care about the event to activeQ, or to backoffQ
  if their back-off has not run out yet; and any pod left there longer than
  `max_unschedulable` (5 min upstream) is retried anyway.

If an event arrives while a pod is being tried (between `pop` and its
failure), the pod goes to backoffQ rather than unschedulablePods, so that the
event is not lost (upstream's `moveRequestCycle`). Pods with
`spec.schedulingGates` wait outside the queues until their gates are removed.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hakube.scheduler.nodeinfo import PodInfo, pod_info

log = logging.getLogger(__name__)

Obj = dict[str, Any]

ACTIVE, BACKOFF, UNSCHEDULABLE, IN_FLIGHT, GATED = "active", "backoff", "unschedulable", "in-flight", "gated"


@dataclass(slots=True, eq=False)
class QueuedPod:
    key: str
    obj: Obj
    timestamp: float  # when it was added or last failed: orders activeQ, starts the back-off
    attempts: int = 0
    unschedulable_plugins: frozenset[str] = frozenset()
    updated_in_flight: bool = False
    heap_seq: int = -1  # the pod's current heap entry; older entries of the same pod are stale
    _info: PodInfo | None = field(default=None, repr=False)

    @property
    def info(self) -> PodInfo:
        if self._info is None:
            self._info = pod_info(self.obj)
        return self._info

    def set_obj(self, obj: Obj) -> None:
        self.obj = obj
        self._info = None

    @property
    def priority(self) -> int:
        return int((self.obj.get("spec") or {}).get("priority") or 0)


def _gated(obj: Obj) -> bool:
    return bool((obj.get("spec") or {}).get("schedulingGates"))


def _scheduling_relevant(obj: Obj) -> Obj:
    """What a pod update must change for an unschedulable pod to deserve another try (isPodUpdated)."""
    meta = {k: v for k, v in (obj.get("metadata") or {}).items()
            if k not in ("resourceVersion", "generation", "managedFields")}
    return {"metadata": meta, "spec": obj.get("spec")}


class SchedulingQueue:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic, initial_backoff: float = 1.0,
                 max_backoff: float = 10.0, max_unschedulable: float = 300.0) -> None:
        self.clock = clock
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self._pods: dict[str, QueuedPod] = {}
        self._where: dict[str, str] = {}
        self._unschedulable: dict[str, QueuedPod] = {}  # the same pods as _where == UNSCHEDULABLE, for moves
        self._active: list[tuple[int, float, int, str]] = []
        self._backoff: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self.scheduling_cycle = 0
        self._move_request_cycle = -1

    # -- informer side -------------------------------------------------------------------

    def add(self, obj: Obj) -> None:
        key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        if key in self._pods:
            self.update(obj)
            return
        qp = QueuedPod(key, obj, self.clock())
        self._pods[key] = qp
        if _gated(obj):
            self._where[key] = GATED
        else:
            self._push_active(qp)

    def update(self, obj: Obj) -> None:
        key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        qp = self._pods.get(key)
        if qp is None:
            self.add(obj)
            return
        where = self._where.get(key)
        changed = _scheduling_relevant(qp.obj) != _scheduling_relevant(obj)
        qp.set_obj(obj)
        if where == IN_FLIGHT:
            qp.updated_in_flight = qp.updated_in_flight or changed
        elif where == GATED and not _gated(obj):
            self._push_active(qp)
        elif where == UNSCHEDULABLE and changed:
            self._requeue(qp)
        # in activeQ or backoffQ: the newer object is used when it is popped.

    def delete(self, key: str) -> None:
        self._pods.pop(key, None)
        self._where.pop(key, None)  # heap entries of a deleted pod are skipped when popped
        self._unschedulable.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self._pods

    # -- scheduler side ---------------------------------------------------------------------

    async def pop(self) -> tuple[QueuedPod, int]:
        """The next pod to try and its scheduling cycle; waits while activeQ is empty."""
        while True:
            while self._active:
                _, _, seq, key = heapq.heappop(self._active)
                qp = self._pods.get(key)
                if qp is None or qp.heap_seq != seq or self._where.get(key) != ACTIVE:
                    continue  # deleted or moved since it was pushed
                self._where[key] = IN_FLIGHT
                qp.attempts += 1
                qp.updated_in_flight = False
                self.scheduling_cycle += 1
                return qp, self.scheduling_cycle
            self._ready.clear()
            await self._ready.wait()

    def done(self, key: str) -> None:
        """The pod was placed (assumed): it leaves the queue."""
        if self._where.get(key) == IN_FLIGHT:
            self._pods.pop(key, None)
            self._where.pop(key, None)

    def add_unschedulable(self, qp: QueuedPod, cycle: int, plugins: frozenset[str]) -> None:
        """AddUnschedulableIfNotPresent: the pod fit nowhere (plugins: the filters that rejected it)."""
        if self._pods.get(qp.key) is not qp or self._where.get(qp.key) != IN_FLIGHT:
            return  # deleted or bound while it was being tried
        qp.timestamp = self.clock()
        qp.unschedulable_plugins = plugins
        if not plugins or qp.updated_in_flight or self._move_request_cycle >= cycle:
            self._push_backoff(qp)
        else:
            self._where[qp.key] = UNSCHEDULABLE
            self._unschedulable[qp.key] = qp

    def add_after_error(self, qp: QueuedPod) -> None:
        """Not a verdict on the pod (a failed binding, an API error): retry after its back-off."""
        if self._pods.get(qp.key) is not qp:
            if qp.key in self._pods:
                return
            self._pods[qp.key] = qp  # a forgotten assumption: the pod is pending again
        qp.timestamp = self.clock()
        qp.unschedulable_plugins = frozenset()
        self._push_backoff(qp)

    def move_all(self, event: str, plugins: frozenset[str] | None = None) -> int:
        """A cluster event happened: give the unschedulable pods it may help another chance
        (`plugins`: the filters whose verdict the event can change; None: all of them)."""
        self._move_request_cycle = self.scheduling_cycle
        moved = 0
        for qp in list(self._unschedulable.values()):
            if plugins is None or not qp.unschedulable_plugins or plugins & qp.unschedulable_plugins:
                self._requeue(qp)
                moved += 1
        if moved:
            log.debug("%s: moved %d unschedulable pods back", event, moved)
        return moved

    def flush(self) -> None:
        """Move pods whose back-off ran out to activeQ, and long-unschedulable pods back to the queue."""
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, seq, key = heapq.heappop(self._backoff)
            qp = self._pods.get(key)
            if qp is not None and qp.heap_seq == seq and self._where.get(key) == BACKOFF:
                self._push_active(qp)
        for qp in list(self._unschedulable.values()):
            if now - qp.timestamp > self.max_unschedulable:
                self._requeue(qp)
        self._arm()

    # -- internals ---------------------------------------------------------------------------

    def backoff_duration(self, qp: QueuedPod) -> float:
        duration = self.initial_backoff
        for _ in range(1, qp.attempts):
            duration *= 2
            if duration >= self.max_backoff:
                return self.max_backoff
        return duration

    def _requeue(self, qp: QueuedPod) -> None:
        if qp.timestamp + self.backoff_duration(qp) > self.clock():
            self._push_backoff(qp)
        else:
            self._push_active(qp)

    def _push_active(self, qp: QueuedPod) -> None:
        self._unschedulable.pop(qp.key, None)
        self._where[qp.key] = ACTIVE
        qp.heap_seq = next(self._seq)
        heapq.heappush(self._active, (-qp.priority, qp.timestamp, qp.heap_seq, qp.key))
        self._ready.set()

    def _push_backoff(self, qp: QueuedPod) -> None:
        self._unschedulable.pop(qp.key, None)
        self._where[qp.key] = BACKOFF
        qp.heap_seq = next(self._seq)
        heapq.heappush(self._backoff, (qp.timestamp + self.backoff_duration(qp), qp.heap_seq, qp.key))
        self._arm()

    def _arm(self) -> None:
        """Wake up when the earliest back-off runs out (and every 30 s for the unschedulable leftovers)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # driven by hand (tests with a fake clock)
        due = self._backoff[0][0] if self._backoff else self.clock() + 30.0
        if self._timer is not None and not self._timer.cancelled() and self._timer_at <= due:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = due
        self._timer = loop.call_later(max(0.0, due - self.clock()) + 0.001, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.flush()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def counts(self) -> dict[str, int]:
        out = {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0, IN_FLIGHT: 0, GATED: 0}
        for where in self._where.values():
            out[where] += 1
        return out

    def unschedulable_keys(self) -> list[str]:
        return list(self._unschedulable)
