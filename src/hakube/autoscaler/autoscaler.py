"""One scan of the cluster autoscaler: scale up for unschedulable pods, scale down unneeded nodes.

Mirrors upstream's `core/static_autoscaler.go` RunOnce, reduced to what a
local cluster of hollow nodes needs:

* **Scale up.** Pods the scheduler marked PodScheduled=False/Unschedulable
  that fit no existing node (simulated) are bin-packed onto template nodes of
  every group with room; the option that runs the most pods wins, and the
  nodes it needs are spread over the similar groups (those that would run the
  same pods), the smallest group first, never past a group's max
  (`--balance-similar-node-groups`).
* **Scale down.** A node of a group above its min whose requested/allocatable
  stays under the threshold for the unneeded time, whose pods are all
  replicated and would all fit elsewhere (simulated), and whose eviction
  breaks no PodDisruptionBudget, is tainted ToBeDeletedByClusterAutoscaler,
  drained through the eviction API and removed.

Nodes are added and removed through a `NodeProvider` (on a local cluster:
hollow node hosts in the cluster directory), so the decisions are tested
without processes and time comes from an injected clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hakube.autoscaler.disruption import blocking_budget
from hakube.autoscaler.groups import NodeGroup
from hakube.autoscaler.simulator import (
    CONTROL_PLANE,
    TO_BE_DELETED,
    Estimate,
    Snapshot,
    estimate,
    filter_out_schedulable,
    find_places,
    is_unschedulable,
    pods_to_move,
    utilization,
)
from hakube.client.api import NODES, PODS, ApiClient, ApiError
from hakube.client.events import EventRecorder
from hakube.scheduler.nodeinfo import pod_key

log = logging.getLogger(__name__)

Obj = dict[str, Any]


class NodeProvider(Protocol):
    def groups(self) -> dict[str, NodeGroup]: ...

    def members(self) -> dict[str, list[str]]:
        """Node names of every zone that has hollow nodes."""
        ...

    async def add(self, zone: str, count: int) -> list[str]: ...

    async def remove(self, names: list[str]) -> list[str]: ...


class Cluster(Protocol):
    """What the autoscaler reads: the informers' stores."""

    def nodes(self) -> list[Obj]: ...

    def pods(self) -> list[Obj]: ...

    def pdbs(self) -> list[Obj]: ...


@dataclass(frozen=True, slots=True)
class Settings:
    unneeded_time: float = 600.0
    utilization_threshold: float = 0.5
    delay_after_add: float = 600.0
    drain_timeout: float = 60.0


@dataclass(slots=True)
class Activity:
    """What the status ConfigMap reports: the last decisions and when they were made (wall clock)."""

    last_probe: float = 0.0
    last_scale_up: float = 0.0
    last_scale_down: float = 0.0
    scale_up: str = "NoActivity"
    scale_down: str = "NoCandidates"
    candidates: dict[str, float] = field(default_factory=dict)  # node -> unneeded since (monotonic)
    group_scale_up: dict[str, float] = field(default_factory=dict)  # zone -> monotonic time of last scale-up
    notes: dict[str, str] = field(default_factory=dict)  # node -> why it is not removed


