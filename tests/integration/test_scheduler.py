"""The scheduler as a real process against a real API server: placement, messages, spreading,
no double booking, reacting to new nodes, and leader election between two schedulers."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hakube.client.api import EVENTS, LEASES, NAMESPACES, NODES, PODS, ApiClient, ApiError, Credentials
from hakube.testing import LocalStack, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

Obj = dict[str, Any]
BENCH = Path(__file__).resolve().parents[2] / "bench" / "scheduler_throughput.py"
FAST_ELECTION = ("--leader-elect-lease-duration=3", "--leader-elect-renew-deadline=2",
                 "--leader-elect-retry-period=0.5")


# -- processes ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sched_stack() -> Iterator[LocalStack]:
    """A stack of our own: the scheduler sees every node, so tests must not share nodes with others."""
    with LocalStack.running("--etcd-compaction-interval=0") as s:
        yield s


@dataclass
class SchedulerProcess:
    proc: subprocess.Popen[bytes]
    log: Path
    prefix: str

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


class Schedulers:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.started: list[SchedulerProcess] = []

    def start(self, *extra: str, prefix: str = "replica-1", leader_elect: bool = False) -> SchedulerProcess:
        log = self.stack.root / f"scheduler-{prefix}-{uuid.uuid4().hex[:6]}.log"
        argv = [sys.executable, "-m", "hakube.scheduler", f"--kubeconfig={self.stack.kubeconfig(0)}",
                f"--leader-elect={'true' if leader_elect else 'false'}", f"--identity-prefix={prefix}", *extra]
        proc = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        sp = SchedulerProcess(proc, log, prefix)
        self.started.append(sp)
        return sp

    def stop_all(self) -> None:
        for sp in self.started:
            sp.stop()


@pytest.fixture
def schedulers(sched_stack: LocalStack) -> Iterator[Schedulers]:
    s = Schedulers(sched_stack)
    try:
        yield s
    finally:
        s.stop_all()


@pytest.fixture
async def client(sched_stack: LocalStack) -> AsyncIterator[ApiClient]:
    async with ApiClient(Credentials.from_kubeconfig(sched_stack.kubeconfig(0))) as c:
        yield c
        # Leave no nodes and no pods behind for the next test.
        for node in (await c.list(NODES))["items"]:
            await c.delete(NODES, node["metadata"]["name"])
        for pod in (await c.list(PODS))["items"]:
            meta = pod["metadata"]
            try:
                await c.delete(PODS, meta["name"], meta["namespace"], grace_period=0)
            except ApiError as err:
                if not err.not_found:
                    raise


# -- objects ----------------------------------------------------------------------------------


async def make_namespace(client: ApiClient) -> str:
    name = f"sched-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def make_node(client: ApiClient, name: str, *, zone: str = "zone-a", cpu: str = "4", memory: str = "16Gi",
                    pods: str = "110", labels: dict[str, str] | None = None, taints: list[Obj] | None = None,
                    ready: str = "True", unschedulable: bool = False) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods}
    body: Obj = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone,
                                              "topology.kubernetes.io/region": "region-1", **(labels or {})}},
        "spec": {"taints": taints or [], **({"unschedulable": True} if unschedulable else {})},
        "status": {"capacity": allocatable, "allocatable": allocatable,
                   "conditions": [{"type": "Ready", "status": ready, "reason": "KubeletReady",
                                   "message": "kubelet is posting ready status"}]},
    }
    created = await client.create(NODES, body)
    if (created.get("status") or {}).get("allocatable") != allocatable:  # status dropped on create: set it
        created = await client.replace(NODES, {**created, "status": body["status"]}, subresource="status")
    return created


def pod_body(name: str, *, cpu: str | None = "100m", memory: str | None = None, labels: dict[str, str] | None = None,
             owner: Obj | None = None, **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    meta: Obj = {"name": name, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": [{"name": "c", "image": "nginx:1.27", "resources": {"requests": requests}}],
                     **spec}}


async def create_pods(client: ApiClient, ns: str, bodies: list[Obj]) -> None:
    await asyncio.gather(*(client.create(PODS, b, ns) for b in bodies))


async def pods_in(client: ApiClient, ns: str) -> dict[str, Obj]:
    return {p["metadata"]["name"]: p for p in (await client.list(PODS, ns))["items"]}


async def wait_bound(client: ApiClient, ns: str, names: list[str], timeout: float = 20.0) -> dict[str, str]:
    """Wait until every named pod has a node; {pod: node}."""
    where: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = await pods_in(client, ns)
        where = {n: (pods.get(n) or {}).get("spec", {}).get("nodeName", "") for n in names}
        if all(where.values()):
            return where
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all bound within {timeout}s: {where}")


def scheduled_condition(pod: Obj) -> Obj | None:
    return next((c for c in (pod.get("status") or {}).get("conditions") or [] if c.get("type") == "PodScheduled"),
                None)


async def wait_unschedulable(client: ApiClient, ns: str, name: str, timeout: float = 15.0) -> Obj:
    deadline = time.monotonic() + timeout
    cond: Obj | None = None
    while time.monotonic() < deadline:
        pod = await client.get(PODS, name, ns)
        cond = scheduled_condition(pod)
        if cond and cond.get("status") == "False":
            assert not pod["spec"].get("nodeName")
            return cond
        await asyncio.sleep(0.1)
    raise AssertionError(f"{name} has no PodScheduled=False condition within {timeout}s: {cond}")


async def events_for(client: ApiClient, ns: str, name: str, reason: str) -> list[Obj]:
    items = (await client.list(EVENTS, ns))["items"]
    return [e for e in items if e["involvedObject"]["name"] == name and e["reason"] == reason]


def rs_owner(name: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name, "uid": str(uuid.uuid4()),
            "controller": True, "blockOwnerDeletion": True}


# -- tests ---------------------------------------------------------------------------------------


async def test_pods_land_on_fitting_nodes_and_say_so(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    await make_node(client, "fit-small", cpu="1")
    await make_node(client, "fit-medium", cpu="2")
    await make_node(client, "fit-big", cpu="8")
    schedulers.start()
    await create_pods(client, ns, [pod_body("big", cpu="5"), pod_body("medium", cpu="1500m"),
                                   pod_body("tiny", cpu=None)])
    where = await wait_bound(client, ns, ["big", "medium", "tiny"])
    assert where["big"] == "fit-big"
    assert where["medium"] in ("fit-medium", "fit-big")
    pod = await client.get(PODS, "big", ns)
    assert scheduled_condition(pod)["status"] == "True"  # type: ignore[index]

    async def event_recorded() -> list[Obj]:
        return await events_for(client, ns, "big", "Scheduled")

    for _ in range(50):
        if await event_recorded():
            break
        await asyncio.sleep(0.1)
    [event] = await event_recorded()
    assert event["message"] == f"Successfully assigned {ns}/big to fit-big"
    assert event["type"] == "Normal" and event["source"]["component"] == "default-scheduler"


async def test_a_pod_that_fits_nowhere_stays_pending_with_upstream_message(
        client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    for i in range(3):
        await make_node(client, f"small-{i}", cpu="2")
    schedulers.start()
    await create_pods(client, ns, [pod_body("huge", cpu="8")])
    cond = await wait_unschedulable(client, ns, "huge")
    assert cond["reason"] == "Unschedulable"
    assert cond["message"] == "0/3 nodes are available: 3 Insufficient cpu."
    for _ in range(50):
        events = await events_for(client, ns, "huge", "FailedScheduling")
        if events:
            break
        await asyncio.sleep(0.1)
    assert events and events[0]["type"] == "Warning"
    assert events[0]["message"] == "0/3 nodes are available: 3 Insufficient cpu."

    # Reasons are counted per node and sorted, as upstream's FitError does.
    await client.delete(NODES, "small-0")
    await make_node(client, "small-0", cpu="2", ready="Unknown",
                    taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}])
    await create_pods(client, ns, [pod_body("huge-2", cpu="8")])
    cond = await wait_unschedulable(client, ns, "huge-2")
    assert cond["message"] == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                               "{node.kubernetes.io/unreachable: }, 2 Insufficient cpu.")


async def test_taints_tolerations_readiness_and_cordons(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    await make_node(client, "t-gpu", labels={"pool": "gpu"},
                    taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    await make_node(client, "t-plain", labels={"pool": "plain"})
    await make_node(client, "t-soft", labels={"pool": "soft"},
                    taints=[{"key": "spot", "value": "true", "effect": "PreferNoSchedule"}])
    await make_node(client, "t-notready", ready="False")
    await make_node(client, "t-cordoned", unschedulable=True)
    schedulers.start()
    gpu_toleration = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    await create_pods(client, ns, [
        pod_body("plain-0"), pod_body("plain-1"), pod_body("plain-2"), pod_body("plain-3"),
        pod_body("gpu-ok", nodeSelector={"pool": "gpu"}, tolerations=gpu_toleration),
        pod_body("gpu-refused", nodeSelector={"pool": "gpu"}),
        pod_body("tolerates-all", tolerations=[{"operator": "Exists"}], nodeSelector={"kubernetes.io/hostname":
                                                                                     "t-notready"}),
    ])
    where = await wait_bound(client, ns, ["plain-0", "plain-1", "plain-2", "plain-3", "gpu-ok", "tolerates-all"])
    # Untainted and schedulable nodes only; PreferNoSchedule loses on score while another node fits.
    assert {where[f"plain-{i}"] for i in range(4)} == {"t-plain"}
    assert where["gpu-ok"] == "t-gpu"
    assert where["tolerates-all"] == "t-notready"
    cond = await wait_unschedulable(client, ns, "gpu-refused")
    assert cond["message"] == ("0/5 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, "
                               "1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, "
                               "1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector.")


async def test_node_selector_and_node_affinity(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    await make_node(client, "aff-ssd-old", labels={"disk": "ssd", "generation": "3"})
    await make_node(client, "aff-ssd-new", labels={"disk": "ssd", "generation": "7", "fast": "yes"})
    await make_node(client, "aff-hdd", labels={"disk": "hdd", "generation": "9"})
    schedulers.start()

    def affinity(*terms: Obj) -> Obj:
        return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}

    def expr(key: str, op: str, *values: str) -> Obj:
        return {"key": key, "operator": op, **({"values": list(values)} if values else {})}

    await create_pods(client, ns, [
        pod_body("selector", nodeSelector={"disk": "hdd"}),
        pod_body("in-gt", affinity=affinity({"matchExpressions": [expr("disk", "In", "ssd"),
                                                                   expr("generation", "Gt", "5")]})),
        pod_body("notin-lt", affinity=affinity({"matchExpressions": [expr("disk", "NotIn", "hdd"),
                                                                      expr("generation", "Lt", "5")]})),
        pod_body("exists", affinity=affinity({"matchExpressions": [expr("fast", "Exists")]})),
        pod_body("doesnotexist", affinity=affinity({"matchExpressions": [expr("fast", "DoesNotExist"),
                                                                          expr("disk", "In", "ssd")]})),
        pod_body("fields", affinity=affinity({"matchFields": [expr("metadata.name", "In", "aff-hdd")]})),
        pod_body("ored", affinity=affinity({"matchExpressions": [expr("disk", "In", "nvme")]},
                                           {"matchExpressions": [expr("generation", "In", "3")]})),
        pod_body("nowhere", nodeSelector={"disk": "tape"}),
    ])
    where = await wait_bound(client, ns, ["selector", "in-gt", "notin-lt", "exists", "doesnotexist", "fields",
                                          "ored"])
    assert where == {"selector": "aff-hdd", "in-gt": "aff-ssd-new", "notin-lt": "aff-ssd-old",
                     "exists": "aff-ssd-new", "doesnotexist": "aff-ssd-old", "fields": "aff-hdd",
                     "ored": "aff-ssd-old"}
    cond = await wait_unschedulable(client, ns, "nowhere")
    assert cond["message"] == "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."


async def test_required_pod_anti_affinity_by_hostname_and_zone(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    for i, zone in enumerate(("zone-a", "zone-a", "zone-b")):
        await make_node(client, f"anti-{i}", zone=zone)
    schedulers.start()

    def anti(app: str, key: str) -> Obj:
        return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": key}]}}

    await create_pods(client, ns, [pod_body(f"web-{i}", labels={"app": "web"},
                                            affinity=anti("web", "kubernetes.io/hostname")) for i in range(3)])
    where = await wait_bound(client, ns, [f"web-{i}" for i in range(3)])
    assert sorted(where.values()) == ["anti-0", "anti-1", "anti-2"]
    await create_pods(client, ns, [pod_body("web-3", labels={"app": "web"},
                                            affinity=anti("web", "kubernetes.io/hostname"))])
    cond = await wait_unschedulable(client, ns, "web-3")
    assert cond["message"] == "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."

    await create_pods(client, ns, [pod_body(f"db-{i}", labels={"app": "db"},
                                            affinity=anti("db", "topology.kubernetes.io/zone")) for i in range(3)])
    await asyncio.sleep(1.0)
    pods = await pods_in(client, ns)
    zones = Counter("zone-b" if pods[f"db-{i}"]["spec"].get("nodeName") == "anti-2" else
                    "zone-a" if pods[f"db-{i}"]["spec"].get("nodeName") else "pending" for i in range(3))
    assert zones == Counter({"zone-a": 1, "zone-b": 1, "pending": 1})
    # A pod the existing ones repel (symmetry): the web pods' anti-affinity keeps out any app=web pod.
    await create_pods(client, ns, [pod_body("intruder", labels={"app": "web"})])
    cond = await wait_unschedulable(client, ns, "intruder")
    assert cond["message"] == "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules."


async def test_replicaset_pods_spread_evenly_over_zones_and_nodes(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    zone_of = {}
    for zone in ("zone-a", "zone-b", "zone-c"):
        for i in range(2):
            zone_of[f"spread-{zone}-{i}"] = zone
            await make_node(client, f"spread-{zone}-{i}", zone=zone)
    schedulers.start()
    owner = rs_owner("web-7d9f")
    names = [f"web-7d9f-{i:02d}" for i in range(12)]
    await create_pods(client, ns, [pod_body(n, labels={"app": "web"}, owner=owner) for n in names])
    where = await wait_bound(client, ns, names)
    assert Counter(zone_of[n] for n in where.values()) == Counter({"zone-a": 4, "zone-b": 4, "zone-c": 4})
    per_node = Counter(where.values())
    assert max(per_node.values()) - min(per_node.values()) <= 1 and len(per_node) == 6


async def test_topology_spread_constraint_do_not_schedule(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    await make_node(client, "tsc-a", zone="zone-a", cpu="8")
    await make_node(client, "tsc-b", zone="zone-b", cpu="1")  # room for 2 pods of 400m
    schedulers.start()
    constraint = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                   "labelSelector": {"matchLabels": {"app": "api"}}}]
    names = [f"api-{i}" for i in range(5)]
    for name in names:  # one at a time, so the outcome does not depend on order
        await create_pods(client, ns, [pod_body(name, cpu="400m", labels={"app": "api"},
                                                topologySpreadConstraints=constraint)])
        await asyncio.sleep(0.3)
    pods = await pods_in(client, ns)
    placed = Counter(p["spec"].get("nodeName") or "pending" for p in pods.values())
    # zone-b fills at 2, so zone-a may hold at most 3 (skew 1): the fifth pod waits.
    assert placed == Counter({"tsc-a": 3, "tsc-b": 2}) or placed == Counter({"tsc-a": 2, "tsc-b": 2, "pending": 1})
    pending = [n for n, p in pods.items() if not p["spec"].get("nodeName")]
    for name in pending:
        cond = await wait_unschedulable(client, ns, name)
        assert "node(s) didn't match pod topology spread constraints" in cond["message"]


async def test_no_double_booking_under_a_burst(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    for i in range(6):
        await make_node(client, f"burst-{i}", zone=f"zone-{i % 3}", cpu="1", pods="20")
    schedulers.start()
    names = [f"burst-pod-{i:02d}" for i in range(66)]
    await create_pods(client, ns, [pod_body(n, cpu="100m") for n in names])  # 60 slots of cpu, 66 pods
    deadline = time.monotonic() + 30
    pods: dict[str, Obj] = {}
    while time.monotonic() < deadline:
        pods = await pods_in(client, ns)
        if sum(1 for p in pods.values() if p["spec"].get("nodeName")) >= 60:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # let anything still in flight land (it must not)
    pods = await pods_in(client, ns)
    per_node = Counter(p["spec"]["nodeName"] for p in pods.values() if p["spec"].get("nodeName"))
    assert sum(per_node.values()) == 60, per_node
    assert all(count == 10 for count in per_node.values()), per_node  # 10 × 100m = the node's 1 cpu
    pending = [n for n, p in pods.items() if not p["spec"].get("nodeName")]
    assert len(pending) == 6
    cond = await wait_unschedulable(client, ns, pending[0])
    assert cond["message"] == "0/6 nodes are available: 6 Insufficient cpu."


async def test_a_new_node_makes_a_pending_pod_schedule(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    await make_node(client, "grow-0", cpu="1")
    schedulers.start()
    await create_pods(client, ns, [pod_body("waiting", cpu="3")])
    await wait_unschedulable(client, ns, "waiting")
    added = time.monotonic()
    await make_node(client, "grow-1", cpu="4")
    where = await wait_bound(client, ns, ["waiting"], timeout=10)
    assert where["waiting"] == "grow-1"
    assert time.monotonic() - added < 3.0  # within the pod's back-off (1 s after one failure), not a rescan period

    # Freed resources (a bound pod deleted) also give waiting pods another chance.
    await create_pods(client, ns, [pod_body("next", cpu="3")])
    cond = await wait_unschedulable(client, ns, "next")
    assert cond["message"] == "0/2 nodes are available: 2 Insufficient cpu."
    await client.delete(PODS, "waiting", ns, grace_period=0)
    freed = time.monotonic()
    where = await wait_bound(client, ns, ["next"], timeout=15)
    assert where["next"] == "grow-1"
    assert time.monotonic() - freed < 3.0


async def test_two_schedulers_one_binds_and_sigterm_hands_over(client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    for i in range(3):
        await make_node(client, f"ha-{i}")
    first = schedulers.start(*FAST_ELECTION, prefix="replica-1", leader_elect=True)

    async def holder() -> str:
        try:
            lease = await client.get(LEASES, "kube-scheduler", "kube-system")
        except ApiError:
            return ""
        return str(lease["spec"].get("holderIdentity") or "")

    for _ in range(100):
        if (await holder()).startswith("replica-1_"):
            break
        await asyncio.sleep(0.1)
    assert (await holder()).startswith("replica-1_")
    second = schedulers.start(*FAST_ELECTION, prefix="replica-2", leader_elect=True)
    await asyncio.sleep(1.5)  # the standby is up, synced, and campaigning
    names = [f"ha-pod-{i}" for i in range(10)]
    await create_pods(client, ns, [pod_body(n) for n in names])
    await wait_bound(client, ns, names)
    assert (await holder()).startswith("replica-1_")
    await eventually(lambda: first.text().count(" bound ") >= 10, timeout=5)
    assert " bound " not in second.text()
    assert "caches synced" in second.text()

    first.stop(signal.SIGTERM)  # releases the lease on the way out
    stopped = time.monotonic()
    for _ in range(100):
        if (await holder()).startswith("replica-2_"):
            break
        await asyncio.sleep(0.05)
    took = time.monotonic() - stopped
    assert (await holder()).startswith("replica-2_")
    assert took < 1.0 + 0.5 * 1.2 + 0.3, took  # released (1 s lease) + one retry period
    later = [f"ha-later-{i}" for i in range(5)]
    await create_pods(client, ns, [pod_body(n) for n in later])
    await wait_bound(client, ns, later)
    await eventually(lambda: second.text().count(" bound ") >= 5, timeout=5)


async def test_a_paused_leader_never_binds_again_and_a_killed_one_is_replaced(
        client: ApiClient, schedulers: Schedulers) -> None:
    ns = await make_namespace(client)
    for i in range(3):
        await make_node(client, f"pause-{i}")

    async def holder() -> str:
        try:
            lease = await client.get(LEASES, "kube-scheduler", "kube-system")
        except ApiError:
            return ""
        return str(lease["spec"].get("holderIdentity") or "")

    async def wait_holder(prefix: str, timeout: float) -> float:
        started = time.monotonic()
        for _ in range(int(timeout / 0.05)):
            if (await holder()).startswith(prefix):
                return time.monotonic() - started
            await asyncio.sleep(0.05)
        raise AssertionError(f"{prefix} did not take the lease within {timeout}s (holder {await holder()!r})")

    a = schedulers.start(*FAST_ELECTION, prefix="replica-a", leader_elect=True)
    await wait_holder("replica-a_", 15)
    b = schedulers.start(*FAST_ELECTION, prefix="replica-b", leader_elect=True)
    await eventually(lambda: "caches synced" in b.text(), timeout=10)
    await create_pods(client, ns, [pod_body(f"before-{i}") for i in range(3)])
    await wait_bound(client, ns, [f"before-{i}" for i in range(3)])
    await eventually(lambda: a.text().count(" bound ") >= 3, timeout=5)

    os.kill(a.proc.pid, signal.SIGSTOP)  # a hung leader: it cannot renew, release or notice
    try:
        await wait_holder("replica-b_", 3.0 + 0.5 * 1.2 + 2.0)
        await create_pods(client, ns, [pod_body(f"paused-{i}") for i in range(5)])
        await wait_bound(client, ns, [f"paused-{i}" for i in range(5)])
        bound_by_a = a.text().count(" bound ")
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    # Resumed past its lease: its fence is down before it could write; it binds nothing, even while its
    # informers catch up on pods it saw pending before it learns they are bound.
    await create_pods(client, ns, [pod_body(f"resumed-{i}") for i in range(5)])
    await wait_bound(client, ns, [f"resumed-{i}" for i in range(5)])
    await asyncio.sleep(1.0)
    assert a.text().count(" bound ") == bound_by_a
    assert (await holder()).startswith("replica-b_")

    os.kill(b.proc.pid, signal.SIGKILL)  # no release: a waits out the lease on its own clock
    took = await wait_holder("replica-a_", 3.0 + 0.5 * 1.2 + 3.0)
    assert took <= 3.0 + 0.5 * 1.2 + 1.0, took
    await create_pods(client, ns, [pod_body(f"after-{i}") for i in range(3)])
    await wait_bound(client, ns, [f"after-{i}" for i in range(3)])
    await eventually(lambda: a.text().count(" bound ") >= bound_by_a + 3, timeout=5)


@pytest.mark.slow
async def test_scheduler_throughput_benchmark_quick(tmp_path: Path) -> None:
    proc = await asyncio.to_thread(subprocess.run, [sys.executable, str(BENCH), "--quick", "--json", "--out",
                                                    str(tmp_path)], capture_output=True, text=True, timeout=600,
                                   check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("settings", "machine", "results", "targets", "all_pass", "notes"):
        assert key in report
    results = report["results"]
    assert results["scheduler"]["bound"] == results["scheduler"]["pods"] == report["settings"]["pods"]
    assert results["placement"]["overcommitted_nodes"] == 0
    assert results["baseline"]["bound"] == report["settings"]["pods"] and results["ratio_to_baseline"] > 0
    assert {"p50", "p99"} <= set(results["scheduler"]["time_to_bind_ms"])
    assert (tmp_path / "scheduler_throughput.md").read_text().startswith("# Scheduler throughput")


async def test_a_binding_for_another_incarnation_of_the_pod_is_refused(client: ApiClient) -> None:
    """The API side of binding: the Binding's uid is a precondition (BindingREST setPodNodeAndMetadata)."""
    ns = await make_namespace(client)
    pod = await client.create(PODS, pod_body("reborn"), ns)

    def binding(uid: str) -> Obj:
        return {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "reborn", "namespace": ns, "uid": uid},
                "target": {"apiVersion": "v1", "kind": "Node", "name": "somewhere"}}

    with pytest.raises(ApiError) as err:
        await client.create(PODS, binding("not-" + pod["metadata"]["uid"]), ns, name="reborn", subresource="binding")
    assert err.value.code == 409 and "Precondition failed: UID in precondition" in err.value.message
    await client.create(PODS, binding(pod["metadata"]["uid"]), ns, name="reborn", subresource="binding")
    assert (await client.get(PODS, "reborn", ns))["spec"]["nodeName"] == "somewhere"
    with pytest.raises(ApiError) as err:
        await client.create(PODS, binding(pod["metadata"]["uid"]), ns, name="reborn", subresource="binding")
    assert err.value.code == 409 and 'is already assigned to node "somewhere"' in err.value.message
