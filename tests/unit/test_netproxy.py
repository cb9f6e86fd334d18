"""The link proxy against an echo server on loopback: pass, blackhole (held, then delivered), delay, drop,
and a TLS peer link whose source is told by its client certificate."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hakube.chaos.netproxy import LinkProxy, Switchboard, source_of
from hakube.chaos.netrules import Fault, Rule, Rules, isolation
from hakube.cluster import pki

A, B, C = "127.0.0.21", "127.0.0.22", "127.0.0.23"


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(1024):
        writer.write(data)
        await writer.drain()
    writer.close()


async def roundtrip(port: int, *, timeout: float = 1.0, ctx: ssl.SSLContext | None = None,
                    host: str = "127.0.0.1") -> float:
    t = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), timeout)
    try:
        writer.write(b"ping")
        await writer.drain()
        assert await asyncio.wait_for(reader.readexactly(4), timeout) == b"ping"
    finally:
        writer.close()
    return time.monotonic() - t


def rules(*items: Rule) -> Rules:
    return Rules(generation=1, rules=list(items))


@contextlib.asynccontextmanager
async def echo_link(board: Switchboard, *, link: str, source: str, target: str) -> AsyncIterator[LinkProxy]:
    """A plain proxy in front of an echo server, with a fixed source and target for the rules."""
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    upstream = ("127.0.0.1", server.sockets[0].getsockname()[1])
    async with server, LinkProxy(board=board, link=link, listen=("127.0.0.1", 0), upstream=upstream,
                                 target=target, source=source) as proxy:
        yield proxy


async def test_plain_link_faults_and_heal() -> None:
    board = Switchboard()
    async with echo_link(board, link="etcd-client", source=A, target=A) as proxy:
        await roundtrip(proxy.port)
        board.update(rules(Rule("etcd-client", A, A, Fault("blackhole"))))
        with pytest.raises(TimeoutError):
            await roundtrip(proxy.port, timeout=0.3)
        board.update(rules(Rule("etcd-client", A, A, Fault("delay", delay=0.2))))
        assert await roundtrip(proxy.port) >= 0.35  # both directions
        board.update(rules(Rule("etcd-client", A, A, Fault("drop", loss=1.0))))
        with pytest.raises((asyncio.IncompleteReadError, ConnectionError, TimeoutError)):
            await roundtrip(proxy.port, timeout=0.5)
        board.update(rules(Rule("peer", A, A, Fault("blackhole"))))  # another link kind: no effect
        assert await roundtrip(proxy.port) < 0.5
        board.update(Rules())
        assert await roundtrip(proxy.port) < 0.5


async def test_blackhole_holds_bytes_of_an_open_connection_and_delivers_them_on_heal() -> None:
    board = Switchboard()
    async with echo_link(board, link="peer", source=A, target=B) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"one")
        assert await asyncio.wait_for(reader.readexactly(3), 1) == b"one"
        board.update(rules(Rule("peer", A, B, Fault("blackhole"))))  # only A→B: the answer could pass
        writer.write(b"two")
        await writer.drain()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(3), 0.3)
        board.update(Rules())
        assert await asyncio.wait_for(reader.readexactly(3), 1) == b"two"  # held, not lost
        writer.close()


async def test_delay_adds_latency_not_a_throughput_cap() -> None:
    board = Switchboard()
    board.update(rules(Rule("peer", "*", "*", Fault("delay", delay=0.1))))
    async with echo_link(board, link="peer", source=A, target=B) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        t = time.monotonic()
        for i in range(20):  # 20 writes in a row: ~0.2 s in all, not 20 × 0.2 s
            writer.write(b"%02d" % i)
            await writer.drain()
            await asyncio.sleep(0.005)
        got = await asyncio.wait_for(reader.readexactly(40), 3)
        assert got == b"".join(b"%02d" % i for i in range(20))  # order kept
        assert 0.2 <= time.monotonic() - t < 1.5
        writer.close()


def _tls(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext, dict[str, ssl.SSLContext]]:
    """An etcd-like CA; member certificates CN etcd-<ip>; the proxy's server/client contexts and each member's."""
    ca = pki.create_ca("etcd-ca")
    (tmp / "ca.crt").write_bytes(ca.cert_pem)
    members: dict[str, ssl.SSLContext] = {}
    for ip in (A, B, C):
        cert = pki.issue_cert(ca, common_name=f"etcd-{ip}", ip_addresses=[ip, "127.0.0.1"], server=True, client=True)
        (tmp / f"{ip}.crt").write_bytes(cert.cert_pem)
        (tmp / f"{ip}.key").write_bytes(cert.key_pem)
        client = ssl.create_default_context(cafile=str(tmp / "ca.crt"))
        client.load_cert_chain(tmp / f"{ip}.crt", tmp / f"{ip}.key")
        members[ip] = client
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp / "ca.crt"))
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_cert_chain(tmp / f"{B}.crt", tmp / f"{B}.key")
    upstream_server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp / "ca.crt"))
    upstream_server.verify_mode = ssl.CERT_REQUIRED
    upstream_server.load_cert_chain(tmp / f"{B}.crt", tmp / f"{B}.key")
    return server, upstream_server, members


async def test_tls_peer_link_tells_the_source_by_its_certificate(tmp_path: Path) -> None:
    """B's proxy: A isolated from B, C still through; the member behind it sees a verified TLS client."""
    proxy_server, member_server, members = _tls(tmp_path)
    board = Switchboard()
    server = await asyncio.start_server(_echo, "127.0.0.1", 0, ssl=member_server)
    upstream = ("127.0.0.1", server.sockets[0].getsockname()[1])
    async with server, LinkProxy(board=board, link="peer", listen=("127.0.0.1", 0), upstream=upstream, target=B,
                                 server_ssl=proxy_server, client_ssl=members[B]) as proxy:
        await roundtrip(proxy.port, ctx=members[A])
        board.update(rules(*isolation(A)))
        with pytest.raises(TimeoutError):
            await roundtrip(proxy.port, ctx=members[A], timeout=0.5)
        assert await roundtrip(proxy.port, ctx=members[C]) < 1.0
        board.update(Rules())
        assert await roundtrip(proxy.port, ctx=members[A]) < 1.0
        # Without a client certificate the proxy refuses, as etcd's peer port does.
        anonymous = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            await roundtrip(proxy.port, ctx=anonymous)


def test_source_of_a_certificate() -> None:
    assert source_of({"subject": ((("commonName", "etcd-127.1.2.11"),),)}) == "127.1.2.11"
    assert source_of({"subject": ((("commonName", "x"),),),
                      "subjectAltName": (("IP Address", "127.0.0.1"), ("IP Address", "127.1.2.12"))}) == "127.1.2.12"
    assert source_of(None) == "unknown"
