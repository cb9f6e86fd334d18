"""The node lifecycle controller: node health from heartbeats, condition taints, evictions.

Mirrors k/k `pkg/controller/nodelifecycle` (1.32):
- **Health.** A node is alive while its Lease in kube-node-lease (or its
  Ready heartbeat) keeps changing. Like leader election, staleness is judged
  on this controller's own monotonic clock from when it last saw a change,
  never from the kubelet's timestamps, so clock skew cannot fake either way.
  A node unseen for `node_monitor_grace_period` gets Ready, MemoryPressure,
  DiskPressure and PIDPressure = Unknown (reason NodeStatusUnknown, "Kubelet
  stopped posting node status."), and its pods' Ready condition goes False
  (MarkPodsNotReady) so endpoints drop them. The kubelet sets Ready=True again
  when it comes back.
- **Taints.** NoSchedule taints follow conditions (Ready False → not-ready,
  Unknown → unreachable, pressure conditions, NetworkUnavailable) and
  spec.unschedulable (TaintNodesByCondition); NoExecute not-ready/unreachable
  taints follow Ready and drive eviction (`hakube.controllers.tainteviction`).
  Every controller-added taint carries timeAdded.
- **Disruption.** Zones (region + zone labels) are Normal, PartialDisruption
  (more than 2 and at least 55 % of nodes not Ready) or FullDisruption (none
  Ready). When every zone is fully disrupted the trouble is most likely ours
  (the control plane cannot hear any node), so NoExecute taints are removed
  and none are added ("master disruption mode"); on leaving it every node's
  clock restarts. In a partially disrupted zone no new NoExecute taints are
  added (kube: rate 0 for clusters of ≤ 50 nodes, 0.01 node/s above; we use
  0 for every size). Kube rate-limits tainting in other zones
  (--node-eviction-rate, 0.1 node/s); we taint at once, but a new
  unreachable NoExecute taint also needs the node to have been silent for a
  full grace period on our clock: kube taints nodes still Unknown as soon as
  master disruption mode ends, we give them the time to report first.

Writes are compare-and-set on the resourceVersion last seen; a conflict is
retried once on a fresh read, then left to the next pass.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from hakube.client.api import LEASES, NODES, PODS, ApiClient, ApiError, Obj
from hakube.client.informer import key_of
from hakube.controllers.base import ControllerContext
from hakube.controllers.tainteviction import TAINT_NOT_READY, TAINT_UNREACHABLE, TaintEviction

log = logging.getLogger("nodelifecycle")

NODE_LEASE_NAMESPACE = "kube-node-lease"
EXCLUDE_DISRUPTION = "node.kubernetes.io/exclude-disruption"
UNHEALTHY_ZONE_THRESHOLD = 0.55
# (condition, status) → NoSchedule taint key (nodeConditionToTaintKeyStatusMap)
CONDITION_TAINTS = {
    ("Ready", "False"): TAINT_NOT_READY,
    ("Ready", "Unknown"): TAINT_UNREACHABLE,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
_MANAGED_NO_SCHEDULE = {*CONDITION_TAINTS.values(), TAINT_UNSCHEDULABLE}
_MANAGED_NO_EXECUTE = {TAINT_NOT_READY, TAINT_UNREACHABLE}
_UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


class ZoneState(Enum):
    NORMAL = "Normal"
    PARTIAL = "PartialDisruption"
    FULL = "FullDisruption"


def zone_state(ready: list[str | None]) -> ZoneState:
    """ComputeZoneState over the Ready statuses of a zone's nodes."""
    not_ready = sum(1 for s in ready if s != "True")
    if not_ready and not_ready == len(ready):
        return ZoneState.FULL
    if not_ready > 2 and not_ready / len(ready) >= UNHEALTHY_ZONE_THRESHOLD:
        return ZoneState.PARTIAL
    return ZoneState.NORMAL


def condition(obj: Obj | None, kind: str) -> Obj | None:
    return next((c for c in ((obj or {}).get("status") or {}).get("conditions") or [] if c.get("type") == kind),
                None)


