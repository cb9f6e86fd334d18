"""The load balancer in front of two real API servers, and the external IP's handoff under load.

One etcd, API servers A and B on loopback addresses of their own, and an
external IP E that A serves alone until HAProxy takes it over. Clients only
ever use E, with the cluster CA, as kubectl would. Every wait is bounded in
time and every loop in count.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from hakube.apiserver.listeners_file import ListenerError, read_status, request_listeners
from hakube.apiserver.reuseport import listening_sockets
from hakube.lb import Backend, HAProxy, LBSettings, ReplicaListeners, drain_backend, give_back, take_over
from hakube.lb.config import WEIGHT
from hakube.lb.haproxy import LoadBalancerError, find_haproxy
from hakube.testing import ApiServerProcess, LocalStack, free_loopback_ip

try:
    find_haproxy()
except LoadBalancerError as err:  # pragma: no cover - depends on the machine
    pytest.skip(str(err), allow_module_level=True)

pytestmark = pytest.mark.asyncio(loop_scope="session")

AGENT_PORT = 6444


@dataclass
class Setup:
    stack: LocalStack
    external: str
    a: ApiServerProcess
    b: ApiServerProcess
    a_listeners: ReplicaListeners
    b_listeners: ReplicaListeners
    namespace: str

    @property
    def base(self) -> str:
        return f"https://{self.external}:6443"

    @property
    def backends(self) -> list[Backend]:
        return [Backend("replica-a", self.a.ip), Backend("replica-b", self.b.ip)]

    def lb(self, name: str) -> HAProxy:
        return HAProxy(LBSettings(external_ip=self.external, ca_file=self.stack.ca_file,
                                  run_dir=self.stack.root / f"lb-{name}", agent_port=AGENT_PORT))


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    stack = LocalStack.create()
    external = free_loopback_ip((6443,))
    files = [stack.root / "listeners-a.json", stack.root / "listeners-b.json"]
    files[0].write_text(json.dumps({"generation": 1, "listen": [f"{external}:6443"]}))
    try:
        stack.start_etcd()
        a, b = (stack.start_apiserver(f"--listeners-file={file}", "--etcd-compaction-interval=0",
                                      f"--lb-agent-port={AGENT_PORT}", external_ip=external) for file in files)
        s = Setup(stack, external, a, b, ReplicaListeners(files[0], a.proc.pid),
                  ReplicaListeners(files[1], b.proc.pid), f"lb-{uuid.uuid4().hex[:6]}")
        asyncio.run(_prepare(s))
        yield s
    finally:
        stack.cleanup()


def _session(s: Setup, *, fresh: bool = False, limit: int = 16) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=s.stack.ssl_context(), force_close=fresh, limit=limit),
        timeout=aiohttp.ClientTimeout(total=15))
    # aiohttp silently retries an idempotent request once when a reused connection breaks;
    # its own test client switches that off the same way. Here every dropped request counts.
    session._retry_connection = False
    return session


async def _prepare(s: Setup) -> None:
    async with _session(s) as session:
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.namespace}}
        async with session.post(f"{s.base}/api/v1/namespaces", json=body) as resp:
            assert resp.status == 201, await resp.text()
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target"}, "data": {"k": "v"}}
        async with session.post(f"{s.base}/api/v1/namespaces/{s.namespace}/configmaps", json=cm) as resp:
            assert resp.status == 201, await resp.text()


@pytest.fixture
async def lb(setup: Setup, request: pytest.FixtureRequest) -> AsyncIterator[HAProxy]:
    """A load balancer of this test's own; whatever happens, E ends up with A alone."""
    balancer = setup.lb(request.node.name[:20])
    try:
        yield balancer
    finally:
        os.kill(setup.b.proc.pid, signal.SIGCONT)
        await request_listeners(setup.b_listeners.path, listen=[], pid=setup.b.proc.pid)
        if balancer.running:
            await give_back(balancer, to=setup.a_listeners, drain_timeout=2)
        assert not balancer.running
        assert listening_sockets(setup.external, 6443) == 1


@dataclass
class Clients:
    """Keep-alive GETs and POSTs and new-connection GETs through E, counting every failure."""

    s: Setup
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def _one(self, session: aiohttp.ClientSession, method: str, path: str, body: Any, expect: int) -> None:
        try:
            async with session.request(method, self.s.base + path, json=body) as resp:
                await resp.read()
                if resp.status == expect:
                    self.ok += 1
                else:
                    self.failures.append(f"{method} {path}: HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            self.failures.append(f"{method} {path}: {type(err).__name__}: {err}")

    async def run(self) -> None:
        cms = f"/api/v1/namespaces/{self.s.namespace}/configmaps"
        post = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "c-"}}
        async with _session(self.s) as keep, _session(self.s, fresh=True, limit=4) as fresh:
            async def worker(i: int) -> None:
                session = fresh if i % 4 == 0 else keep
                for n in range(100_000):
                    if self.stop.is_set():
                        return
                    if i % 4 == 1 and n % 3 == 0:
                        await self._one(session, "POST", cms, post, 201)
                    else:
                        await self._one(session, "GET", "/readyz" if n % 2 else f"{cms}/target", None, 200)
                    await asyncio.sleep(0.01)

            await asyncio.gather(*(worker(i) for i in range(12)))


