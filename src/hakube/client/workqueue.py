"""A work queue of keys with de-duplication and rate-limited retries (client-go `workqueue`).

A key added while queued is not queued twice; a key added while being
processed is processed again afterwards, never concurrently; a failed key is
retried after an exponential back-off per key (5 ms doubling to 1000 s in
client-go; we cap lower for a small cluster).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class WorkQueue:
    def __init__(self, *, base_delay: float = 0.005, max_delay: float = 30.0) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._processing: set[str] = set()
        self._dirty: set[str] = set()
        self._failures: dict[str, int] = {}
        self._base = base_delay
        self._max = max_delay
        self._timers: set[asyncio.TimerHandle] = set()

    def add(self, key: str) -> None:
        if key in self._processing:
            self._dirty.add(key)
            return
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: str, delay: float) -> None:
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self.add(key)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def add_rate_limited(self, key: str) -> None:
        failures = self._failures.get(key, 0)
        self._failures[key] = failures + 1
        self.add_after(key, min(self._base * (2 ** failures), self._max))

    def forget(self, key: str) -> None:
        self._failures.pop(key, None)

    def __len__(self) -> int:
        return len(self._queued)

    async def get(self) -> str:
        key = await self._queue.get()
        self._queued.discard(key)
        self._processing.add(key)
        return key

    def done(self, key: str) -> None:
        self._processing.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)

    def shutdown(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()

    async def run_workers(self, sync: Callable[[str], Awaitable[None]], *, workers: int = 1,
                          name: str = "queue") -> None:
        """Process keys with `sync` until cancelled; a raising sync is retried with back-off."""

        async def worker() -> None:
            while True:
                key = await self.get()
                try:
                    await sync(key)
                except asyncio.CancelledError:
                    raise
                except Exception as err:  # the key is retried; the loop goes on
                    log.warning("%s: syncing %s failed: %s", name, key, err)
                    self.add_rate_limited(key)
                else:
                    self.forget(key)
                finally:
                    self.done(key)

        await asyncio.gather(*(worker() for _ in range(workers)))
