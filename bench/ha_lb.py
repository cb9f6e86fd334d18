#!/usr/bin/env python3
"""Load balancer creation and removal under load: how long, and how many failed requests (DESIGN.md §7).

The external IP moves from the only API server to HAProxy (a second replica
arrives) and back (the penultimate one leaves) while clients hammer it: keep-
alive GETs (/readyz and a ConfigMap), GETs that each open a new TLS
connection, and keep-alive POSTs (creates, which no client may retry). Every
trial does both moves; the targets are ≤ 5 s each and 0 failed requests (GCE's
kube-up: ~20 minutes, dropping what is in flight). aiohttp's one automatic
retry of idempotent requests on a reused connection is switched off, so a
connection dropped under a request counts as a failure.

The same run measures the kernel mechanism the handoff rests on: two
SO_REUSEPORT listeners under a connection storm, one leaving by a plain close
(the baseline: its accept queue is reset), by steering first (what hakube
does), and — in a private network namespace, when this process may create
one — by a plain close with net.ipv4.tcp_migrate_req=1.

    python bench/ha_lb.py [--trials N] [--quick] [--json]

It starts its own etcd, two API servers and HAProxy on private loopback
addresses and removes them afterwards (no --cluster-dir yet: on a cluster the
same moves are `hakube replica add` and `replica remove`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import socket
import ssl
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from api_throughput import loopback_rtt, pct
from hacluster import bucket_counts, fit_bucket
from hakube.apiserver.listeners_file import request_listeners
from hakube.apiserver.reuseport import listening_sockets, migrate_req_enabled, reuseport_listener, steer
from hakube.lb import Backend, HAProxy, LBSettings, ReplicaListeners, drain_backend, give_back, take_over
from hakube.testing import LocalStack, free_loopback_ip

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 5.0
NOTES = (
    "the load generator (this process) shares the machine's cores with etcd, both API servers and HAProxy",
    "creation = from the first step until only HAProxy listens on the external IP (includes starting "
    "HAProxy and two passing /readyz checks of every backend); removal = until only the API server "
    "listens; 'LB exit' = until the old HAProxy has served its last session and exited",
    "etcd here is a single plain-text member: the handoff does not touch etcd",
    "mechanism: closing a SO_REUSEPORT listener resets its accept queue unless the kernel migrates it "
    "(net.ipv4.tcp_migrate_req=1, per network namespace, off by default); hakube steers new connections "
    "away with a classic-BPF SO_ATTACH_REUSEPORT_CBPF program and drains the queue before closing",
)


@dataclass(frozen=True)
class Settings:
    trials: int = 5
    keepalive: int = 16
    fresh: int = 6
    writers: int = 2
    pause: float = 0.01  # between a worker's requests
    settle: float = 2.0  # load before and after each move
    mechanism_trials: int = 5
    mechanism_clients: int = 8


QUICK = {"trials": 2, "settle": 1.0, "mechanism_trials": 2}


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Settings]:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--quick", action="store_true", help="two trials (~30 s)")
    p.add_argument("--trials", type=int)
    p.add_argument("--keepalive", type=int, help="keep-alive GET workers (default 16)")
    p.add_argument("--fresh", type=int, help="new-connection GET workers (default 6)")
    p.add_argument("--writers", type=int, help="keep-alive POST workers (default 2)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="where to save the results")
    p.add_argument("--no-mechanism", action="store_true", help="skip the SO_REUSEPORT close measurement")
    p.add_argument("--mechanism-only", choices=("naive", "steered"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    values: dict[str, Any] = dict(QUICK) if args.quick else {}
    for name in ("trials", "keepalive", "fresh", "writers"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    settings = Settings(**values)
    if settings.trials < 1 or min(settings.keepalive, settings.fresh, settings.writers) < 0:
        p.error("--trials must be positive and worker counts not negative")
    return args, settings


# -- the kernel mechanism ------------------------------------------------------------------


def close_under_load(mode: str, *, trials: int, clients: int) -> dict[str, Any]:
    """Two reuseport listeners, a connection storm, one listener leaves: how many clients fail?"""
    failures = attempts = 0
    errors: dict[str, int] = {}
    for _ in range(trials):
        counts = _one_close(mode, clients=clients)
        attempts += counts.pop("ok") + sum(counts.values())
        for error, n in counts.items():
            failures += n
            errors[error] = errors.get(error, 0) + n
    return {"mode": mode, "trials": trials, "connections": attempts, "failed": failures, "errors": errors}


def _one_close(mode: str, *, clients: int) -> dict[str, int]:
    ip = free_loopback_ip((0,))
    probe = reuseport_listener(ip, 0, backlog=8)
    port = probe.getsockname()[1]
    probe.close()
    leaving = reuseport_listener(ip, port, backlog=512)
    staying = reuseport_listener(ip, port, backlog=512)
    steer(leaving, 0)  # like the API server holding the address: everything to the leaver at first
    clients_stop, servers_stop, leave_now = threading.Event(), threading.Event(), threading.Event()
    counts = {"ok": 0}
    lock = threading.Lock()

    def serve(sock: socket.socket, leaver: bool) -> None:
        # The acceptor closes its own socket, as an event loop does.
        sock.settimeout(0.05)
        with sock:
            while not servers_stop.is_set() and not (leaver and leave_now.is_set()):
                try:
                    conn, _ = sock.accept()
                except (TimeoutError, OSError):
                    continue
                with conn:
                    conn.settimeout(2)
                    with contextlib.suppress(OSError):
                        if conn.recv(1):
                            conn.sendall(b"y")
                if leaver:
                    time.sleep(0.002)  # a busy event loop: its queue is rarely empty

    def client() -> None:
        while not clients_stop.is_set():
            outcome = "ok"
            try:
                with socket.create_connection((ip, port), timeout=2) as c:
                    c.sendall(b"x")
                    if c.recv(1) != b"y":
                        outcome = "closed without an answer"
            except OSError as err:
                outcome = type(err).__name__
            with lock:
                counts[outcome] = counts.get(outcome, 0) + 1
            time.sleep(0.001)

    servers = [threading.Thread(target=serve, args=(leaving, True), daemon=True),
               threading.Thread(target=serve, args=(staying, False), daemon=True)]
    users = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in (*servers, *users):
        t.start()
    time.sleep(0.3)
    if mode == "steered":
        steer(leaving, 1)
        time.sleep(0.3)  # keep accepting what was already aimed at the leaver
    leave_now.set()
    servers[0].join(5)
    time.sleep(0.3)
    clients_stop.set()  # clients first: the remaining listener must not close under them
    for t in users:
        t.join(5)
    servers_stop.set()
    servers[1].join(5)
    return counts


def mechanism(settings: Settings) -> dict[str, Any]:
    results: dict[str, Any] = {"kernel": platform.release(), "tcp_migrate_req_here": migrate_req_enabled()}
    for mode in ("naive", "steered"):
        results[mode] = close_under_load(mode, trials=settings.mechanism_trials, clients=settings.mechanism_clients)
    # A plain close with the kernel migrating the queue, in a network namespace of our own (needs root).
    script = (f"ip link set lo up && echo 1 > /proc/sys/net/ipv4/tcp_migrate_req && exec {sys.executable} "
              f"{Path(__file__).resolve()} --mechanism-only naive --trials {settings.mechanism_trials}")
    try:
        proc = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, text=True,
                              timeout=120, check=False)
        if proc.returncode == 0:
            results["naive_with_migrate_req"] = json.loads(proc.stdout.strip().splitlines()[-1])
        else:
            results["naive_with_migrate_req"] = {"skipped": (proc.stderr.strip() or "failed")[-300:]}
    except (OSError, subprocess.TimeoutExpired, ValueError) as err:
        results["naive_with_migrate_req"] = {"skipped": str(err)}
    return results


# -- load ---------------------------------------------------------------------------------


@dataclass
class Tally:
    ok: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[float, str, str]] = field(default_factory=list)  # (monotonic time, kind, error)
    ok_times: list[float] = field(default_factory=list)  # monotonic; bucketed into the report's timeline

    def success(self, kind: str) -> None:
        self.ok += 1
        self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.ok_times.append(time.monotonic())

    def timeline(self, start: float, end: float, bucket_s: float = 0.1) -> dict[str, Any]:
        """Requests per bucket from `start` (the load's start), bounded in size for the results file."""
        width = fit_bucket(end - start, bucket_s, max_buckets=1000)
        fails = [t for t, _, _ in self.failures]
        return {"bucket_s": width, "ok": bucket_counts(self.ok_times, start=start, end=end, bucket_s=width),
                "fail": bucket_counts(fails, start=start, end=end, bucket_s=width)}

    def failure(self, kind: str, error: str) -> None:
        self.failures.append((time.monotonic(), kind, error))


def _no_retry(session: aiohttp.ClientSession) -> aiohttp.ClientSession:
    # aiohttp retries an idempotent request once when a reused connection breaks (RFC 9112 §9.3.1);
    # its own test client turns that off the same way. Every dropped request must count here.
    if hasattr(session, "_retry_connection"):
        session._retry_connection = False
    return session


class Load:
    """Clients of the external IP, counting every request that does not succeed."""

    def __init__(self, base: str, ctx: ssl.SSLContext, settings: Settings, namespace: str) -> None:
        self.base = base
        self.ctx = ctx
        self.settings = settings
        self.ns = namespace
        self.tally = Tally()
        self.stop = asyncio.Event()

    async def _get(self, session: aiohttp.ClientSession, kind: str, i: int) -> None:
        path = "/readyz" if i % 2 else f"/api/v1/namespaces/{self.ns}/configmaps/target"
        try:
            async with session.get(self.base + path) as resp:
                await resp.read()
                if resp.status == 200:
                    self.tally.success(kind)
                else:
                    self.tally.failure(kind, f"HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            self.tally.failure(kind, f"{type(err).__name__}: {err}")

    async def _post(self, session: aiohttp.ClientSession, i: int) -> None:
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "w-"}, "data": {"i": str(i)}}
        try:
            async with session.post(f"{self.base}/api/v1/namespaces/{self.ns}/configmaps", json=body) as resp:
                await resp.read()
                if resp.status == 201:
                    self.tally.success("keepalive-post")
                else:
                    self.tally.failure("keepalive-post", f"HTTP {resp.status}")
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            self.tally.failure("keepalive-post", f"{type(err).__name__}: {err}")

    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=15)
        keep = _no_retry(aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            ssl=self.ctx, limit=self.settings.keepalive + self.settings.writers), timeout=timeout))
        fresh = _no_retry(aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            ssl=self.ctx, force_close=True, limit=self.settings.fresh or 1), timeout=timeout))

        async def worker(kind: str) -> None:
            for i in range(10**9):
                if self.stop.is_set():
                    return
                if kind == "keepalive-post":
                    await self._post(keep, i)
                else:
                    await self._get(keep if kind == "keepalive-get" else fresh, kind, i)
                await asyncio.sleep(self.settings.pause)

        kinds = (["keepalive-get"] * self.settings.keepalive + ["fresh-get"] * self.settings.fresh
                 + ["keepalive-post"] * self.settings.writers)
        try:
            await asyncio.gather(*(worker(k) for k in kinds))
        finally:
            await keep.close()
            await fresh.close()


