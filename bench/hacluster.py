"""Shared by the HA benchmarks: a cluster driven through the command line, machine facts, reports.

Imported by the scripts next to it (`python bench/ha_failover.py` puts this
folder first on the import path).
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hakube.clientloop import percentile

HAKUBE = str(Path(sys.executable).with_name("hakube"))
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Cluster:
    """A cluster this benchmark created (and tears down) or one named with --cluster-dir."""

    def __init__(self, root: Path | None) -> None:
        self.owned = root is None
        self._tmp = tempfile.TemporaryDirectory(prefix="hakube-bench-") if root is None else None
        self.root = root if root is not None else Path(self._tmp.name) / "cluster"  # type: ignore[union-attr]

    def hk(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([HAKUBE, *args, "--cluster-dir", str(self.root)], capture_output=True, text=True,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"hakube {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.hk("status", "-o", "json").stdout)
        return data

    def wait(self, predicate: Callable[[dict[str, Any]], bool], *, timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.5) + 2):
            st = self.status()
            if predicate(st):
                return st
            if time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        raise RuntimeError(f"timed out waiting for {what}")

    def close(self) -> None:
        if self.owned:
            if (self.root / "cluster.json").exists():
                for r in json.loads((self.root / "cluster.json").read_text()).get("replicas", []):
                    self.hk("replica", "recover", r["name"], check=False, timeout=60)
                self.hk("down", check=False)
            if self._tmp is not None:
                self._tmp.cleanup()


def all_healthy(st: dict[str, Any]) -> bool:
    return all(r["healthy"] and not r.get("etcdLearner") for r in st["replicas"]) and bool(st["etcd"]["hasQuorum"])


def machine_facts(where: Path) -> dict[str, Any]:
    """Cores, fsync p50/p99 in the cluster's file system, loopback TCP round trip."""
    fsync: list[float] = []
    path = where / ".fsync-probe"
    with open(path, "wb") as f:
        for _ in range(100):
            f.write(b"x" * 4096)
            start = time.perf_counter()
            f.flush()
            os.fsync(f.fileno())
            fsync.append(time.perf_counter() - start)
    path.unlink()
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    conn, _ = server.accept()
    rtt: list[float] = []
    for _ in range(300):
        start = time.perf_counter()
        client.sendall(b"p")
        conn.recv(1)
        conn.sendall(b"q")
        client.recv(1)
        rtt.append(time.perf_counter() - start)
    for s in (client, conn, server):
        s.close()
    return {"cores": os.cpu_count(),
            "fsync_ms": {"p50": percentile(fsync, 0.5) * 1e3, "p99": percentile(fsync, 0.99) * 1e3},
            "loopback_rtt_us": {"p50": percentile(rtt, 0.5) * 1e6, "p99": percentile(rtt, 0.99) * 1e6}}


def save(name: str, report: dict[str, Any], markdown: str, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown)


# -- bounded raw samples for the report's plots (bench/report.py) ------------------------------


def cdf_points(samples: list[float], *, max_points: int = 150, digits: int = 3) -> list[list[float]]:
    """[value, fraction of samples <= value] pairs of the empirical CDF, at most `max_points` (≥ 4) of them.

    Plots need the shape, not every sample: ranks spread evenly over the
    distribution, plus a denser run over the top 1% because the tail is what a
    latency CDF is read for. Ranks are nearest-rank, as `percentile` uses.
    """
    ordered = sorted(samples)
    n = len(ordered)
    if n == 0:
        return []
    if n <= max_points:
        ranks = list(range(n))
    else:
        body = max(2, max_points * 3 // 4)
        tail = max(2, max_points - body)
        wanted = [k / (body - 1) for k in range(body)] + [0.99 + 0.01 * k / (tail - 1) for k in range(tail)]
        ranks = sorted({min(n - 1, max(0, math.ceil(q * n) - 1)) for q in wanted})
    return [[round(ordered[r], digits), round((r + 1) / n, 5)] for r in ranks]


def fit_bucket(span: float, bucket_s: float, max_buckets: int = 600) -> float:
    """The bucket width, doubled from `bucket_s` until `span` seconds fit in `max_buckets` buckets."""
    width = bucket_s
    while span / width > max_buckets:
        width *= 2
    return width


def bucket_counts(times: list[float], *, start: float, end: float, bucket_s: float) -> list[int]:
    """How many of `times` fall in each `bucket_s`-wide bucket of [start, end); others are left out."""
    size = max(1, math.ceil((end - start) / bucket_s))
    counts = [0] * size
    for t in times:
        if start <= t < end:
            counts[min(size - 1, int((t - start) / bucket_s))] += 1
    return counts