async def _stats_server(lb: HAProxy, name: str) -> Any:
    server = (await lb.stats()).server(name)
    assert server is not None
    return server


async def test_handoff_both_ways_under_load_drops_nothing(setup: Setup, lb: HAProxy) -> None:
    clients = Clients(setup)
    running = asyncio.create_task(clients.run())
    try:
        await asyncio.sleep(0.5)
        for _ in range(2):
            created = await take_over(lb, owner=setup.a_listeners, backends=setup.backends)
            assert created.seconds < 5, created.summary()
            assert listening_sockets(setup.external, 6443) == 1 and lb.running
            status = read_status(setup.a_listeners.path)
            assert status is not None and f"{setup.external}:6443" not in status.listening
            await asyncio.sleep(1.0)
            stats = await lb.stats()
            assert stats.frontend_status == "OPEN"
            assert all(s.up for s in stats.servers) and sum(s.total_sessions for s in stats.servers) > 0

            # replica-b leaves as `replica remove` takes it out: drained, removed, then the IP goes back.
            assert await drain_backend(lb, backend=setup.backends[1], listeners=setup.b_listeners, timeout=5) == 0
            assert await lb.remove_backend("replica-b", drain_timeout=1) == 0
            removed = await give_back(lb, to=setup.a_listeners)
            assert removed.seconds < 5, removed.summary()
            assert not lb.running and not removed.forced, removed.summary()
            assert listening_sockets(setup.external, 6443) == 1
            await request_listeners(setup.b_listeners.path, listen=[], pid=setup.b.proc.pid)
            await asyncio.sleep(0.5)
    finally:
        clients.stop.set()
        await asyncio.wait_for(running, 30)
    assert clients.ok > 200
    assert clients.failures == []


async def test_hung_apiserver_is_ejected_and_requests_go_on(setup: Setup, lb: HAProxy) -> None:
    await take_over(lb, owner=setup.a_listeners, backends=setup.backends)
    os.kill(setup.b.proc.pid, signal.SIGSTOP)  # a hung machine: the kernel still accepts connections
    start = time.monotonic()
    status = ""
    for _ in range(100):
        server = await _stats_server(lb, "replica-b")
        status = f"{server.status} ({server.check_status})"
        if server.status == "DOWN":
            break
        await asyncio.sleep(0.05)
    ejected = time.monotonic() - start
    print(f"hung API server ejected after {ejected:.2f}s: {status}")
    assert status.startswith("DOWN") and ejected < 2.5, (status, ejected)
    assert (await _stats_server(lb, "replica-a")).status == "UP"

    clients = Clients(setup)
    async with _session(setup, fresh=True) as fresh, _session(setup) as keep:
        for i in range(40):
            await clients._one(fresh if i % 2 else keep, "GET", "/readyz", None, 200)
    assert clients.failures == [] and clients.ok == 40

    os.kill(setup.b.proc.pid, signal.SIGCONT)
    await lb.wait_backends_up(["replica-b"], timeout=10)


async def _watch(session: aiohttp.ClientSession, s: Setup) -> aiohttp.ClientResponse:
    url = f"{s.base}/api/v1/namespaces/{s.namespace}/configmaps?watch=true&labelSelector=w%3D1&timeoutSeconds=60"
    resp = await session.get(url)
    assert resp.status == 200
    return resp


async def test_backend_removal_keeps_the_other_backends_watches(setup: Setup, lb: HAProxy) -> None:
    await take_over(lb, owner=setup.a_listeners, backends=setup.backends)
    # A client per watch, each on its own connection; leastconn spreads them over A and B.
    sessions = [_session(setup, limit=1) for _ in range(6)]
    try:
        watches = [await _watch(session, setup) for session in sessions]
        for _ in range(50):
            stats = await lb.stats()
            on_a = (stats.server("replica-a") or stats.servers[0]).current_sessions
            if on_a + (stats.server("replica-b") or stats.servers[0]).current_sessions >= len(watches):
                break
            await asyncio.sleep(0.05)
        assert 0 < on_a < len(watches), f"watches not spread: {stats}"

        left = await drain_backend(lb, backend=setup.backends[1], listeners=setup.b_listeners, timeout=1)
        cut = await lb.remove_backend("replica-b", drain_timeout=0.5)
        assert left == cut == len(watches) - on_a  # watches on B end with B
        assert [s.server for s in (await lb.stats()).servers] == ["replica-a"]

        async with _session(setup) as session:
            cm = {"apiVersion": "v1", "kind": "ConfigMap",
                  "metadata": {"name": f"w-{uuid.uuid4().hex[:6]}", "labels": {"w": "1"}}}
            async with session.post(f"{setup.base}/api/v1/namespaces/{setup.namespace}/configmaps",
                                    json=cm) as resp:
                assert resp.status == 201

        async def event(resp: aiohttp.ClientResponse) -> str | None:
            try:
                async with asyncio.timeout(5):
                    line = await resp.content.readline()
            except (TimeoutError, aiohttp.ClientError):
                return None
            return json.loads(line)["type"] if line else None

        got = await asyncio.gather(*(event(w) for w in watches))
        assert got.count("ADDED") == on_a, got  # every watch on A is still open and delivers

        # Adding a server at runtime: checked, UP, taking sessions.
        await lb.add_backend(setup.backends[1])
        await lb.wait_backends_up(["replica-b"], timeout=10)
        assert {b.name for b in lb.backends()} == {"replica-a", "replica-b"}
        assert "server replica-b" in lb.settings.config_file.read_text()
    finally:
        for session in sessions:
            await session.close()


