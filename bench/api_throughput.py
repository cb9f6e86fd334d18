#!/usr/bin/env python3
"""API throughput against the same-run raw etcd baseline (DESIGN.md §7).

What a user of the API feels — creates, single GETs, namespace LISTs and
watch delivery to many watchers — measured with 64 concurrent keep-alive
clients, next to the same operations done directly on etcd through the
storage seam (`Storage.create` is the same create_revision==0 txn the API
server does), in the same run and on the same box. Throughput is judged as a
ratio to raw etcd so that it survives machine changes (PERF-RELIABILITY.md
§4); latencies as p99.

    python bench/api_throughput.py [--json] [--quick] [--cluster-dir DIR]

Without --cluster-dir it starts its own etcd and API server on a private
loopback address and removes them afterwards. The load generator runs in
this process and shares the cores with etcd and the API server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import random
import socket
import ssl
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson
import yaml

from hacluster import cdf_points
from hakube.apiserver.resources import ResourceTable
from hakube.store.storage import Storage, TLSFiles

RESULTS_DIR = Path(__file__).resolve().parent / "results"
NOTE_SHARED_CORES = ("the load generator (this process: aiohttp client and gRPC client) shares the "
                     "machine's cores with etcd and the API server")
NOTE_FSYNC = ("etcd fsync is a proxy: sequential raw etcd puts, each one WAL fsync plus one gRPC round "
              "trip on loopback")
NOTES = (
    NOTE_SHARED_CORES,
    "raw etcd baselines use the same Python gRPC client as the API server (Storage), with the same "
    "concurrency, alternated with the API runs in rounds; creates and gets are closed loops, so p99 "
    "includes queueing at that concurrency",
    "API LISTs without resourceVersion are served from the watch cache after a quorum read of etcd's "
    "revision; the raw LIST is a range read of the same keys",
    "watch latency = time the event line is read in the load generator - time the write's 201 was read "
    "(negative when the event arrives first); 'from send' uses the time the POST was sent",
    NOTE_FSYNC,
)


# -- settings --------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    clients: int = 64
    creates: int = 9000
    gets: int = 15000
    lists: int = 100
    list_size: int = 1000
    watchers: int = 500
    events: int = 200
    event_rate: float = 20.0
    fsync_samples: int = 200
    rtt_samples: int = 2000
    rounds: int = 3
    phase_timeout: float = 300.0
    only: tuple[str, ...] = ("creates", "gets", "lists", "watch")


QUICK = {"creates": 300, "gets": 500, "lists": 10, "list_size": 200, "watchers": 50, "events": 20,
         "fsync_samples": 50, "rtt_samples": 500, "rounds": 1, "phase_timeout": 60.0}


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Settings]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "",
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--quick", action="store_true", help="a small smoke run (~20 s)")
    p.add_argument("--cluster-dir", type=Path, help="measure a running cluster instead of starting one")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="where to save the results")
    p.add_argument("--clients", type=int)
    p.add_argument("--creates", type=int)
    p.add_argument("--gets", type=int)
    p.add_argument("--lists", type=int)
    p.add_argument("--list-size", type=int, help="objects in the listed namespace (default 1000)")
    p.add_argument("--watchers", type=int)
    p.add_argument("--events", type=int, help="objects written while the watchers watch")
    p.add_argument("--event-rate", type=float, help="writes per second during the watch phase")
    p.add_argument("--rounds", type=int, help="alternate raw and API runs this many times (default 3)")
    p.add_argument("--only", help="comma-separated phases: creates,gets,lists,watch")
    args = p.parse_args(argv)
    values: dict[str, Any] = dict(QUICK) if args.quick else {}
    for name in ("clients", "creates", "gets", "lists", "list_size", "watchers", "events", "event_rate",
                 "rounds"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.only:
        values["only"] = tuple(x.strip() for x in args.only.split(",") if x.strip())
    settings = Settings(**values)
    if min(settings.clients, settings.creates, settings.gets, settings.lists, settings.list_size,
           settings.rounds) < 1 or settings.watchers < 0 or settings.events < 0:
        p.error("counts must be positive")
    unknown = set(settings.only) - set(Settings().only)
    if unknown:
        p.error(f"unknown phases: {', '.join(sorted(unknown))}")
    return args, settings


# -- statistics --------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    """The q-quantile by nearest rank (q in 0..1)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def summary_ms(samples: list[float]) -> dict[str, float]:
    """p50/p99/max/mean of samples in seconds, as milliseconds."""
    if not samples:
        return {"p50_ms": math.nan, "p99_ms": math.nan, "max_ms": math.nan, "mean_ms": math.nan}
    return {"p50_ms": pct(samples, 0.50) * 1e3, "p99_ms": pct(samples, 0.99) * 1e3,
            "max_ms": max(samples) * 1e3, "mean_ms": statistics.fmean(samples) * 1e3}