def zone_key(node: Obj) -> str:
    labels = node["metadata"].get("labels") or {}
    return f"{labels.get('topology.kubernetes.io/region', '')}:{labels.get('topology.kubernetes.io/zone', '')}"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wanted_taints(node: Obj, *, no_execute: str | None) -> list[Obj]:
    """The node's taints with the controller-managed ones replaced by what its state calls for."""
    spec, now = node.get("spec") or {}, _now()
    current = list(spec.get("taints") or [])
    wanted = {(key, "NoSchedule") for (kind, status), key in CONDITION_TAINTS.items()
              if (condition(node, kind) or {}).get("status") == status}
    if spec.get("unschedulable"):
        wanted.add((TAINT_UNSCHEDULABLE, "NoSchedule"))
    if no_execute:
        wanted.add((no_execute, "NoExecute"))
    kept = [t for t in current if not _managed(t) or (t.get("key"), t.get("effect")) in wanted]
    have = {(t.get("key"), t.get("effect")) for t in kept}
    added = [{"key": k, "effect": e, "timeAdded": now} for k, e in sorted(wanted - have)]
    return kept + added


def _managed(taint: Obj) -> bool:
    key, effect = taint.get("key"), taint.get("effect")
    return (effect == "NoSchedule" and key in _MANAGED_NO_SCHEDULE) or \
        (effect == "NoExecute" and key in _MANAGED_NO_EXECUTE)


@dataclass
class _Health:
    probe: float  # our clock when the node last showed life
    lease: str | None  # the Lease renewTime last seen
    heartbeat: str | None  # the Ready lastHeartbeatTime last seen


