"""bench/ha_lb.py runs end to end and reports in the shape DESIGN.md §7 asks for."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ha_lb.py"


@pytest.mark.slow
def test_ha_lb_quick(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:] + proc.stdout[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("settings", "machine", "results", "baseline", "ratio", "mechanism", "targets", "all_pass", "notes"):
        assert key in report
    results = report["results"]
    assert results["failed_requests"] == 0 and results["requests_ok"] > 0
    assert len(results["trials"]) == 2
    assert all(t["creation_s"] <= 5 and t["removal_s"] <= 5 and t["lb_sessions_served"] > 0
               for t in results["trials"])
    assert report["mechanism"]["steered"]["failed"] == 0
    assert (tmp_path / "ha_lb.md").read_text().startswith("# Load balancer creation and removal")
