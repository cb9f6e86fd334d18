"""bench/chaos.py end to end: a real 3-replica multizone cluster, a workload, faults, and the checker.

The short run (kill + stop, ~60 s of workload plus cluster start and heal) is in
the default suite and fails on any lost write or linearizability violation; the
run with every fault kind is marked slow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


def chaos(tmp_path: Path, *, duration: int, faults: str, seed: int, timeout: float) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(BENCH), "--duration", str(duration), "--faults", faults,
                           "--seed", str(seed), "--json", "--out", str(tmp_path),
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


def test_chaos_kill_and_stop(tmp_path: Path) -> None:
    report = chaos(tmp_path, duration=60, faults="kill,stop", seed=7, timeout=400)
    assert_safe(report)
    assert {f["kind"] for f in report["faults"]} == {"kill", "stop"}


@pytest.mark.slow
def test_chaos_every_fault(tmp_path: Path) -> None:
    report = chaos(tmp_path, duration=150, faults="kill,stop,leader,leases,zone,member-replace", seed=11,
                   timeout=900)
    assert_safe(report)
    assert len({f["kind"] for f in report["faults"]}) >= 5