class Autoscaler:
    def __init__(self, *, client: ApiClient, recorder: EventRecorder, cluster: Cluster, provider: NodeProvider,
                 settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.recorder = recorder
        self.cluster = cluster
        self.provider = provider
        self.settings = settings
        self.clock = clock
        self.activity = Activity()
        self._no_scale_up_reported: set[str] = set()

    # -- the scan -----------------------------------------------------------------------------

    async def run_once(self) -> str:
        self.activity.last_probe = time.time()
        groups = self.provider.groups()
        if not groups:
            self.activity.candidates.clear()
            return "no node groups configured"
        nodes = self.cluster.nodes()
        pods = self.cluster.pods()
        pending = [p for p in pods if is_unschedulable(p)]
        bound = [p for p in pods if (p.get("spec") or {}).get("nodeName")]
        still = filter_out_schedulable(Snapshot(nodes, bound), pending) if pending else []
        if still:
            return await self._scale_up(groups, nodes, bound, still)
        self.activity.scale_up = "NoActivity"
        if pending:
            self.activity.candidates.clear()
            return f"{len(pending)} unschedulable pods fit existing nodes; waiting for the scheduler"
        return await self._scale_down(groups, nodes, pods)

    # -- scale up -------------------------------------------------------------------------------

    async def _scale_up(self, groups: dict[str, NodeGroup], nodes: list[Obj], bound: list[Obj],
                        pending: list[Obj]) -> str:
        self.activity.candidates.clear()
        members = self.provider.members()
        options: list[Estimate] = []
        for zone, group in sorted(groups.items()):
            room = group.max_size - len(members.get(zone, []))
            if room <= 0:
                continue
            est = estimate(nodes=nodes, bound=bound, pending=pending, zone=zone, room=room)
            if est.nodes:
                options.append(est)
        if not options:
            self.activity.scale_up = "NoActivity"
            for pod in pending:
                uid = str(pod["metadata"].get("uid"))
                if uid not in self._no_scale_up_reported:
                    self._no_scale_up_reported.add(uid)
                    await self.recorder.record(pod, reason="NotTriggerScaleUp",
                                               message="pod didn't trigger scale-up: no node group with room "
                                                       "has a node it would fit")
            return f"{len(pending)} unschedulable pods; no node group can help"
        best = max(options, key=lambda e: (len(e.pods), -e.nodes))
        similar = [e for e in options if set(e.pods) == set(best.pods)]
        plan = _balance(similar, best.nodes, groups, members)
        desc = ", ".join(f"{groups[z].name} {len(members.get(z, []))}->{len(members.get(z, [])) + n} "
                         f"(max: {groups[z].max_size})" for z, n in sorted(plan.items()))
        self.activity.scale_up = "InProgress"
        helped = {pod_key(p): p for p in pending}
        for key in best.pods:
            await self.recorder.record(helped[key], reason="TriggeredScaleUp",
                                       message=f"pod triggered scale-up: [{desc}]")
        results = await asyncio.gather(*(self.provider.add(z, n) for z, n in plan.items()), return_exceptions=True)
        now, wall = self.clock(), time.time()
        added: list[str] = []
        failed = []
        for (zone, _), result in zip(plan.items(), results, strict=True):
            if isinstance(result, BaseException):
                failed.append(f"{zone}: {result}")
            else:
                added.extend(result)
                self.activity.group_scale_up[zone] = now
        self.activity.last_scale_up = wall
        self.activity.scale_up = "Failed" if failed and not added else "NoActivity"
        if failed:
            log.warning("scale-up failed: %s", "; ".join(failed))
        return (f"scale-up for {len(best.pods)} pods: {desc}; added {len(added)} nodes"
                + (f"; failed: {'; '.join(failed)}" if failed else ""))

    # -- scale down -----------------------------------------------------------------------------

    async def _scale_down(self, groups: dict[str, NodeGroup], nodes: list[Obj], pods: list[Obj]) -> str:
        members = self.provider.members()
        zone_of = {n: z for z, names in members.items() if z in groups for n in names}
        snapshot = Snapshot(nodes, pods)
        now = self.clock()
        unneeded: list[str] = []
        notes: dict[str, str] = {}
        for obj in nodes:
            name = obj["metadata"]["name"]
            zone = zone_of.get(name)
            labels = obj["metadata"].get("labels") or {}
            if zone is None or CONTROL_PLANE in labels:
                continue
            group = groups[zone]
            threshold = _pick(group.utilization_threshold, self.settings.utilization_threshold)
            info = snapshot.node(name)
            if info is None:
                continue
            used = utilization(info)
            if used >= threshold:
                notes[name] = f"utilization {used:.2f} >= {threshold}"
                continue
            move, why = pods_to_move(info)
            if why:
                notes[name] = why
                continue
            trial = Snapshot(nodes, pods)
            if not find_places(trial, name, move, exclude=set()):
                notes[name] = "its pods would not fit elsewhere"
                continue
            unneeded.append(name)
        self.activity.candidates = {n: self.activity.candidates.get(n, now) for n in unneeded}
        self.activity.notes = notes
        if not unneeded:
            self.activity.scale_down = "NoCandidates"
            return "no scale-down candidates"
        self.activity.scale_down = "CandidatesPresent"
        # Remove one node per scan, the longest unneeded first, if its time is up.
        sizes = {z: len(members.get(z, [])) for z in groups}
        for name in sorted(unneeded, key=lambda n: self.activity.candidates[n]):
            zone = zone_of[name]
            group = groups[zone]
            if now - self.activity.candidates[name] < _pick(group.unneeded_time, self.settings.unneeded_time):
                continue
            delay = _pick(group.delay_after_add, self.settings.delay_after_add)
            if now - self.activity.group_scale_up.get(zone, -1e18) < delay:
                notes[name] = "group scaled up recently"
                continue
            if sizes[zone] <= group.min_size:
                notes[name] = f"group {group.name} at its min size {group.min_size}"
                continue
            info = snapshot.node(name)
            move, _ = pods_to_move(info) if info is not None else ([], "")
            blocker = blocking_budget(self.cluster.pdbs(), pods, [p.obj for p in move])
            if blocker:
                notes[name] = f"evicting its pods would break PodDisruptionBudget {blocker}"
                continue
            obj = next(n for n in nodes if n["metadata"]["name"] == name)
            return await self._remove(obj, group, [p.obj for p in move], sizes[zone])
        return f"{len(unneeded)} unneeded nodes, none removable yet"

    async def _remove(self, node: Obj, group: NodeGroup, evict: list[Obj], size: int) -> str:
        name = node["metadata"]["name"]
        await self._taint(node)
        await self.recorder.record(node, reason="ScaleDown",
                                   message=f"marked the node as toBeDeleted/unschedulable (group {group.name} "
                                           f"{size}->{size - 1}, min {group.min_size})")
        for pod in evict:
            meta = pod["metadata"]
            await self.recorder.record(pod, reason="ScaleDown", message=f"deleting pod for node scale down ({name})")
            try:
                await self.client.create(PODS, {"apiVersion": "policy/v1", "kind": "Eviction",
                                                "metadata": {"name": meta["name"], "namespace": meta["namespace"]}},
                                         meta["namespace"], subresource="eviction", name=meta["name"])
            except ApiError as err:
                if not err.not_found:
                    await self._untaint(name)
                    self.activity.scale_down = "Failed"
                    return f"scale-down of {name} aborted: eviction of {pod_key(pod)} failed: {err}"
        await self._wait_drained(name, {str(p["metadata"].get("uid")) for p in evict})
        removed = await self.provider.remove([name])
        self.activity.candidates.pop(name, None)
        self.activity.last_scale_down = time.time()
        self.activity.scale_down = "NoCandidates"
        await self.recorder.record(node, reason="ScaleDown", message=f"node removed by cluster autoscaler "
                                                                      f"(group {group.name})")
        return f"scale-down: removed {', '.join(removed)} from {group.name} ({size}->{size - 1})"

    async def _wait_drained(self, name: str, uids: set[str]) -> None:
        deadline = self.clock() + self.settings.drain_timeout
        while self.clock() < deadline:
            left = [p for p in self.cluster.pods() if str(p["metadata"].get("uid")) in uids
                    and (p.get("spec") or {}).get("nodeName") == name]
            if not left:
                return
            await asyncio.sleep(0.2)
        log.info("pods of %s still there after %.0fs; removing the node anyway", name, self.settings.drain_timeout)

    async def _taint(self, node: Obj) -> None:
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") != TO_BE_DELETED]
        taints.append({"key": TO_BE_DELETED, "value": str(int(time.time())), "effect": "NoSchedule"})
        await self.client.patch(NODES, node["metadata"]["name"], {"spec": {"taints": taints}})

    async def _untaint(self, name: str) -> None:
        try:
            node = await self.client.get(NODES, name)
            taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") != TO_BE_DELETED]
            await self.client.patch(NODES, name, {"spec": {"taints": taints}})
        except ApiError as err:
            log.warning("could not remove the %s taint from %s: %s", TO_BE_DELETED, name, err)


def _pick(value: float | None, default: float) -> float:
    return default if value is None else value


def _balance(options: list[Estimate], total: int, groups: dict[str, NodeGroup],
             members: dict[str, list[str]]) -> dict[str, int]:
    """Spread `total` new nodes over similar groups, one at a time to the smallest with room
    (upstream `processors/nodegroupset/balancing_processor.go`)."""
    size = {e.zone: len(members.get(e.zone, [])) for e in options}
    plan = {e.zone: 0 for e in options}
    for _ in range(total):
        room = [z for z in plan if size[z] + plan[z] < groups[z].max_size]
        if not room:
            break
        zone = min(room, key=lambda z: (size[z] + plan[z], z))
        plan[zone] += 1
    return {z: n for z, n in plan.items() if n}