# -- the run ----------------------------------------------------------------------------


async def prepare(stack: LocalStack, base: str, namespace: str) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=stack.ssl_context())) as s:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        async with s.post(f"{base}/api/v1/namespaces", json=ns) as resp:
            assert resp.status == 201, await resp.text()
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target"}, "data": {"k": "v"}}
        async with s.post(f"{base}/api/v1/namespaces/{namespace}/configmaps", json=cm) as resp:
            assert resp.status == 201, await resp.text()


async def run_trials(settings: Settings, log: Any) -> dict[str, Any]:
    stack = LocalStack.create()
    external = free_loopback_ip((6443,))
    lfile = stack.root / "listeners-a.json"
    lfile.write_text(json.dumps({"generation": 1, "listen": [f"{external}:6443"]}))
    bfile = stack.root / "listeners-b.json"
    lb: HAProxy | None = None
    try:
        stack.start_etcd()
        a = stack.start_apiserver(f"--listeners-file={lfile}", "--etcd-compaction-interval=0", external_ip=external)
        b = stack.start_apiserver(f"--listeners-file={bfile}", "--etcd-compaction-interval=0", external_ip=external)
        base = f"https://{external}:6443"
        namespace = f"lb-{uuid.uuid4().hex[:6]}"
        await prepare(stack, base, namespace)
        lb = HAProxy(LBSettings(external_ip=external, ca_file=stack.ca_file, run_dir=stack.root / "lb"))
        owner = ReplicaListeners(lfile, a.proc.pid)
        second = ReplicaListeners(bfile, b.proc.pid)
        backends = [Backend("replica-a", a.ip), Backend("replica-b", b.ip)]
        load = Load(base, stack.ssl_context(), settings, namespace)
        origin = time.monotonic()  # the timeline's zero: the load starts
        running = asyncio.create_task(load.run(), name="load")
        trials: list[dict[str, Any]] = []
        try:
            await asyncio.sleep(settings.settle)
            for n in range(settings.trials):
                # replica-b "arrives": a fresh API server would not drain anyone.
                await request_listeners(second.path, listen=[], pid=second.pid)
                t0 = time.monotonic()
                created = await take_over(lb, owner=owner, backends=backends)
                await asyncio.sleep(settings.settle)
                stats = await lb.stats()
                t1 = time.monotonic()
                # replica-b leaves, as `replica remove` does it: drained, taken out, then the IP goes back.
                left = await drain_backend(lb, backend=backends[1], listeners=second, timeout=5)
                drained = time.monotonic() - t1
                await lb.remove_backend(backends[1].name, drain_timeout=1)
                removed = await give_back(lb, to=owner)
                removed_at = time.monotonic()
                await asyncio.sleep(settings.settle)
                t2 = time.monotonic()
                failed_create = sum(1 for t, _, _ in load.tally.failures if t0 <= t < t1)
                failed_remove = sum(1 for t, _, _ in load.tally.failures if t1 <= t < t2)
                trials.append({
                    "trial": n + 1,
                    "creation_s": round(created.seconds, 3),
                    "removal_s": round(removed.seconds, 3),
                    "lb_exit_s": round(removed.lb_exit_seconds or math.nan, 3),
                    "lb_sessions_at_stop": removed.sessions_at_stop,
                    "lb_forced_stop": removed.forced,
                    "backend_drain_s": round(drained, 3),
                    "backend_sessions_left": left,
                    "lb_sessions_served": sum(s.total_sessions for s in stats.servers),
                    "backends_up": [s.server for s in stats.servers if s.up],
                    "failed_during_creation": failed_create,
                    "failed_during_removal": failed_remove,
                    "creation_steps": created.summary(),
                    "removal_steps": removed.summary(),
                    # Seconds from the load's start, to mark the moves on the timeline.
                    "marks_s": {"creation": [round(t0 - origin, 3), round(t0 - origin + created.seconds, 3)],
                                "removal": [round(t1 - origin, 3), round(removed_at - origin, 3)]},
                })
                print(f"trial {n + 1}: creation {created.seconds:.2f}s, removal {removed.seconds:.2f}s "
                      f"(LB exit {removed.lb_exit_seconds or 0:.2f}s), failed so far {len(load.tally.failures)}",
                      file=log, flush=True)
        finally:
            load.stop.set()
            await asyncio.wait_for(running, 30)
        return {"trials": trials, "requests_ok": load.tally.ok, "requests_by_kind": load.tally.by_kind,
                "timeline": load.tally.timeline(origin, time.monotonic()),
                "failed_requests": len(load.tally.failures),
                "failures": [{"kind": k, "error": e} for _, k, e in load.tally.failures[:20]],
                "external_listeners_at_end": listening_sockets(external, 6443)}
    finally:
        if lb is not None and lb.running:
            await lb.stop(timeout=2)
        stack.cleanup()


