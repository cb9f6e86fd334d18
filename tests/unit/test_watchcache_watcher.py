"""A watcher that cannot keep up is closed cleanly, never left open and silent."""

from __future__ import annotations

import asyncio

from hakube.apiserver.watchcache import ADDED, CacheEvent, Watcher


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
