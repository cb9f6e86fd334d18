#!/usr/bin/env python3
"""Density: pod startup latency and scheduler throughput on hollow nodes (issue 4, DESIGN.md §7).

One etcd, one API server, one controller-manager, one scheduler and one
hollow-node host process serving 100 nodes (one zone), all started here on a
private loopback address. Then Deployments totalling 3,000 pods, created

- steady: one Deployment of 10 replicas every 0.2 s (50 pods/s), and
- burst: all Deployments at once (16 concurrent creates), in a fresh namespace
  after the first is deleted (here the controller-manager's pod creation
  paces the scheduler), and
- saturation: the same burst with pods naming a scheduler that is started
  only once all of them exist, so it faces the whole backlog at once,

while a watch on the namespace's pods notes, for each pod, when it was first
seen, when it was seen bound, and when it was seen Running and Ready. Reported:
pod startup latency (creationTimestamp → Running observed by the watch; the
timestamp has one-second resolution, so the first-seen → Running figure is
given too), scheduler throughput (bindings per second seen by the watch; at
saturation = the saturation phase between its 10th and 90th percentile bindings), API
latency percentiles by verb from the API server's
apiserver_request_duration_seconds histogram (delta over the phase), and CPU
seconds of every process (/proc/<pid>/stat).

    python bench/density.py [--json] [--quick] [--nodes N] [--pods N] [--rate R]
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import contextlib
import json
import os
import platform
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from api_throughput import CpuMeter, _clean, loopback_rtt, pct
from hacluster import bucket_counts, cdf_points, fit_bucket
from scheduler_throughput import Child, start_child

SCRIPT = Path(__file__).resolve()
RESULTS_DIR = SCRIPT.parent / "results"
TARGET_SCHED_PODS_PER_S = 100.0  # CL2 scheduler throughput threshold
TARGET_STARTUP_P99_S = 5.0  # Kubernetes pod startup SLO (at 50 pods/s here)
SATURATION_SCHEDULER = "density-scheduler"


@dataclass(frozen=True)
class Settings:
    nodes: int = 100
    pods: int = 3000
    per_deployment: int = 10
    rate: float = 50.0  # pods/s in the steady phase
    burst_concurrency: int = 16
    phase_timeout: float = 300.0
    cleanup_timeout: float = 300.0
    rtt_samples: int = 1000


QUICK = {"nodes": 20, "pods": 300, "phase_timeout": 120.0, "cleanup_timeout": 120.0, "rtt_samples": 300}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Settings]:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--quick", action="store_true", help="20 nodes, 300 pods")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    p.add_argument("--nodes", type=int)
    p.add_argument("--pods", type=int)
    p.add_argument("--rate", type=float, help="pods/s in the steady phase (default 50)")
    p.add_argument("--per-deployment", type=int, help="replicas per Deployment (default 10)")
    p.add_argument("--phases", default="steady,burst,saturation", help="comma-separated: steady, burst, saturation")
    args = p.parse_args(argv)
    values: dict[str, Any] = dict(QUICK) if args.quick else {}
    for name in ("nodes", "pods", "rate", "per_deployment"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    settings = Settings(**values)
    if min(settings.nodes, settings.pods, settings.per_deployment) < 1 or settings.rate <= 0:
        p.error("counts and rate must be positive")
    if settings.pods > settings.nodes * 100:
        p.error("more pods than the nodes have room for (100 a node)")
    return args, settings


# -- processes ------------------------------------------------------------------------------------


def start_system(settings: Settings) -> tuple[Any, list[Child]]:
    """LocalStack (etcd + API server), controller-manager, scheduler, one hollow-node host for all nodes."""
    from hakube.cluster import pki
    from hakube.testing import LocalStack

    stack = LocalStack.create()
    children: list[Child] = []
    try:
        stack.start_etcd()
        server = stack.start_apiserver()
        kubeconfig = str(stack.kubeconfig(0))
        children.append(start_child("controller-manager", [
            sys.executable, "-m", "hakube.controllers", f"--kubeconfig={kubeconfig}", "--leader-elect=false"],
            stack.root / "controller-manager.log"))
        children.append(start_child("scheduler", [
            sys.executable, "-m", "hakube.scheduler", f"--kubeconfig={kubeconfig}", "--leader-elect=false"],
            stack.root / "scheduler.log"))
        certs = stack.root / "node-certs"
        certs.mkdir()
        names = [f"density-{i:04d}" for i in range(settings.nodes)]
        for name in names:
            ck = pki.issue_cert(stack.ca, common_name=f"system:node:{name}", organizations=["system:nodes"],
                                client=True)
            pki.write_pem(certs / f"{name}.crt", ck.cert_pem, private=False)
            pki.write_pem(certs / f"{name}.key", ck.key_pem, private=True)
        children.append(start_child("hollow-nodes", [
            sys.executable, "-m", "hakube.nodes", "--server", server.url, "--ca-file", str(stack.ca_file),
            "--cert-dir", str(certs), "--nodes", ",".join(names), "--zone", "zone-a"],
            stack.root / "hollow-nodes.log"))
    except BaseException:
        for child in children:
            child.stop()
        stack.cleanup()
        raise
    return stack, children


# -- the measured phases ------------------------------------------------------------------------


def deployment(name: str, replicas: int, run: str, scheduler_name: str = "default-scheduler") -> bytes:
    labels = {"app": name, "bench": run}
    container = {"name": "app", "image": "registry.k8s.io/pause:3.10",
                 "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}}}
    return orjson.dumps({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels},
                              "spec": {"schedulerName": scheduler_name, "containers": [container]}}}})


def parse_time(value: str | None) -> float | None:
    if not value:
        return None
    return float(calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")))


@dataclass
class PodSeen:
    first: float
    created: float | None = None
    bound: float | None = None
    running: float | None = None


class Api:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201)) -> Any:
        data = body if isinstance(body, bytes) or body is None else orjson.dumps(body)
        async with self.session.request(method, self.url + path, data=data,
                                        headers={"Content-Type": "application/json"}) as resp:
            raw = await resp.read()
            if resp.status not in ok:
                raise RuntimeError(f"{method} {path}: HTTP {resp.status}: {raw[:300]!r}")
            if resp.content_type == "application/json" and raw:
                return orjson.loads(raw)
            return raw.decode()


async def watch_pods(api: Api, ns: str, seen: dict[str, PodSeen], expected: int, ready: asyncio.Event) -> None:
    rv = (await api.call("GET", f"/api/v1/namespaces/{ns}/pods?limit=1"))["metadata"]["resourceVersion"]
    params = {"watch": "1", "resourceVersion": rv, "timeoutSeconds": "3600"}
    async with api.session.get(f"{api.url}/api/v1/namespaces/{ns}/pods", params=params,
                               timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
        if resp.status != 200:
            raise RuntimeError(f"watch: HTTP {resp.status}")
        ready.set()
        running = 0
        async for line in resp.content:
            t = time.time()
            if not line.strip():
                continue
            event = orjson.loads(line)
            if event.get("type") not in ("ADDED", "MODIFIED"):
                continue
            pod = event["object"]
            name = pod["metadata"]["name"]
            s = seen.get(name)
            if s is None:
                s = seen[name] = PodSeen(first=t, created=parse_time(pod["metadata"].get("creationTimestamp")))
            if s.bound is None and (pod.get("spec") or {}).get("nodeName"):
                s.bound = t
            status = pod.get("status") or {}
            if s.running is None and status.get("phase") == "Running" and any(
                    c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []):
                s.running = t
                running += 1
                if running >= expected:
                    return


def histogram_snapshot(text: str) -> dict[str, dict[float, float]]:
    """apiserver_request_duration_seconds cumulative buckets summed per verb (watches excluded by the server)."""
    out: dict[str, dict[float, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name != "apiserver_request_duration_seconds":
            continue
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                continue
            verb = sample.labels.get("verb", "?")
            le = float(sample.labels["le"])
            out.setdefault(verb, {})
            out[verb][le] = out[verb].get(le, 0.0) + sample.value
    return out


def histogram_percentiles(before: dict[str, dict[float, float]], after: dict[str, dict[float, float]]
                          ) -> dict[str, dict[str, Any]]:
    """Per verb: count and p50/p90/p99 in ms (upper bound of the bucket holding the quantile, as an upper bound)."""
    result: dict[str, dict[str, Any]] = {}
    for verb, buckets in after.items():
        delta = sorted((le, n - before.get(verb, {}).get(le, 0.0)) for le, n in buckets.items())
        total = delta[-1][1] if delta else 0
        if total <= 0:
            continue
        row: dict[str, Any] = {"count": int(total)}
        for q in (0.5, 0.9, 0.99):
            bound = next((le for le, n in delta if n >= q * total), float("inf"))
            row[f"p{int(q * 100)}_ms_le"] = None if bound == float("inf") else round(bound * 1e3, 1)
        result[verb] = row
    return result


async def run_phase(api: Api, settings: Settings, kind: str, cpu: CpuMeter, stack: Any) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    ns = f"density-{kind}-{run}"
    await api.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                                   "metadata": {"name": ns}})
    count = (settings.pods + settings.per_deployment - 1) // settings.per_deployment
    sizes = [settings.per_deployment] * count
    sizes[-1] = settings.pods - settings.per_deployment * (count - 1)
    seen: dict[str, PodSeen] = {}
    ready = asyncio.Event()
    watcher = asyncio.create_task(watch_pods(api, ns, seen, settings.pods, ready), name="density-watch")
    await asyncio.wait_for(ready.wait(), 30)
    metrics_before = histogram_snapshot(await api.call("GET", "/metrics"))
    errors: list[str] = []
    # saturation: the pods wait for a scheduler of their own, started once all of them exist.
    scheduler_name = SATURATION_SCHEDULER if kind == "saturation" else "default-scheduler"
    extra: Child | None = None

    async def create(i: int) -> None:
        try:
            await api.call("POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
                           deployment(f"d-{i:04d}", sizes[i], run, scheduler_name))
        except Exception as err:
            errors.append(str(err)[:200])

    cpu.start()
    started = time.time()
    if kind == "steady":
        interval = settings.per_deployment / settings.rate
        tasks = []
        for i in range(count):  # on a fixed schedule: a slow create does not slow the rate
            delay = started + i * interval - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(create(i), name=f"density-create-{i}"))
        await asyncio.gather(*tasks)
    else:
        sem = asyncio.Semaphore(settings.burst_concurrency)

        async def limited(i: int) -> None:
            async with sem:
                await create(i)

        await asyncio.gather(*(limited(i) for i in range(count)))
    created_in = time.time() - started
    log(f"  {kind}: {count} deployments created in {created_in:.1f}s")
    if kind == "saturation":
        for _ in range(int(settings.phase_timeout / 0.1)):
            if len(seen) >= settings.pods:
                break
            await asyncio.sleep(0.1)
        log(f"  {kind}: {len(seen)} pods pending; starting {SATURATION_SCHEDULER}")
        extra = start_child(SATURATION_SCHEDULER, [
            sys.executable, "-m", "hakube.scheduler", f"--kubeconfig={stack.kubeconfig(0)}", "--leader-elect=false",
            f"--scheduler-name={SATURATION_SCHEDULER}"], stack.root / f"{SATURATION_SCHEDULER}.log")
        cpu.pids[SATURATION_SCHEDULER] = extra.proc.pid
        cpu._start[SATURATION_SCHEDULER] = 0.0
    try:
        await asyncio.wait_for(asyncio.shield(watcher), settings.phase_timeout)
    except TimeoutError:
        errors.append(f"not all pods Running within {settings.phase_timeout:.0f}s")
    watcher.cancel()
    with contextlib.suppress(BaseException):
        await watcher
    used = cpu.stop()
    if extra is not None:
        extra.stop()
        del cpu.pids[SATURATION_SCHEDULER]
    metrics_after = histogram_snapshot(await api.call("GET", "/metrics"))
    done_at = max((s.running for s in seen.values() if s.running), default=time.time())

    running = [s for s in seen.values() if s.running is not None]
    startup = [s.running - s.created for s in running if s.created is not None and s.running is not None]
    from_seen = [s.running - s.first for s in running if s.running is not None]
    bound_times = sorted(s.bound for s in seen.values() if s.bound is not None)
    throughput: dict[str, Any] = {"bound": len(bound_times)}
    if len(bound_times) >= 2 and bound_times[-1] > bound_times[0]:
        throughput["pods_per_s"] = round((len(bound_times) - 1) / (bound_times[-1] - bound_times[0]), 1)
        lo, hi = int(0.1 * (len(bound_times) - 1)), int(0.9 * (len(bound_times) - 1))
        throughput["steady_pods_per_s"] = round((hi - lo) / (bound_times[hi] - bound_times[lo]), 1) \
            if bound_times[hi] > bound_times[lo] else None
    result = {
        "namespace": ns, "deployments": count, "pods": settings.pods, "running": len(running),
        "deployments_created_in_s": round(created_in, 2),
        "pod_create_rate_per_s": round(len(seen) / max(1e-9, max(s.first for s in seen.values()) - started), 1)
        if seen else None,
        "all_running_after_s": round(done_at - started, 2),
        "startup_latency_s": _summary(startup),
        "first_seen_to_running_s": _summary(from_seen),
        # Bounded samples for bench/report.py's plots.
        "startup_latency_cdf_s": cdf_points(startup),
        "first_seen_to_running_cdf_s": cdf_points(from_seen),
        "timeline": _timeline(seen, started, done_at),
        "scheduler": throughput,
        "api_latency_ms": histogram_percentiles(metrics_before, metrics_after),
        "cpu_seconds": {k: round(v, 2) for k, v in used.items()},
        "errors": errors[:5], "error_count": len(errors),
    }
    cleanup_started = time.time()
    await api.call("DELETE", f"/api/v1/namespaces/{ns}", ok=(200, 202))
    for _ in range(int(settings.cleanup_timeout / 0.5)):
        try:
            await api.call("GET", f"/api/v1/namespaces/{ns}")
        except RuntimeError:
            break
        await asyncio.sleep(0.5)
    result["namespace_deleted_in_s"] = round(time.time() - cleanup_started, 1)
    return result


def _timeline(seen: dict[str, PodSeen], started: float, done_at: float) -> dict[str, Any]:
    """Pods seen bound and seen Running per bucket from the phase's start."""
    width = fit_bucket(done_at - started, 0.1)
    end = started + width * (int((done_at - started) / width) + 1)
    bound = [s.bound for s in seen.values() if s.bound is not None]
    running = [s.running for s in seen.values() if s.running is not None]
    return {"bucket_s": width, "bound": bucket_counts(bound, start=started, end=end, bucket_s=width),
            "running": bucket_counts(running, start=started, end=end, bucket_s=width)}


