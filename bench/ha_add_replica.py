#!/usr/bin/env python3
"""Adding a replica to a cluster holding ~100 MB of etcd data (DESIGN.md §7).

Fills etcd through the API with ConfigMaps of ~900 KiB (about 100 MB by
default), then times `hakube replica add` while a client loop keeps creating
and reading through the external IP. Reports: the time until the new replica
is ready (target ≤ 10 s), failed requests during the add (target 0), and the
copy rate of the learner's catch-up (data size / time from the member's
addition to its promotion, from the command's own progress lines).

With --sizes 10,50,100 it does the same at several data sizes on one
cluster (filling up to each size in turn, removing the added replica between
sizes) for the report's plot of add time against data size.

    python bench/ha_add_replica.py [--mb 100 | --sizes 10,50,100] [--cluster-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

from hacluster import HAKUBE, RESULTS_DIR, Cluster, all_healthy, log, machine_facts, save
from hakube.clientloop import ClientLoop

TARGET_READY = 10.0
OBJECT_BYTES = 900 * 1024


async def fill(server: str, pki: Path, megabytes: int, first: int = 0) -> int:
    """Write ~`megabytes` of ConfigMaps named fill-<first>, fill-<first + 1>, …; the bytes written."""
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(pki / "admin.crt", pki / "admin.key")
    count = max(1, megabytes * 1024 * 1024 // OBJECT_BYTES)
    payload = "x" * OBJECT_BYTES
    sem = asyncio.Semaphore(4)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx),
                                     timeout=aiohttp.ClientTimeout(total=60)) as session:
        await session.post(f"{server}/api/v1/namespaces", json={"metadata": {"name": "bench-fill"}})

        async def one(i: int) -> None:
            async with sem, session.post(f"{server}/api/v1/namespaces/bench-fill/configmaps",
                                         json={"metadata": {"name": f"fill-{i}"}, "data": {"blob": payload}}) as r:
                if r.status not in (201, 409):
                    raise RuntimeError(f"fill-{i}: HTTP {r.status} {(await r.text())[:200]}")

        await asyncio.gather(*(one(i) for i in range(first, first + count)))
    return count * OBJECT_BYTES


def add_replica(cluster: Cluster, server: str, zone: str) -> dict[str, Any]:
    """Time `hakube replica add` under a client loop; the figures of that one add."""
    client = ClientLoop(server=server, pki_dir=cluster.root / "pki", keepalive_gets=2, fresh_gets=1,
                        keepalive_writes=1, fresh_writes=1, timeout=5.0).start()
    lines: list[tuple[float, str]] = []
    try:
        time.sleep(1.0)
        start = time.monotonic()
        proc = subprocess.Popen([HAKUBE, "replica", "add", "--zone", zone, "--cluster-dir",
                                 str(cluster.root)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:  # ends when the command exits
            lines.append((time.monotonic() - start, line.rstrip()))
        rc = proc.wait(300)
        added_s = time.monotonic() - start
        time.sleep(1.0)
    finally:
        result = client.stop()
    if rc != 0:
        raise RuntimeError("replica add failed:\n" + "\n".join(line for _, line in lines))
    member_t = next((t for t, line in lines if "added as a learner" in line), 0.0)
    promoted = next(((t, line) for t, line in lines if "promoted after" in line), None)
    catch_up_s = float(re.search(r"after ([0-9.]+)s", promoted[1]).group(1)) if promoted else None  # type: ignore[union-attr]
    during = [r for r in result.requests if start <= r.end <= start + added_s + 1.0]
    return {"ready_s": added_s, "member_added_at_s": member_t, "catch_up_s": catch_up_s,
            "requests_during_add": len(during), "failed_during_add": sum(1 for r in during if not r.ok),
            "failed_total": len(result.failures), "errors": sorted({r.error for r in result.failures})[:5],
            "target_ready_s": TARGET_READY, "ready_target_met": added_s <= TARGET_READY,
            "no_failed_requests_met": not result.failures, "command_output": [line for _, line in lines]}


def remove_added(cluster: Cluster, before: set[str]) -> None:
    """Back to the replicas of `before`, so that the next size again measures 1 → 2 replicas."""
    st = cluster.status()
    for name in sorted({r["name"] for r in st["replicas"]} - before):
        cluster.hk("replica", "remove", "--name", name)
    cluster.wait(lambda s: {r["name"] for r in s["replicas"]} == before and all_healthy(s), timeout=120,
                 what="the added replica removed")


def measure_sizes(cluster: Cluster, sizes: list[int], zone: str) -> list[dict[str, Any]]:
    """Fill up to each size in turn (ascending) and add a replica; the added one goes before the next size."""
    st = cluster.status()
    before = {r["name"] for r in st["replicas"]}
    series: list[dict[str, Any]] = []
    filled = objects = 0
    for k, mb in enumerate(sizes):
        more = max(1, mb - filled // (1024 * 1024))
        log(f"filling etcd with ~{more} MB more (to ~{mb} MB)")
        t = time.monotonic()
        written = asyncio.run(fill(st["server"], cluster.root / "pki", more, first=objects))
        fill_s = time.monotonic() - t
        filled += written
        objects += written // OBJECT_BYTES
        log(f"adding a replica at {filled / 1e6:.0f} MB")
        figures = add_replica(cluster, st["server"], zone)
        cluster.wait(lambda s: len(s["replicas"]) == len(before) + 1 and all_healthy(s), timeout=60,
                     what="the new replica healthy")
        catch_up = figures["catch_up_s"]
        series.append({"data_bytes": filled, "fill_s": fill_s, **figures,
                       "copy_rate_mb_s": (filled / 1e6 / catch_up) if catch_up else None})
        if k < len(sizes) - 1:
            remove_added(cluster, before)
    return series


def parse_sizes(text: str | None, mb: int) -> list[int]:
    sizes = sorted({int(x) for x in text.split(",") if x.strip()}) if text else [mb]
    if not sizes or min(sizes) < 1:
        raise ValueError("sizes must be positive megabytes")
    return sizes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--mb", type=int, default=100, help="etcd data to add before the new replica (default 100)")
    p.add_argument("--sizes", help="comma-separated data sizes in MB, one add at each (overrides --mb)")
    p.add_argument("--cluster-dir", type=Path, help="a running cluster (default: start a 1-replica one)")
    p.add_argument("--zone", default="local-b")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args(argv)
    try:
        sizes = parse_sizes(args.sizes, args.mb)
    except ValueError as err:
        p.error(str(err))
    cluster = Cluster(args.cluster_dir)
    try:
        if cluster.owned:
            log("starting a multizone cluster")
            cluster.hk("up", "--multizone", "--zone", "local-a")
        series = measure_sizes(cluster, sizes, args.zone)
        last = series[-1]
        figures = {k: v for k, v in last.items() if k != "command_output"}
        report = {"benchmark": "ha_add_replica", "figures": figures, "command_output": last["command_output"],
                  "series": [{k: v for k, v in one.items() if k != "command_output"} for one in series],
                  "machine": machine_facts(cluster.root), "replicas_after": len(cluster.status()["replicas"]),
                  "notes": ["ready = the whole `hakube replica add` command (learner catch-up, promotion, API "
                            "server ready, load balancer created or extended)",
                            "copy rate = data filled / time from the learner's start to its promotion "
                            "(an upper bound on the time, so a lower bound on the rate)",
                            "several sizes: one cluster filled up to each size in turn; the added replica is "
                            "removed before the next size, so every add goes from the same replica count"]}
    finally:
        cluster.close()
    text = table(report["series"])
    print(text)
    save("ha_add_replica", report, f"# ha_add_replica\n\n{text}\n\nmachine: {report['machine']}\n", args.out)
    if args.json:
        print(json.dumps(report))
    return 0


def table(series: list[dict[str, Any]]) -> str:
    rows = ["| data | ready | target ≤ 10 s | learner catch-up | copy rate | requests during add | failed |",
            "|---|---|---|---|---|---|---|"]
    for f in series:
        rate = f"{f['copy_rate_mb_s']:.1f} MB/s" if f["copy_rate_mb_s"] else "n/a"
        rows.append(f"| {f['data_bytes'] / 1e6:.0f} MB | {f['ready_s']:.2f} s | "
                    f"{'met' if f['ready_target_met'] else 'missed'} | {f['catch_up_s'] or float('nan'):.2f} s | "
                    f"{rate} | {f['requests_during_add']} | {f['failed_during_add']} |")
    return "\n".join(rows)


if __name__ == "__main__":
    raise SystemExit(main())
