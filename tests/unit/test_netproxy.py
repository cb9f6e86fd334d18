"""The link proxy: pass, blackhole, delay, drop, and heal, against an echo server on loopback."""

from __future__ import annotations

import asyncio
import time

import pytest

from hakube.chaos.netproxy import Fault, LinkProxy


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def roundtrip(port: int, *, timeout: float = 1.0) -> float:
    t = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(b"ping")
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(4), timeout) == b"ping"
    finally:
        writer.close()
    return time.monotonic() - t


async def test_link_proxy_faults_and_heal() -> None:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    upstream = ("127.0.0.1", server.sockets[0].getsockname()[1])
    async with server, LinkProxy(listen=("127.0.0.1", 0), upstream=upstream) as proxy:
        await roundtrip(proxy.port)
        proxy.set(Fault(mode="blackhole"))
        with pytest.raises(TimeoutError):
            await roundtrip(proxy.port, timeout=0.3)
        proxy.set(Fault(mode="delay", delay=0.2))
        assert await roundtrip(proxy.port) >= 0.35  # both directions
        proxy.set(Fault(mode="drop", loss=1.0))
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError, TimeoutError)):
            await roundtrip(proxy.port, timeout=0.5)
        proxy.set(Fault())
        assert await roundtrip(proxy.port) < 0.5


def test_fault_validation() -> None:
    with pytest.raises(ValueError):
        Fault(mode="partition")
    with pytest.raises(ValueError):
        Fault(mode="drop", loss=2)
