"""The watch cache: one etcd watch per API server, fanned out to every client watch.

Like kube-apiserver's cacher (apiserver `pkg/storage/cacher`), it keeps the
current state of every object and a bounded history of events, so that
client watches never open their own etcd watch, `resourceVersion=0` reads are
served from memory, and consistent reads wait until the cache has caught up
with etcd's current revision (KEP-2340, "consistent reads from cache").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hakube.apiserver import codec
from hakube.store.errors import Compacted, StoreError
from hakube.store.storage import Storage, WatchBatch

# The compactor's bookkeeping key (bootstrap.Compactor). It lies inside the watched prefix so its
# writes move the cache's revision like every other write of ours, but its value (the key itself,
# as kube's compactor writes it) is not an object: the cache never stores it.
COMPACT_KEY = "/registry/compact_rev_key"
PAGE_TIMEOUT = 30.0  # seconds for one relist page (the storage call's own deadline is 10 s)

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]

ADDED, MODIFIED, DELETED = "ADDED", "MODIFIED", "DELETED"


@dataclass
class CacheEvent:
    type: str
    key: str
    obj: Obj  # for DELETED: the last state, with the delete revision as resourceVersion
    prev: Obj | None
    revision: int
    _json: bytes | None = field(default=None, repr=False)

    def obj_json(self) -> bytes:
        """The object serialized once for every watcher that sends it unchanged."""
        if self._json is None:
            self._json = codec.dumps(self.obj)
        return self._json


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")


class Watcher:
    """One client watch: a bounded queue of events that pass its filter."""

    def __init__(self, prefix: str, predicate: Predicate | None, capacity: int) -> None:
        self.prefix = prefix
        self.predicate = predicate
        self.queue: asyncio.Queue[CacheEvent | None] = asyncio.Queue(maxsize=capacity)
        self.closed = False

    def offer(self, event: CacheEvent) -> None:
        ev = self._transform(event)
        if ev is None or self.closed:
            return
        try:
            self.queue.put_nowait(ev)
        except asyncio.QueueFull:
            # A watcher that cannot keep up is closed, as kube's cacher does;
            # the client re-watches from its last resourceVersion.
            self.close()

    def _transform(self, event: CacheEvent) -> CacheEvent | None:
        """Selector transitions: stop matching → DELETED, start matching → ADDED."""
        if self.predicate is None:
            return event
        now = self.predicate(event.obj)
        if event.type == DELETED:
            return event if now else None
        before = event.prev is not None and self.predicate(event.prev)
        if now and before:
            return event
        if now:
            return CacheEvent(ADDED, event.key, event.obj, event.prev, event.revision)
        if before and event.prev is not None:
            last = _with_rv(event.prev, event.revision)
            return CacheEvent(DELETED, event.key, last, event.prev, event.revision)
        return None

    def close(self) -> None:
        """End the stream. Undelivered events are dropped, never skipped over: the client
        re-watches from the last event it received and the history replays the rest. (When
        closing because the queue is full, the end marker must still fit, or the stream
        would stay open and silent.)"""
        if self.closed:
            return
        self.closed = True
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(None)


def _with_rv(obj: Obj, revision: int) -> Obj:
    return {**obj, "metadata": {**obj.get("metadata", {}), "resourceVersion": str(revision)}}


class WatchCache:
    def __init__(
        self,
        storage: Storage,
        *,
        prefix: str = "/registry/",
        history: int = 20_000,
        watcher_queue: int = 1_000,
        on_watchers: Callable[[int], None] | None = None,
    ) -> None:
        self._storage = storage
        self._prefix = prefix
        self._history: deque[CacheEvent] = deque()
        self._capacity = history
        self._watcher_queue = watcher_queue
        self._on_watchers = on_watchers
        self.state: dict[str, Obj] = {}
        self.revision = 0
        self._history_start = 0  # every event after this revision is in _history
        self._watchers: set[Watcher] = set()
        # Replaced and set on every advance: waiters need no lock, so none can be left holding one.
        self._advanced = asyncio.Event()
        self._stream: Any = None
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="watch-cache")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for w in list(self._watchers):
            w.close()
        self._watchers.clear()

    async def _run(self) -> None:
        need_list = True
        while True:
            try:
                if need_list:
                    await self._relist()
                    need_list = False
                self._stream = self._storage.watch(self._prefix, start_revision=self.revision + 1)
                async for batch in self._stream:
                    await self._apply(batch)
            except Compacted:
                log.warning("watch cache fell behind etcd compaction; relisting")
                need_list = True
            except StoreError as err:
                log.warning("watch cache: etcd watch broke (%s); re-watching", err)
                await asyncio.sleep(0.5)
            except TimeoutError:
                log.warning("watch cache: an etcd page did not come within %.0fs; relisting", PAGE_TIMEOUT)
                await asyncio.sleep(0.5)
            except Exception:
                # Whatever it was, a cache that stops for good leaves the server unready for
                # good (seen after a replica restart under load): log it, and start over.
                log.exception("watch cache: unexpected failure; relisting")
                need_list = True
                await asyncio.sleep(1.0)
            finally:
                if self._stream is not None:
                    self._stream.close()
                    self._stream = None

    async def _relist(self) -> None:
        state: dict[str, Obj] = {}
        start: str | None = None
        revision = 0
        while True:
            # Modest pages: each is decoded in one go, and values may be up to 1.5 MiB each.
            # Bounded beyond the call's own gRPC deadline: a page that never comes must not
            # keep the cache (and /readyz) waiting forever.
            page = await asyncio.wait_for(
                self._storage.list(self._prefix, limit=250, start_key=start, revision=revision), PAGE_TIMEOUT)
            revision = page.revision
            for kv in page.items:
                if kv.key != COMPACT_KEY:
                    state[kv.key] = codec.decode_from_storage(kv.value, kv.mod_revision)
            if not page.more or not page.items:
                break
            start = page.items[-1].key + "\0"
        # Watchers cannot be told what they missed across a relist: close them
        # so that their clients re-watch (and relist on 410).
        for w in list(self._watchers):
            w.close()
        self._watchers.clear()
        self.state = state
        self._history.clear()
        self._history_start = revision
        await self._advance(revision)
        self.ready.set()

    async def _apply(self, batch: WatchBatch) -> None:
        for ev in batch.events:
            kv = ev.kv
            if kv.key == COMPACT_KEY:
                continue  # still counted below: the cache's revision moves past it
            if ev.deleted:
                prev = self.state.pop(kv.key, None)
                if prev is None and ev.prev is not None:
                    prev = codec.decode_from_storage(ev.prev.value, ev.prev.mod_revision)
                if prev is None:
                    continue
                event = CacheEvent(DELETED, kv.key, _with_rv(prev, kv.mod_revision), prev, kv.mod_revision)
            else:
                obj = codec.decode_from_storage(kv.value, kv.mod_revision)
                prev = self.state.get(kv.key)
                self.state[kv.key] = obj
                event = CacheEvent(MODIFIED if prev is not None else ADDED, kv.key, obj, prev, kv.mod_revision)
            self._record(event)
        # The events' own revision, not the header's: see wait_for on trusting etcd's view.
        if batch.events:
            await self._advance(max(ev.kv.mod_revision for ev in batch.events))

    def _record(self, event: CacheEvent) -> None:
        self._history.append(event)
        while len(self._history) > self._capacity:
            self._history_start = self._history.popleft().revision
        for w in list(self._watchers):
            if event.key.startswith(w.prefix):
                w.offer(event)
            if w.closed:
                self._watchers.discard(w)

    async def _advance(self, revision: int) -> None:
        if revision <= self.revision:
            return
        self.revision = revision
        advanced, self._advanced = self._advanced, asyncio.Event()
        advanced.set()

    # -- reads ----------------------------------------------------------------

    async def wait_for(self, revision: int, timeout: float = 3.0) -> bool:
        """Wait until every event up to `revision` is in the cache."""
        if self.revision >= revision:
            return True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.revision < revision:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            # Only events move the cache's revision. etcd's progress notifications
            # could, but before 3.5.8 one may arrive ahead of events still in flight
            # (etcd-io/etcd#15220), which would make a "consistent" read stale. Every
            # write of ours is under the watched prefix, so events do reach `revision`;
            # a revision moved by a foreign write times out, and callers read etcd.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._advanced.wait(), remaining)
        return True

    def snapshot(self, prefix: str) -> list[Obj]:
        """Objects under `prefix` in key order, as of self.revision."""
        return [self.state[k] for k in sorted(k for k in self.state if k.startswith(prefix))]

    def get(self, key: str) -> Obj | None:
        return self.state.get(key)

    # -- watches --------------------------------------------------------------

    def watch(self, prefix: str, predicate: Predicate | None, *, since: int | None) -> Watcher:
        """Register a watcher for events after `since` (None: from the cache's current revision).

        Raises TooOld when `since` is older than the history kept.
        """
        replay: list[CacheEvent] = []
        if since is not None and since < self.revision:
            if since < self._history_start:
                raise TooOld(since, self._history_start)
            replay = [e for e in self._history if e.revision > since and e.key.startswith(prefix)]
        # Room for the whole replay on top of the live buffer: resuming is not being slow.
        w = Watcher(prefix, predicate, self._watcher_queue + len(replay))
        for event in replay:
            w.offer(event)
        self._watchers.add(w)
        self._notify_count()
        return w

    def unwatch(self, w: Watcher) -> None:
        w.close()
        self._watchers.discard(w)
        self._notify_count()

    def _notify_count(self) -> None:
        if self._on_watchers is not None:
            self._on_watchers(len(self._watchers))
