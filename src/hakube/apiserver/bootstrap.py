"""Things every API server keeps true in the background.

- The system namespaces exist (k/k `pkg/controlplane/controller/systemnamespaces`).
- The default RBAC policy and the system PriorityClasses exist (bootstrappolicy),
  reconciled the way kube's `rbac/bootstrap-roles` poststarthook does.
- etcd history is compacted every interval. In HA only one server wins each
  round: a compare-and-set on the `compact_rev_key` key's version, then a
  compaction to the revision seen one round earlier (apiserver
  `pkg/storage/etcd3/compact.go`), so clients have one interval to resume.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Callable
from typing import Any

from aetcd import rpc

from hakube.apiserver import bootstrappolicy, status
from hakube.apiserver.bootstrappolicy import AUTOUPDATE
from hakube.apiserver.rbac import PolicyIndex
from hakube.apiserver.registry import Registry, WriteOptions
from hakube.apiserver.resources import SYSTEM_NAMESPACES
from hakube.apiserver.watchcache import COMPACT_KEY as WATCHED_COMPACT_KEY
from hakube.store.errors import StoreError
from hakube.store.storage import Storage

log = logging.getLogger(__name__)

Obj = dict[str, Any]
_RBAC = "rbac.authorization.k8s.io"

# kube-apiserver keeps this key outside its prefix; we keep it inside, so that every
# revision of etcd is a revision our watch cache sees (see WatchCache.wait_for).
COMPACT_KEY = WATCHED_COMPACT_KEY.encode()


async def ensure_system_namespaces(registries: dict[tuple[str, str, str], Registry], *,
                                   interval: float = 60.0) -> None:
    reg = registries[("", "v1", "namespaces")]
    while True:
        for name in SYSTEM_NAMESPACES:
            try:
                await reg.create(None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                                 WriteOptions())
                log.info("created system namespace %s", name)
            except status.StatusError as err:
                if err.code != 409:
                    log.warning("could not create namespace %s: %s", name, err.message)
            except StoreError as err:
                log.warning("could not create namespace %s: %s", name, err)
        await asyncio.sleep(interval)


class Compactor:
    def __init__(self, storage: Storage, interval: float) -> None:
        self.storage = storage
        self.interval = interval
        self._version = 0  # the compact key's version we last saw
        self._previous = 0  # the revision seen one round ago

    async def run(self) -> None:
        if self.interval <= 0:
            return
        while True:
            await asyncio.sleep(self.interval)
            try:
                log.info("compaction: %s", await self.round())
            except StoreError as err:
                log.warning("compaction round failed: %s", err)

    async def round(self) -> str:
        """One compaction round; returns what it did, for the log."""
        resp = await self.storage._txn(
            [rpc.Compare(key=COMPACT_KEY, target=rpc.Compare.VERSION, result=rpc.Compare.EQUAL,
                         version=self._version)],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=COMPACT_KEY, value=COMPACT_KEY))],
            [rpc.RequestOp(request_range=rpc.RangeRequest(key=COMPACT_KEY))],
        )
        current = int(resp.header.revision)
        if not resp.succeeded:
            kvs = resp.responses[0].response_range.kvs
            self._version = int(kvs[0].version) if kvs else 0
            self._previous = current
            return "another API server compacted this round"
        self._version += 1
        target, self._previous = self._previous, current
        if target > 0:
            await self.storage.compact(target)
            return f"compacted etcd history up to revision {target}"
        return "first round: nothing to compact yet"


def _missing(current: list[Any], desired: list[Any]) -> list[Any]:
    return [item for item in desired if item not in current]


def reconcile(current: Obj, desired: Obj) -> Obj | None:
    """`current` with what `desired` has and it lacks, or None when nothing is missing.

    k/k `pkg/registry/rbac/reconciliation` with RemoveExtraPermissions and
    RemoveExtraSubjects off, as the API server's bootstrap uses it: labels and
    annotations are merged (existing values win), missing rules and subjects are
    appended, an aggregationRule is set when absent. Nothing is ever removed, so
    API servers of different versions converge on the union instead of fighting.
    """
    meta, want = current["metadata"], desired["metadata"]
    if (meta.get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    out = copy.deepcopy(current)
    changed = False
    for field in ("labels", "annotations"):
        have = dict(meta.get(field) or {})
        merged = {**(want.get(field) or {}), **have}
        if merged != have:
            out["metadata"][field] = merged
            changed = True
    if "aggregationRule" in desired and not current.get("aggregationRule"):
        out["aggregationRule"] = desired["aggregationRule"]
        changed = True
    for field in ("rules", "subjects"):
        if field in desired and not desired.get("aggregationRule"):
            missing = _missing(current.get(field) or [], desired[field])
            if missing:
                out[field] = [*(current.get(field) or []), *missing]
                changed = True
    return out if changed else None


class DefaultObjects:
    """The default RBAC policy and system PriorityClasses (poststarthooks rbac/bootstrap-roles and
    scheduling/bootstrap-system-priority-classes): created when absent, reconciled when present.

    Every API server runs this; a create that loses to another server's gets 409 and
    moves on, an update is a compare-and-set and converges (see `reconcile`).
    """

    def __init__(self, registries: dict[tuple[str, str, str], Registry], *,
                 policy: Callable[[], PolicyIndex] | None = None) -> None:
        self.registries = registries
        self.policy = policy
        self.done = asyncio.Event()

    async def run(self, *, interval: float = 60.0) -> None:
        while True:
            try:
                said = await self.round()
            except (status.StatusError, StoreError) as err:
                log.warning("default RBAC policy and priority classes: %s", err)
            else:
                if said:
                    log.info("default objects: %s", said)
                self.done.set()
            await asyncio.sleep(interval if self.done.is_set() else 1.0)

    async def round(self) -> str:
        """One pass; returns what it did, for the log."""
        rbac = _RBAC
        work: list[tuple[tuple[str, str, str], Obj]] = [
            *(((rbac, "v1", "clusterroles"), o) for o in bootstrappolicy.cluster_roles()),
            *(((rbac, "v1", "clusterrolebindings"), o) for o in bootstrappolicy.cluster_role_bindings()),
            *(((rbac, "v1", "roles" if o["kind"] == "Role" else "rolebindings"), o)
              for o in bootstrappolicy.namespaced_policy()),
            *((("scheduling.k8s.io", "v1", "priorityclasses"), o) for o in bootstrappolicy.PRIORITY_CLASSES),
        ]
        created: list[str] = []
        updated: list[str] = []
        for resource, desired in work:
            what = await self._ensure(self.registries[resource], desired, reconciled=resource[2] != "priorityclasses")
            name = f"{resource[2]}/{desired['metadata']['name']}"
            if what == "created":
                created.append(name)
            elif what == "updated":
                updated.append(name)
        parts = ([f"created {', '.join(created)}"] if created else []) + (
            [f"reconciled {', '.join(updated)}"] if updated else [])
        return "; ".join(parts)

    async def run_aggregation(self, *, interval: float = 0.5) -> None:
        """The clusterrole-aggregation controller's job, after every RBAC change this server sees:
        store each aggregated ClusterRole's rules (k/k pkg/controller/clusterroleaggregation).

        Authorization does not wait for it (rbac.PolicyIndex aggregates on read); this keeps
        what `kubectl get clusterrole view -o yaml` shows in step. Every API server computes
        the same rules from the same objects, so their writes agree.
        """
        last: PolicyIndex | None = None
        while True:
            await asyncio.sleep(interval)
            cache = self.registries[(_RBAC, "v1", "clusterroles")].cache
            if self.policy is None or not cache.ready.is_set():
                continue
            index = self.policy()
            if index is last:
                continue
            try:
                changed = await self.aggregate(index)
            except (status.StatusError, StoreError) as err:
                log.warning("cluster role aggregation: %s", err)
                continue
            if changed:
                log.info("aggregated cluster roles: %s", ", ".join(changed))
            last = index

    async def aggregate(self, index: PolicyIndex) -> list[str]:
        reg = self.registries[(_RBAC, "v1", "clusterroles")]
        changed = []
        for name in sorted(index.cluster_roles):
            rules = index.aggregated_rules(name)
            if rules is None or (index.cluster_roles[name].get("rules") or []) == rules:
                continue

            def mutate(old: Obj, rules: list[Obj] = rules) -> Obj:
                if (old.get("aggregationRule") or {}).get("clusterRoleSelectors"):
                    old["rules"] = rules
                return old

            try:
                await reg.update(None, name, mutate, WriteOptions())
            except status.StatusError as err:
                if err.code != 404:
                    raise
                continue
            changed.append(name)
        return changed

    @staticmethod
    async def _ensure(reg: Registry, desired: Obj, *, reconciled: bool) -> str:
        meta = desired["metadata"]
        namespace, name = meta.get("namespace"), meta["name"]
        try:
            await reg.create(namespace, copy.deepcopy(desired), WriteOptions())
            return "created"
        except status.StatusError as err:
            if err.code != 409:
                raise
        if not reconciled or reconcile(await reg.get(namespace, name), desired) is None:
            return ""

        def mutate(old: Obj) -> Obj:
            return reconcile(old, desired) or old

        await reg.update(namespace, name, mutate, WriteOptions())
        return "updated"