@dataclass
class RunResult:
    ops: int
    seconds: float
    latencies: list[float]
    errors: int = 0
    first_error: str = ""
    cpu: dict[str, float] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ops": self.ops, "seconds": round(self.seconds, 3),
                               "ops_per_s": round(self.ops / self.seconds, 1) if self.seconds else 0.0}
        out.update({k: round(v, 3) for k, v in summary_ms(self.latencies).items()})
        out["errors"] = self.errors
        # Bounded CDF points for bench/report.py's latency plots.
        out["cdf_ms"] = cdf_points([x * 1e3 for x in self.latencies])
        if self.first_error:
            out["first_error"] = self.first_error
        if self.cpu:
            out["cpu_seconds"] = {k: round(v, 3) for k, v in self.cpu.items()}
        return out


class CpuMeter:
    """CPU seconds used by this process and by the processes we started, over a phase."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._start: dict[str, float] = {}

    @staticmethod
    def _proc_cpu(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _now(self) -> dict[str, float]:
        t = os.times()
        out = {"load_generator": t.user + t.system}
        for name, pid in self.pids.items():
            value = self._proc_cpu(pid)
            if value is not None:
                out[name] = value
        return out

    def start(self) -> None:
        self._start = self._now()

    def stop(self) -> dict[str, float]:
        end = self._now()
        return {k: end[k] - self._start[k] for k in end if k in self._start}


async def run_pool(n: int, concurrency: int, op: Callable[[int], Awaitable[None]], *, timeout: float,
                   cpu: CpuMeter | None = None, first: int = 0) -> RunResult:
    """Run op(first..first+n-1) with `concurrency` workers; per-op latency, errors counted, bounded in time."""
    latencies: list[float] = []
    errors = 0
    first_error = ""
    next_index = first
    end = first + n

    async def worker() -> None:
        nonlocal next_index, errors, first_error
        while next_index < end:
            i = next_index
            next_index += 1
            start = time.perf_counter()
            try:
                await op(i)
            except Exception as err:  # a failed op is counted, never fatal to the run
                errors += 1
                first_error = first_error or f"{type(err).__name__}: {err}"[:300]
                continue
            latencies.append(time.perf_counter() - start)

    if cpu is not None:
        cpu.start()
    start = time.perf_counter()
    workers = [asyncio.create_task(worker(), name=f"bench-worker-{k}") for k in range(min(concurrency, n))]
    try:
        await asyncio.wait_for(asyncio.gather(*workers), timeout)
    except TimeoutError:
        errors = n - len(latencies)
        first_error = first_error or f"phase timed out after {timeout:.0f}s"
    seconds = time.perf_counter() - start
    used = cpu.stop() if cpu is not None else {}
    return RunResult(ops=len(latencies), seconds=seconds, latencies=latencies, errors=errors,
                     first_error=first_error, cpu=used)


def merge(runs: list[RunResult]) -> RunResult:
    cpu: dict[str, float] = {}
    for r in runs:
        for k, v in r.cpu.items():
            cpu[k] = cpu.get(k, 0.0) + v
    return RunResult(ops=sum(r.ops for r in runs), seconds=sum(r.seconds for r in runs),
                     latencies=[x for r in runs for x in r.latencies], errors=sum(r.errors for r in runs),
                     first_error=next((r.first_error for r in runs if r.first_error), ""), cpu=cpu)


async def paired(cx: Context, n: int, concurrency: int, api: Callable[[int], Awaitable[None]],
                 raw: Callable[[int], Awaitable[None]], *, raw_first: bool) -> dict[str, Any]:
    """Alternate raw-etcd and API runs over slices of 0..n-1, so that drift in background load
    on a shared machine falls on both sides; figures are pooled over the rounds."""
    s = cx.settings
    rounds = max(1, min(s.rounds, n))
    api_runs: list[RunResult] = []
    raw_runs: list[RunResult] = []
    for k in range(rounds):
        lo, hi = n * k // rounds, n * (k + 1) // rounds
        order = [(raw, raw_runs), (api, api_runs)] if raw_first else [(api, api_runs), (raw, raw_runs)]
        for op, runs in order:
            runs.append(await run_pool(hi - lo, concurrency, op, timeout=s.phase_timeout, cpu=cx.cpu, first=lo))
    return compare(merge(api_runs), merge(raw_runs))


# -- machine facts -------------------------------------------------------------------


def loopback_rtt(samples: int) -> dict[str, float]:
    """64-byte TCP ping-pong on 127.0.0.1, echo in a thread (both ends Python)."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            for _ in range(samples + 1):
                data = conn.recv(64)
                if not data:
                    return
                conn.sendall(data)

    thread = threading.Thread(target=echo, name="rtt-echo", daemon=True)
    thread.start()
    times: list[float] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        payload = b"x" * 64
        for i in range(samples + 1):
            start = time.perf_counter()
            client.sendall(payload)
            got = 0
            while got < 64:
                chunk = client.recv(64 - got)
                if not chunk:
                    raise RuntimeError("echo closed")
                got += len(chunk)
            if i:  # the first exchange warms up
                times.append(time.perf_counter() - start)
    thread.join(5)
    server.close()
    return {"p50_us": round(pct(times, 0.5) * 1e6, 1), "p99_us": round(pct(times, 0.99) * 1e6, 1),
            "samples": len(times)}


