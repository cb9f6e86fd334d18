"""API server identity: each API server announces itself with a Lease (feature gate APIServerIdentity).

Mirrors kube-apiserver 1.20–1.25 (k/k PR #95533, KEP-1965): at start a server
picks the ID `kube-apiserver-<UUID>`, keeps a Lease of that name in kube-system
labelled `k8s.io/component=kube-apiserver` with holderIdentity = the ID, and
renews it every renew interval (`labelAPIServerHeartbeat`, the lease
controller of `component-helpers`). Every server also collects the identity
Leases nobody renewed for longer than the lease duration
(`pkg/controlplane/controller/apiserverleasegc`): it re-reads each one and
deletes it with uid and resourceVersion preconditions, so a Lease renewed in
between survives and two servers collecting at once do no harm (the loser
sees 404 or 409 and moves on). A server stopped gracefully deletes its own.

Later releases switched to a hostname-derived name (API-COMPAT.md §7 table);
the random per-start name is what lets several replicas share one host.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from hakube.apiserver import status, timefmt
from hakube.apiserver.registry import Registry, WriteOptions
from hakube.apiserver.strategy import Obj
from hakube.store.errors import StoreError

log = logging.getLogger(__name__)

FEATURE_GATE = "APIServerIdentity"
NAMESPACE = "kube-system"
LABEL_KEY = "k8s.io/component"
LABEL_VALUE = "kube-apiserver"
PREFIX = "kube-apiserver-"


@dataclass(frozen=True)
class IdentitySettings:
    renew_interval: float = 10.0  # --identity-lease-renew-interval-seconds
    duration: int = 3600  # --identity-lease-duration-seconds (also the GC period)

    def __post_init__(self) -> None:
        if self.renew_interval <= 0:
            raise ValueError("--identity-lease-renew-interval-seconds must be positive")
        if self.duration <= 0:
            raise ValueError("--identity-lease-duration-seconds must be positive")


def new_identity() -> str:
    return f"{PREFIX}{uuid.uuid4()}"


def is_identity_lease(lease: Obj) -> bool:
    return ((lease.get("metadata") or {}).get("labels") or {}).get(LABEL_KEY) == LABEL_VALUE


def expired(lease: Obj, *, now: datetime) -> bool:
    """Not renewed for longer than its duration, or missing either (apiserverleasegc `isLeaseExpired`)."""
    spec = lease.get("spec") or {}
    renew, duration = spec.get("renewTime"), spec.get("leaseDurationSeconds")
    if not renew or duration is None:
        return True
    try:
        renewed = timefmt.parse_time(renew)
    except ValueError:
        return True
    return (now - renewed).total_seconds() > float(duration)


class IdentityLease:
    """This server's identity Lease, and the collector of everybody's expired ones."""

    def __init__(self, leases: Registry, settings: IdentitySettings, *, identity: str | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.leases = leases
        self.settings = settings
        self.identity = identity or new_identity()
        self.clock = clock

    def _desired(self) -> Obj:
        now = timefmt.format_microtime(self.clock())
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.identity, "namespace": NAMESPACE,
                             "labels": {LABEL_KEY: LABEL_VALUE}},
                "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.settings.duration,
                         "acquireTime": now, "renewTime": now}}

    # -- heartbeat -------------------------------------------------------------------

    async def renew(self) -> str:
        """Create or renew our Lease (recreated if a peer collected it while we were away)."""
        desired = self._desired()

        def mutate(old: Obj) -> Obj:
            spec = old.setdefault("spec", {})
            spec["holderIdentity"] = self.identity
            spec["leaseDurationSeconds"] = self.settings.duration
            spec["renewTime"] = desired["spec"]["renewTime"]
            labels = old["metadata"].setdefault("labels", {})
            labels[LABEL_KEY] = LABEL_VALUE
            return old

        _obj, created = await self.leases.update(NAMESPACE, self.identity, mutate, WriteOptions(),
                                                 create_if_missing=desired)
        return f"created identity lease {self.identity}" if created else ""

    async def run_heartbeat(self) -> None:
        while True:
            try:
                said = await self.renew()
            except (status.StatusError, StoreError) as err:
                log.warning("renewing identity lease %s: %s", self.identity, err)
            else:
                if said:
                    log.info("%s", said)
            await asyncio.sleep(self.settings.renew_interval)

    async def release(self) -> str:
        """Delete our own Lease (graceful stop). Never raises: shutdown must go on."""
        try:
            current = await self.leases.get(NAMESPACE, self.identity)
            pre = {"uid": current["metadata"].get("uid")}
            await self.leases.delete(NAMESPACE, self.identity, options={"preconditions": pre},
                                     opts=WriteOptions())
        except status.StatusError as err:
            if err.code == 404:
                return "identity lease already gone"
            return f"could not delete identity lease {self.identity}: {err.message}"
        except StoreError as err:
            return f"could not delete identity lease {self.identity}: {err}"
        return f"deleted identity lease {self.identity}"

    # -- garbage collection -----------------------------------------------------------

    async def collect(self) -> list[str]:
        """Delete every identity Lease that expired; returns the names deleted by us."""
        prefix = self.leases.resource.collection_prefix(NAMESPACE)
        if not prefix.endswith("/"):
            prefix += "/"
        candidates = [o for o in self.leases.cache.snapshot(prefix) if is_identity_lease(o)]
        deleted = []
        for cached in candidates:
            name = cached["metadata"]["name"]
            if name == self.identity or not expired(cached, now=self.clock()):
                continue
            try:
                # Re-read from etcd: the cache may lag a renewal (gc_controller.go does the same).
                lease = await self.leases.get(NAMESPACE, name)
                if not is_identity_lease(lease) or not expired(lease, now=self.clock()):
                    continue
                meta = lease["metadata"]
                await self.leases.delete(
                    NAMESPACE, name, opts=WriteOptions(),
                    options={"preconditions": {"uid": meta.get("uid"),
                                               "resourceVersion": meta.get("resourceVersion")}})
            except status.StatusError as err:
                if err.code in (404, 409):  # a peer collected it first, or its owner renewed it
                    continue
                raise
            deleted.append(name)
        return deleted

    async def run_gc(self, *, period: float | None = None) -> None:
        period = float(self.settings.duration) if period is None else period
        while True:
            await asyncio.sleep(period)
            started = time.monotonic()
            try:
                deleted = await self.collect()
            except (status.StatusError, StoreError) as err:
                log.warning("identity lease GC: %s", err)
                continue
            if deleted:
                log.info("identity lease GC deleted %s (%.2fs)", ", ".join(deleted), time.monotonic() - started)
