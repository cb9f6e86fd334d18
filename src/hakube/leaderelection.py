"""Lease-based leader election with client-go's semantics, plus fencing.

Mirrors client-go `tools/leaderelection` (API-COMPAT.md §7):
- a coordination.k8s.io/v1 Lease is the lock; every write is a compare-and-set
  on its resourceVersion, so two candidates never both win;
- expiry is judged on the candidate's own monotonic clock from when it last
  saw the record change, never from the holder's timestamps;
- `lease_duration > renew_deadline > retry_period × 1.2`;
- on a clean shutdown the leader releases the lease (holder "", duration 1 s)
  so a standby takes over at once.

client-go gives no fencing. We do: a leader stops acting as soon as it has not
renewed within `renew_deadline` on its own clock, which is before any other
candidate could see the lease expire (`lease_duration` after its last renewal
was observed). `is_leader()` is checked before every leader-only write, and
those writes carry resourceVersion/uid preconditions, so a leader paused and
resumed (SIGSTOP, a long GC) finds itself no longer leading before it writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hakube.client.api import LEASES, ApiClient, ApiError

log = logging.getLogger(__name__)

JITTER = 1.2  # client-go JitterFactor


@dataclass(frozen=True)
class ElectionConfig:
    lease_name: str
    identity: str
    namespace: str = "kube-system"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if not self.renew_deadline > JITTER * self.retry_period:
            raise ValueError(f"renewDeadline must be greater than retryPeriod*JitterFactor ({JITTER})")
        if self.retry_period <= 0:
            raise ValueError("retryPeriod must be greater than zero")
        if not self.identity:
            raise ValueError("identity must not be empty")


def new_identity(prefix: str) -> str:
    """`<replica>_<random>`: status and users can tell where a leader runs (DESIGN.md §3)."""
    return f"{prefix}_{secrets.token_hex(8)}"


def _microtime() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


Lead = Callable[["LeaderElector"], Coroutine[Any, Any, None]]  # what runs while leading


class NotLeader(Exception):
    """Raised by `ensure_leader` when this candidate may no longer act as leader."""


class LeaderElector:
    def __init__(self, client: ApiClient, config: ElectionConfig, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.config = config
        self.clock = clock
        self._lease: dict[str, Any] | None = None  # the record as last read or written
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0  # our clock when the record last changed
        self._renewed_at: float | None = None  # our clock at our last successful acquire/renew
        self.transitions = 0

    # -- the fence ----------------------------------------------------------------

    def is_leader(self) -> bool:
        """True only while our last renewal is younger than renew_deadline on our own clock."""
        return self._renewed_at is not None and self.clock() - self._renewed_at < self.config.renew_deadline

    def ensure_leader(self) -> None:
        """The fence: call right before every leader-only write."""
        if not self.is_leader():
            raise NotLeader(f"{self.config.identity} is not the leader of {self.config.lease_name}")

    def holder(self) -> str:
        return str(((self._lease or {}).get("spec") or {}).get("holderIdentity") or "")

    # -- one attempt -----------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One round of client-go's tryAcquireOrRenew; True when we hold the lease afterwards."""
        cfg = self.config
        now_text = _microtime()
        try:
            lease = await self.client.get(LEASES, cfg.lease_name, cfg.namespace)
        except ApiError as err:
            if not err.not_found:
                return False
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": cfg.lease_name, "namespace": cfg.namespace},
                    "spec": {"holderIdentity": cfg.identity, "leaseDurationSeconds": int(cfg.lease_duration),
                             "acquireTime": now_text, "renewTime": now_text, "leaseTransitions": 0}}
            started = self.clock()
            try:
                self._lease = await self.client.create(LEASES, body, cfg.namespace)
            except ApiError:
                return False
            self._observe(self._lease, started)
            self._renewed_at = started
            return True
        started = self.clock()
        self._observe(lease, started)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        if holder and holder != cfg.identity and self._observed_at + duration > started:
            return False  # held by another, and not yet expired by our clock
        ours = holder == cfg.identity
        new_spec = dict(spec)
        new_spec.update(holderIdentity=cfg.identity, leaseDurationSeconds=int(cfg.lease_duration),
                        renewTime=now_text)
        if not ours:
            new_spec["acquireTime"] = now_text
            # client-go counts a transition whenever the previous holder was not us (released too).
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        updated = {**lease, "spec": new_spec}
        try:
            self._lease = await self.client.replace(LEASES, updated)  # CAS on the resourceVersion read
        except ApiError:
            return False
        self._observe(self._lease, started)
        self._renewed_at = started
        return True

    def _observe(self, lease: dict[str, Any], at: float) -> None:
        spec = lease.get("spec") or {}
        if spec != self._observed_spec:
            self._observed_spec = dict(spec)
            self._observed_at = at
        self._lease = lease
        self.transitions = int(spec.get("leaseTransitions") or 0)

    async def release(self) -> None:
        """Give the lease up (ReleaseOnCancel): holder "", duration 1 s, transitions kept."""
        if self._lease is None or self.holder() != self.config.identity:
            return
        self._renewed_at = None
        spec = dict(self._lease.get("spec") or {})
        now_text = _microtime()
        spec.update(holderIdentity="", leaseDurationSeconds=1, acquireTime=now_text, renewTime=now_text)
        with contextlib.suppress(ApiError):
            self._lease = await self.client.replace(LEASES, {**self._lease, "spec": spec})

    # -- the loop -----------------------------------------------------------------------

    def _jittered(self) -> float:
        return self.config.retry_period * (1 + random.random() * (JITTER - 1))

    async def run(self, lead: Lead, *, on_event: Callable[[str], None] | None = None) -> None:
        """Campaign forever; while leading, run `lead(self)`; stop it the moment leadership is lost.

        Cancelling `run` stops leading and (by default) releases the lease.
        """
        say = on_event or (lambda msg: log.info("%s", msg))
        cfg = self.config
        changed = asyncio.Event()
        watcher = asyncio.create_task(self._watch_lease(changed), name=f"watch-lease-{cfg.lease_name}")
        try:
            while True:
                while not await self.try_acquire_or_renew():
                    # Poll every retry period as client-go does, but wake at once when the
                    # Lease changes: a released lease (holder "") is taken over in
                    # milliseconds instead of up to a retry period later.
                    changed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(changed.wait(), self._jittered())
                say(f"{cfg.identity}: became leader of {cfg.namespace}/{cfg.lease_name}")
                task = asyncio.create_task(lead(self), name=f"lead-{cfg.lease_name}")
                try:
                    await self._renew_until_lost(task)
                finally:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
                say(f"{cfg.identity}: stopped leading {cfg.namespace}/{cfg.lease_name}")
                await asyncio.sleep(self._jittered())  # never a tight loop, whatever ended the term
        finally:
            watcher.cancel()
            if cfg.release_on_cancel:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.release())

    async def _watch_lease(self, changed: asyncio.Event) -> None:
        """Set `changed` on every change of our Lease (best effort; polling still runs without it)."""
        cfg = self.config
        rv = ""
        while True:
            try:
                if not rv:
                    listed = await self.client.list(LEASES, cfg.namespace,
                                                    field_selector=f"metadata.name={cfg.lease_name}")
                    rv = listed["metadata"]["resourceVersion"]
                async for _type, obj in self.client.watch(LEASES, cfg.namespace, resource_version=rv,
                                                          field_selector=f"metadata.name={cfg.lease_name}",
                                                          timeout_seconds=300):
                    rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    changed.set()
            except ApiError as err:
                if err.gone:
                    rv = ""
                await asyncio.sleep(self.config.retry_period)

    async def _renew_until_lost(self, task: asyncio.Task[None]) -> None:
        cfg = self.config
        while True:
            # Sleep until the next renewal, but wake at once if the fence runs out first.
            remaining = cfg.renew_deadline - (self.clock() - (self._renewed_at or 0.0))
            await asyncio.wait({task}, timeout=max(0.0, min(cfg.retry_period, remaining)))
            if task.done():
                return
            if not self.is_leader():
                return
            deadline = (self._renewed_at or 0.0) + cfg.renew_deadline
            while not await self.try_acquire_or_renew():
                if self.clock() >= deadline:
                    self._renewed_at = None
                    return
                await asyncio.sleep(min(self._jittered(), max(0.0, deadline - self.clock())))