async def etcd_fsync_proxy(storage: Storage, prefix: str, samples: int) -> dict[str, Any]:
    times: list[float] = []
    value = b"x" * 256
    for i in range(samples):
        start = time.perf_counter()
        await storage.create(f"{prefix}fsync/{i:06d}", value)
        times.append(time.perf_counter() - start)
    return {"p50_ms": round(pct(times, 0.5) * 1e3, 3), "p99_ms": round(pct(times, 0.99) * 1e3, 3),
            "samples": len(times), "method": NOTE_FSYNC}


# -- the system under test ------------------------------------------------------------


@dataclass
class Target:
    url: str
    ssl: ssl.SSLContext
    etcd_endpoint: str
    quorum_reads: bool
    pids: dict[str, int]
    started_here: bool
    close: Callable[[], None]
    etcd_tls: TLSFiles | None = None


def own_stack() -> Target:
    from hakube.testing import LocalStack

    stack = LocalStack.create()
    try:
        stack.start_etcd()
        server = stack.start_apiserver()
    except BaseException:
        stack.cleanup()
        raise
    pids = {"apiserver": server.proc.pid}
    if stack.etcd_proc is not None:
        pids["etcd"] = stack.etcd_proc.pid
    return Target(url=server.url, ssl=stack.ssl_context(), etcd_endpoint=stack.etcd_endpoint,
                  quorum_reads=True, pids=pids, started_here=True, close=stack.cleanup)


def cluster_target(root: Path) -> Target:
    config = yaml.safe_load((root / "kubeconfig").read_text())
    server = config["clusters"][0]["cluster"]["server"]
    ctx = ssl.create_default_context(cafile=str(root / "pki" / "ca.crt"))
    ctx.load_cert_chain(root / "pki" / "admin.crt", root / "pki" / "admin.key")
    state_file = root / "cluster.json"
    state: dict[str, Any] = json.loads(state_file.read_text()) if state_file.exists() else {}
    quorum = bool(state.get("quorum_reads", True))
    endpoint = f"{urlsplit(server).hostname or '127.0.0.1'}:2379"
    tls = None
    replicas = state.get("replicas") or []
    if replicas and (root / "pki" / "etcd-admin.crt").exists():
        # A hakube cluster's etcd listens on each replica's own address, not the external IP, and requires
        # client certificates: the raw baseline talks to the first replica's member as its admin.
        endpoint = f"{replicas[0]['ip']}:2379"
        pki = root / "pki"
        tls = TLSFiles(ca_pem=(pki / "etcd-ca.crt").read_bytes(), cert_pem=(pki / "etcd-admin.crt").read_bytes(),
                       key_pem=(pki / "etcd-admin.key").read_bytes())
    return Target(url=server.rstrip("/"), ssl=ctx, etcd_endpoint=endpoint, quorum_reads=quorum,
                  pids={}, started_here=False, close=lambda: None, etcd_tls=tls)


# -- payloads ---------------------------------------------------------------------------


