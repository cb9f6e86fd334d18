#!/usr/bin/env python3
"""API throughput against raw etcd on clusters of 1, 3 and 5 replicas (DESIGN.md §7).

For each replica count this starts a multizone cluster with the hakube
command line (`hakube up --multizone --replicas N`: zones a, b, c, then round
robin), runs api_throughput's creates, GETs and LISTs through the external IP
(the API server itself with one replica, HAProxy in front of every replica's
API server from three on), next to the same operations done directly on the
cluster's etcd in the same run, and tears the cluster down. Throughput is
judged as the API/raw-etcd ratio per replica count, so that it survives
machine changes.

    python bench/replica_throughput.py [--replicas 1,3,5] [--quick] [--json] [--quorum-reads]

The load generator runs in this process and shares the machine's cores with
every replica (etcd, API server, controller-manager, scheduler) and HAProxy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from api_throughput import NOTE_FSYNC, NOTE_SHARED_CORES, Settings, _clean, _f, cluster_target, loopback_rtt, measure
from hacluster import RESULTS_DIR, Cluster, all_healthy, log, machine_facts, save

PHASES = ("creates", "gets", "lists")
# Smaller than api_throughput's own defaults: three clusters must fit the `make bench` budget on 2 cores.
DEFAULTS: dict[str, Any] = {"creates": 5000, "gets": 8000, "lists": 50, "list_size": 1000, "rounds": 3,
                            "fsync_samples": 100, "rtt_samples": 1000, "phase_timeout": 120.0, "only": PHASES}
QUICK: dict[str, Any] = {"creates": 200, "gets": 300, "lists": 5, "list_size": 100, "rounds": 1,
                         "fsync_samples": 30, "rtt_samples": 300, "phase_timeout": 60.0}
NOTES = (
    NOTE_SHARED_CORES + ", every other replica and HAProxy",
    "raw etcd = the same operations through the same Python gRPC client, on the first replica's etcd member "
    "(TLS with the etcd admin certificate), alternated with the API runs in rounds; the API goes through the "
    "external IP, so with 3 and 5 replicas HAProxy spreads it over every API server",
    NOTE_FSYNC + " (on a multi-member cluster it includes replication to a quorum)",
    "disk fsync = 4 KiB write + fsync in the cluster directory, 100 samples",
)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, Settings, list[int]]:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replicas", default="1,3,5", help="comma-separated replica counts (default 1,3,5)")
    p.add_argument("--quick", action="store_true", help="a small smoke run")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--quorum-reads", action=argparse.BooleanOptionalAction, default=False,
                   help="start the clusters with quorum reads (default: hakube up's default, serializable)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="where to save the results")
    for name in ("clients", "creates", "gets", "lists", "list-size", "rounds"):
        p.add_argument(f"--{name}", type=int)
    args = p.parse_args(argv)
    values = dict(DEFAULTS) | (QUICK if args.quick else {})
    for name in ("clients", "creates", "gets", "lists", "list_size", "rounds"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    settings = Settings(**values)
    try:
        counts = [int(x) for x in args.replicas.split(",") if x.strip()]
    except ValueError:
        p.error("--replicas takes comma-separated integers")
    if not counts or min(counts) < 1 or min(settings.clients, settings.creates, settings.gets, settings.lists,
                                            settings.list_size, settings.rounds) < 1:
        p.error("replica counts and operation counts must be positive")
    return args, settings, counts


def one_cluster(replicas: int, settings: Settings, quorum_reads: bool) -> dict[str, Any]:
    """Start an N-replica cluster, measure it against its own etcd, tear it down."""
    cluster = Cluster(None)
    out: dict[str, Any] = {"replicas": replicas}
    try:
        started = time.monotonic()
        # Two replicas is a refused shape (worse than one); --force lets a caller measure it anyway.
        cluster.hk("up", "--multizone", "--replicas", str(replicas), "--force",
                   "--quorum-reads" if quorum_reads else "--no-quorum-reads", timeout=600)
        st = cluster.wait(all_healthy, timeout=120, what=f"{replicas} healthy replicas")
        out["up_s"] = round(time.monotonic() - started, 2)
        out["zones"] = sorted({r["zone"] for r in st["replicas"]})
        out["machine"] = machine_facts(cluster.root)
        # This benchmark started the cluster and removes it whole: no need to clean up objects first.
        target = dataclasses.replace(cluster_target(cluster.root), started_here=True)
        log(f"{replicas} replica(s) up in {out['up_s']}s; measuring through {target.url}")
        started = time.monotonic()
        measured = asyncio.run(measure(settings, target))
        out["measure_s"] = round(time.monotonic() - started, 2)
        out["etcd_fsync"] = measured["fsync"]
        out["results"] = measured["results"]
    finally:
        started = time.monotonic()
        cluster.close()
        out["down_s"] = round(time.monotonic() - started, 2)
    return out


def ratios(clusters: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """{phase: {replica count: API/raw ratio}} over the clusters that were measured."""
    table: dict[str, dict[str, float | None]] = {}
    for c in clusters:
        for phase in PHASES:
            r = (c.get("results") or {}).get(phase)
            if r is not None:
                table.setdefault(phase, {})[str(c["replicas"])] = r.get("ratio")
    return table


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    out = ["# API throughput against raw etcd, by replica count", "",
           f"{report['settings']['clients']} clients, {m['cores']} cores, loopback RTT p50 "
           f"{_f(m['loopback_rtt']['p50_us'])} µs; quorum reads {report['quorum_reads']}.", "",
           "| replicas | phase | API ops/s | API p99 ms | raw etcd ops/s | raw p99 ms | ratio | etcd put p50/p99 ms |",
           "|---:|---|---:|---:|---:|---:|---:|---|"]
    for c in report["clusters"]:
        if "error" in c:
            out.append(f"| {c['replicas']} | - | failed: {c['error'][:120]} | | | | | |")
            continue
        fs = c.get("etcd_fsync") or {}
        for phase in PHASES:
            r = c["results"].get(phase)
            if r is None:
                continue
            a, b = r["api"], r["raw_etcd"]
            out.append(f"| {c['replicas']} | {phase} | {_f(a['ops_per_s'])} | {_f(a['p99_ms'], 2)} | "
                       f"{_f(b['ops_per_s'])} | {_f(b['p99_ms'], 2)} | {_f(r['ratio'], 3)} | "
                       f"{_f(fs.get('p50_ms'), 2)}/{_f(fs.get('p99_ms'), 2)} |")
    out += ["", "Notes:", *[f"- {n}" for n in report["notes"]], ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args, settings, counts = parse_args(sys.argv[1:] if argv is None else argv)
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    rtt = loopback_rtt(settings.rtt_samples)
    clusters: list[dict[str, Any]] = []
    for n in counts:
        try:
            clusters.append(one_cluster(n, settings, args.quorum_reads))
        except Exception as err:  # one replica count failing must not lose the others
            log(f"{n} replica(s): {type(err).__name__}: {err}")
            clusters.append({"replicas": n, "error": f"{type(err).__name__}: {err}"[:500]})
    report: dict[str, Any] = _clean({
        "benchmark": "replica_throughput",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": dataclasses.asdict(settings),
        "quorum_reads": args.quorum_reads,
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "loopback_rtt": rtt, "load_generator": NOTE_SHARED_CORES},
        "notes": list(NOTES),
        "clusters": clusters,
        "ratios": ratios(clusters),
    })
    text = markdown(report)
    print(text, flush=True)
    save("replica_throughput", report, text, args.out)
    if args.json:
        print(json.dumps(report, separators=(",", ":")), flush=True)
    failed = [c for c in clusters if "error" in c or any(
        (c["results"].get(p) or {}).get("api", {}).get("errors") for p in PHASES)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
