"""A watcher that cannot keep up is closed cleanly, never left open and silent."""

from __future__ import annotations

import asyncio
from typing import Any

from hakube.apiserver.watchcache import ADDED, CacheEvent, WatchCache, Watcher
from hakube.store.errors import Unavailable
from hakube.store.storage import KV, ListResult


def _event(rv: int) -> CacheEvent:
    return CacheEvent(ADDED, f"/registry/configmaps/ns/c{rv}", {"metadata": {"resourceVersion": str(rv)}}, None, rv)


def test_overflow_ends_the_stream() -> None:
    async def run() -> list[CacheEvent | None]:
        w = Watcher("/registry/configmaps/", None, capacity=3)
        for rv in range(1, 10):  # more than fit: the watcher is closed on the overflow
            w.offer(_event(rv))
        assert w.closed
        got = []
        while not w.queue.empty():
            got.append(w.queue.get_nowait())
        return got

    got = asyncio.run(run())
    # Nothing half-delivered: the stream ends at once and the client resumes from what it saw.
    assert got == [None]


class _FlakyStorage:
    """A storage whose first list fails with an error nobody planned for, then answers."""

    def __init__(self) -> None:
        self.lists = 0

    async def list(self, prefix: str, *, limit: int, start_key: str | None, revision: int) -> ListResult:
        self.lists += 1
        if self.lists == 1:
            raise RuntimeError("an unexpected failure")
        return ListResult(items=[KV(f"{prefix}configmaps/ns/a", b'{"metadata": {"name": "a"}}', 7, 7)],
                          revision=7, more=False, remaining=0)

    def watch(self, prefix: str, *, start_revision: int) -> Any:
        raise Unavailable("no watch in this test")


def test_an_unexpected_failure_does_not_stop_the_cache_for_good() -> None:
    async def run() -> tuple[bool, int, bool]:
        storage = _FlakyStorage()
        cache = WatchCache(storage)  # type: ignore[arg-type]  # only list and watch are used
        await cache.start()
        try:
            await asyncio.wait_for(cache.ready.wait(), 5)
            return cache.ready.is_set(), storage.lists, await cache.wait_for(7, timeout=0.1)
        finally:
            await cache.stop()

    ready, lists, caught_up = asyncio.run(run())
    assert ready and lists == 2 and caught_up


def test_wait_for_wakes_on_advance_and_times_out_without_one() -> None:
    async def run() -> tuple[bool, bool]:
        cache = WatchCache(_FlakyStorage())  # type: ignore[arg-type]
        waiter = asyncio.create_task(cache.wait_for(5, timeout=2))
        await asyncio.sleep(0.05)
        await cache._advance(5)
        return await waiter, await cache.wait_for(9, timeout=0.1)

    woke, timed_out = asyncio.run(run())
    assert woke is True and timed_out is False