async def test_stats_report_backends_and_checks(setup: Setup, lb: HAProxy) -> None:
    await take_over(lb, owner=setup.a_listeners, backends=setup.backends)
    stats = await lb.stats()
    assert stats.frontend_status == "OPEN"
    assert [(s.server, s.address, s.status, s.check_status, s.check_code, s.weight) for s in stats.servers] == [
        ("replica-a", f"{setup.a.ip}:6443", "UP", "L7OK", "200", WEIGHT),
        ("replica-b", f"{setup.b.ip}:6443", "UP", "L7OK", "200", WEIGHT)]
    # A second start with the same backends changes nothing; the pid file finds the running one.
    again = setup.lb(lb.settings.run_dir.name.removeprefix("lb-"))
    assert again.pid == lb.pid
    await again.start(setup.backends)
    assert len((await again.stats()).servers) == 2


async def _weights(lb: HAProxy, want: int, timeout: float) -> dict[str, int | None]:
    weights: dict[str, int | None] = {}
    for _ in range(int(timeout / 0.05)):
        weights = {s.server: s.weight for s in (await lb.stats()).servers}
        if set(weights.values()) == {want}:
            break
        await asyncio.sleep(0.05)
    return weights


async def test_servers_whose_etcd_is_silent_shed_new_traffic_but_are_never_all_drained(setup: Setup,
                                                                                        lb: HAProxy) -> None:
    await take_over(lb, owner=setup.a_listeners, backends=setup.backends)
    assert await _weights(lb, WEIGHT, timeout=2) == {"replica-a": WEIGHT, "replica-b": WEIGHT}
    etcd = setup.stack.etcd_proc
    assert etcd is not None
    etcd.send_signal(signal.SIGSTOP)  # both API servers share it: both ask for 1 %
    try:
        start = time.monotonic()
        weights = await _weights(lb, 1, timeout=2.5)
        shed = time.monotonic() - start
        print(f"agent weights {weights} {shed:.2f}s after etcd stopped")
        assert weights == {"replica-a": 1, "replica-b": 1}
        # Weight 1 is not 0: with every server shedding, new connections are still served.
        clients = Clients(setup)
        async with _session(setup, fresh=True) as fresh:
            for _ in range(10):
                await clients._one(fresh, "GET", "/livez", None, 200)
        assert clients.failures == [] and clients.ok == 10
    finally:
        etcd.send_signal(signal.SIGCONT)
    assert await _weights(lb, WEIGHT, timeout=5) == {"replica-a": WEIGHT, "replica-b": WEIGHT}
    await lb.wait_backends_up(["replica-a", "replica-b"], timeout=10)


async def test_listener_errors_are_reported(setup: Setup) -> None:
    ip = free_loopback_ip((6443,))
    with socket.socket() as squatter:  # no SO_REUSEPORT: the address cannot be shared
        squatter.bind((ip, 6443))
        squatter.listen()
        with pytest.raises(ListenerError, match=f"cannot listen on {ip}:6443"):
            await request_listeners(setup.a_listeners.path, listen=[f"{setup.external}:6443", f"{ip}:6443"],
                                    pid=setup.a.proc.pid)
    status = await request_listeners(setup.a_listeners.path, listen=[f"{setup.external}:6443"],
                                     pid=setup.a.proc.pid)
    assert status.listening == (f"{setup.external}:6443",) and status.errors == ()


async def test_connections_accepted_on_the_external_ip_move_over_between_requests(setup: Setup,
                                                                                  lb: HAProxy) -> None:
    async with _session(setup, limit=1) as session:
        async with session.get(f"{setup.base}/readyz") as resp:  # served by A itself, kept alive
            assert resp.status == 200 and resp.headers.get("Connection", "").lower() != "close"
        await take_over(lb, owner=setup.a_listeners, backends=setup.backends)
        before = sum(s.total_sessions for s in (await lb.stats()).servers)
        # The next answer on the old connection asks the client to reconnect; the one after
        # that comes through HAProxy, on a new connection.
        async with session.get(f"{setup.base}/readyz") as resp:
            assert resp.status == 200 and resp.headers.get("Connection", "").lower() == "close"
        async with session.get(f"{setup.base}/readyz") as resp:
            assert resp.status == 200 and resp.headers.get("Connection", "").lower() != "close"
        after = sum(s.total_sessions for s in (await lb.stats()).servers)
        assert after == before + 1