def summarize(settings: Settings, run: dict[str, Any], mech: dict[str, Any] | None) -> dict[str, Any]:
    trials = run["trials"]
    creation = [t["creation_s"] for t in trials]
    removal = [t["removal_s"] for t in trials]
    results = {
        "creation_s": {"p50": pct(creation, 0.5), "max": max(creation), "mean": statistics.fmean(creation)},
        "removal_s": {"p50": pct(removal, 0.5), "max": max(removal), "mean": statistics.fmean(removal)},
        "lb_exit_s_max": max(t["lb_exit_s"] for t in trials),
        "failed_requests": run["failed_requests"],
        "requests_ok": run["requests_ok"],
        "requests_by_kind": run["requests_by_kind"],
        "failures": run["failures"],
        "trials": trials,
        "timeline": run["timeline"],
    }
    targets = [
        {"name": "LB creation, slowest trial (s)", "target": f"<= {TARGET_SECONDS:g}", "value": max(creation),
         "passed": max(creation) <= TARGET_SECONDS},
        {"name": "LB removal, slowest trial (s)", "target": f"<= {TARGET_SECONDS:g}", "value": max(removal),
         "passed": max(removal) <= TARGET_SECONDS},
        {"name": "failed requests", "target": "== 0", "value": run["failed_requests"],
         "passed": run["failed_requests"] == 0},
    ]
    baseline = {"gce_kube_up_lb_change_s": 1200}
    return {
        "benchmark": "ha_lb",
        "settings": settings.__dict__,
        "machine": {"cores": os.cpu_count(), "kernel": platform.release(), "loopback_rtt": loopback_rtt(500)},
        "results": results,
        "baseline": baseline,
        "ratio": {"creation_vs_gce": max(creation) / baseline["gce_kube_up_lb_change_s"],
                  "removal_vs_gce": max(removal) / baseline["gce_kube_up_lb_change_s"]},
        "mechanism": mech,
        "targets": targets,
        "all_pass": all(t["passed"] for t in targets),
        "notes": list(NOTES),
    }


