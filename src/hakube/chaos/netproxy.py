"""A userspace TCP proxy for one network link that can be cut, slowed or made lossy — no root needed.

This kernel has no netem and no iptables binary, so network faults between
etcd members are made the way etcd's robustness tests make them: each peer
link passes through a proxy we control (etcd `tests/robustness/failpoint`,
`pkg/proxy/server.go`). Modes:

- ``pass``: bytes flow both ways;
- ``blackhole``: new connections are accepted and then hear nothing; bytes of
  open connections are swallowed (a partition: peers time out rather than
  getting a quick refusal);
- ``delay``: every chunk waits ``delay ± jitter`` seconds before it is
  forwarded (order is kept per direction);
- ``drop``: each chunk is lost with probability ``loss`` — on a TCP stream that
  breaks the connection, so a lost chunk resets it (what a lossy link does to
  a TLS session in the end).

Wiring into the replicas (etcd's ``--initial-advertise-peer-urls`` pointing at
a proxy per link) is not done yet; see the chaos report.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fault:
    mode: str = "pass"  # pass | blackhole | delay | drop
    delay: float = 0.0
    jitter: float = 0.0
    loss: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in ("pass", "blackhole", "delay", "drop"):
            raise ValueError(f"unknown proxy mode {self.mode!r}")
        if self.delay < 0 or self.jitter < 0 or not 0 <= self.loss <= 1:
            raise ValueError("delay and jitter must not be negative; loss is a probability")


class LinkProxy:
    """Listens on ``listen`` and forwards each connection to ``upstream``, subject to the current fault."""

    def __init__(self, *, listen: tuple[str, int], upstream: tuple[str, int], seed: int = 0) -> None:
        self.listen, self.upstream = listen, upstream
        self.fault = Fault()
        self._rnd = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def set(self, fault: Fault) -> str:
        self.fault = fault
        return f"link {self.listen[0]}:{self.port} → {self.upstream[0]}:{self.upstream[1]}: {fault.mode}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, *self.listen)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> LinkProxy:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            if self.fault.mode == "blackhole":
                await self._swallow(reader)
                return
            try:
                up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.upstream), 5)
            except (OSError, TimeoutError):
                return
            try:
                await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
            finally:
                up_writer.close()
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _swallow(self, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):
            for _ in range(10_000_000):
                if not await reader.read(CHUNK):
                    return

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for _ in range(100_000_000):
                data = await reader.read(CHUNK)
                if not data:
                    break
                fault = self.fault
                if fault.mode == "blackhole":
                    continue
                if fault.mode == "drop" and self._rnd.random() < fault.loss:
                    break  # a lost chunk breaks the stream: reset both directions
                if fault.mode == "delay":
                    await asyncio.sleep(max(0.0, fault.delay + self._rnd.uniform(-fault.jitter, fault.jitter)))
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()