def _summary(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {}
    return {"n": len(samples), "p50": round(pct(samples, 0.5), 3), "p90": round(pct(samples, 0.9), 3),
            "p99": round(pct(samples, 0.99), 3), "max": round(max(samples), 3)}


async def measure(settings: Settings, phases: list[str], stack: Any, children: list[Child]) -> dict[str, Any]:
    pids = {"etcd": stack.etcd_proc.pid, "apiserver": stack.apiservers[0].proc.pid,
            **{c.name: c.proc.pid for c in children}}
    cpu = CpuMeter(pids)
    connector = aiohttp.TCPConnector(ssl=stack.ssl_context(), limit=64)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        api = Api(session, stack.apiservers[0].url)
        for _ in range(int(120 / 0.5)):  # nodes registered and Ready
            nodes = (await api.call("GET", "/api/v1/nodes"))["items"]
            ready = [n for n in nodes if any(c.get("type") == "Ready" and c.get("status") == "True"
                                             for c in (n.get("status") or {}).get("conditions") or [])]
            if len(ready) >= settings.nodes:
                break
            await asyncio.sleep(0.5)
        else:
            raise RuntimeError(f"only {len(ready)}/{settings.nodes} nodes Ready after 120 s")
        log(f"{settings.nodes} hollow nodes Ready")
        await asyncio.sleep(2)  # the scheduler has seen them all
        results = {}
        for kind in phases:
            log(f"phase {kind}: {settings.pods} pods")
            results[kind] = await run_phase(api, settings, kind, cpu, stack)
    return results


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks = []
    saturation = results.get("saturation") or {}
    rate = (saturation.get("scheduler") or {}).get("steady_pods_per_s")
    checks.append({"name": "scheduler throughput at saturation (all pods pending first, pods/s, p10-p90 bindings)",
                   "target": f">= {TARGET_SCHED_PODS_PER_S:.0f}", "value": rate,
                   "passed": rate is not None and rate >= TARGET_SCHED_PODS_PER_S})
    steady = results.get("steady") or {}
    p99 = (steady.get("startup_latency_s") or {}).get("p99")
    checks.append({"name": "pod startup p99 at the steady rate (s, creationTimestamp -> Running)",
                   "target": f"<= {TARGET_STARTUP_P99_S:.0f}", "value": p99,
                   "passed": p99 is not None and p99 <= TARGET_STARTUP_P99_S})
    for kind, r in results.items():
        checks.append({"name": f"{kind}: pods Running / created", "target": "== 1.0",
                       "value": round(r["running"] / r["pods"], 3), "passed": r["running"] == r["pods"]})
    return checks


def table(report: dict[str, Any]) -> str:
    lines = [f"density: {report['settings']['nodes']} hollow nodes, {report['settings']['pods']} pods per phase"]
    for kind, r in report["results"].items():
        s, f, sch = r["startup_latency_s"], r["first_seen_to_running_s"], r["scheduler"]
        lines += [
            f"\n[{kind}] {r['deployments']} deployments in {r['deployments_created_in_s']} s; "
            f"pods created at {r['pod_create_rate_per_s']}/s; {r['running']}/{r['pods']} Running after "
            f"{r['all_running_after_s']} s",
            f"  startup creationTimestamp->Running  p50 {s.get('p50')}  p90 {s.get('p90')}  p99 {s.get('p99')}  "
            f"max {s.get('max')} s",
            f"  startup first seen->Running         p50 {f.get('p50')}  p90 {f.get('p90')}  p99 {f.get('p99')}  "
            f"max {f.get('max')} s",
            f"  scheduler: {sch.get('pods_per_s')} pods/s overall, {sch.get('steady_pods_per_s')} pods/s p10-p90",
            "  API latency (ms, bucket upper bounds):",
        ]
        for verb, row in sorted(r["api_latency_ms"].items()):
            lines.append(f"    {verb:<8} n={row['count']:<7} p50<={row['p50_ms_le']}  p90<={row['p90_ms_le']}  "
                         f"p99<={row['p99_ms_le']}")
        lines.append("  CPU seconds: " + ", ".join(f"{k} {v}" for k, v in sorted(r["cpu_seconds"].items())))
        lines.append(f"  namespace deleted in {r['namespace_deleted_in_s']} s; errors {r['error_count']}")
    lines.append("\ntargets:")
    for c in report["targets"]:
        lines.append(f"  {'PASS' if c['passed'] else 'FAIL'}  {c['name']}: {c['value']} (target {c['target']})")
    return "\n".join(lines)


def markdown(report: dict[str, Any]) -> str:
    return f"# density\n\n{report['time']}, {report['machine']['cores']} cores\n\n```\n{table(report)}\n```\n"


def main(argv: list[str] | None = None) -> int:
    args, settings = parse_args(sys.argv[1:] if argv is None else argv)
    phases = [p for p in args.phases.split(",") if p in ("steady", "burst", "saturation")]
    rtt = loopback_rtt(settings.rtt_samples)
    stack, children = start_system(settings)
    try:
        results = asyncio.run(measure(settings, phases, stack, children))
    finally:
        for child in reversed(children):
            child.stop()
        stack.cleanup()
    report: dict[str, Any] = {
        "benchmark": "density", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "target": "own stack: 1 etcd, 1 API server, 1 controller-manager, 1 scheduler, one hollow-node host",
        "settings": asdict(settings),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loopback_rtt": rtt},
        "notes": ["the load generator and the watch share this process and the machine's cores with everything",
                  "creationTimestamp has one-second resolution; first seen -> Running is sub-second",
                  "API latency: apiserver_request_duration_seconds deltas over the phase, all resources, "
                  "quantiles reported as the upper bound of their bucket"],
        "results": results,
    }
    report["targets"] = judge(results)
    report["all_pass"] = all(c["passed"] for c in report["targets"])
    report = _clean(report)
    print(table(report), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "density.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "density.md").write_text(markdown(report))
    if args.json:
        print(json.dumps(report, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
