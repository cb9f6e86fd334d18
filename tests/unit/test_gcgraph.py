"""The garbage collector's graph: which informer events become which work."""

from __future__ import annotations

from typing import Any

from hakube.client.api import CONFIGMAPS, REPLICASETS
from hakube.controllers.gcgraph import FOREGROUND, ORPHAN, AbsentOwners, Graph

Obj = dict[str, Any]


def obj(uid: str, *, owners: list[Obj] | None = None, deleting: bool = False,
        finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"uid": uid, "name": f"n-{uid}", "namespace": "ns"}
    if owners:
        meta["ownerReferences"] = owners
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    if finalizers:
        meta["finalizers"] = finalizers
    return {"metadata": meta}


def ref(uid: str, *, block: bool = True) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": f"n-{uid}", "uid": uid,
            "blockOwnerDeletion": block}


class Recorder:
    def __init__(self) -> None:
        self.delete: list[str] = []
        self.orphan: list[str] = []
        self.graph = Graph(attempt_to_delete=self.delete.append, attempt_to_orphan=self.orphan.append,
                           absent=AbsentOwners(size=2))

    def rs(self, event: str, o: Obj) -> None:
        self.graph.observe(REPLICASETS, "ReplicaSet", event, o)

    def cm(self, event: str, o: Obj) -> None:
        self.graph.observe(CONFIGMAPS, "ConfigMap", event, o)


def test_an_unseen_owner_is_a_virtual_node_checked_once_then_real() -> None:
    r = Recorder()
    r.cm("ADDED", obj("d1", owners=[ref("o")]))
    r.cm("ADDED", obj("d2", owners=[ref("o")]))
    assert r.delete == ["o"] and not r.graph.nodes["o"].observed
    assert r.graph.nodes["o"].kind == "ReplicaSet" and r.graph.nodes["o"].namespace == "ns"
    r.rs("ADDED", obj("o"))
    assert r.graph.nodes["o"].observed and r.graph.nodes["o"].ref == REPLICASETS
    assert {d.uid for d in r.graph.dependents_of("o")} == {"d1", "d2"}


def test_a_virtual_owner_that_does_not_exist_sends_its_dependents_to_be_deleted() -> None:
    r = Recorder()
    r.cm("ADDED", obj("d1", owners=[ref("o")]))
    r.delete.clear()
    r.graph.virtual_deleted("o")
    assert r.delete == ["d1"] and "o" in r.graph.absent and "o" not in r.graph.nodes
    r.cm("ADDED", obj("d2", owners=[ref("o")]))  # a known-absent owner: straight to deletion
    assert r.delete == ["d1", "d2"]


def test_deleting_an_owner_sends_dependents_and_unblocks_waiting_owners() -> None:
    r = Recorder()
    r.rs("ADDED", obj("o", deleting=True, finalizers=[FOREGROUND]))
    r.cm("ADDED", obj("d", owners=[ref("o")]))
    assert r.graph.blocking_dependents("o")[0].uid == "d"
    r.delete.clear()
    r.cm("DELETED", obj("d", owners=[ref("o")]))
    assert r.delete == ["o"] and r.graph.blocking_dependents("o") == []
    r.delete.clear()
    r.rs("ADDED", obj("p"))
    r.cm("ADDED", obj("e", owners=[ref("p")]))
    r.rs("DELETED", obj("p"))
    assert r.delete == ["e"] and "p" in r.graph.absent


def test_transitions_to_foreground_and_orphan_deletion() -> None:
    r = Recorder()
    r.rs("ADDED", obj("o"))
    r.cm("ADDED", obj("d", owners=[ref("o")]))
    r.delete.clear()
    r.rs("MODIFIED", obj("o", deleting=True, finalizers=[FOREGROUND]))
    assert r.delete == ["d", "o"]
    r.rs("MODIFIED", obj("o", deleting=True, finalizers=[FOREGROUND]))  # no new transition
    assert r.delete == ["d", "o"]
    r.rs("ADDED", obj("q"))
    r.rs("MODIFIED", obj("q", deleting=True, finalizers=[ORPHAN]))
    assert r.orphan == ["q"]


def test_dropping_a_blocking_reference_wakes_the_waiting_owner() -> None:
    r = Recorder()
    r.rs("ADDED", obj("o", deleting=True, finalizers=[FOREGROUND]))
    r.cm("ADDED", obj("d", owners=[ref("o")]))
    r.delete.clear()
    r.cm("MODIFIED", obj("d", owners=[ref("o", block=False)]))
    assert r.delete == ["o"] and r.graph.blocking_dependents("o") == []
    r.cm("MODIFIED", obj("d"))
    assert r.graph.dependents_of("o") == []


def test_absent_owners_are_bounded() -> None:
    absent = AbsentOwners(size=2)
    for uid in ("a", "b", "c"):
        absent.add(uid)
    assert "a" not in absent and "b" in absent and "c" in absent
