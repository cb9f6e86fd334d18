"""bench/chaos.py end to end: a real 3-replica multizone cluster (with network fault proxies), a workload,
faults, and the checker.

The short run (170 s of workload, every fault kind at least once: kill, stop,
isolate, zone, member-replace, leader, leases) is in the default suite and
fails on any lost write, linearizability violation or stale read; a 10-minute
run is marked slow (the 30-minute one is `bench/chaos.py --duration 1800`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


EVERY_FAULT = "kill,stop,isolate,zone,member-replace,leader,leases"


def chaos(tmp_path: Path, *, duration: int, faults: str, seed: int, timeout: float,
          extra: tuple[str, ...] = ()) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(BENCH), "--duration", str(duration), "--faults", faults,
                           "--seed", str(seed), "--json", "--out", str(tmp_path), *extra,
                           "--history", str(tmp_path / "history")],
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("operations", "acknowledged_writes", "lost_writes", "linearizable", "violations", "stale_reads",
                "availability", "faults"):
        assert key in report
    assert (tmp_path / "chaos.json").exists() and (tmp_path / "chaos.md").exists()
    return report


def assert_safe(report: dict[str, Any]) -> None:
    summary = {k: report[k] for k in ("linearizable", "lost_writes", "violations", "faults", "errors")}
    assert report["acknowledged_writes"] > 0, summary
    assert report["linearizable"] is True, summary
    assert report["lost_writes"] == 0 and report["duplicated_increments"] == 0, summary
    assert report["creates"]["lost"] == 0, summary
    assert report["stale_reads"] == 0, summary
    assert report["watch"]["ok"], report["watch"]
    assert report["faults"] and all("error" not in f for f in report["faults"]), summary


def test_chaos_every_fault_kind(tmp_path: Path) -> None:
    """≤ 3 minutes of workload; short holds (3 s: past etcd's 1 s election timeout and HAProxy's ejection)."""
    report = chaos(tmp_path, duration=170, faults=EVERY_FAULT, seed=5, timeout=600,
                   extra=("--hold", "3", "--cooldown", "1"))
    assert_safe(report)
    assert {f["kind"] for f in report["faults"]} == set(EVERY_FAULT.split(","))
    assert all(f.get("healed") is not None for f in report["faults"]), report["faults"]
    assert sum(report["timeline"]["ok"]) > 0


@pytest.mark.slow
def test_chaos_ten_minutes(tmp_path: Path) -> None:
    report = chaos(tmp_path, duration=600, faults=EVERY_FAULT, seed=11, timeout=1500)
    assert_safe(report)
    assert report["availability"] >= 0.99
