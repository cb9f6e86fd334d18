"""The serviceaccount controller: a `default` ServiceAccount in every active namespace.

Created when a namespace appears, and again whenever it is deleted
(k/k `pkg/controller/serviceaccount/serviceaccounts_controller.go`).
"""

from __future__ import annotations

import logging

from hakube.client.api import NAMESPACES, SERVICEACCOUNTS, ApiClient, ApiError, Obj
from hakube.client.informer import Informer
from hakube.client.workqueue import WorkQueue
from hakube.controllers.base import ControllerContext, run_queue

log = logging.getLogger(__name__)

DEFAULT_NAMES = ("default",)


def _terminating(err: ApiError) -> bool:
    """The NamespaceTerminating cause: the namespace went away under us, nothing to do."""
    causes = (err.status.get("details") or {}).get("causes") or []
    return any(c.get("reason") == "NamespaceTerminating" for c in causes)


class ServiceAccountController:
    name = "serviceaccount"

    def __init__(self, names: tuple[str, ...] = DEFAULT_NAMES) -> None:
        self.names = names
        self.queue = WorkQueue()
        self._namespaces: Informer | None = None
        self._accounts: Informer | None = None

    def setup(self, ctx: ControllerContext) -> None:
        self._namespaces = ctx.informers.get(NAMESPACES)
        self._accounts = ctx.informers.get(SERVICEACCOUNTS)
        self._namespaces.add_handler(self._on_namespace)
        self._accounts.add_handler(self._on_account)

    def _on_namespace(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        if event_type != "DELETED":
            self.queue.add(str(obj["metadata"]["name"]))

    def _on_account(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        if event_type == "DELETED" and meta.get("name") in self.names:
            self.queue.add(str(meta.get("namespace")))

    async def run(self, ctx: ControllerContext) -> None:
        await run_queue(self.queue, lambda key: self.sync(ctx.client, key), workers=ctx.settings.workers,
                        name=self.name, log=log)

    async def sync(self, client: ApiClient, namespace: str) -> str:
        assert self._namespaces is not None and self._accounts is not None
        ns = self._namespaces.get(namespace)
        if ns is None or (ns.get("status") or {}).get("phase") != "Active":
            return ""
        created = []
        for name in self.names:
            if self._accounts.get(f"{namespace}/{name}") is not None:
                continue
            body = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": namespace}}
            try:
                await client.create(SERVICEACCOUNTS, body, namespace)
            except ApiError as err:
                if err.code == 409 or _terminating(err) or err.not_found:
                    continue
                raise
            created.append(name)
        return f"serviceaccount: created {', '.join(created)} in namespace {namespace}" if created else ""
