"""Scheduler logic without processes: quantities, requests, filters, messages, scores, the queue."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest

from hakube.scheduler.algorithm import Algorithm, FitError, num_feasible_nodes_to_find
from hakube.scheduler.cache import SchedulerCache
from hakube.scheduler.nodeinfo import pod_info
from hakube.scheduler.queue import ACTIVE, BACKOFF, UNSCHEDULABLE, SchedulingQueue
from hakube.scheduler.resources import milli_value, parse_quantity, pod_non_zero_requests, pod_requests

Obj = dict[str, Any]


def node(name: str, *, zone: str = "a", cpu: str = "4", memory: str = "16Gi", pods: str = "110",
         taints: list[Obj] | None = None, labels: dict[str, str] | None = None, ready: str = "True",
         unschedulable: bool = False) -> Obj:
    alloc = {"cpu": cpu, "memory": memory, "pods": pods}
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": zone, **(labels or {})}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {"allocatable": alloc, "conditions": [{"type": "Ready", "status": ready}]}}


def pod(name: str, *, cpu: str | None = "100m", memory: str | None = None, ns: str = "default",
        labels: dict[str, str] | None = None, owner: str = "", node_name: str = "", **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    meta: Obj = {"name": name, "namespace": ns, "uid": f"uid-{ns}-{name}", "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": owner, "controller": True}]
    return {"metadata": meta, "spec": {"containers": [{"name": "c", "resources": {"requests": requests}}],
                                       **({"nodeName": node_name} if node_name else {}), **spec}}


def cluster(*nodes: Obj) -> tuple[SchedulerCache, Algorithm]:
    cache = SchedulerCache()
    for n in nodes:
        cache.set_node(n)
    return cache, Algorithm(cache, rng=random.Random(1))


def place(cache: SchedulerCache, algo: Algorithm, obj: Obj) -> str:
    info = pod_info(obj)
    node_name = algo.schedule(info).node
    cache.assume(info, node_name)
    return node_name


# -- quantities and requests ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "value"), [("100m", "1/10"), ("1.5", "3/2"), ("2Gi", str(2 * 2**30)),
                                             ("1e3", "1000"), ("129M", "129000000"), ("1Ki", "1024"), (".5", "1/2")])
def test_quantities(text: str, value: str) -> None:
    assert str(parse_quantity(text)) == value


def test_milli_values_round_up_and_bad_quantities_are_refused() -> None:
    assert milli_value("1n") == 1 and milli_value("0.1") == 100 and milli_value(2) == 2000
    for bad in ("", "1Q", "abc", "1e"):
        with pytest.raises(ValueError):
            parse_quantity(bad)


def test_pod_requests_sum_containers_and_take_the_largest_init_container() -> None:
    spec = {"containers": [{"resources": {"requests": {"cpu": "200m", "memory": "1Gi"}}},
                           {"resources": {"limits": {"cpu": "300m"}}}],  # limits stand in for requests
            "initContainers": [{"resources": {"requests": {"cpu": "2"}}},
                               {"resources": {"requests": {"memory": "512Mi"}}}],
            "overhead": {"cpu": "10m"}}
    r = pod_requests(spec)
    assert (r.milli_cpu, r.memory) == (2010, 2**30)
    # A sidecar (restartable init container) keeps running: it adds up.
    spec = {"containers": [{"resources": {"requests": {"cpu": "500m"}}}],
            "initContainers": [{"restartPolicy": "Always", "resources": {"requests": {"cpu": "100m"}}},
                               {"resources": {"requests": {"cpu": "1"}}}]}
    assert pod_requests(spec).milli_cpu == 1100
    # Scoring assumes 100m / 200Mi for containers that request nothing.
    assert pod_non_zero_requests({"containers": [{}]}) == (100, 200 * 2**20)


# -- filters and the unschedulable message ---------------------------------------------------------


def test_fit_error_message_is_upstreams_sorted_histogram() -> None:
    _cache, algo = cluster(node("n1", cpu="1"), node("n2", cpu="1"),
                          node("n3", ready="Unknown",
                               taints=[{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]))
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info(pod("p", cpu="2")))
    assert err.value.message == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                                 "{node.kubernetes.io/unreachable: }, 2 Insufficient cpu.")
    with pytest.raises(FitError) as err:
        Algorithm(SchedulerCache()).schedule(pod_info(pod("p")))
    assert err.value.message == "no nodes available to schedule pods"


def test_every_missing_resource_is_a_reason() -> None:
    cache, algo = cluster(node("n1", cpu="1", memory="1Gi", pods="1"))
    cache.add_pod(pod_info(pod("x", cpu=None, node_name="n1")))
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info(pod("p", cpu="2", memory="2Gi")))
    assert err.value.message == "0/1 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods."


def test_not_ready_and_cordoned_nodes_and_tolerations() -> None:
    _cache, algo = cluster(node("down", ready="False"), node("cordoned", unschedulable=True))
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info(pod("p")))
    assert err.value.message == ("0/2 nodes are available: 1 node(s) had untolerated taint "
                                 "{node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable.")
    assert algo.schedule(pod_info(pod("ds", tolerations=[{"operator": "Exists"}]))).node in ("down", "cordoned")


def test_no_double_booking_with_assumed_pods() -> None:
    cache, algo = cluster(*(node(f"n{i}", cpu="1") for i in range(3)))
    placed = [place(cache, algo, pod(f"p{i}", cpu="250m")) for i in range(12)]
    assert Counter(placed) == Counter({"n0": 4, "n1": 4, "n2": 4})
    with pytest.raises(FitError):
        algo.schedule(pod_info(pod("one-more", cpu="250m")))
    cache.forget("uid-default-p0")  # a failed binding gives the room back
    assert algo.schedule(pod_info(pod("one-more", cpu="250m"))).node == placed[0]


def test_required_anti_affinity_both_ways() -> None:
    cache, algo = cluster(node("n1", zone="a"), node("n2", zone="a"), node("n3", zone="b"))
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}
    first = place(cache, algo, pod("db-0", labels={"app": "db"}, affinity=anti))
    second = place(cache, algo, pod("db-1", labels={"app": "db"}, affinity=anti))
    assert sorted([first == "n3", second == "n3"]) == [False, True]  # one per zone
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info(pod("db-2", labels={"app": "db"}, affinity=anti)))
    assert err.value.message == "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info(pod("plain", labels={"app": "db"})))
    assert err.value.message == "0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules."
    assert algo.schedule(pod_info(pod("other-ns", ns="x", labels={"app": "db"})))  # terms are namespaced


def test_required_pod_affinity_and_the_first_pod_of_a_group() -> None:
    cache, algo = cluster(node("n1", zone="a"), node("n2", zone="b"))
    aff = {"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "topology.kubernetes.io/zone"}]}}
    first = place(cache, algo, pod("c-0", labels={"app": "cache"}, affinity=aff))  # matches itself: anywhere
    assert all(place(cache, algo, pod(f"c-{i}", labels={"app": "cache"}, affinity=aff)) == first
               for i in range(1, 5))
    with pytest.raises(FitError) as err:
        algo.schedule(pod_info(pod("web", labels={"app": "web"}, affinity={"podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": "nothing"}}, "topologyKey": "kubernetes.io/hostname"}]}})))
    assert err.value.message == "0/2 nodes are available: 2 node(s) didn't match pod affinity rules."


def test_topology_spread_do_not_schedule_and_min_domains() -> None:
    cache, algo = cluster(node("a1", zone="a"), node("b1", zone="b"))
    tsc = [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "x"}}}]
    cache.add_pod(pod_info(pod("old-0", labels={"app": "x"}, node_name="a1")))
    assert place(cache, algo, pod("p0", labels={"app": "x"}, topologySpreadConstraints=tsc)) == "b1"
    placed = Counter(place(cache, algo, pod(f"p{i}", labels={"app": "x"}, topologySpreadConstraints=tsc))
                     for i in range(1, 7))
    assert placed == Counter({"a1": 3, "b1": 3})
    # minDomains 3 with 2 zones: the global minimum counts as 0, so a zone may hold at most maxSkew more.
    cache2, algo2 = cluster(node("a1", zone="a"), node("b1", zone="b"))
    tsc3 = [{**tsc[0], "minDomains": 3, "maxSkew": 2}]
    placed = Counter(place(cache2, algo2, pod(f"q{i}", labels={"app": "x"}, topologySpreadConstraints=tsc3))
                     for i in range(4))
    assert placed == Counter({"a1": 2, "b1": 2})
    with pytest.raises(FitError) as err:
        algo2.schedule(pod_info(pod("q9", labels={"app": "x"}, topologySpreadConstraints=tsc3)))
    assert err.value.message == "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints."
    cache3, algo3 = cluster(node("nozone", zone="a", labels={}))
    del cache3.nodes["nozone"].labels["topology.kubernetes.io/zone"]
    with pytest.raises(FitError) as err:
        algo3.schedule(pod_info(pod("z", labels={"app": "x"}, topologySpreadConstraints=tsc)))
    assert "(missing required label)" in err.value.message


# -- scores --------------------------------------------------------------------------------------------


def test_replicaset_pods_spread_over_zones_then_nodes() -> None:
    cache, algo = cluster(*(node(f"{z}{i}", zone=z) for z in "abc" for i in range(2)))
    placed = [place(cache, algo, pod(f"w{i}", owner="rs-1", labels={"app": "w"})) for i in range(12)]
    assert Counter(n[0] for n in placed) == Counter({"a": 4, "b": 4, "c": 4})
    assert set(Counter(placed).values()) == {2}


def test_least_allocated_prefers_the_emptier_node_and_prefer_no_schedule_is_avoided() -> None:
    cache, algo = cluster(node("busy"), node("idle"), node("spot", taints=[
        {"key": "spot", "value": "true", "effect": "PreferNoSchedule"}]))
    cache.add_pod(pod_info(pod("hog", cpu="3", node_name="busy")))
    assert algo.schedule(pod_info(pod("p"))).node == "idle"
    assert algo.schedule(pod_info(pod("p2", tolerations=[{"key": "spot", "operator": "Exists"}]))).node in (
        "idle", "spot")


def test_preferred_node_affinity_wins() -> None:
    _cache, algo = cluster(node("n1", labels={"disk": "hdd"}), node("n2", labels={"disk": "ssd"}))
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 50, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]}}
    assert all(algo.schedule(pod_info(pod(f"p{i}", affinity=pref))).node == "n2" for i in range(5))


def test_large_clusters_are_sampled() -> None:
    assert num_feasible_nodes_to_find(50) == 50
    assert num_feasible_nodes_to_find(100) == 100
    assert num_feasible_nodes_to_find(500) == 230  # (50 - 500/125) %
    assert num_feasible_nodes_to_find(5000) == 500  # 10 %, at least 100
    assert num_feasible_nodes_to_find(500, 10) == 100


# -- the queue --------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_queue_order_backoff_and_moves() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    low, high = pod("low"), pod("high", priority=10)
    q.add(low)
    clock.now += 1
    q.add(high)
    qp, cycle = await q.pop()
    assert qp.key == "default/high"  # priority first
    q.add_unschedulable(qp, cycle, frozenset({"NodeResourcesFit"}))
    assert q.counts()[UNSCHEDULABLE] == 1
    # An event that cannot help (a pod added elsewhere; resources are not freed) leaves it there.
    assert q.move_all("AssignedPodAdd", frozenset({"InterPodAffinity"})) == 0
    # A node added: it moves, but waits out its back-off (1 s after the first failure).
    assert q.move_all("NodeAdd") == 1
    assert q.counts()[BACKOFF] == 1
    clock.now += 0.5
    q.flush()
    assert q.counts()[BACKOFF] == 1
    clock.now += 0.6
    q.flush()
    assert q.counts()[ACTIVE] == 2
    qp2, _ = await q.pop()
    assert qp2.key == "default/high" and qp2.attempts == 2
    assert q.backoff_duration(qp2) == 2.0
    qp2.attempts = 9
    assert q.backoff_duration(qp2) == 10.0  # capped
    q.close()


async def test_an_event_during_an_attempt_is_not_lost() -> None:
    q = SchedulingQueue(clock=FakeClock())
    q.add(pod("p"))
    qp, cycle = await q.pop()
    q.move_all("NodeAdd")  # while the pod was being tried
    q.add_unschedulable(qp, cycle, frozenset({"NodeResourcesFit"}))
    assert q.counts()[BACKOFF] == 1
    q.delete("default/p")
    assert sum(q.counts().values()) == 0
    q.close()


async def test_gated_pods_wait_and_pop_waits_for_work() -> None:
    q = SchedulingQueue(clock=FakeClock())
    gated = pod("g", schedulingGates=[{"name": "example.com/wait"}])
    q.add(gated)
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    q.update({**gated, "spec": {**gated["spec"], "schedulingGates": []}})
    qp, _ = await asyncio.wait_for(waiter, 1)
    assert qp.key == "default/g"
    q.close()


async def test_a_stale_back_off_entry_does_not_cut_a_new_back_off_short() -> None:
    clock = FakeClock()
    q = SchedulingQueue(clock=clock)
    q.add(pod("p"))
    qp, _ = await q.pop()
    q.add_after_error(qp)  # back-off until +1 s
    q.delete("default/p")  # deleted and created again under the same name
    q.add(pod("p"))
    qp, _ = await q.pop()
    qp.attempts = 3
    clock.now += 0.5
    q.add_after_error(qp)  # back-off 4 s, until +4.5 s
    clock.now += 1.0
    q.flush()  # the first entry (+1 s) is due, but it belongs to the deleted pod
    assert q.counts()[BACKOFF] == 1
    clock.now += 3.1
    q.flush()
    assert q.counts()[ACTIVE] == 1
    q.close()
