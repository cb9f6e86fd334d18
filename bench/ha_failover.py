#!/usr/bin/env python3
"""Failover: how long writes through the external IP fail after a replica dies (DESIGN.md §7).

A three-replica cluster (multizone, HAProxy on the external IP) under a client
loop of creates (keep-alive and new-connection) and GETs. Each trial kills
(SIGKILL, every process of the replica, as `hakube replica fail --mode kill`)
first the replica of the etcd leader, then a replica whose etcd member is a
follower (only its API server is lost to clients), and measures the time from
the kill until creates succeed again for good, and the failed requests. The
replica is restarted with its data directory between trials.

Targets: ≤ 2 s (moonshot ≤ 1.2 s) until writes succeed again, p99 over trials.

    python bench/ha_failover.py [--trials N] [--cluster-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from hacluster import RESULTS_DIR, Cluster, all_healthy, log, machine_facts, save
from hakube.clientloop import WRITE, ClientLoop, percentile
from hakube.cluster.layout import Layout
from hakube.cluster.replicas import Replicas

TARGET = 2.0
MOONSHOT = 1.2
SCENARIOS = ("etcd-leader", "apiserver")


def one_trial(cluster: Cluster, scenario: str, *, observe: float) -> dict[str, Any]:
    st = cluster.status()
    leader = next(r["name"] for r in st["replicas"] if r["etcdLeader"])
    victim = leader if scenario == "etcd-leader" else next(r["name"] for r in st["replicas"] if r["name"] != leader)
    layout = Layout(cluster.root)
    state = layout.load()
    replica = state.replica(victim)
    assert replica is not None
    client = ClientLoop(server=st["server"], pki_dir=cluster.root / "pki", keepalive_gets=1, fresh_gets=1,
                        keepalive_writes=3, fresh_writes=1, timeout=3.0).start()
    try:
        time.sleep(1.0)
        killed_at = time.monotonic()
        Replicas(layout, say=lambda _: None).fail(replica, "kill")
        time.sleep(observe)
    finally:
        result = client.stop()
    after = [r for r in result.requests if r.end >= killed_at]
    trial = {"scenario": scenario, "victim": victim, "outage_s": result.outage(killed_at, kind=WRITE),
             "read_outage_s": result.outage(killed_at, kind="get"), "requests": len(after),
             "failed": len(result.failures), "failed_writes": sum(1 for r in result.failures if r.kind == WRITE),
             "errors": sorted({r.error for r in result.failures})[:5]}
    cluster.hk("replica", "recover", victim)
    cluster.wait(all_healthy, timeout=60, what=f"{victim} to recover")
    time.sleep(1.0)
    return trial


def summarize(trials: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for scenario in SCENARIOS:
        mine = [t for t in trials if t["scenario"] == scenario]
        outages = [t["outage_s"] for t in mine]
        p99 = percentile(outages, 0.99)
        out[scenario] = {"trials": len(mine), "outage_p50_s": percentile(outages, 0.5), "outage_p99_s": p99,
                         "outage_max_s": max(outages, default=float("nan")),
                         "failed_requests_total": sum(t["failed"] for t in mine),
                         "failed_per_trial_p50": percentile([float(t["failed"]) for t in mine], 0.5),
                         "requests_total": sum(t["requests"] for t in mine),
                         "target_s": TARGET, "moonshot_s": MOONSHOT,
                         "target_met": p99 <= TARGET, "moonshot_met": p99 <= MOONSHOT}
    return out


def table(summary: dict[str, Any]) -> str:
    rows = ["| killed replica | trials | write outage p50 | p99 | max | failed requests (total / p50 per trial) | "
            "target ≤ 2 s | moonshot ≤ 1.2 s |", "|---|---|---|---|---|---|---|---|"]
    for scenario, s in summary.items():
        rows.append(f"| {scenario} | {s['trials']} | {s['outage_p50_s']:.2f} s | {s['outage_p99_s']:.2f} s | "
                    f"{s['outage_max_s']:.2f} s | {s['failed_requests_total']} / {s['failed_per_trial_p50']:.0f} | "
                    f"{'met' if s['target_met'] else 'missed'} | {'met' if s['moonshot_met'] else 'missed'} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--observe", type=float, default=5.0, help="seconds of load after each kill (default 5)")
    p.add_argument("--cluster-dir", type=Path, help="a running cluster of ≥ 3 replicas (default: start one)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args(argv)
    if args.trials < 1:
        p.error("--trials must be positive")
    cluster = Cluster(args.cluster_dir)
    try:
        if cluster.owned:
            log("starting a 3-replica multizone cluster")
            cluster.hk("up", "--multizone", "--replicas", "3")
        cluster.wait(all_healthy, timeout=60, what="a healthy cluster")
        trials = []
        for i in range(args.trials):
            for scenario in SCENARIOS:
                trial = one_trial(cluster, scenario, observe=args.observe)
                log(f"trial {i + 1} {scenario}: writes back after {trial['outage_s']:.2f}s, "
                    f"{trial['failed']} of {trial['requests']} requests failed")
                trials.append(trial)
        summary = summarize(trials)
        report = {"benchmark": "ha_failover", "summary": summary, "trials": trials,
                  "machine": machine_facts(cluster.root),
                  "notes": ["outage = from the SIGKILL until the end of the first create that started after the "
                            "last failed create (client timeout 3 s)",
                            "the load generator shares the machine's cores with all three replicas and HAProxy"]}
    finally:
        cluster.close()
    text = table(summary)
    print(text)
    save("ha_failover", report, f"# ha_failover\n\n{text}\n\nmachine: {report['machine']}\n", args.out)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
