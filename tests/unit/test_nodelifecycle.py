"""Node lifecycle rules on an injected clock: health, zone disruption, taints, tolerations."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hakube.client.api import LEASES, NODES, PODS, ApiError, ResourceRef
from hakube.controllers.base import ControllerContext, ControllerSettings
from hakube.controllers.nodelifecycle import NodeLifecycleController, ZoneState, wanted_taints, zone_state
from hakube.controllers.tainteviction import eviction_delay, tolerates, with_default_tolerations

Obj = dict[str, Any]
UNREACHABLE = "node.kubernetes.io/unreachable"


def test_zone_states() -> None:
    assert zone_state(["True", "True"]) is ZoneState.NORMAL
    assert zone_state(["Unknown", None]) is ZoneState.FULL
    assert zone_state(["True", "Unknown", "Unknown"]) is ZoneState.NORMAL  # needs more than 2 not ready
    assert zone_state(["True", "Unknown", "Unknown", "False"]) is ZoneState.PARTIAL
    assert zone_state(["True", "True", "True", "Unknown", "Unknown", "Unknown", "True"]) is ZoneState.NORMAL


def test_tolerations() -> None:
    taint = {"key": UNREACHABLE, "effect": "NoExecute"}
    assert tolerates({"operator": "Exists"}, taint)
    assert tolerates({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}, taint)
    assert not tolerates({"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert tolerates({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoExecute"})
    assert not tolerates({"key": "k", "value": "w"}, {"key": "k", "value": "v", "effect": "NoExecute"})

    defaults = with_default_tolerations([], 300)
    assert {t["key"] for t in defaults} == {UNREACHABLE, "node.kubernetes.io/not-ready"}
    assert eviction_delay(defaults, [taint]) == 300
    assert with_default_tolerations([{"operator": "Exists"}], 300) == [{"operator": "Exists"}]
    assert eviction_delay([{"operator": "Exists"}], [taint]) is None  # tolerates forever
    assert eviction_delay(defaults, [taint, {"key": "other", "effect": "NoExecute"}]) == 0  # not tolerated
    own = with_default_tolerations([{"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 5}], 300)
    assert eviction_delay(own, [taint]) == 5


def test_wanted_taints_keep_foreign_ones_and_time_added() -> None:
    node = {"spec": {"unschedulable": True, "taints": [
        {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
        {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "T0"},
        {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule", "timeAdded": "T0"}]},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}}
    taints = {(t["key"], t["effect"]): t for t in wanted_taints(node, no_execute=UNREACHABLE)}
    assert set(taints) == {("dedicated", "NoSchedule"), (UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule"),
                           ("node.kubernetes.io/unschedulable", "NoSchedule")}
    assert taints[(UNREACHABLE, "NoExecute")]["timeAdded"] == "T0"
    assert taints[(UNREACHABLE, "NoSchedule")]["timeAdded"]


# -- the controller on fake informers and a fake API --------------------------------------------------------


class FakeInformer:
    def __init__(self) -> None:
        self.store: dict[str, Obj] = {}
        self.handlers: list[Any] = []

    def add_handler(self, handler: Any) -> None:
        self.handlers.append(handler)

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def items(self) -> list[Obj]:
        return list(self.store.values())

    def put(self, obj: Obj) -> None:
        meta = obj["metadata"]
        key = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        old = self.store.get(key)
        self.store[key] = obj
        for handler in self.handlers:
            handler("MODIFIED" if old else "ADDED", obj, old)


class FakeFactory:
    def __init__(self) -> None:
        self.informers: dict[ResourceRef, FakeInformer] = {NODES: FakeInformer(), LEASES: FakeInformer(),
                                                           PODS: FakeInformer()}

    def get(self, ref: ResourceRef) -> FakeInformer:
        return self.informers[ref]


class FakeApi:
    """Writes land in the informers at once, as a watch would deliver them."""

    def __init__(self, factory: FakeFactory) -> None:
        self.factory = factory
        self.rv = 100

    async def replace(self, ref: ResourceRef, obj: Obj, *, subresource: str = "") -> Obj:
        informer = self.factory.get(ref)
        meta = obj["metadata"]
        current = informer.get(f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"])
        if current is None:
            raise ApiError(404, "NotFound", "gone")
        if current["metadata"]["resourceVersion"] != meta["resourceVersion"]:
            raise ApiError(409, "Conflict", "modified")
        self.rv += 1
        stored = copy.deepcopy(obj)
        stored["metadata"]["resourceVersion"] = str(self.rv)
        informer.put(stored)
        return copy.deepcopy(stored)

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None) -> Obj:
        obj = self.factory.get(ref).get(f"{namespace}/{name}" if namespace else name)
        if obj is None:
            raise ApiError(404, "NotFound", "gone")
        return copy.deepcopy(obj)


class FakeRecorder:
    async def record(self, obj: Obj, *, reason: str, message: str, type: str = "Normal") -> None:
        return None


class Cluster:
    def __init__(self) -> None:
        self.now = 1000.0
        self.factory = FakeFactory()
        self.ctx = ControllerContext(FakeApi(self.factory), self.factory, FakeRecorder(),  # type: ignore[arg-type]
                                     ControllerSettings(node_monitor_grace_period=40, pod_eviction_timeout=300))
        self.controller = NodeLifecycleController(clock=lambda: self.now)
        self.controller.setup(self.ctx)
        self.beats = 0

    def node(self, name: str, zone: str) -> None:
        self.factory.get(NODES).put({
            "metadata": {"name": name, "resourceVersion": "1", "creationTimestamp": "T0",
                         "labels": {"topology.kubernetes.io/zone": zone}},
            "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "T0"}]}})
        self.beat(name)

    def beat(self, name: str) -> None:
        self.beats += 1
        self.factory.get(LEASES).put({"metadata": {"name": name, "namespace": "kube-node-lease",
                                                   "resourceVersion": str(self.beats)},
                                      "spec": {"renewTime": f"R{self.beats:06d}"}})

    async def tick(self, seconds: float, *, alive: tuple[str, ...] = ()) -> None:
        self.now += seconds
        for name in alive:
            self.beat(name)
        await self.controller.monitor(self.ctx)

    def kubelet_ready(self, name: str) -> None:
        node = copy.deepcopy(self.factory.get(NODES).get(name))
        assert node is not None
        self.beats += 1
        node["status"]["conditions"] = [{"type": "Ready", "status": "True", "lastHeartbeatTime": f"H{self.beats}"}]
        node["metadata"]["resourceVersion"] = f"k{self.beats}"
        self.factory.get(NODES).put(node)

    def taints(self, name: str) -> set[tuple[str, str]]:
        node = self.factory.get(NODES).get(name) or {}
        return {(t["key"], t["effect"]) for t in node.get("spec", {}).get("taints") or []}

    def ready(self, name: str) -> str:
        node = self.factory.get(NODES).get(name) or {}
        return next(c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready")


@pytest.mark.asyncio
async def test_a_dead_zone_is_tainted_while_another_zone_lives() -> None:
    c = Cluster()
    for name, zone in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        c.node(name, zone)
    await c.tick(1)
    await c.tick(30, alive=("b1",))
    assert c.ready("a1") == "True"  # 30 s < 40 s grace on our own clock
    await c.tick(11, alive=("b1",))
    assert c.ready("a1") == "Unknown" and c.ready("a2") == "Unknown" and c.ready("b1") == "True"
    assert c.taints("a1") == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
    assert c.taints("b1") == set()
    # The Lease moves again: nothing changes until the kubelet itself posts Ready=True.
    await c.tick(1, alive=("a1", "a2", "b1"))
    assert c.ready("a1") == "Unknown" and (UNREACHABLE, "NoExecute") in c.taints("a1")
    c.kubelet_ready("a1")
    await c.tick(1, alive=("a1", "a2", "b1"))
    assert c.taints("a1") == set() and c.taints("a2") == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}


@pytest.mark.asyncio
async def test_when_no_node_is_ready_nothing_is_evicted() -> None:
    c = Cluster()
    for name, zone in (("a1", "a"), ("b1", "b")):
        c.node(name, zone)
    await c.tick(1)
    await c.tick(41)
    assert c.controller.master_disruption
    assert c.ready("a1") == "Unknown" and c.ready("b1") == "Unknown"
    assert c.taints("a1") == {(UNREACHABLE, "NoSchedule")} and c.taints("b1") == {(UNREACHABLE, "NoSchedule")}
    # One node comes back: the others get a full grace period again before anything happens.
    c.kubelet_ready("b1")
    await c.tick(1, alive=("b1",))
    assert not c.controller.master_disruption
    assert (UNREACHABLE, "NoExecute") not in c.taints("a1")
    await c.tick(30, alive=("b1",))
    assert (UNREACHABLE, "NoExecute") not in c.taints("a1")
    await c.tick(11, alive=("b1",))
    assert (UNREACHABLE, "NoExecute") in c.taints("a1")


@pytest.mark.asyncio
async def test_a_partially_disrupted_zone_gets_no_new_noexecute_taints() -> None:
    c = Cluster()
    names = ["a1", "a2", "a3", "a4"]
    for name in names:
        c.node(name, "a")
    c.node("b1", "b")
    await c.tick(1)
    await c.tick(41, alive=("a4", "b1"))
    assert [c.ready(n) for n in names] == ["Unknown", "Unknown", "Unknown", "True"]
    assert all((UNREACHABLE, "NoExecute") not in c.taints(n) for n in names)
    assert all((UNREACHABLE, "NoSchedule") in c.taints(n) for n in names[:3])