def configmap(name: str, index: int, run: str) -> bytes:
    """A realistic ConfigMap of about 1 KiB."""
    rng = random.Random(index)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    data = {f"setting-{k}.conf": "".join(rng.choice(alphabet) for _ in range(90)) for k in range(8)}
    obj = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "labels": {"app": "bench", "run": run, "shard": str(index % 16)},
                        "annotations": {"bench.hakube.io/purpose": "api throughput benchmark"}},
           "data": data}
    return orjson.dumps(obj)


class Api:
    """The few HTTP calls the benchmark makes, on one keep-alive session."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    def cm_path(self, ns: str, name: str = "") -> str:
        base = f"{self.url}/api/v1/namespaces/{ns}/configmaps"
        return f"{base}/{name}" if name else base

    async def create_cm(self, ns: str, body: bytes) -> dict[str, Any]:
        async with self.session.post(self.cm_path(ns), data=body,
                                     headers={"Content-Type": "application/json"}) as resp:
            raw = await resp.read()
            if resp.status != 201:
                raise RuntimeError(f"create: HTTP {resp.status}: {raw[:200]!r}")
            return orjson.loads(raw)  # type: ignore[no-any-return]

    async def ensure_namespace(self, ns: str) -> None:
        body = orjson.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        async with self.session.post(f"{self.url}/api/v1/namespaces", data=body,
                                     headers={"Content-Type": "application/json"}) as resp:
            if resp.status not in (201, 409):
                raise RuntimeError(f"namespace {ns}: HTTP {resp.status}: {(await resp.read())[:200]!r}")
            await resp.read()

    async def delete_all(self, ns: str) -> None:
        async with self.session.delete(self.cm_path(ns)) as resp:
            await resp.read()
        async with self.session.delete(f"{self.url}/api/v1/namespaces/{ns}") as resp:
            await resp.read()


def new_session(target: Target, limit: int, *, read_timeout: float | None = 30.0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit, ssl=target.ssl, keepalive_timeout=120)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=read_timeout)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, json_serialize=json.dumps)


async def warm_up(api: Api, clients: int) -> None:
    """Open the keep-alive pool before timing, so TLS handshakes are not in the figures."""

    async def one() -> None:
        async with api.session.get(f"{api.url}/version") as resp:
            await resp.read()

    await asyncio.wait_for(asyncio.gather(*(one() for _ in range(clients))), 60)


# -- phases -------------------------------------------------------------------------------


@dataclass
class Context:
    settings: Settings
    target: Target
    api: Api
    storage: Storage
    run: str
    raw_prefix: str
    cm_prefix: str
    cpu: CpuMeter
    namespaces: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    def ns(self, role: str) -> str:
        name = f"bench-{role}-{self.run}"
        if name not in self.namespaces:
            self.namespaces.append(name)
        return name


def compare(api: RunResult, raw: RunResult) -> dict[str, Any]:
    a, r = api.figures(), raw.figures()
    ratio = a["ops_per_s"] / r["ops_per_s"] if r["ops_per_s"] else math.nan
    return {"api": a, "raw_etcd": r, "ratio": round(ratio, 3)}


async def phase_creates(cx: Context) -> dict[str, Any]:
    s = cx.settings
    ns = cx.ns("create")
    await cx.api.ensure_namespace(ns)
    names = [f"cm-{i:06d}" for i in range(s.creates)]
    bodies = [configmap(n, i, cx.run) for i, n in enumerate(names)]

    async def raw(i: int) -> None:
        await cx.storage.create(f"{cx.raw_prefix}create/{names[i]}", bodies[i])

    created: list[str] = []

    async def api(i: int) -> None:
        await cx.api.create_cm(ns, bodies[i])
        created.append(names[i])

    out = await paired(cx, s.creates, s.clients, api, raw, raw_first=True)
    cx.created = created
    out["payload_bytes"] = round(statistics.fmean(len(b) for b in bodies))
    return out


async def phase_gets(cx: Context) -> dict[str, Any]:
    s = cx.settings
    ns = cx.ns("create")
    if not cx.created:  # run alone: make the objects to read
        await phase_creates(cx)
    if not cx.created:
        raise RuntimeError("no objects to read: every create failed")
    rng = random.Random(7)
    order = [rng.choice(cx.created) for _ in range(s.gets)]

    async def api(i: int) -> None:
        async with cx.api.session.get(cx.api.cm_path(ns, order[i])) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"get: HTTP {resp.status}: {raw[:200]!r}")

    async def raw(i: int) -> None:
        await cx.storage.get(f"{cx.cm_prefix}{ns}/{order[i]}")

    return await paired(cx, s.gets, s.clients, api, raw, raw_first=False)


async def phase_lists(cx: Context) -> dict[str, Any]:
    s = cx.settings
    ns = cx.ns("list")
    await cx.api.ensure_namespace(ns)

    async def fill(i: int) -> None:
        await cx.api.create_cm(ns, configmap(f"item-{i:06d}", i, cx.run))

    filled = await run_pool(s.list_size, s.clients, fill, timeout=s.phase_timeout)
    if filled.errors:
        raise RuntimeError(f"could not create the listed objects: {filled.first_error}")
    sizes: list[int] = []

    async def api(i: int) -> None:
        async with cx.api.session.get(cx.api.cm_path(ns), headers={"Accept": "application/json"}) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"list: HTTP {resp.status}: {raw[:200]!r}")
            if i == 0:  # check one answer in full; the others are read, not parsed
                count = len(orjson.loads(raw)["items"])
                if count != s.list_size:
                    raise RuntimeError(f"list returned {count} items, expected {s.list_size}")
            sizes.append(len(raw))

    async def raw(i: int) -> None:
        page = await cx.storage.list(f"{cx.cm_prefix}{ns}/")
        if i == 0 and len(page.items) != s.list_size:
            raise RuntimeError(f"raw list returned {len(page.items)} keys, expected {s.list_size}")

    out = await paired(cx, s.lists, min(s.clients, s.lists), api, raw, raw_first=False)
    out["objects_per_list"] = s.list_size
    out["response_bytes"] = round(statistics.fmean(sizes)) if sizes else 0
    return out


async def phase_watch(cx: Context) -> dict[str, Any]:
    """Open N watch streams, write at a steady pace, time every event at every watcher."""
    s = cx.settings
    ns = cx.ns("watch")
    await cx.api.ensure_namespace(ns)
    async with cx.api.session.get(cx.api.cm_path(ns), params={"limit": "1"}) as resp:
        rv = orjson.loads(await resp.read())["metadata"]["resourceVersion"]
    n = s.events
    names = {f"ev-{i:06d}": i for i in range(n)}
    sent = [math.nan] * n
    acked = [math.nan] * n
    received: list[list[float]] = [[] for _ in range(n)]
    seen = [bytearray(n) for _ in range(s.watchers)]
    duplicates = 0
    opened = 0
    open_failed = 0
    warm = 0
    failures: list[str] = []
    delivered = 0
    all_open = asyncio.Event()  # every watch answered (200 or not)
    all_warm = asyncio.Event()  # every watcher saw the warm-up event
    all_done = asyncio.Event()  # every watcher saw every timed event
    expected = n * s.watchers
    bound = s.phase_timeout
    params = {"watch": "1", "resourceVersion": rv, "timeoutSeconds": str(int(bound + 60))}

    def answered(ok: bool) -> None:
        nonlocal opened, open_failed
        if ok:
            opened += 1
        else:
            open_failed += 1
        if opened + open_failed >= s.watchers:
            all_open.set()

    async def watcher(session: aiohttp.ClientSession, w: int, gate: asyncio.Semaphore) -> None:
        is_open = False

        def on_open() -> None:
            nonlocal is_open
            is_open = True
            answered(True)

        try:
            await watch_one(session, w, gate, on_open)
        except asyncio.CancelledError:
            raise
        except Exception as err:
            failures.append(f"watch {w}: {type(err).__name__}: {err}")
        if not is_open:
            answered(False)

    async def watch_one(session: aiohttp.ClientSession, w: int, gate: asyncio.Semaphore,
                        on_open: Callable[[], None]) -> None:
        nonlocal warm, duplicates, delivered
        async with gate:
            resp = await session.get(cx.api.cm_path(ns), params=params)
        try:
            if resp.status != 200:
                failures.append(f"watch {w}: HTTP {resp.status}")
                return
            on_open()
            async for line in resp.content:
                t = time.perf_counter()
                if not line.strip():
                    continue
                event = orjson.loads(line)
                if event.get("type") not in ("ADDED", "MODIFIED"):
                    failures.append(f"watch {w}: unexpected {event.get('type')} event")
                    return
                name = event["object"]["metadata"]["name"]
                if name == "warmup":
                    warm += 1
                    if warm >= s.watchers:
                        all_warm.set()
                    continue
                i = names.get(name)
                if i is None:
                    continue
                if seen[w][i]:
                    duplicates += 1
                    continue
                seen[w][i] = 1
                received[i].append(t)
                delivered += 1
                if delivered >= expected:
                    all_done.set()
        finally:
            resp.release()

    async def write(i: int) -> None:
        name = f"ev-{i:06d}"
        sent[i] = time.perf_counter()
        try:
            await cx.api.create_cm(ns, configmap(name, i, cx.run))
        except Exception as err:
            failures.append(f"write {name}: {err}")
            return
        acked[i] = time.perf_counter()

    session = new_session(cx.target, s.watchers + 16, read_timeout=None)
    gate = asyncio.Semaphore(32)
    tasks = [asyncio.create_task(watcher(session, w, gate), name=f"bench-watch-{w}") for w in range(s.watchers)]
    writes: list[asyncio.Task[None]] = []
    open_started = time.perf_counter()
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_open.wait(), min(120.0, bound))
        open_seconds = time.perf_counter() - open_started
        if opened < s.watchers:
            raise RuntimeError(f"only {opened}/{s.watchers} watches opened: {failures[:3]}")
        # A first write that every watcher must see: all streams are live before the timed writes.
        await cx.api.create_cm(ns, configmap("warmup", 0, cx.run))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_warm.wait(), 60)
        if warm < s.watchers:
            raise RuntimeError(f"only {warm}/{s.watchers} watchers saw the warm-up event")
        cx.cpu.start()
        t0 = time.perf_counter()
        for i in range(n):
            delay = t0 + i / s.event_rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writes.append(asyncio.create_task(write(i), name=f"bench-write-{i}"))
        await asyncio.wait_for(asyncio.gather(*writes), 60)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_done.wait(), 30)
        cpu = cx.cpu.stop()
        write_seconds = time.perf_counter() - t0
    finally:
        for task in (*tasks, *writes):
            task.cancel()
        await asyncio.gather(*tasks, *writes, return_exceptions=True)
        await session.close()

    from_ack = [t - acked[i] for i in range(n) for t in received[i] if not math.isnan(acked[i])]
    from_sent = [t - sent[i] for i in range(n) for t in received[i]]
    fan_out = [max(r) - min(r) for r in received if r]
    return {
        "watchers": s.watchers, "events_written": n, "write_rate_per_s": s.event_rate,
        "expected_deliveries": expected, "delivered": delivered, "duplicates": duplicates,
        "all_delivered": delivered == expected and duplicates == 0,
        "latency_from_ack": {k: round(v, 3) for k, v in summary_ms(from_ack).items()}
        | {"min_ms": round(min(from_ack) * 1e3, 3) if from_ack else math.nan},
        "latency_from_send": {k: round(v, 3) for k, v in summary_ms(from_sent).items()},
        "latency_from_ack_cdf_ms": cdf_points([x * 1e3 for x in from_ack]),
        "fan_out_spread": {k: round(v, 3) for k, v in summary_ms(fan_out).items()},
        "open_seconds": round(open_seconds, 3), "write_seconds": round(write_seconds, 3),
        "failures": failures[:5], "cpu_seconds": {k: round(v, 3) for k, v in cpu.items()},
    }


# -- targets and output ----------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    value: float | None
    passed: bool


def judge(results: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []

    def add(name: str, target: str, value: float | None, ok: Callable[[float], bool]) -> None:
        good = value is not None and not math.isnan(value) and ok(value)
        checks.append(Check(name, target, value, good))

    if "creates" in results:
        c = results["creates"]
        add("create throughput / raw etcd puts", ">= 0.40", c["ratio"], lambda v: v >= 0.40)
        add("create p99 (ms)", "<= 50", c["api"]["p99_ms"], lambda v: v <= 50)
        add("create errors", "== 0", c["api"]["errors"], lambda v: v == 0)
    if "gets" in results:
        g = results["gets"]
        add("GET throughput / raw etcd gets", ">= 0.50", g["ratio"], lambda v: v >= 0.50)
        add("GET p99 (ms)", "<= 20", g["api"]["p99_ms"], lambda v: v <= 20)
        add("GET errors", "== 0", g["api"]["errors"], lambda v: v == 0)
    if "lists" in results:
        add("LIST errors", "== 0", results["lists"]["api"]["errors"], lambda v: v == 0)
    if "watch" in results:
        w = results["watch"]
        add(f"watch delivery p99 to {w['watchers']} watchers (ms, from ack)", "<= 250",
            w["latency_from_ack"]["p99_ms"], lambda v: v <= 250)
        add("watch events delivered / expected", "== 1.0",
            w["delivered"] / w["expected_deliveries"] if w["expected_deliveries"] else math.nan,
            lambda v: v == 1.0 and w["duplicates"] == 0)
    return checks


def _f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def table(report: dict[str, Any]) -> str:
    lines = []
    m = report["machine"]
    lines.append(f"hakube API throughput  ({report['settings']['clients']} clients, "
                 f"{m['cores']} cores, {report['target']})")
    lines.append(f"  loopback RTT p50 {_f(m['loopback_rtt']['p50_us'])} us, p99 {_f(m['loopback_rtt']['p99_us'])} us;"
                 f" etcd fsync proxy p50 {_f(m['etcd_fsync'].get('p50_ms'), 2)} ms,"
                 f" p99 {_f(m['etcd_fsync'].get('p99_ms'), 2)} ms")
    lines += [f"  note: {note}" for note in NOTES[:2]]
    lines.append("")
    header = (f"{'phase':<8} {'ops':>6} {'API ops/s':>10} {'p50 ms':>8} {'p99 ms':>8} | "
              f"{'raw ops/s':>10} {'p50 ms':>8} {'p99 ms':>8} | {'ratio':>6}")
    lines.append(header)
    lines.append("-" * len(header))
    for phase in ("creates", "gets", "lists"):
        r = report["results"].get(phase)
        if r is None:
            continue
        a, b = r["api"], r["raw_etcd"]
        lines.append(f"{phase:<8} {a['ops']:>6} {_f(a['ops_per_s']):>10} {_f(a['p50_ms'], 2):>8} "
                     f"{_f(a['p99_ms'], 2):>8} | {_f(b['ops_per_s']):>10} {_f(b['p50_ms'], 2):>8} "
                     f"{_f(b['p99_ms'], 2):>8} | {_f(r['ratio'], 3):>6}")
    w = report["results"].get("watch")
    if w is not None:
        la, ls = w["latency_from_ack"], w["latency_from_send"]
        lines.append("")
        lines.append(f"watch: {w['watchers']} watchers x {w['events_written']} writes at "
                     f"{_f(w['write_rate_per_s'])}/s: delivered {w['delivered']}/{w['expected_deliveries']}"
                     f" (duplicates {w['duplicates']})")
        lines.append(f"  latency from write ack:  p50 {_f(la['p50_ms'], 2)} ms, p99 {_f(la['p99_ms'], 2)} ms,"
                     f" max {_f(la['max_ms'], 2)} ms, min {_f(la['min_ms'], 2)} ms")
        lines.append(f"  latency from write send: p50 {_f(ls['p50_ms'], 2)} ms, p99 {_f(ls['p99_ms'], 2)} ms,"
                     f" max {_f(ls['max_ms'], 2)} ms")
    lines.append("")
    for c in report["targets"]:
        value = _f(c["value"], 3) if isinstance(c["value"], float) else _f(c["value"])
        lines.append(f"  [{'pass' if c['passed'] else 'MISS'}] {c['name']}: {value} (target {c['target']})")
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = ["# API throughput", "",
           f"{report['settings']['clients']} clients, {m['cores']} cores, {report['target']}; "
           f"loopback RTT p50 {_f(m['loopback_rtt']['p50_us'])} µs; etcd fsync proxy p50/p99 "
           f"{_f(m['etcd_fsync'].get('p50_ms'), 2)}/{_f(m['etcd_fsync'].get('p99_ms'), 2)} ms. "
           f"Note: {NOTE_SHARED_CORES}.", "",
           "| phase | API ops/s | p50 ms | p99 ms | raw etcd ops/s | raw p50 ms | raw p99 ms | ratio |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for phase in ("creates", "gets", "lists"):
        r = report["results"].get(phase)
        if r is not None:
            a, b = r["api"], r["raw_etcd"]
            out.append(f"| {phase} | {_f(a['ops_per_s'])} | {_f(a['p50_ms'], 2)} | {_f(a['p99_ms'], 2)} | "
                       f"{_f(b['ops_per_s'])} | {_f(b['p50_ms'], 2)} | {_f(b['p99_ms'], 2)} | {_f(r['ratio'], 3)} |")
    w = report["results"].get("watch")
    if w is not None:
        la = w["latency_from_ack"]
        out += ["", f"Watch: {w['watchers']} watchers × {w['events_written']} writes at "
                f"{_f(w['write_rate_per_s'])}/s — delivered {w['delivered']}/{w['expected_deliveries']}, "
                f"latency from ack p50 {_f(la['p50_ms'], 2)} ms, p99 {_f(la['p99_ms'], 2)} ms, "
                f"max {_f(la['max_ms'], 2)} ms."]
    out += ["", "| target | value | goal | result |", "|---|---:|---:|---|"]
    for c in report["targets"]:
        value = _f(c["value"], 3) if isinstance(c["value"], float) else _f(c["value"])
        out.append(f"| {c['name']} | {value} | {c['target']} | {'pass' if c['passed'] else 'MISS'} |")
    return "\n".join(out) + "\n"


def _clean(value: Any) -> Any:
    """NaN is not JSON: turn it into null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