class NodeLifecycleController:
    name = "nodelifecycle"

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._health: dict[str, _Health] = {}
        self._pods_by_node: dict[str, set[str]] = {}
        self._to_mark: set[str] = set()  # nodes whose pods still need Ready=False
        self._zones: dict[str, ZoneState] = {}
        self.master_disruption = False
        self._wake = asyncio.Event()

    # -- setup: informers feed the health table, the pod index and the eviction queue ---------------

    def setup(self, ctx: ControllerContext) -> None:
        self._nodes = ctx.informers.get(NODES)
        self._leases = ctx.informers.get(LEASES)
        self._pods = ctx.informers.get(PODS)
        self.eviction = TaintEviction(pods=self._pods, nodes=self._nodes,
                                      default_seconds=ctx.settings.pod_eviction_timeout, clock=self._clock)
        self._pods.add_handler(self._on_pod)
        self._nodes.add_handler(self._on_node)
        self._leases.add_handler(self._on_lease)

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        key, node = key_of(pod), (pod.get("spec") or {}).get("nodeName") or ""
        if node:
            if event_type == "DELETED":
                self._pods_by_node.get(node, set()).discard(key)
            else:
                self._pods_by_node.setdefault(node, set()).add(key)
        self.eviction.pod_changed(event_type, pod, old)

    def _on_node(self, event_type: str, node: Obj, old: Obj | None) -> None:
        name = node["metadata"]["name"]
        if event_type == "DELETED":
            self._health.pop(name, None)
            self._to_mark.discard(name)
            return
        before = [t for t in ((old or {}).get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        after = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if before != after:
            self.eviction.node_taints_changed(sorted(self._pods_by_node.get(name, ())))
        if (condition(node, "Ready") or {}).get("status") != (condition(old, "Ready") or {}).get("status"):
            self._wake.set()

    def _on_lease(self, event_type: str, lease: Obj, old: Obj | None) -> None:
        meta = lease["metadata"]
        if meta.get("namespace") != NODE_LEASE_NAMESPACE or event_type == "DELETED":
            return
        node = self._nodes.get(meta["name"])
        if node is not None and (condition(node, "Ready") or {}).get("status") != "True":
            self._wake.set()  # a dead node may be back: look now, not at the next period

    # -- run ---------------------------------------------------------------------------------------

    async def run(self, ctx: ControllerContext) -> None:
        workers = asyncio.create_task(self.eviction.queue.run_workers(
            lambda key: self.eviction.sync(key, client=ctx.client, recorder=ctx.recorder),
            workers=ctx.settings.workers, name="taint-eviction"), name="taint-eviction-workers")
        try:
            while True:
                try:
                    await self.monitor(ctx)
                except ApiError as err:
                    log.warning("node health pass failed: %s", err)
                self._wake.clear()
                # Sleep to the next period, or until the first node could go stale, or a wake-up.
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._next_wait(ctx))
                except TimeoutError:
                    pass
                await asyncio.sleep(0.05)  # coalesce bursts of wake-ups
        finally:
            workers.cancel()
            self.eviction.queue.shutdown()

    def _next_wait(self, ctx: ControllerContext) -> float:
        grace, now = ctx.settings.node_monitor_grace_period, self._clock()
        upcoming = [h.probe + grace - now for h in self._health.values() if h.probe + grace > now]
        return max(0.05, min([ctx.settings.node_monitor_period, *(u + 0.05 for u in upcoming)]))

    async def monitor(self, ctx: ControllerContext) -> None:
        """One pass of monitorNodeHealth: health, conditions, zone states, taints, pods."""
        nodes = []
        for node in self._nodes.items():
            observed = (condition(node, "Ready") or {}).get("status")
            node = await self._update_health(ctx, node)
            current = (condition(node, "Ready") or {}).get("status")
            if current != "True" and observed == "True":
                name = node["metadata"]["name"]
                log.info("%s: Ready=%s; marking its pods not ready", name, current)
                await ctx.recorder.record(node, reason="NodeNotReady",
                                          message=f"Node {name} status is now: NodeNotReady")
                self._to_mark.add(name)
            nodes.append(node)
        self._handle_disruption(nodes)
        for node in nodes:
            await self._reconcile_taints(ctx, node)
        for name in sorted(self._to_mark):
            if await self._mark_pods_not_ready(ctx, name):
                self._to_mark.discard(name)

    async def _update_health(self, ctx: ControllerContext, node: Obj) -> Obj:
        name, now = node["metadata"]["name"], self._clock()
        lease = self._leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        heartbeat = (condition(node, "Ready") or {}).get("lastHeartbeatTime")
        health = self._health.get(name)
        if health is None:
            health = self._health[name] = _Health(probe=now, lease=renew, heartbeat=heartbeat)
        if renew != health.lease or heartbeat != health.heartbeat:
            health.probe, health.lease, health.heartbeat = now, renew, heartbeat
        grace = ctx.settings.node_monitor_grace_period
        if now - health.probe <= grace:
            return node

        def to_unknown(fresh: Obj) -> Obj | None:
            beat = (condition(fresh, "Ready") or {}).get("lastHeartbeatTime")
            if beat != health.heartbeat:  # it posted while we looked: alive
                health.probe, health.heartbeat = self._clock(), beat
                return None
            conditions, stamp, changed = fresh.setdefault("status", {}).setdefault("conditions", []), _now(), False
            for kind in _UNKNOWN_CONDITIONS:
                c = condition(fresh, kind)
                if c is None:
                    conditions.append({"type": kind, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                                       "message": "Kubelet never posted node status.",
                                       "lastHeartbeatTime": fresh["metadata"].get("creationTimestamp"),
                                       "lastTransitionTime": stamp})
                    changed = True
                elif c.get("status") != "Unknown":
                    c.update(status="Unknown", reason="NodeStatusUnknown",
                             message="Kubelet stopped posting node status.", lastTransitionTime=stamp)
                    changed = True
            return fresh if changed else None

        updated = await self._update(ctx.client, node, to_unknown, subresource="status")
        if (condition(updated, "Ready") or {}).get("status") != (condition(node, "Ready") or {}).get("status"):
            log.info("%s: no heartbeat for %.1fs; Ready=Unknown", name, now - health.probe)
        return updated

    def _handle_disruption(self, nodes: list[Obj]) -> None:
        ready_by_zone: dict[str, list[str | None]] = {}
        for node in nodes:
            if EXCLUDE_DISRUPTION in (node["metadata"].get("labels") or {}):
                continue
            ready_by_zone.setdefault(zone_key(node), []).append((condition(node, "Ready") or {}).get("status"))
        states = {zone: zone_state(ready) for zone, ready in ready_by_zone.items()}
        all_full = bool(states) and all(s is ZoneState.FULL for s in states.values())
        if all_full and not self.master_disruption:
            log.warning("no node is Ready: entering master disruption mode (no NoExecute taints, no evictions)")
        elif self.master_disruption and not all_full:
            log.info("some nodes are Ready again: leaving master disruption mode")
            now = self._clock()
            for health in self._health.values():
                health.probe = now
        for zone, state in states.items():
            if self._zones.get(zone, ZoneState.NORMAL) is not state:
                log.info("zone %r is now %s", zone, state.value)
        self.master_disruption = all_full
        self._zones = states

    async def _reconcile_taints(self, ctx: ControllerContext, node: Obj) -> None:
        ready = (condition(node, "Ready") or {}).get("status")
        want = {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE}.get(ready or "")
        has = {t.get("key") for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"}
        health = self._health.get(node["metadata"]["name"])
        silent = health is None or self._clock() - health.probe > ctx.settings.node_monitor_grace_period
        if self.master_disruption:
            want = None
        elif want and not has & _MANAGED_NO_EXECUTE:
            if self._zones.get(zone_key(node)) is ZoneState.PARTIAL:
                want = None  # no new NoExecute taints in a partially disrupted zone (a swap is fine)
            elif want == TAINT_UNREACHABLE and not silent:
                want = None  # heard from within the grace period (e.g. since master disruption ended)

        def retaint(fresh: Obj) -> Obj | None:
            taints = wanted_taints(fresh, no_execute=want)
            if taints == ((fresh.get("spec") or {}).get("taints") or []):
                return None
            fresh.setdefault("spec", {})["taints"] = taints
            if not taints:
                del fresh["spec"]["taints"]
            return fresh

        updated = await self._update(ctx.client, node, retaint)
        if _taint_keys(updated) != _taint_keys(node):
            log.info("%s: taints now %s", node["metadata"]["name"], ", ".join(_taint_keys(updated)) or "none")

    async def _mark_pods_not_ready(self, ctx: ControllerContext, node_name: str) -> bool:
        """MarkPodsNotReady; True when every pod is done."""
        done = True
        for key in sorted(self._pods_by_node.get(node_name, ())):
            pod = self._pods.get(key)
            ready = condition(pod, "Ready")
            if pod is None or ready is None or ready.get("status") == "False":
                continue
            body = copy.deepcopy(pod)
            c = condition(body, "Ready")
            assert c is not None
            c.update(status="False", lastTransitionTime=_now())
            try:
                await ctx.client.replace(PODS, body, subresource="status")
            except ApiError as err:
                if not err.not_found:
                    done = False
        return done

    async def _update(self, client: ApiClient, obj: Obj, mutate: Callable[[Obj], Obj | None], *,
                      subresource: str = "") -> Obj:
        """Compare-and-set `mutate(copy)` (None: nothing to do); one retry on a fresh read after a conflict."""
        current = obj
        for attempt in range(2):
            body = mutate(copy.deepcopy(current))
            if body is None:
                return current
            try:
                return await client.replace(NODES, body, subresource=subresource)
            except ApiError as err:
                if err.not_found or (err.conflict and attempt):
                    return current  # deleted, or changing under us: the next pass sees the newer object
                if not err.conflict:
                    raise
            try:
                current = await client.get(NODES, obj["metadata"]["name"])
            except ApiError as err:
                if err.not_found:
                    return current
                raise
        return current


def _taint_keys(node: Obj) -> list[str]:
    return sorted(f"{t.get('key')}:{t.get('effect')}" for t in (node.get("spec") or {}).get("taints") or [])
