"""The garbage collector: ownerReferences with background, foreground and orphan propagation.

- Background: an object whose owners (by uid) are all gone is deleted.
- Foreground: an owner being deleted with the `foregroundDeletion` finalizer
  keeps it until no dependent that blocks it (blockOwnerDeletion) is left;
  its dependents are deleted first, themselves in the foreground when they
  have dependents of their own.
- Orphan: an owner being deleted with the `orphan` finalizer first has its
  ownerReference removed from every dependent, then loses the finalizer.

The graph (`gcgraph`) is built from informers over every resource discovery
lists as listable, watchable and deletable (events excepted), re-discovered
periodically; decisions are made on live reads, and every delete carries a
uid precondition (k/k `pkg/controller/garbagecollector/garbagecollector.go`
attemptToDeleteItem, processDeletingDependentsItem, attemptToOrphanWorker;
`operations.go`, `patch.go`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from hakube.client.api import (
    CONFIGMAPS,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    ENDPOINTSLICES,
    JOBS,
    LEASES,
    NAMESPACES,
    PODS,
    REPLICASETS,
    SECRETS,
    SERVICEACCOUNTS,
    SERVICES,
    STATEFULSETS,
    ApiClient,
    ApiError,
    Obj,
    ResourceRef,
)
from hakube.client.workqueue import WorkQueue
from hakube.controllers.base import ControllerContext
from hakube.controllers.discovery import ApiResource, Discovery, discover
from hakube.controllers.gcgraph import FOREGROUND, ORPHAN, AbsentOwners, Graph, Node

log = logging.getLogger(__name__)

# Watched from the start; the rest comes from discovery.
STATIC: tuple[tuple[ResourceRef, str], ...] = (
    (PODS, "Pod"), (REPLICASETS, "ReplicaSet"), (DEPLOYMENTS, "Deployment"), (STATEFULSETS, "StatefulSet"),
    (DAEMONSETS, "DaemonSet"), (JOBS, "Job"), (CONFIGMAPS, "ConfigMap"), (SECRETS, "Secret"),
    (SERVICES, "Service"), (ENDPOINTS, "Endpoints"), (ENDPOINTSLICES, "EndpointSlice"), (LEASES, "Lease"),
    (SERVICEACCOUNTS, "ServiceAccount"), (NAMESPACES, "Namespace"),
)
# DefaultIgnoredResources: events are never owners worth watching.
IGNORED = frozenset({("", "events"), ("events.k8s.io", "events")})


class _Unresolvable(Exception):
    """A reference that will not resolve on retry (namespacedOwnerOfClusterScopedObjectErr)."""


class GarbageCollector:
    name = "garbagecollector"

    def __init__(self, *, resync_period: float = 30.0) -> None:
        self.delete_queue = WorkQueue(base_delay=0.005, max_delay=30.0)
        self.orphan_queue = WorkQueue(base_delay=0.005, max_delay=30.0)
        self.graph = Graph(attempt_to_delete=self.delete_queue.add, attempt_to_orphan=self.orphan_queue.add,
                           absent=AbsentOwners())
        self._resync_period = resync_period
        self._monitored: set[ResourceRef] = set()
        self._discovery = Discovery(())
        self._discovered_at = float("-inf")
        self._virtual_checks: dict[str, int] = {}

    # -- monitors -----------------------------------------------------------------------------

    def setup(self, ctx: ControllerContext) -> None:
        for ref, kind in STATIC:
            self._monitor(ctx, ref, kind)

    def _monitor(self, ctx: ControllerContext, ref: ResourceRef, kind: str) -> bool:
        if ref in self._monitored or (ref.group, ref.plural) in IGNORED:
            return False
        self._monitored.add(ref)
        informer = ctx.informers.get(ref)

        def handler(event_type: str, obj: Obj, old: Obj | None) -> None:
            self.graph.observe(ref, kind, event_type, obj)

        informer.add_handler(handler)
        if informer.synced.is_set():  # already running for another controller: catch up
            for obj in informer.items():
                handler("ADDED", obj, None)
        return True

    async def _rediscover(self, client: ApiClient) -> Discovery:
        self._discovery = await discover(client)
        self._discovered_at = time.monotonic()
        return self._discovery

    async def _resync_monitors(self, ctx: ControllerContext) -> None:
        """Watch resources that appear in discovery (GarbageCollector.Sync, every 30 s upstream)."""
        while True:
            try:
                found = await self._rediscover(ctx.client)
                added = [r.ref.plural for r in found.preferred("list", "watch", "delete")
                         if self._monitor(ctx, r.ref, r.kind)]
                if added:
                    await ctx.informers.start()
                    log.info("garbage collector: now watching %s", ", ".join(added))
            except ApiError as err:
                log.warning("garbage collector: discovery failed: %s", err)
            except Exception:  # a bad discovery document must not stop the collector
                log.exception("garbage collector: resyncing monitors failed")
            await asyncio.sleep(self._resync_period)

    async def _resource(self, client: ApiClient, api_version: str, kind: str) -> ApiResource | None:
        found = self._discovery.by_kind(api_version, kind)
        if found is None and time.monotonic() - self._discovered_at > 5.0:
            found = (await self._rediscover(client)).by_kind(api_version, kind)
        return found

    # -- workers -----------------------------------------------------------------------------

    async def run(self, ctx: ControllerContext) -> None:
        def logged(work: Callable[[ApiClient, str], Awaitable[str]]) -> Callable[[str], Awaitable[None]]:
            async def sync(uid: str) -> None:
                try:
                    said = await work(ctx.client, uid)
                except _Unresolvable as err:
                    said = f"garbage collector: {err}; not retrying"
                if said:
                    log.info("%s", said)
            return sync

        workers = max(1, ctx.settings.workers)
        try:
            await asyncio.gather(
                self._resync_monitors(ctx),
                self.delete_queue.run_workers(logged(self.attempt_to_delete), workers=workers,
                                              name="garbagecollector"),
                self.orphan_queue.run_workers(logged(self.attempt_to_orphan), workers=workers,
                                              name="garbagecollector-orphan"))
        finally:
            self.delete_queue.shutdown()
            self.orphan_queue.shutdown()

    async def attempt_to_delete(self, client: ApiClient, uid: str) -> str:
        node = self.graph.nodes.get(uid)
        if node is None:
            return ""
        if not node.observed:
            return await self._check_virtual(client, node)
        self._virtual_checks.pop(uid, None)
        # Being deleted is a one-way trip: wait for the deletion, then look at the dependents.
        if node.deleting and not node.deleting_dependents:
            return ""
        resource = await self._resolve(client, node)
        latest = await self._get(client, resource, node)
        if latest is None:
            return ""  # the informer will report the deletion
        meta = latest["metadata"]
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and FOREGROUND in finalizers:
            return await self._process_deleting_dependents(client, node, resource)
        refs = [r for r in meta.get("ownerReferences") or [] if isinstance(r, dict) and r.get("uid")]
        if not refs:
            return ""
        solid, dangling, waiting = await self._classify(client, node, refs)
        if solid:
            if not dangling and not waiting:
                return ""
            # Owners waiting for their dependents must lose this reference, or they would wait forever.
            gone = {r["uid"] for r in dangling + waiting}
            await self._patch_owner_refs(client, resource, latest, [r for r in refs if r["uid"] not in gone])
            return f"garbage collector: {node.describe()}: removed references to {len(gone)} gone or leaving owner(s)"
        if waiting and self.graph.has_dependents(uid):
            if any(d.deleting_dependents for d in self.graph.dependents_of(uid)):
                # A possible cycle: stop blocking our owners before deleting in the foreground.
                unblocked = [{**r, "blockOwnerDeletion": False} if r.get("blockOwnerDeletion") else r for r in refs]
                await self._patch_owner_refs(client, resource, latest, unblocked)
            return await self._delete(client, resource, node, "Foreground")
        policy = "Orphan" if ORPHAN in finalizers else "Foreground" if FOREGROUND in finalizers else "Background"
        return await self._delete(client, resource, node, policy)

    async def attempt_to_orphan(self, client: ApiClient, uid: str) -> str:
        owner = self.graph.nodes.get(uid)
        if owner is None or not owner.observed:
            return ""
        orphaned = 0
        for dependent in self.graph.dependents_of(uid):
            resource = await self._resolve(client, dependent)
            latest = await self._get(client, resource, dependent)
            if latest is None:
                continue
            refs = (latest["metadata"].get("ownerReferences") or [])
            kept = [r for r in refs if not (isinstance(r, dict) and r.get("uid") == uid)]
            if len(kept) != len(refs):
                await self._patch_owner_refs(client, resource, latest, kept)
                orphaned += 1
        await self._remove_finalizer(client, await self._resolve(client, owner), owner, ORPHAN)
        return f"garbage collector: {owner.describe()}: orphaned {orphaned} dependent(s); removed the orphan finalizer"

    # -- steps -------------------------------------------------------------------------------

    async def _check_virtual(self, client: ApiClient, node: Node) -> str:
        """A referenced owner never observed: does it exist? If not, its dependents are orphans."""
        resource = await self._resource(client, node.api_version, node.kind)
        if resource is not None and resource.ref.namespaced and not node.namespace:
            return ""  # named by a cluster-scoped dependent: unresolvable, see _classify
        owner: Obj | None = None
        if resource is not None:
            try:
                owner = await client.get(resource.ref, node.name, node.namespace if resource.ref.namespaced else None)
            except ApiError as err:
                if not err.not_found:
                    raise
            if owner is None or owner["metadata"].get("uid") != node.uid:
                self._virtual_checks.pop(node.uid, None)
                self.graph.virtual_deleted(node.uid)
                return f"garbage collector: owner {node.describe()} ({node.uid}) does not exist"
        # It exists, so the informer will observe it; or its kind is not served (yet). Look
        # again later, as upstream requeues a virtual node until it is observed.
        n = self._virtual_checks.get(node.uid, 0)
        self._virtual_checks[node.uid] = n + 1
        self.delete_queue.add_after(node.uid, min(0.1 * 2.0 ** n, 30.0))
        return ""

    async def _process_deleting_dependents(self, client: ApiClient, node: Node, resource: ApiResource) -> str:
        blocking = self.graph.blocking_dependents(node.uid)
        if not blocking:
            await self._remove_finalizer(client, resource, node, FOREGROUND)
            return f"garbage collector: {node.describe()}: no blocking dependents left; removed {FOREGROUND}"
        for dependent in blocking:
            if not dependent.deleting_dependents:
                self.delete_queue.add(dependent.uid)
        return ""

    async def _classify(self, client: ApiClient, node: Node,
                        refs: list[Obj]) -> tuple[list[Obj], list[Obj], list[Obj]]:
        """classifyReferences: solid owners, dangling ones (gone, or another uid), and owners
        waiting for their dependents' deletion."""
        solid: list[Obj] = []
        dangling: list[Obj] = []
        waiting: list[Obj] = []
        for ref in refs:
            owner_uid = str(ref["uid"])
            if owner_uid in self.graph.absent:
                dangling.append(ref)
                continue
            resource = await self._resource(client, str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
            if resource is None:
                raise RuntimeError(f"{node.describe()}: owner kind {ref.get('kind')} of {ref.get('apiVersion')} "
                                   "is not served")
            if resource.ref.namespaced and not node.namespace:
                raise _Unresolvable(f"cluster-scoped {node.describe()} names a namespaced owner {ref.get('kind')} "
                                    f"{ref.get('name')}")
            try:
                owner = await client.get(resource.ref, str(ref.get("name")),
                                         node.namespace if resource.ref.namespaced else None)
            except ApiError as err:
                if not err.not_found:
                    raise
                owner = None
            meta = (owner or {}).get("metadata") or {}
            if owner is None or meta.get("uid") != owner_uid:
                self.graph.absent.add(owner_uid)
                dangling.append(ref)
            elif meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    async def _resolve(self, client: ApiClient, node: Node) -> ApiResource:
        if node.ref is not None:
            return ApiResource(node.ref, node.kind, frozenset(), True)
        resource = await self._resource(client, node.api_version, node.kind)
        if resource is None:
            raise RuntimeError(f"{node.describe()}: kind {node.kind} of {node.api_version} is not served")
        return resource

    async def _get(self, client: ApiClient, resource: ApiResource, node: Node) -> Obj | None:
        """The object now, or None if it is gone or another object took its name."""
        try:
            obj = await client.get(resource.ref, node.name, node.namespace or None)
        except ApiError as err:
            if err.not_found:
                return None
            raise
        return obj if obj["metadata"].get("uid") == node.uid else None

    async def _delete(self, client: ApiClient, resource: ApiResource, node: Node, policy: str) -> str:
        try:
            await client.delete(resource.ref, node.name, node.namespace or None, preconditions={"uid": node.uid},
                                propagation=policy)
        except ApiError as err:
            if err.not_found or err.conflict:  # gone, or replaced by another object of that name
                return ""
            raise
        return f"garbage collector: deleted {node.describe()} ({policy.lower()})"

    async def _patch_owner_refs(self, client: ApiClient, resource: ApiResource, latest: Obj,
                                refs: list[Obj]) -> Obj | None:
        """deleteOwnerRefJSONMergePatch: the whole list, guarded by the resourceVersion read."""
        meta = latest["metadata"]
        patch = {"metadata": {"resourceVersion": meta["resourceVersion"], "ownerReferences": refs or None}}
        try:
            return await client.patch(resource.ref, meta["name"], patch, meta.get("namespace"))
        except ApiError as err:
            if err.not_found:
                return None
            raise

    async def _remove_finalizer(self, client: ApiClient, resource: ApiResource, node: Node, finalizer: str) -> None:
        """removeFinalizer: read, drop the finalizer, write with the resourceVersion read; retry on conflict."""
        for _attempt in range(5):
            latest = await self._get(client, resource, node)
            if latest is None:
                return
            meta = latest["metadata"]
            finalizers = list(meta.get("finalizers") or [])
            if finalizer not in finalizers:
                return
            kept = [f for f in finalizers if f != finalizer]
            patch = {"metadata": {"resourceVersion": meta["resourceVersion"], "finalizers": kept or None}}
            try:
                await client.patch(resource.ref, meta["name"], patch, meta.get("namespace"))
                return
            except ApiError as err:
                if err.not_found:
                    return
                if not err.conflict:
                    raise
        raise RuntimeError(f"{node.describe()}: could not remove the {finalizer} finalizer: conflicts")