# -- main -------------------------------------------------------------------------------


async def measure(settings: Settings, target: Target) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    raw_prefix = f"/hakube-bench/{run}/"
    cm = ResourceTable().lookup("", "v1", "configmaps")
    assert cm is not None
    results: dict[str, Any] = {}
    storage = Storage(target.etcd_endpoint, quorum_reads=target.quorum_reads, tls=target.etcd_tls)
    await storage.connect()
    session = new_session(target, max(settings.clients, 64) + 8)
    cx = Context(settings=settings, target=target, api=Api(session, target.url), storage=storage, run=run,
                 raw_prefix=raw_prefix, cm_prefix=cm.storage_prefix, cpu=CpuMeter(target.pids))
    try:
        fsync: dict[str, Any]
        try:
            fsync = await asyncio.wait_for(etcd_fsync_proxy(storage, raw_prefix, settings.fsync_samples), 60)
        except Exception as err:
            fsync = {"error": f"{type(err).__name__}: {err}", "method": NOTE_FSYNC}
        await warm_up(cx.api, settings.clients)
        await storage.get(f"{raw_prefix}fsync/000000")
        phases: dict[str, Callable[[Context], Awaitable[dict[str, Any]]]] = {
            "creates": phase_creates, "gets": phase_gets, "lists": phase_lists, "watch": phase_watch}
        for name, phase in phases.items():
            if name not in settings.only or (name == "watch" and settings.watchers == 0):
                continue
            log(f"phase {name} ...")
            started = time.perf_counter()
            results[name] = await asyncio.wait_for(phase(cx), settings.phase_timeout * 3)
            log(f"phase {name} done in {time.perf_counter() - started:.1f}s")
    finally:
        if not target.started_here:
            await cleanup_cluster(cx)
        await session.close()
        await storage.close()
    return {"fsync": fsync, "results": results}


