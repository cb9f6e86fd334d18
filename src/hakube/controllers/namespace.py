"""The namespace controller: a deleted namespace is emptied, finalized, then removed.

Deleting a namespace only marks it (Terminating, finalizer `kubernetes` in
spec.finalizers). This controller deletes every namespaced resource in it
that discovery says can be listed and deleted, waits until nothing is left
(objects with finalizers or grace periods take their time), removes its
finalizer through `namespaces/<name>/finalize`, and deletes the namespace
again so it goes (k/k `pkg/controller/namespace/namespace_controller.go`,
`pkg/controller/namespace/deletion/namespaced_resources_deleter.go`,
conditions from `namespace_condition_utils.go`).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hakube.client.api import NAMESPACES, ApiClient, ApiError, Obj
from hakube.client.workqueue import WorkQueue
from hakube.controllers.base import ControllerContext, run_queue
from hakube.controllers.discovery import ApiResource, discover

log = logging.getLogger(__name__)

FINALIZER = "kubernetes"
_BACKGROUND: Obj = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}

# The conditions the deleter maintains, with their "all is well" reason and message.
_OK: dict[str, tuple[str, str]] = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions",
                                                    "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


@dataclass
class _Progress:
    """What one pass over the namespace's content found."""

    remaining: dict[str, int] = field(default_factory=dict)  # "<resource>.<group>" -> objects left
    finalizers: Counter[str] = field(default_factory=Counter)  # finalizer -> objects holding it
    failures: list[str] = field(default_factory=list)
    discovery_failures: list[str] = field(default_factory=list)
    wait: float = 0.0  # seconds until the longest grace period runs out

    @property
    def done(self) -> bool:
        return not (self.remaining or self.failures or self.discovery_failures)


class NamespaceController:
    name = "namespace"

    def __init__(self, *, min_recheck: float = 0.2, max_recheck: float = 5.0) -> None:
        self.queue = WorkQueue(base_delay=0.05, max_delay=30.0)
        self._min_recheck = min_recheck
        self._max_recheck = max_recheck
        self._rechecks: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def setup(self, ctx: ControllerContext) -> None:
        ctx.informers.get(NAMESPACES).add_handler(self._on_namespace)

    def _on_namespace(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        meta = obj.get("metadata") or {}
        if event_type == "DELETED":
            self._rechecks.pop(str(meta.get("name")), None)
        elif meta.get("deletionTimestamp"):
            self.queue.add(str(meta.get("name")))

    async def run(self, ctx: ControllerContext) -> None:
        try:
            await run_queue(self.queue, lambda key: self.sync(ctx.client, key), workers=ctx.settings.workers,
                            name=self.name, log=log)
        finally:
            for handle in self._timers.values():
                handle.cancel()
            self._timers.clear()

    def _recheck(self, name: str, at_least: float) -> float:
        """Come back later (one timer per namespace): back-off from min to max, or when the
        longest grace period ends. Upstream re-queues after its estimate, at least 15 s when
        finalizers remain; a small cluster can afford to look sooner."""
        n = self._rechecks.get(name, 0)
        delay = max(min(self._min_recheck * 2.0 ** n, self._max_recheck), min(at_least, self._max_recheck))
        if name in self._timers:
            return delay
        self._rechecks[name] = n + 1

        def fire() -> None:
            self._timers.pop(name, None)
            self.queue.add(name)

        self._timers[name] = asyncio.get_running_loop().call_later(delay, fire)
        return delay

    async def sync(self, client: ApiClient, name: str) -> str:
        """One pass of namespace deletion; returns what it did."""
        try:
            ns = await client.get(NAMESPACES, name)
        except ApiError as err:
            if err.not_found:
                return ""
            raise
        meta = ns["metadata"]
        if not meta.get("deletionTimestamp"):
            return ""
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            await _delete_namespace(client, ns)
            return f"namespace {name}: finalized; deleted"
        progress = await self._delete_content(client, name)
        await _update_conditions(client, ns, progress)
        if not progress.done:
            delay = self._recheck(name, progress.wait)
            left = ", ".join(f"{k}: {v}" for k, v in sorted(progress.remaining.items()))
            return f"namespace {name}: content remains ({left or 'errors'}); checking again in {delay:.1f}s"
        finalizers = [f for f in (ns.get("spec") or {}).get("finalizers") or [] if f != FINALIZER]
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
                "spec": {**(ns.get("spec") or {}), "finalizers": finalizers}}
        try:
            finalized = await client.replace(NAMESPACES, body, subresource="finalize")
        except ApiError as err:
            if err.not_found:
                return f"namespace {name}: gone"
            raise
        self._rechecks.pop(name, None)
        if not (finalized.get("spec") or {}).get("finalizers"):
            await _delete_namespace(client, finalized)
        return f"namespace {name}: content deleted; finalized"

    async def _delete_content(self, client: ApiClient, namespace: str) -> _Progress:
        progress = _Progress()
        found = await discover(client)
        progress.discovery_failures = list(found.failed)
        for resource in found.preferred("list", "delete", namespaced=True):
            try:
                await _delete_all(client, resource, namespace, progress)
            except ApiError as err:
                progress.failures.append(f"{resource.ref.plural}.{resource.ref.group}: {err}")
        return progress


