"""The garbage collector's dependency graph: who owns whom, by uid, fed by informers.

Every object of every watched resource is a node; its ownerReferences are
edges to its owners. An owner referenced before it is observed (or that never
existed) becomes a "virtual" node, to be checked against the API. The graph
turns informer events into work: dependents of a deleted owner, owners whose
blocking dependents went away, and owners that start waiting for their
dependents to be deleted (`foregroundDeletion`) or orphaned (`orphan`)
(k/k `pkg/controller/garbagecollector/graph.go` and `graph_builder.go`
processGraphChanges, processTransitions).

Handlers run synchronously in informer tasks on one event loop, so the graph
needs no locks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from hakube.client.api import Obj, ResourceRef

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


@dataclass
class Node:
    uid: str
    api_version: str
    kind: str
    namespace: str  # "" when cluster-scoped; a virtual owner's guess is its dependent's namespace
    name: str
    ref: ResourceRef | None = None  # where it lives; None for a virtual node until resolved
    observed: bool = True
    owners: dict[str, Obj] = field(default_factory=dict)  # owner uid -> ownerReference
    deleting: bool = False
    finalizers: tuple[str, ...] = ()

    @property
    def deleting_dependents(self) -> bool:
        return self.deleting and FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        return self.deleting and ORPHAN in self.finalizers

    def blocks(self, owner_uid: str) -> bool:
        ref = self.owners.get(owner_uid)
        return bool(ref and ref.get("blockOwnerDeletion"))

    def describe(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


class AbsentOwners:
    """uids known not to exist (uids are never reused); bounded, least recently used out
    (the graph builder's absentOwnerCache)."""

    def __init__(self, size: int = 1000) -> None:
        self._uids: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, uid: str) -> None:
        self._uids[uid] = None
        self._uids.move_to_end(uid)
        while len(self._uids) > self._size:
            self._uids.popitem(last=False)

    def __contains__(self, uid: object) -> bool:
        return uid in self._uids


def owner_refs(obj: Obj) -> dict[str, Obj]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return {str(r["uid"]): r for r in refs if isinstance(r, dict) and r.get("uid")}


class Graph:
    def __init__(self, *, attempt_to_delete: Callable[[str], None], attempt_to_orphan: Callable[[str], None],
                 absent: AbsentOwners) -> None:
        self.nodes: dict[str, Node] = {}
        self._dependents: dict[str, set[str]] = {}
        self._delete = attempt_to_delete
        self._orphan = attempt_to_orphan
        self.absent = absent

    def dependents_of(self, uid: str) -> list[Node]:
        return [self.nodes[d] for d in self._dependents.get(uid, ()) if d in self.nodes]

    def has_dependents(self, uid: str) -> bool:
        return bool(self._dependents.get(uid))

    def blocking_dependents(self, uid: str) -> list[Node]:
        return [d for d in self.dependents_of(uid) if d.blocks(uid)]

    # -- informer events ----------------------------------------------------------------

    def observe(self, ref: ResourceRef, kind: str, event_type: str, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid:
            return
        if event_type == "DELETED":
            self._deleted(uid, obj)
            return
        api_version = f"{ref.group}/{ref.version}" if ref.group else ref.version
        node = Node(uid, api_version, kind, str(meta.get("namespace") or ""), str(meta.get("name") or ""),
                    ref=ref, owners=owner_refs(obj), deleting=bool(meta.get("deletionTimestamp")),
                    finalizers=tuple(meta.get("finalizers") or ()))
        prev = self.nodes.get(uid)
        if prev is not None and not prev.observed:
            prev = None  # a virtual node becomes real
        self.nodes[uid] = node
        old_owners = prev.owners if prev is not None else {}
        for owner_uid, old_ref in old_owners.items():
            new_ref = node.owners.get(owner_uid)
            if new_ref is None:
                self._unlink(owner_uid, uid)
            if new_ref is None or bool(new_ref.get("blockOwnerDeletion")) != bool(old_ref.get("blockOwnerDeletion")):
                self._unblocked(owner_uid)  # addUnblockedOwnersToDeleteQueue
        for owner_uid, new_ref in node.owners.items():
            if owner_uid in old_owners:
                continue
            self._dependents.setdefault(owner_uid, set()).add(uid)
            owner = self.nodes.get(owner_uid)
            if owner is None:
                if owner_uid in self.absent:
                    self._delete(uid)  # its owner is known to be gone
                else:  # insertNode: a virtual owner, to be checked against the API
                    self.nodes[owner_uid] = Node(owner_uid, str(new_ref.get("apiVersion") or ""),
                                                 str(new_ref.get("kind") or ""), node.namespace,
                                                 str(new_ref.get("name") or ""), observed=False)
                    self._delete(owner_uid)
            elif owner.deleting_dependents:
                self._delete(uid)
        # processTransitions: only on the change, or on first sight.
        if node.orphaning and not (prev is not None and prev.orphaning):
            self._orphan(uid)
        elif node.deleting_dependents and not (prev is not None and prev.deleting_dependents):
            for dependent in self._dependents.get(uid, ()):
                self._delete(dependent)
            self._delete(uid)

    def _deleted(self, uid: str, obj: Obj) -> None:
        node = self.nodes.pop(uid, None)
        owners = node.owners if node is not None and node.observed else owner_refs(obj)
        for owner_uid in owners:
            self._unlink(owner_uid, uid)
            self._unblocked(owner_uid)
        dependents = self._dependents.get(uid, set())
        if dependents:
            self.absent.add(uid)
        for dependent in dependents:
            self._delete(dependent)

    def virtual_deleted(self, uid: str) -> None:
        """A virtual owner turned out not to exist: its dependents are orphans now."""
        node = self.nodes.get(uid)
        if node is None or node.observed:
            return
        del self.nodes[uid]
        self.absent.add(uid)
        for dependent in self._dependents.get(uid, ()):
            self._delete(dependent)

    def _unblocked(self, owner_uid: str) -> None:
        owner = self.nodes.get(owner_uid)
        if owner is not None and owner.deleting_dependents:
            self._delete(owner_uid)

    def _unlink(self, owner_uid: str, dependent_uid: str) -> None:
        dependents = self._dependents.get(owner_uid)
        if dependents is None:
            return
        dependents.discard(dependent_uid)
        if not dependents:
            del self._dependents[owner_uid]
            owner = self.nodes.get(owner_uid)
            if owner is not None and not owner.observed:
                del self.nodes[owner_uid]  # nobody refers to this virtual owner any more
