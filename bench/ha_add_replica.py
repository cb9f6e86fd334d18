#!/usr/bin/env python3
"""Adding a replica to a cluster holding ~100 MB of etcd data (DESIGN.md §7).

Fills etcd through the API with ConfigMaps of ~900 KiB (about 100 MB by
default), then times `hakube replica add` while a client loop keeps creating
and reading through the external IP. Reports: the time until the new replica
is ready (target ≤ 10 s), failed requests during the add (target 0), and the
copy rate of the learner's catch-up (data size / time from the member's
addition to its promotion, from the command's own progress lines).

    python bench/ha_add_replica.py [--mb 100] [--cluster-dir DIR] [--json]
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

import aiohttp

from hacluster import HAKUBE, RESULTS_DIR, Cluster, all_healthy, log, machine_facts, save
from hakube.clientloop import ClientLoop

TARGET_READY = 10.0
OBJECT_BYTES = 900 * 1024


async def fill(server: str, pki: Path, megabytes: int) -> int:
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

        await asyncio.gather(*(one(i) for i in range(count)))
    return count * OBJECT_BYTES


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--mb", type=int, default=100, help="etcd data to add before the new replica (default 100)")
    p.add_argument("--cluster-dir", type=Path, help="a running cluster (default: start a 1-replica one)")
    p.add_argument("--zone", default="local-b")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = p.parse_args(argv)
    cluster = Cluster(args.cluster_dir)
    try:
        if cluster.owned:
            log("starting a multizone cluster")
            cluster.hk("up", "--multizone", "--zone", "local-a")
        st = cluster.status()
        log(f"filling etcd with ~{args.mb} MB")
        t = time.monotonic()
        filled = asyncio.run(fill(st["server"], cluster.root / "pki", args.mb))
        fill_s = time.monotonic() - t
        replicas_before = len(st["replicas"])
        client = ClientLoop(server=st["server"], pki_dir=cluster.root / "pki", keepalive_gets=2, fresh_gets=1,
                            keepalive_writes=1, fresh_writes=1, timeout=5.0).start()
        lines: list[tuple[float, str]] = []
        try:
            time.sleep(1.0)
            start = time.monotonic()
            proc = subprocess.Popen([HAKUBE, "replica", "add", "--zone", args.zone, "--cluster-dir",
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
        st = cluster.wait(lambda s: len(s["replicas"]) == replicas_before + 1 and all_healthy(s), timeout=60,
                          what="the new replica healthy")
        figures = {"data_bytes": filled, "fill_s": fill_s, "ready_s": added_s, "member_added_at_s": member_t,
                   "catch_up_s": catch_up_s,
                   "copy_rate_mb_s": (filled / 1e6 / catch_up_s) if catch_up_s else None,
                   "requests_during_add": len(during), "failed_during_add": sum(1 for r in during if not r.ok),
                   "failed_total": len(result.failures), "errors": sorted({r.error for r in result.failures})[:5],
                   "target_ready_s": TARGET_READY, "ready_target_met": added_s <= TARGET_READY,
                   "no_failed_requests_met": not result.failures}
        report = {"benchmark": "ha_add_replica", "figures": figures, "command_output": [line for _, line in lines],
                  "machine": machine_facts(cluster.root), "replicas_after": len(st["replicas"]),
                  "notes": ["ready = the whole `hakube replica add` command (learner catch-up, promotion, API "
                            "server ready, load balancer created or extended)",
                            "copy rate = data filled / time from the learner's start to its promotion "
                            "(an upper bound on the time, so a lower bound on the rate)"]}
    finally:
        cluster.close()
    f = report["figures"]
    rate = f"{f['copy_rate_mb_s']:.1f} MB/s" if f["copy_rate_mb_s"] else "n/a"
    text = ("| data | ready | target ≤ 10 s | learner catch-up | copy rate | requests during add | failed |\n"
            "|---|---|---|---|---|---|---|\n"
            f"| {f['data_bytes'] / 1e6:.0f} MB | {f['ready_s']:.2f} s | {'met' if f['ready_target_met'] else 'missed'} "
            f"| {f['catch_up_s'] or float('nan'):.2f} s | {rate} | {f['requests_during_add']} | "
            f"{f['failed_during_add']} |")
    print(text)
    save("ha_add_replica", report, f"# ha_add_replica\n\n{text}\n\nmachine: {report['machine']}\n", args.out)
    if args.json:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
