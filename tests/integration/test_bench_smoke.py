"""The API throughput benchmark runs end to end and reports in the shape DESIGN.md §7 asks for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hakube.store.etcd import EtcdVersionError, find_etcd

BENCH = Path(__file__).resolve().parents[2] / "bench" / "api_throughput.py"


@pytest.mark.slow
def test_api_throughput_quick(tmp_path: Path) -> None:
    try:
        find_etcd()
    except EtcdVersionError as err:
        pytest.skip(str(err))
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])

    for key in ("settings", "machine", "results", "targets", "all_pass", "notes"):
        assert key in report
    machine = report["machine"]
    assert machine["cores"] >= 1
    assert machine["loopback_rtt"]["p50_us"] > 0
    assert machine["etcd_fsync"]["p50_ms"] > 0 and "proxy" in machine["etcd_fsync"]["method"]
    for phase in ("creates", "gets", "lists"):
        figures = report["results"][phase]
        assert set(figures) >= {"api", "raw_etcd", "ratio"}
        for side in ("api", "raw_etcd"):
            assert figures[side]["errors"] == 0
            assert set(figures[side]) >= {"ops_per_s", "p50_ms", "p99_ms"}
        assert figures["ratio"] > 0
    watch = report["results"]["watch"]
    assert watch["delivered"] == watch["expected_deliveries"] > 0
    assert watch["duplicates"] == 0
    assert {"p50_ms", "p99_ms", "max_ms"} <= set(watch["latency_from_ack"])
    assert all({"name", "target", "value", "passed"} <= set(t) for t in report["targets"])
    assert (tmp_path / "api_throughput.json").exists()
    assert (tmp_path / "api_throughput.md").read_text().startswith("# API throughput")
