"""Informers: a local, watch-fed copy of one resource (client-go's reflector + indexer).

List, then watch from the list's resourceVersion; on 410 Gone relist; when
the stream ends or goes silent, re-watch from the last resourceVersion seen
(bookmarks keep it fresh). Handlers run in the informer's task, in order,
after the local store is updated (kopf `watching.py`, client-go `reflector.go`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from hakube.client.api import ApiClient, ApiError, Obj, ResourceRef

log = logging.getLogger(__name__)

Handler = Callable[[str, Obj, Obj | None], Awaitable[None] | None]


def key_of(obj: Obj) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (client-go MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Informer:
    def __init__(
        self,
        client: ApiClient,
        ref: ResourceRef,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
        watch_timeout: int = 300,
        resume_from: str = "",
    ) -> None:
        self.client = client
        self.ref = ref
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.watch_timeout = watch_timeout
        self.store: dict[str, Obj] = {}
        self.synced = asyncio.Event()
        # Resume watching from a known resourceVersion (relisting if it expired), or list first.
        self.resource_version = resume_from
        self._handlers: list[Handler] = []
        self._task: asyncio.Task[None] | None = None

    def add_handler(self, handler: Handler) -> None:
        """`handler(event_type, obj, old)`: ADDED / MODIFIED / DELETED, after the store is updated."""
        self._handlers.append(handler)

    def get(self, key: str) -> Obj | None:
        return self.store.get(key)

    def items(self) -> list[Obj]:
        return list(self.store.values())

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"informer-{self.ref.plural}")

    async def wait_synced(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self.synced.wait(), timeout)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        backoff = 0.2
        need_list = not self.resource_version
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                backoff = 0.2
            except ApiError as err:
                if err.gone:
                    log.info("%s: resourceVersion %s expired; relisting", self.ref.plural, self.resource_version)
                    need_list = True
                    continue
                log.warning("%s informer: %s; retrying in %.1fs", self.ref.plural, err, backoff)
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 5.0)
                if err.code not in (0, 429, 500, 503, 504):
                    need_list = True

    async def _list(self) -> None:
        body = await self.client.list(self.ref, self.namespace, label_selector=self.label_selector,
                                      field_selector=self.field_selector)
        fresh = {key_of(o): o for o in body.get("items") or []}
        old = self.store
        self.store = fresh
        self.resource_version = body["metadata"]["resourceVersion"]
        # Tell handlers what a relist changed, as a reflector's Replace does.
        for key, obj in fresh.items():
            prev = old.get(key)
            if prev is None:
                await self._dispatch("ADDED", obj, None)
            elif prev["metadata"].get("resourceVersion") != obj["metadata"].get("resourceVersion"):
                await self._dispatch("MODIFIED", obj, prev)
        for key, prev in old.items():
            if key not in fresh:
                await self._dispatch("DELETED", prev, prev)
        self.synced.set()

    async def _watch(self) -> None:
        timeout = int(self.watch_timeout * (1 + random.random()))  # spread reconnects as client-go does
        async for event_type, obj in self.client.watch(
                self.ref, self.namespace, resource_version=self.resource_version,
                label_selector=self.label_selector, field_selector=self.field_selector, timeout_seconds=timeout):
            rv = (obj.get("metadata") or {}).get("resourceVersion")
            if rv:
                self.resource_version = rv
            if event_type == "BOOKMARK":
                continue
            key = key_of(obj)
            old = self.store.get(key)
            if event_type == "DELETED":
                self.store.pop(key, None)
            else:
                self.store[key] = obj
            await self._dispatch(event_type, obj, old)

    async def _dispatch(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        for handler in self._handlers:
            try:
                result: Any = handler(event_type, obj, old)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:
                log.exception("%s informer handler failed", self.ref.plural)
