"""A client loop against a cluster's external IP that counts every failed request.

HA tests and benchmarks (and chaos runs) need the same thing: clients that
keep using the API while replicas come, go and fail, and an exact account of
what failed and when. Workers of four kinds run at once — keep-alive GETs,
GETs that each open a new TLS connection, keep-alive creates and creates on a
new connection — each request recorded with its start and end time. Creates
use names chosen up front, so `acknowledged` lists what the API promised to
have stored (and a test can check that every one still exists).

aiohttp retries an idempotent request once when a reused connection breaks;
that is switched off here, so a request dropped by the server counts.

The loop runs in a thread of its own with its own event loop, so synchronous
tests can drive the command line while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

__all__ = ["ClientLoop", "LoopResult", "Request", "percentile"]

READ = "get"
WRITE = "create"


@dataclass(frozen=True)
class Request:
    kind: str  # "get" | "create"
    fresh: bool  # on a new connection
    start: float  # time.monotonic()
    end: float
    ok: bool
    error: str = ""


@dataclass
class LoopResult:
    requests: list[Request] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # names of ConfigMaps whose create returned 201

    @property
    def failures(self) -> list[Request]:
        return [r for r in self.requests if not r.ok]

    def ok(self, kind: str | None = None) -> int:
        return sum(1 for r in self.requests if r.ok and (kind is None or r.kind == kind))

    def outage(self, since: float, *, kind: str = WRITE) -> float:
        """Seconds from `since` until requests of `kind` succeeded again for good.

        The end of the first successful request that started after the last
        failure (of that kind) that ended after `since`; 0 when nothing failed
        and requests went on succeeding right away.
        """
        mine = sorted((r for r in self.requests if r.kind == kind and r.end >= since), key=lambda r: r.start)
        failed = [r for r in mine if not r.ok]
        after = failed[-1].end if failed else since
        first_ok = next((r for r in mine if r.ok and r.start >= after), None)
        if first_ok is None:
            return math.inf
        return max(0.0, first_ok.end - since)

    def summary(self) -> str:
        errors: dict[str, int] = {}
        for r in self.failures:
            errors[r.error] = errors.get(r.error, 0) + 1
        top = "; ".join(f"{n}× {e}" for e, n in sorted(errors.items(), key=lambda kv: -kv[1])[:5])
        return f"{len(self.requests)} requests, {len(self.failures)} failed" + (f" ({top})" if top else "")


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


class ClientLoop:
    """Clients of `server` (https://IP:6443) with the admin certificate, until `stop()`."""

    def __init__(self, *, server: str, pki_dir: Path, namespace: str = "default", keepalive_gets: int = 2,
                 fresh_gets: int = 1, keepalive_writes: int = 1, fresh_writes: int = 1, pause: float = 0.01,
                 timeout: float = 5.0) -> None:
        self.server = server.rstrip("/")
        self.pki_dir = pki_dir
        self.namespace = namespace
        self.workers = {(READ, False): keepalive_gets, (READ, True): fresh_gets,
                        (WRITE, False): keepalive_writes, (WRITE, True): fresh_writes}
        self.pause = pause
        self.timeout = timeout
        self.prefix = f"loop-{uuid.uuid4().hex[:6]}"
        self.result = LoopResult()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._started = threading.Event()

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki_dir / "ca.crt"))
        ctx.load_cert_chain(self.pki_dir / "admin.crt", self.pki_dir / "admin.key")
        return ctx

    def start(self) -> ClientLoop:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="client-loop", daemon=True)
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> LoopResult:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(self.timeout + 10)
        return self.result

    def __enter__(self) -> ClientLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _main(self) -> None:
        ctx = self._ssl()
        target = f"{self.prefix}-target"
        tasks = []
        async with self._session(ctx) as setup:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                await setup.post(f"{self.server}/api/v1/namespaces/{self.namespace}/configmaps",
                                 json={"metadata": {"name": target}, "data": {"k": "v"}})
        for (kind, fresh), count in self.workers.items():
            for i in range(count):
                tasks.append(asyncio.create_task(self._worker(ctx, kind=kind, fresh=fresh, index=i, target=target),
                                                 name=f"client-loop-{kind}-{'fresh' if fresh else 'keepalive'}-{i}"))
        self._started.set()
        # stop() comes from another thread.
        await asyncio.to_thread(self._stopping.wait)
        await asyncio.gather(*tasks, return_exceptions=True)

    def _session(self, ctx: ssl.SSLContext, *, fresh: bool = False) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(ssl=ctx, force_close=fresh, limit=1)
        session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=self.timeout))
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False
        return session

    async def _worker(self, ctx: ssl.SSLContext, *, kind: str, fresh: bool, index: int, target: str) -> None:
        tag = f"{'f' if fresh else 'k'}{index}"
        async with self._session(ctx, fresh=fresh) as session:
            for seq in range(10_000_000):  # bounded; stop() ends it long before
                if self._stopping.is_set():
                    return
                start = time.monotonic()
                ok, error, name = False, "", ""
                try:
                    if kind == READ:
                        path = "/readyz" if seq % 2 else f"/api/v1/namespaces/{self.namespace}/configmaps/{target}"
                        async with session.get(self.server + path) as resp:
                            await resp.read()
                            ok, error = resp.status == 200, f"HTTP {resp.status}"
                    else:
                        name = f"{self.prefix}-{tag}-{seq}"
                        body = {"metadata": {"name": name}, "data": {"seq": str(seq)}}
                        async with session.post(f"{self.server}/api/v1/namespaces/{self.namespace}/configmaps",
                                                json=body) as resp:
                            await resp.read()
                            ok, error = resp.status == 201, f"HTTP {resp.status}"
                except (aiohttp.ClientError, TimeoutError, OSError) as err:
                    error = f"{type(err).__name__}: {err}"[:200]
                end = time.monotonic()
                self.result.requests.append(Request(kind, fresh, start, end, ok, "" if ok else error))
                if ok and name:
                    self.result.acknowledged.append(name)
                await asyncio.sleep(self.pause)