def markdown(report: dict[str, Any]) -> str:
    r = report["results"]
    s = report["settings"]
    lines = [
        "# Load balancer creation and removal under load",
        "",
        f"{len(r['trials'])} trials, {report['machine']['cores']} cores, kernel {report['machine']['kernel']}; "
        f"clients: {s['keepalive']} keep-alive GET, {s['fresh']} new-connection GET, {s['writers']} keep-alive "
        f"POST workers; {r['requests_ok']} requests succeeded, {r['failed_requests']} failed.",
        "",
        "| trial | creation s | removal s | LB exit s | failed (creation) | failed (removal) | LB sessions |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in r["trials"]:
        lines.append(f"| {t['trial']} | {t['creation_s']:.2f} | {t['removal_s']:.2f} | {t['lb_exit_s']:.2f} | "
                     f"{t['failed_during_creation']} | {t['failed_during_removal']} | {t['lb_sessions_served']} |")
    lines += ["", "| target | value | goal | result |", "|---|---:|---:|---|"]
    for t in report["targets"]:
        lines.append(f"| {t['name']} | {t['value']:.3g} | {t['target']} | {'pass' if t['passed'] else 'MISS'} |")
    mech = report.get("mechanism")
    if mech:
        lines += ["", "Kernel mechanism (two SO_REUSEPORT listeners, connection storm, one leaves):", "",
                  "| how the listener leaves | connections | failed |", "|---|---:|---:|"]
        for key, label in (("naive", "plain close (baseline)"), ("steered", "steer away, drain, close (hakube)"),
                           ("naive_with_migrate_req", "plain close, tcp_migrate_req=1 (private netns)")):
            m = mech.get(key) or {}
            if "connections" in m:
                errors = ", ".join(f"{k}: {v}" for k, v in m.get("errors", {}).items())
                lines.append(f"| {label} | {m['connections']} | {m['failed']}{f' ({errors})' if errors else ''} |")
            else:
                lines.append(f"| {label} | - | skipped: {m.get('skipped', 'n/a')} |")
    lines += ["", "Notes:", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(lines)


def print_table(report: dict[str, Any]) -> None:
    print(markdown(report))


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(sys.argv[1:] if argv is None else argv)
    if args.mechanism_only:
        print(json.dumps(close_under_load(args.mechanism_only, trials=settings.mechanism_trials,
                                          clients=settings.mechanism_clients)))
        return 0
    log = sys.stderr
    mech = None if args.no_mechanism else mechanism(settings)
    run = asyncio.run(run_trials(settings, log))
    report = summarize(settings, run, mech)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ha_lb.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "ha_lb.md").write_text(markdown(report))
    print_table(report)
    if args.json:
        print(json.dumps(report, separators=(",", ":")), flush=True)
    return 0 if report["all_pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
