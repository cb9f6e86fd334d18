"""Userspace TCP proxies for the links of one replica, whose faults can be changed live — no root needed.

This kernel has no netem and no iptables binary, so network faults between
etcd members are made the way etcd's robustness tests make them: traffic
passes through a proxy we control (etcd `pkg/proxy/server.go`). Each replica's
etcd member advertises its proxy's address; the member itself listens on a
port only its proxy dials.

The peer proxy terminates TLS: etcd members dial each other with client
certificates, and the certificate (CN ``etcd-<address>``) is how the proxy
knows which member a connection comes from, so a rule can cut A→B but not
C→B. It then dials its own member with its replica's certificate. A TLS
handshake made during a cut completes with the proxy, and then the
connection hears nothing — as when the network fails right after a connect.

What a fault does to the bytes of one direction:

- ``blackhole``: held (not read further) until the rule is healed, then
  delivered — TCP retransmitting across a partition. A connection opened
  during a cut is swallowed and closed on heal (its first bytes are gone);
  etcd's own timeouts end the rest.
- ``delay``: each chunk leaves ``delay ± jitter`` after it came, order kept.
- ``drop``: each chunk is lost with probability ``loss``; on a TCP stream a
  lost chunk ends the connection (both ways), which is what sustained loss
  does to a TLS session in the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections.abc import Callable
from typing import Any

from hakube.chaos.netrules import Fault, Rules

CHUNK = 64 * 1024
QUEUE_CHUNKS = 64  # per direction: backpressure instead of unbounded memory while delaying
MAX_CHUNKS = 1 << 40  # bounds every loop; a link never moves this many chunks

log = logging.getLogger(__name__)


class LostChunk(Exception):
    """A ``drop`` fault lost a chunk: the connection ends."""


class Switchboard:
    """The rules in force, and a way to wait until a link is no longer cut."""

    def __init__(self) -> None:
        self.rules = Rules()
        self._changed = asyncio.Event()

    def update(self, rules: Rules) -> None:
        self.rules = rules
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def fault(self, link: str, source: str, target: str) -> Fault:
        return self.rules.fault(link, source, target)

    async def wait_open(self, link: str, source: str, target: str) -> Fault:
        """The link's fault once it is not a blackhole (at once if it is not)."""
        for _ in range(MAX_CHUNKS):
            changed = self._changed
            fault = self.fault(link, source, target)
            if fault.mode != "blackhole":
                return fault
            await changed.wait()
        raise RuntimeError("unreachable")


def source_of(cert: dict[str, Any] | None) -> str:
    """The replica address a peer certificate names: CN ``etcd-<address>`` (hakube.cluster.certs)."""
    for rdn in (cert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and str(value).startswith("etcd-"):
                return str(value).removeprefix("etcd-")
    for kind, value in (cert or {}).get("subjectAltName", ()):
        if kind == "IP Address" and not str(value).startswith("127.0.0."):
            return str(value)
    return "unknown"


class LinkProxy:
    """Listens on ``listen``, forwards every connection to ``upstream``, subject to the switchboard's rules.

    ``link`` and ``target`` name the link for the rules; the source is
    ``source`` or, for a TLS listener, the address the client certificate names.
    """

    def __init__(self, *, board: Switchboard, link: str, listen: tuple[str, int], upstream: tuple[str, int],
                 target: str, source: str | None = None, server_ssl: ssl.SSLContext | None = None,
                 client_ssl: ssl.SSLContext | None = None, seed: int = 0) -> None:
        self.board, self.link, self.listen, self.upstream = board, link, listen, upstream
        self.target, self.source = target, source
        self.server_ssl, self.client_ssl = server_ssl, client_ssl
        self._rnd = random.Random(seed)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.connections = 0

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, *self.listen, ssl=self.server_ssl,
                                                  reuse_address=True)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def __aenter__(self) -> LinkProxy:
        await self.start()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        source = self.source or source_of(writer.get_extra_info("peercert"))
        try:
            if self.board.fault(self.link, source, self.target).mode == "blackhole":
                await self._swallow(reader, source)
                return
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(*self.upstream, ssl=self.client_ssl,
                                            server_hostname=self.upstream[0] if self.client_ssl else None), 5)
            except (OSError, TimeoutError, ssl.SSLError) as err:
                log.debug("%s link from %s: upstream %s unreachable: %s", self.link, source, self.upstream, err)
                return
            try:
                await self._relay(reader, writer, up_reader, up_writer, source)
            finally:
                _close(up_writer)
        finally:
            _close(writer)
            self._tasks.discard(task)

    async def _swallow(self, reader: asyncio.StreamReader, source: str) -> None:
        """Read and discard until the client gives up or the cut heals (then close: its first bytes are gone)."""
        opened = asyncio.create_task(self.board.wait_open(self.link, source, self.target))
        try:
            for _ in range(MAX_CHUNKS):
                read = asyncio.ensure_future(reader.read(CHUNK))
                done, _ = await asyncio.wait({read, opened}, return_when=asyncio.FIRST_COMPLETED)
                if opened in done:
                    read.cancel()
                    return
                with contextlib.suppress(OSError, ssl.SSLError):
                    if not read.result():
                        return
        finally:
            opened.cancel()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter, source: str) -> None:
        """Both directions until either ends; a lost chunk or an error ends both."""
        directions = [
            asyncio.create_task(self._direction(reader, up_writer, lambda: (self.link, source, self.target))),
            asyncio.create_task(self._direction(up_reader, writer, lambda: (self.link, self.target, source))),
        ]
        try:
            await asyncio.wait(directions, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for d in directions:
                d.cancel()
            await asyncio.gather(*directions, return_exceptions=True)

    async def _direction(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         key: Callable[[], tuple[str, str, str]]) -> None:
        """Reader → queue (with each chunk's due time) → writer, so a delay adds latency, not a throughput cap."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue(QUEUE_CHUNKS)

        async def receive() -> None:
            last_due = 0.0
            try:
                for _ in range(MAX_CHUNKS):
                    data = await reader.read(CHUNK)
                    if not data:
                        return
                    fault = await self.board.wait_open(*key())
                    if fault.mode == "drop" and self._rnd.random() < fault.loss:
                        raise LostChunk
                    due = loop.time()
                    if fault.mode == "delay":
                        due += max(0.0, fault.delay + self._rnd.uniform(-fault.jitter, fault.jitter))
                    last_due = max(last_due, due)  # jitter never reorders a stream
                    await queue.put((last_due, data))
            finally:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

        async def send() -> None:
            for _ in range(MAX_CHUNKS):
                item = await queue.get()
                if item is None:
                    return
                due, data = item
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                await self.board.wait_open(*key())  # a cut made meanwhile holds delayed bytes too
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.create_task(receive()), asyncio.create_task(send())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            if tasks[0] in done and tasks[0].exception() is None and not tasks[1].done():
                await tasks[1]  # the reader ended cleanly: deliver what is queued
        finally:
            for t in tasks:
                t.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            if any(isinstance(r, LostChunk) for r in results):
                _abort(writer)


def _close(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        writer.close()


def _abort(writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        writer.transport.abort()
