"""The pure parts of the workload controllers, against upstream's own cases where they exist
(k/k pkg/controller/deployment/util/deployment_util_test.go, controller_utils_test.go)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hakube.controllers import deployment_status as ds
from hakube.controllers import deployment_util as du
from hakube.controllers.expectations import Expectations
from hakube.controllers.objects import OwnerIndex, selector_matches
from hakube.controllers.podcontrol import pods_to_delete

Obj = dict[str, Any]


def deployment(replicas: int, *, surge: Any = "25%", unavailable: Any = "25%", status_replicas: int = 0) -> Obj:
    return {"metadata": {"name": "d", "generation": 1},
            "spec": {"replicas": replicas,
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}},
            "status": {"replicas": status_replicas}}


def rs(name: str, replicas: int, *, created: str = "2025-01-01T00:00:00Z", annotations: dict[str, str] | None = None,
       available: int = 0) -> Obj:
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created, "annotations": annotations or {}},
            "spec": {"replicas": replicas}, "status": {"availableReplicas": available}}


@pytest.mark.parametrize(("surge", "unavailable", "desired", "expected"), [
    ("0%", "0%", 0, (0, 1)),
    ("39%", "39%", 10, (4, 3)),
    (None, "39%", 10, (0, 3)),
    ("39%", None, 10, (4, 0)),
    (None, None, 10, (0, 1)),
    ("25%", "25%", 6, (2, 1)),
    (2, 1, 6, (2, 1)),
])
def test_resolve_fenceposts(surge: Any, unavailable: Any, desired: int, expected: tuple[int, int]) -> None:
    assert du.resolve_fenceposts(surge, unavailable, desired) == expected


@pytest.mark.parametrize(("surge", "unavailable"), [("oops", "1%"), ("55%", "urg"), ("5", "1")])
def test_resolve_fenceposts_rejects_non_percent_strings(surge: str, unavailable: str) -> None:
    with pytest.raises(ValueError):
        du.resolve_fenceposts(surge, unavailable, 10)


def test_max_unavailable_is_capped_by_replicas_and_zero_for_recreate() -> None:
    assert du.max_unavailable(deployment(2, unavailable=5)) == 2
    assert du.max_unavailable(deployment(0)) == 0
    recreate = {"metadata": {}, "spec": {"replicas": 3, "strategy": {"type": "Recreate"}}}
    assert du.max_unavailable(recreate) == 0 and du.max_surge(recreate) == 0


def test_new_rs_new_replicas_stays_within_surge() -> None:
    d = deployment(10, surge=3, unavailable=2)
    new = rs("new", 0)
    assert du.new_rs_new_replicas(d, [rs("old", 10), new], new) == 3
    assert du.new_rs_new_replicas(d, [rs("old", 8), rs("new", 5)], rs("new", 5)) == 5  # 13 already
    assert du.new_rs_new_replicas(d, [rs("old", 0), rs("new", 9)], rs("new", 9)) == 10  # never above replicas


def test_compute_hash_is_short_stable_and_moved_by_collisions() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    h = du.compute_hash(template, None)
    assert h == du.compute_hash({"spec": template["spec"], "metadata": template["metadata"]}, None)
    assert h.isalnum() and 1 <= len(h) <= 10 and set(h) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert du.compute_hash(template, 1) != h
    assert du.compute_hash({**template, "spec": {"containers": [{"name": "c", "image": "j"}]}}, None) != h


def test_equal_ignore_hash_treats_empty_as_unset() -> None:
    a = {"metadata": {"labels": {"app": "x", du.HASH_LABEL: "abc"}, "creationTimestamp": None},
         "spec": {"containers": [{"name": "c", "image": "i", "resources": {}}]}}
    b = {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
    assert du.equal_ignore_hash(a, b)
    assert not du.equal_ignore_hash(a, {**b, "spec": {"containers": [{"name": "c", "image": "other"}]}})


def test_new_rs_annotations_keep_revision_history_on_rollback() -> None:
    d = deployment(3)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "why", du.REVISION: "9",
                                    du.LAST_APPLIED: "{}"}
    new = rs("new", 0)
    assert du.set_new_rs_annotations(d, new, 1, exists=False)
    assert new["metadata"]["annotations"] == {"kubernetes.io/change-cause": "why", du.REVISION: "1",
                                              du.DESIRED_REPLICAS: "3", du.MAX_REPLICAS: "4"}
    assert du.set_new_rs_annotations(d, new, 3, exists=True)  # rolled back to: 1 -> 3
    assert new["metadata"]["annotations"][du.REVISION_HISTORY] == "1"
    assert du.set_new_rs_annotations(d, new, 5, exists=True)
    assert new["metadata"]["annotations"][du.REVISION_HISTORY] == "1,3"
    assert not du.set_new_rs_annotations(d, new, 4, exists=True)  # never lowered


def test_proportional_fraction_uses_max_replicas_annotation() -> None:
    # 10 -> 15 with no surge: a ReplicaSet sized for 10 gets 5 more; 10 -> 5 loses 5.
    up = deployment(15, surge=0, unavailable=1)
    assert du.rs_proportion(rs("a", 10, annotations={du.MAX_REPLICAS: "10"}), up, 5, 0) == 5
    down = deployment(5, surge=0, unavailable=1)
    assert du.rs_proportion(rs("a", 10, annotations={du.MAX_REPLICAS: "10"}), down, -5, 0) == -5
    assert du.rs_proportion(rs("a", 0), up, 5, 0) == 0


def test_find_active_or_latest_and_sorts() -> None:
    old1 = rs("old1", 0, created="2025-01-01T00:00:00Z")
    old2 = rs("old2", 0, created="2025-01-02T00:00:00Z")
    assert du.find_active_or_latest(None, [old1, old2]) is old2
    active = rs("act", 3)
    assert du.find_active_or_latest(None, [old1, active]) is active
    assert du.find_active_or_latest(rs("new", 1), [active]) is None
    a, b = rs("a", 2, created="2025-01-01T00:00:00Z"), rs("b", 2, created="2025-01-02T00:00:00Z")
    assert [x["metadata"]["name"] for x in du.sort_by_size_older([b, a, rs("c", 5)])] == ["c", "a", "b"]
    assert [x["metadata"]["name"] for x in du.sort_by_size_newer([a, b, rs("c", 5)])] == ["c", "b", "a"]


def test_conditions_keep_transition_time_when_status_stays() -> None:
    status: Obj = {}
    ds.set_condition(status, {**ds.new_condition("Progressing", "True", du.NEW_RS_CREATED, "m"),
                              "lastTransitionTime": "2025-01-01T00:00:00Z"})
    ds.set_condition(status, ds.new_condition("Progressing", "True", du.REPLICASET_UPDATED, "m2"))
    [cond] = status["conditions"]
    assert cond["reason"] == du.REPLICASET_UPDATED and cond["lastTransitionTime"] == "2025-01-01T00:00:00Z"


def test_timed_out_only_past_the_deadline() -> None:
    d = deployment(1)
    d["spec"]["progressDeadlineSeconds"] = 10
    now = datetime(2025, 1, 1, tzinfo=UTC)
    cond = {"type": "Progressing", "status": "True", "reason": du.REPLICASET_UPDATED,
            "lastUpdateTime": (now - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert not ds.deployment_timed_out(d, {"conditions": [cond]}, now)
    assert ds.deployment_timed_out(d, {"conditions": [cond]}, now + timedelta(seconds=6))
    assert not ds.deployment_timed_out(d, {"conditions": [{**cond, "reason": du.NEW_RS_AVAILABLE}]},
                                       now + timedelta(seconds=60))


# -- pods, expectations, selectors ---------------------------------------------------------------


def pod(name: str, *, node: str = "", phase: str = "Running", ready: bool = True, created: str = "2025-01-01T00:00:00Z",
        cost: int | None = None) -> Obj:
    annotations = {"controller.kubernetes.io/pod-deletion-cost": str(cost)} if cost is not None else {}
    return {"metadata": {"name": name, "uid": name, "creationTimestamp": created, "annotations": annotations},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                       "lastTransitionTime": created}]}}


def names(pods: list[Obj]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_pods_to_delete_prefers_unscheduled_pending_not_ready_cheap_newer() -> None:
    scheduled = pod("scheduled", node="n1")
    assert names(pods_to_delete([scheduled, pod("unscheduled")], [], 1)) == ["unscheduled"]
    assert names(pods_to_delete([pod("running", node="n"), pod("pending", node="n", phase="Pending")], [], 1)) == [
        "pending"]
    assert names(pods_to_delete([pod("ready", node="n"), pod("unready", node="n", ready=False)], [], 1)) == ["unready"]
    assert names(pods_to_delete([pod("dear", node="n", cost=10), pod("cheap", node="n", cost=-1)], [], 1)) == ["cheap"]
    old = pod("old", node="n", created="2020-01-01T00:00:00Z")
    new = pod("new", node="m", created=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert names(pods_to_delete([old, new], [], 1)) == ["new"]
    # Doubled up: the pod sharing its node with more related pods goes first.
    a, b = pod("a", node="busy"), pod("b", node="quiet")
    assert names(pods_to_delete([b, a], [a, pod("c", node="busy")], 1)) == ["a"]


def test_expectations_count_off_creations_and_named_deletions() -> None:
    now = [0.0]
    e = Expectations(clock=lambda: now[0], timeout=300)
    assert e.satisfied("ns/rs")
    e.expect_creations("ns/rs", 2)
    e.creation_observed("ns/rs")
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert e.satisfied("ns/rs")
    e.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    e.deletion_observed("ns/rs", "ns/a")
    e.deletion_observed("ns/rs", "ns/other")
    assert not e.satisfied("ns/rs")
    now[0] = 301
    assert e.satisfied("ns/rs")  # expired


@pytest.mark.parametrize(("selector", "labels", "expected"), [
    (None, {"a": "1"}, False),
    ({}, {"a": "1"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"}, True),
])
def test_selector_matches(selector: Obj | None, labels: dict[str, str], expected: bool) -> None:
    assert selector_matches(selector, labels) is expected


def test_owner_index_follows_controller_changes() -> None:
    index = OwnerIndex()
    orphan = {"metadata": {"name": "p", "namespace": "ns", "uid": "p1"}}
    owned = {"metadata": {"name": "p", "namespace": "ns", "uid": "p1",
                          "ownerReferences": [{"uid": "rs1", "controller": True}]}}
    index.on_event("ADDED", orphan, None)
    assert index.orphans_in("ns") == [orphan] and index.owned_by("rs1") == []
    index.on_event("MODIFIED", owned, orphan)
    assert index.orphans_in("ns") == [] and index.owned_by("rs1") == [owned]
    index.on_event("DELETED", owned, owned)
    assert index.owned_by("rs1") == []


def test_pod_available_after_min_ready_seconds() -> None:
    from hakube.controllers.podcontrol import is_pod_available

    now = datetime(2025, 1, 1, 0, 0, 10, tzinfo=UTC)
    ready_at_0 = pod("p", created="2025-01-01T00:00:00Z")
    assert is_pod_available(ready_at_0, 0, now)
    assert is_pod_available(ready_at_0, 9, now)
    assert not is_pod_available(ready_at_0, 10, now)
    assert not is_pod_available(pod("q", ready=False), 0, now)