async def _delete_all(client: ApiClient, resource: ApiResource, namespace: str, progress: _Progress) -> None:
    """deleteAllContentForGroupVersionResource: delete the collection (or each object), then list
    what is left and why."""
    ref = resource.ref
    if resource.supports("deletecollection"):
        await client.request("DELETE", ref.path(namespace), body=_BACKGROUND)
    else:
        for item in (await client.list(ref, namespace)).get("items") or []:
            try:
                await client.request("DELETE", ref.path(namespace, item["metadata"]["name"]), body=_BACKGROUND)
            except ApiError as err:
                if not err.not_found:
                    raise
    items = (await client.list(ref, namespace)).get("items") or []
    if not items:
        return
    progress.remaining[f"{ref.plural}.{ref.group}"] = len(items)
    now = datetime.now(UTC)
    for item in items:
        meta = item.get("metadata") or {}
        for finalizer in meta.get("finalizers") or []:
            progress.finalizers[finalizer] += 1
        ends = _parse_time(meta.get("deletionTimestamp"))
        if ends is not None:
            progress.wait = max(progress.wait, (ends - now).total_seconds())


async def _delete_namespace(client: ApiClient, ns: Obj) -> None:
    """deleteNamespace: delete again, with a uid precondition, now that the finalizer is gone."""
    meta = ns["metadata"]
    try:
        await client.delete(NAMESPACES, meta["name"], preconditions={"uid": meta["uid"]})
    except ApiError as err:
        if not (err.not_found or err.conflict):
            raise


def _conditions(progress: _Progress) -> dict[str, tuple[str, str, str]]:
    """type -> (status, reason, message), as deleteAllContent reports them."""
    out = {kind: ("False", reason, message) for kind, (reason, message) in _OK.items()}
    if progress.discovery_failures:
        failed = sorted(progress.discovery_failures)
        out["NamespaceDeletionDiscoveryFailure"] = (
            "True", "DiscoveryFailed", f"Discovery failed for some groups, {len(failed)} failing: "
            f"{', '.join(failed)}")
    if progress.failures:
        out["NamespaceDeletionContentFailure"] = (
            "True", "ContentDeletionFailed", f"Failed to delete all resource types, {len(progress.failures)} "
            f"remaining: {', '.join(sorted(progress.failures))}")
    if progress.remaining:
        left = sorted(f"{k} has {v} resource instances" for k, v in progress.remaining.items())
        out["NamespaceContentRemaining"] = ("True", "SomeResourcesRemain",
                                            f"Some resources are remaining: {', '.join(left)}")
    if progress.finalizers:
        held = sorted(f"{k} in {v} resource instances" for k, v in progress.finalizers.items())
        out["NamespaceFinalizersRemaining"] = (
            "True", "SomeFinalizersRemain",
            f"Some content in the namespace has finalizers remaining: {', '.join(held)}")
    return out


async def _update_conditions(client: ApiClient, ns: Obj, progress: _Progress) -> None:
    """Write the deletion conditions when they change (a transition time only when status does)."""
    current = {c.get("type"): c for c in (ns.get("status") or {}).get("conditions") or []}
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    conditions = [c for t, c in current.items() if t not in _OK]
    changed = False
    for kind, (status, reason, message) in _conditions(progress).items():
        old = current.get(kind) or {}
        if (old.get("status"), old.get("reason"), old.get("message")) != (status, reason, message):
            changed = True
        since = old.get("lastTransitionTime") if old.get("status") == status else now
        conditions.append({"type": kind, "status": status, "lastTransitionTime": since or now,
                           "reason": reason, "message": message})
    if not changed:
        return
    try:
        await client.patch(NAMESPACES, ns["metadata"]["name"], {"status": {"conditions": conditions}},
                           subresource="status")
    except ApiError as err:
        if not err.not_found:
            log.warning("namespace %s: could not update conditions: %s", ns["metadata"]["name"], err)


def _parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