async def cleanup_cluster(cx: Context) -> None:
    """On someone else's cluster, remove what we wrote (bounded; best effort)."""
    with contextlib.suppress(Exception):
        for ns in cx.namespaces:
            await asyncio.wait_for(cx.api.delete_all(ns), 120)
    with contextlib.suppress(Exception):
        page = await cx.storage.list(cx.raw_prefix)
        await asyncio.wait_for(asyncio.gather(*(cx.storage.delete(kv.key) for kv in page.items),
                                              return_exceptions=True), 120)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(sys.argv[1:] if argv is None else argv)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    rtt = loopback_rtt(settings.rtt_samples)
    target = cluster_target(args.cluster_dir) if args.cluster_dir else own_stack()
    if target.pids:
        log(f"started etcd (pid {target.pids.get('etcd')}) and API server (pid {target.pids['apiserver']}) "
            f"at {target.url}")
    try:
        measured = asyncio.run(measure(settings, target))
    finally:
        target.close()
    results = measured["results"]
    report: dict[str, Any] = {
        "benchmark": "api_throughput",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "target": f"cluster at {target.url}" if not target.started_here else "own stack: 1 etcd + 1 API server",
        "settings": asdict(settings),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform(), "loopback_rtt": rtt, "etcd_fsync": measured["fsync"],
                    "load_generator": NOTE_SHARED_CORES},
        "notes": list(NOTES),
        "results": results,
    }
    checks = judge(results)
    report["targets"] = [asdict(c) for c in checks]
    report["all_pass"] = all(c.passed for c in checks)
    report = _clean(report)
    print(table(report), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "api_throughput.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "api_throughput.md").write_text(markdown(report))
    if args.json:
        print(json.dumps(report, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
