#!/usr/bin/env python3
"""Proof under fire: a client workload, one fault at a time, and a linearizability check (issue 7).

Clients talk to the external IP (HAProxy in front of every replica's API
server): compare-and-set increments of a few ConfigMap counters (GET, then
PUT with the resourceVersion read), creates with unique names, reads, and
watches that resume from their last resourceVersion. Meanwhile a nemesis
injects one fault at a time through the hakube CLI and heals it:

    kill            SIGKILL every process of a random replica, recover after a hold
    stop            SIGSTOP a random replica past the election timeout, then SIGCONT
    leader          kill the replica whose etcd member leads
    leases          kill the replica holding the controller-manager/scheduler leases
    zone            kill every replica of one zone
    member-replace  kill a replica, then `replica replace` it (remove the member, add a new one)
    isolate         cut every etcd peer link of a random replica, both ways (the cluster runs with
                    --network-faults: each replica's links pass through proxies hakube controls)

Every operation is recorded with its invoke and return times and an outcome
(ok / fail / unknown); the history is checked with hakube.chaos.checker (WGL,
per key) and audited (acknowledged creates exist, increments counted exactly
once, stale reads, watch gaps). /readyz is probed through the load balancer
every 100 ms for availability.

    python bench/chaos.py --duration 60 --faults kill,stop,isolate --seed 1 --json [--cluster-dir D]
        [--quorum-reads] [--hold 5] [--cooldown 3]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from hacluster import machine_facts  # bench/ is first on the import path when this script runs
from hakube.chaos.audits import (
    CreateRecord,
    WatchSegment,
    audit_counters,
    audit_creates,
    audit_watches,
    stale_reads,
)
from hakube.chaos.checker import Op, check
from hakube.clientloop import percentile
from hakube.cluster.local import ClusterError, LocalCluster
from hakube.cluster.replicas import ReplicaError
from hakube.cluster.status import gather

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ALL_FAULTS = ("kill", "stop", "leader", "leases", "zone", "member-replace", "isolate")
REQUEST_TIMEOUT = 2.0
PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 1.0
MAX_LISTED_FAILURES = 300  # the failed probes listed one by one in the JSON
MAX_FAULTS = 100
HEAL_TIMEOUT = 90.0


@dataclass(frozen=True)
class Settings:
    duration: float = 60.0
    faults: tuple[str, ...] = ("kill", "stop")
    seed: int = 1
    counters: int = 4
    workers: int = 8
    watchers: int = 2
    warmup: float = 4.0
    hold: float = 5.0  # how long a fault lasts: > etcd's 1 s election timeout and HAProxy's ~1.5 s ejection
    cooldown: float = 3.0
    quorum_reads: bool = True


@dataclass
class Recorder:
    t0: float = field(default_factory=time.monotonic)
    ops: list[Op] = field(default_factory=list)
    creates: list[CreateRecord] = field(default_factory=list)
    read_latencies: list[float] = field(default_factory=list)
    write_rvs: dict[int, str] = field(default_factory=dict)
    watches: list[list[WatchSegment]] = field(default_factory=list)
    probes: list[tuple[float, bool]] = field(default_factory=list)  # (scheduled at, answered 200)
    probe_failures: list[tuple[float, str]] = field(default_factory=list)  # (scheduled at, why)
    outcomes: list[tuple[float, str]] = field(default_factory=list)  # (when it returned, ok|fail|unknown)
    faults: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def add(self, **kw: Any) -> None:
        self.ops.append(Op(id=len(self.ops), **kw))

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def outcome(self, what: str) -> None:
        self.outcomes.append((self.now(), what))


# -- the cluster, through the CLI ----------------------------------------------------------------

def hakube(*args: str, cluster_dir: Path, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hakube.cli", *args, "--cluster-dir", str(cluster_dir)],
                          capture_output=True, text=True, timeout=timeout, check=False)


async def status(cluster_dir: Path) -> dict[str, Any] | None:
    """`hakube status -o json`, in process (a CLI process costs seconds of imports on a busy machine)."""
    try:
        return await asyncio.wait_for(gather(LocalCluster(cluster_dir, say=lambda _m: None)), 20)
    except (TimeoutError, OSError, ValueError, ClusterError):
        return None


def healthy(st: dict[str, Any] | None) -> bool:
    return bool(st and st["replicas"] and all(r["healthy"] for r in st["replicas"])
                and st["etcd"]["hasQuorum"])


async def wait_healthy(cluster_dir: Path, *, timeout: float = HEAL_TIMEOUT) -> dict[str, Any] | None:
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = await status(cluster_dir)
        if healthy(st):
            return st
        await asyncio.sleep(1.0)
    return None


def ssl_context(cluster_dir: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cluster_dir / "pki" / "ca.crt"))
    ctx.load_cert_chain(cluster_dir / "pki" / "admin.crt", cluster_dir / "pki" / "admin.key")
    return ctx


# -- the workload --------------------------------------------------------------------------------

class Workload:
    def __init__(self, *, base: str, ns: str, settings: Settings, rec: Recorder, rnd: random.Random) -> None:
        self.base, self.ns, self.s, self.rec, self.rnd = base, ns, settings, rec, rnd
        self.cm = f"{base}/api/v1/namespaces/{ns}/configmaps"

    def counter(self, i: int) -> str:
        return f"counter-{i}"

    async def setup(self, http: aiohttp.ClientSession) -> None:
        async with http.post(f"{self.base}/api/v1/namespaces",
                             json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.ns}}) as r:
            if r.status not in (201, 409):
                raise RuntimeError(f"creating namespace {self.ns}: HTTP {r.status} {await r.text()}")
        for i in range(self.s.counters):
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": self.counter(i)},
                    "data": {"n": "0"}}
            async with http.post(self.cm, json=body) as r:
                if r.status != 201:
                    raise RuntimeError(f"creating {self.counter(i)}: HTTP {r.status} {await r.text()}")

    async def _read(self, http: aiohttp.ClientSession, key: str, client: int) -> tuple[int, str] | None:
        t = self.rec.now()
        try:
            async with http.get(f"{self.cm}/{key}") as r:
                body = await r.json() if r.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            self.rec.error(f"read: {type(err).__name__}")
            self.rec.outcome("fail")
            return None  # an unknown read carries no information
        done = self.rec.now()
        if body is None:
            self.rec.error(f"read: HTTP {r.status}")
            self.rec.outcome("fail")
            return None
        self.rec.outcome("ok")
        n = int(body["data"]["n"])
        self.rec.add(key=key, kind="read", invoke=t, ret=done, output=n, client=client)
        self.rec.read_latencies.append(done - t)
        return n, body["metadata"]["resourceVersion"]

    async def increment(self, http: aiohttp.ClientSession, key: str, client: int) -> None:
        seen = await self._read(http, key, client)
        if seen is None:
            return
        n, rv = seen
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": key, "resourceVersion": rv},
                "data": {"n": str(n + 1)}}
        t = self.rec.now()
        status, out = await self._send(http, "PUT", f"{self.cm}/{key}", body)
        common = {"key": key, "kind": "cas", "invoke": t, "expected": n, "value": n + 1, "client": client}
        if status == "ok":
            self.rec.add(ret=self.rec.now(), output=True, **common)
            self.rec.write_rvs[int(out["metadata"]["resourceVersion"])] = key
        elif status == "conflict":
            self.rec.add(ret=self.rec.now(), output=False, **common)
        elif status == "unknown":
            self.rec.add(ret=None, status="unknown", **common)
        # a definite failure never happened: nothing to record

    async def create(self, http: aiohttp.ClientSession) -> None:
        name = f"obj-{uuid.uuid4().hex[:12]}"
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"x": "1"}}
        status, out = await self._send(http, "POST", self.cm, body)
        self.rec.creates.append(CreateRecord(name, "fail" if status == "conflict" else status))
        if status == "ok":
            self.rec.write_rvs[int(out["metadata"]["resourceVersion"])] = name

    async def _send(self, http: aiohttp.ClientSession, method: str, url: str,
                    body: dict[str, Any]) -> tuple[str, Any]:
        """ok | conflict (409: definitely not applied) | fail (definitely not applied) | unknown."""
        status, out = await self._request(http, method, url, body)
        self.rec.outcome("ok" if status in ("ok", "conflict") else status)  # a CAS conflict is a served request
        return status, out

    async def _request(self, http: aiohttp.ClientSession, method: str, url: str,
                       body: dict[str, Any]) -> tuple[str, Any]:
        try:
            async with http.request(method, url, json=body) as r:
                if r.status in (200, 201):
                    return "ok", await r.json()
                self.rec.error(f"{method}: HTTP {r.status}")
                if r.status == 409:
                    return "conflict", None
                # 5xx may come after etcd committed (a timeout): ambiguous. Other 4xx: rejected up front.
                return ("unknown" if r.status >= 500 else "fail"), None
        except aiohttp.ClientConnectorError as err:
            self.rec.error(f"{method}: {type(err).__name__}")
            return "fail", None  # never connected: the request was not sent
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            self.rec.error(f"{method}: {type(err).__name__}")
            return "unknown", None

    async def worker(self, http: aiohttp.ClientSession, client: int, until: float) -> None:
        rnd = random.Random(self.rnd.random())
        for _ in range(1_000_000):
            if self.rec.now() >= until:
                return
            x = rnd.random()
            key = self.counter(rnd.randrange(self.s.counters))
            if x < 0.5:
                await self.increment(http, key, client)
            elif x < 0.8:
                await self._read(http, key, client)
            else:
                await self.create(http)
            await asyncio.sleep(rnd.random() * 0.01)

    async def watcher(self, http: aiohttp.ClientSession, until: float) -> None:
        segments: list[WatchSegment] = []
        self.rec.watches.append(segments)
        seg: WatchSegment | None = None
        for _ in range(10_000):
            if self.rec.now() >= until:
                return
            try:
                if seg is None:
                    async with http.get(self.cm) as r:
                        if r.status != 200:
                            raise aiohttp.ClientError(f"list: HTTP {r.status}")
                        rv = int((await r.json())["metadata"]["resourceVersion"])
                    seg = WatchSegment(start_rv=rv, end_rv=rv)
                    segments.append(seg)
                left = max(1, int(until - self.rec.now()))
                params = {"watch": "true", "resourceVersion": str(seg.end_rv), "timeoutSeconds": str(min(left, 30))}
                timeout = aiohttp.ClientTimeout(total=None, sock_read=REQUEST_TIMEOUT + 1, sock_connect=REQUEST_TIMEOUT)
                async with http.get(self.cm, params=params, timeout=timeout) as r:
                    if r.status == 410:
                        seg = None
                        continue
                    if r.status != 200:
                        raise aiohttp.ClientError(f"watch: HTTP {r.status}")
                    async for line in r.content:
                        if not line.strip():
                            continue
                        ev = json.loads(line)
                        if ev["type"] == "ERROR":
                            if ev["object"].get("code") == 410:
                                seg = None
                            break
                        obj = ev["object"]
                        rv = int(obj["metadata"]["resourceVersion"])
                        if ev["type"] != "BOOKMARK":
                            seg.events.append((rv, obj["metadata"]["name"]))
                        seg.end_rv = max(seg.end_rv, rv)
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as err:
                self.rec.error(f"watch: {type(err).__name__}")
                await asyncio.sleep(0.2)


async def prober(base: str, ctx: ssl.SSLContext, rec: Recorder, until: float) -> None:
    """GET /readyz through the load balancer every 100 ms, each on a new connection.

    Probes start on a fixed 100 ms schedule whether or not the one before has
    answered: a prober that waits would take one sample per hung second instead
    of ten and report the availability it failed to measure (coordinated omission).
    """
    timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT)

    async def probe(http: aiohttp.ClientSession, t: float) -> None:
        reason = ""
        try:
            async with http.get(f"{base}/readyz") as r:
                if r.status != 200:
                    reason = f"HTTP {r.status}"
        except (aiohttp.ClientError, TimeoutError) as err:
            reason = type(err).__name__
        rec.probes.append((t, not reason))
        if reason:
            rec.probe_failures.append((t, reason))

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, force_close=True, limit=0),
                                     timeout=timeout) as http:
        pending: set[asyncio.Task[None]] = set()
        for tick in range(int(until / PROBE_INTERVAL) + 1):
            t = tick * PROBE_INTERVAL
            await asyncio.sleep(max(0.0, t - rec.now()))
            if rec.now() >= until:
                break
            task = asyncio.create_task(probe(http, t))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending)


# -- the nemesis ---------------------------------------------------------------------------------

class Nemesis:
    def __init__(self, *, cluster_dir: Path, settings: Settings, rec: Recorder, rnd: random.Random) -> None:
        self.dir, self.s, self.rec, self.rnd = cluster_dir, settings, rec, rnd

    async def fail(self, name: str, mode: str) -> str:
        return await asyncio.to_thread(self._signal, name, mode)

    def _signal(self, name: str, mode: str) -> str:
        cluster = LocalCluster(self.dir, say=lambda _m: None)
        replica = cluster.replicas.choose(cluster.layout.load(), zone=None, name=name)
        try:
            if mode == "recover":
                return cluster.replicas.recover(replica)
            return cluster.replicas.fail(replica, mode)
        except ReplicaError as err:
            raise RuntimeError(str(err)) from None

    async def cli(self, *args: str) -> str:
        out = await asyncio.to_thread(hakube, *args, cluster_dir=self.dir)
        text = (out.stdout + out.stderr).strip().splitlines()
        if out.returncode != 0:
            raise RuntimeError(f"hakube {' '.join(args)}: {text[-1] if text else out.returncode}")
        return text[-1] if text else ""

    def targets(self, kind: str, st: dict[str, Any]) -> list[str]:
        reps = st["replicas"]
        if kind == "leader":
            return [r["name"] for r in reps if r["etcdLeader"]][:1]
        if kind == "leases":
            holder = (st.get("leases") or {}).get("kube-controller-manager") or ""
            return [r["name"] for r in reps if holder.startswith(r["name"] + "_")][:1]
        if kind == "zone":
            zone = self.rnd.choice(sorted({r["zone"] for r in reps}))
            return [r["name"] for r in reps if r["zone"] == zone]
        return [self.rnd.choice(reps)["name"]]

    async def inject(self, kind: str) -> None:
        st = await wait_healthy(self.dir, timeout=HEAL_TIMEOUT)
        if st is None:
            raise RuntimeError("the cluster did not become healthy before the next fault")
        names = self.targets(kind, st)
        if not names:
            names = [self.rnd.choice(st["replicas"])["name"]]
        mode = {"stop": "stop", "isolate": "isolate"}.get(kind, "kill")
        record: dict[str, Any] = {"kind": kind, "replicas": names, "start": round(self.rec.now(), 3)}
        self.rec.faults.append(record)
        for name in names:
            await self.fail(name, mode)
        await asyncio.sleep(self.s.hold)
        record["heal_start"] = round(self.rec.now(), 3)
        for name in names:
            if kind == "member-replace":
                record["outcome"] = await self.cli("replica", "replace", name)
            else:
                await self.fail(name, "recover")
        healed = await wait_healthy(self.dir, timeout=HEAL_TIMEOUT)
        record["healed"] = round(self.rec.now(), 3) if healed else None

    async def run(self, until: float) -> None:
        await asyncio.sleep(self.s.warmup)
        order = list(self.s.faults)
        self.rnd.shuffle(order)
        for i in range(MAX_FAULTS):
            # Room for the hold and a heal before the workload stops.
            if self.rec.now() + self.s.hold + 5 >= until:
                return
            kind = order[i % len(order)]
            try:
                await self.inject(kind)
            except RuntimeError as err:
                self.rec.faults.append({"kind": kind, "error": str(err), "at": round(self.rec.now(), 3)})
                return
            await asyncio.sleep(self.s.cooldown)


# -- one run -------------------------------------------------------------------------------------

async def final_state(cluster_dir: Path, ctx: ssl.SSLContext, ns: str) -> tuple[dict[str, int], set[str]]:
    """List from the API server next to the etcd leader: its serializable reads are current too."""
    st = await wait_healthy(cluster_dir)
    if st is None:
        last = await status(cluster_dir)
        sick = [f"{r['name']} (member {r.get('etcdMemberID')}, supervisor {r['supervisor']['pid']})"
                for r in (last or {}).get("replicas") or [] if not r["healthy"]]
        raise RuntimeError(f"the cluster did not heal after the run: {', '.join(sick) or 'no status'}")
    leader = next((r for r in st["replicas"] if r["etcdLeader"]), st["replicas"][0])
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx),
                                     timeout=aiohttp.ClientTimeout(total=30)) as http, \
            http.get(f"https://{leader['ip']}:6443/api/v1/namespaces/{ns}/configmaps") as r:
        items = (await r.json())["items"]
    counters = {i["metadata"]["name"]: int(i["data"]["n"]) for i in items
                if i["metadata"]["name"].startswith("counter-")}
    return counters, {i["metadata"]["name"] for i in items}


async def run(cluster_dir: Path, settings: Settings, history: Path | None = None) -> dict[str, Any]:
    rnd = random.Random(settings.seed)
    st = await wait_healthy(cluster_dir, timeout=60)
    if st is None:
        raise RuntimeError(f"cluster in {cluster_dir} is not healthy")
    base = st["server"]
    ctx = ssl_context(cluster_dir)
    ns = f"chaos-{settings.seed}-{uuid.uuid4().hex[:6]}"
    rec = Recorder()
    work = Workload(base=base, ns=ns, settings=settings, rec=rec, rnd=rnd)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    conn = aiohttp.TCPConnector(ssl=ctx, limit=64)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as http:
        # aiohttp resends an idempotent request (PUT!) once when a reused connection breaks
        # (RFC 9112 §9.3.1). A resent CAS whose first copy committed answers 409: an
        # acknowledged-as-failed write that happened. The checker caught exactly that; a
        # client that records outcomes must see the first answer.
        if hasattr(http, "_retry_connection"):
            http._retry_connection = False
        await work.setup(http)
        rec.t0 = time.monotonic()
        until = settings.duration
        nemesis = Nemesis(cluster_dir=cluster_dir, settings=settings, rec=rec, rnd=rnd)
        tasks = [asyncio.create_task(work.worker(http, c, until), name=f"worker-{c}")
                 for c in range(settings.workers)]
        tasks += [asyncio.create_task(work.watcher(http, until), name=f"watcher-{w}")
                  for w in range(settings.watchers)]
        tasks.append(asyncio.create_task(prober(base, ctx, rec, until), name="prober"))
        tasks.append(asyncio.create_task(nemesis.run(until), name="nemesis"))
        await asyncio.gather(*tasks)
    # Heal anything left over (a fault interrupted by the deadline), then read the final state.
    try:
        final_counters, names = await final_state(cluster_dir, ctx, ns)
    except RuntimeError as err:
        raise RuntimeError(f"{err}; faults: {json.dumps(rec.faults)}") from None
    if history is not None:
        with history.open("w") as f:
            for op in rec.ops:
                f.write(json.dumps(vars(op), default=str) + "\n")
    summary = summarize(rec, settings, final_counters, names)
    summary["machine"] = await asyncio.to_thread(machine_facts, cluster_dir)
    return summary


def summarize(rec: Recorder, s: Settings, final_counters: dict[str, int], names: set[str]) -> dict[str, Any]:
    result = check(rec.ops, default=0, timeout=120)
    counters = audit_counters(rec.ops, final_counters)
    creates = audit_creates(rec.creates, names)
    # Creates and updates whose RV we know, plus every object in the final list (they were written).
    watches = audit_watches(rec.watches, rec.write_rvs)
    stale = stale_reads(rec.ops)
    probes_ok = sum(ok for _, ok in rec.probes)
    lat = rec.read_latencies
    violations = [{"key": k.key, "operations": k.operations, "unplaced": k.unplaced[:5],
                   "examples": [vars(rec.ops[i]) for i in k.unplaced[:3]]} for k in result.violations]
    cas_ok = counters["acknowledged"]
    return {
        "duration": s.duration, "seed": s.seed, "faults_requested": list(s.faults), "quorum_reads": s.quorum_reads,
        "operations": len(rec.ops) + len(rec.creates),
        "operations_by_outcome": {
            "read_ok": sum(o.kind == "read" for o in rec.ops),
            "cas_ok": cas_ok,
            "cas_conflict": sum(o.kind == "cas" and o.status == "ok" and not o.output for o in rec.ops),
            "cas_unknown": sum(o.kind == "cas" and o.status == "unknown" for o in rec.ops),
            "create_ok": creates["acknowledged"],
            "create_fail": sum(c.status == "fail" for c in rec.creates),
            "create_unknown": sum(c.status == "unknown" for c in rec.creates),
        },
        "acknowledged_writes": cas_ok + creates["acknowledged"],
        "lost_writes": counters["lost"] + creates["lost"],
        "duplicated_increments": counters["duplicated"],
        "linearizable": result.linearizable,
        "violations": violations,
        "stale_reads": len(stale),
        "stale_read_examples": [vars(o) for o in stale[:3]],
        "read_latency_ms": {"p50": _ms(percentile(lat, 0.5) if lat else None),
                            "p99": _ms(percentile(lat, 0.99) if lat else None),
                            "mean": _ms(statistics.fmean(lat) if lat else None)},
        "availability": round(probes_ok / len(rec.probes), 5) if rec.probes else None,
        "probes": len(rec.probes),
        "probe_failures_by_reason": dict(collections.Counter(why for _, why in rec.probe_failures).most_common()),
        "probe_failures": [[round(t, 1), why] for t, why in sorted(rec.probe_failures)[:MAX_LISTED_FAILURES]],
        "watch": watches,
        "creates": creates,
        "counters": counters["keys"],
        "faults": attribute_probe_failures(rec.faults, rec.probe_failures),
        "probes_failed_outside_faults": sum(1 for t, _ in rec.probe_failures
                                            if not any(_during(f, t) for f in rec.faults)),
        "timeline": timeline(rec.outcomes, s.duration),
        "errors": dict(sorted(rec.errors.items(), key=lambda kv: -kv[1])),
    }


def _during(fault: dict[str, Any], t: float, grace: float = 3.0) -> bool:
    """From the fault's start until `grace` seconds after it healed (the load balancer's checks lag)."""
    end = fault.get("healed") or fault.get("heal_start") or fault.get("at") or fault.get("start", 0.0)
    return float(fault.get("start", end)) <= t <= float(end) + grace


def attribute_probe_failures(faults: list[dict[str, Any]],
                             failures: list[tuple[float, str]]) -> list[dict[str, Any]]:
    """Each fault with the failed /readyz probes while it lasted, and why: where unavailability comes from."""
    out = []
    for f in faults:
        why = collections.Counter(reason for t, reason in failures if _during(f, t))
        out.append({**f, "probes_failed": why.total(), "probe_failure_reasons": dict(why.most_common())})
    return out


def timeline(outcomes: list[tuple[float, str]], duration: float, bucket: float = 1.0) -> dict[str, Any]:
    """Requests that returned in each second, by outcome: the picture around each fault."""
    n = max(1, int(duration / bucket) + 1)
    counts = {k: [0] * n for k in ("ok", "fail", "unknown")}
    for t, what in outcomes:
        i = int(t / bucket)
        if 0 <= i < n and what in counts:
            counts[what][i] += 1
    return {"bucket_s": bucket, **counts}


def _ms(x: float | None) -> float | None:
    return None if x is None else round(x * 1000, 3)


def markdown(results: list[dict[str, Any]]) -> str:
    lines = ["# Chaos runs", "",
             "| quorum reads | faults | ops | acked writes | lost | linearizable | violations "
             "| stale reads | read p50/p99 ms | availability | watch ok |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lat = r["read_latency_ms"]
        lines.append(f"| {r['quorum_reads']} | {', '.join(f['kind'] for f in r['faults'])} | {r['operations']} "
                     f"| {r['acknowledged_writes']} | {r['lost_writes']} | {r['linearizable']} "
                     f"| {len(r['violations'])} | {r['stale_reads']} | {lat['p50']}/{lat['p99']} "
                     f"| {r['availability']} | {r['watch']['ok']} |")
    lines += ["", f"Machine: {os.cpu_count()} cores; the client workload shares them with every replica.", ""]
    return "\n".join(lines)


def start_cluster(quorum_reads: bool) -> Path:
    root = Path(tempfile.mkdtemp(prefix="hakube-chaos-"))
    cluster_dir = root / "c"
    args = ["up", "--multizone", "--replicas", "3", "--network-faults",
            "--quorum-reads" if quorum_reads else "--no-quorum-reads"]
    out = hakube(*args, cluster_dir=cluster_dir, timeout=300)
    if out.returncode != 0:
        hakube("down", cluster_dir=cluster_dir, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"hakube up failed: {out.stderr.strip()[-500:]}")
    return cluster_dir


def run_once(settings: Settings, cluster_dir: Path | None, history: Path | None = None,
             keep: bool = False) -> dict[str, Any]:
    own = cluster_dir is None and not keep
    d = start_cluster(settings.quorum_reads) if cluster_dir is None else cluster_dir
    try:
        return asyncio.run(run(d, settings, history))
    except RuntimeError:
        if keep:
            print(f"cluster left running in {d} (hakube down --cluster-dir {d})", file=sys.stderr)
        raise
    finally:
        if own:
            with contextlib.suppress(subprocess.TimeoutExpired):
                hakube("down", cluster_dir=d, timeout=180)
            shutil.rmtree(d.parent, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--faults", default="kill,stop", help=f"comma-separated: {','.join(ALL_FAULTS)}")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--hold", type=float, default=Settings.hold, help="seconds each fault lasts before its heal")
    p.add_argument("--cooldown", type=float, default=Settings.cooldown, help="seconds between a heal and the next")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--cluster-dir", type=Path, help="use this running cluster instead of starting one")
    p.add_argument("--quorum-reads", action=argparse.BooleanOptionalAction, default=True,
                   help="for a cluster this starts (with --cluster-dir, the cluster's own setting counts)")
    p.add_argument("--compare-quorum-reads", action="store_true",
                   help="run twice on fresh clusters, quorum reads on then off")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    p.add_argument("--history", type=Path, help="write every recorded operation here (JSON lines)")
    p.add_argument("--keep-cluster", action="store_true", help="leave a cluster this started running (to inspect)")
    a = p.parse_args(argv)
    faults = tuple(f for f in a.faults.split(",") if f)
    unknown = [f for f in faults if f not in ALL_FAULTS]
    if unknown or not faults or not 10 <= a.duration <= 7200 or not 1 <= a.hold <= 600 or not 0 <= a.cooldown <= 600:
        p.error(f"--faults from {','.join(ALL_FAULTS)}; --duration between 10 and 7200 s; --hold 1–600 s; "
                "--cooldown 0–600 s")
    base = Settings(duration=a.duration, faults=faults, seed=a.seed, quorum_reads=a.quorum_reads, hold=a.hold,
                    cooldown=a.cooldown)
    if a.cluster_dir is not None:
        st = asyncio.run(status(a.cluster_dir))
        base = Settings(**{**vars(base), "quorum_reads": bool(st and st.get("quorumReads"))})
    variants = [True, False] if a.compare_quorum_reads and a.cluster_dir is None else [base.quorum_reads]
    results = [run_once(Settings(**{**vars(base), "quorum_reads": q}), a.cluster_dir,
                        a.history.with_suffix(f".{'quorum' if q else 'serializable'}.jsonl") if a.history else None,
                        a.keep_cluster)
               for q in variants]
    a.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = results[0] if len(results) == 1 else {"runs": results}
    if len(results) == 2:
        on, off = results
        p50_on, p50_off = on["read_latency_ms"]["p50"], off["read_latency_ms"]["p50"]
        summary["quorum_read_speedup_p50"] = round(p50_on / p50_off, 3) if p50_on and p50_off else None
    (a.out / "chaos.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (a.out / "chaos.md").write_text(markdown(results))
    if a.json:
        print(json.dumps(summary, default=str))
    else:
        print(markdown(results))
    ok = all(r["linearizable"] and r["lost_writes"] == 0 for r in results if r["quorum_reads"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
