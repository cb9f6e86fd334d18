"""bench/report.py and the sample helpers in bench/hacluster.py: the pure parts, and a report on thin results."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str) -> ModuleType:
    """A bench/ script as a module (bench/ is not a package; its scripts import each other by name)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


report = load("report")
hacluster = load("hacluster")


# -- hacluster: bounded samples ----------------------------------------------------------------------


def test_cdf_points_small_sample_keeps_every_value() -> None:
    assert hacluster.cdf_points([3.0, 1.0, 2.0, 4.0]) == [[1.0, 0.25], [2.0, 0.5], [3.0, 0.75], [4.0, 1.0]]
    assert hacluster.cdf_points([]) == []


def test_cdf_points_large_sample_is_bounded_with_a_dense_tail() -> None:
    samples = [float(i) for i in range(1, 100_001)]
    points = hacluster.cdf_points(samples, max_points=100)
    assert len(points) <= 100
    assert points[0] == [1.0, 0.00001]
    assert points[-1] == [100_000.0, 1.0]
    values = [p[0] for p in points]
    fractions = [p[1] for p in points]
    assert values == sorted(values) and fractions == sorted(fractions)
    # Nearest rank, as percentile() has it: the value at fraction q is the q-quantile.
    assert all(v == pytest.approx(f * 100_000, abs=1) for v, f in points)
    assert sum(1 for f in fractions if f >= 0.99) >= 20  # the top 1% is drawn in detail


def test_bucket_counts_and_fit_bucket() -> None:
    assert hacluster.bucket_counts([0.0, 0.05, 0.1, 0.25, 0.3, 9.0], start=0.0, end=0.3, bucket_s=0.1) == [2, 1, 1]
    assert hacluster.bucket_counts([], start=5.0, end=5.0, bucket_s=1.0) == [0]
    assert hacluster.fit_bucket(10.0, 0.1, max_buckets=600) == 0.1
    assert hacluster.fit_bucket(600.0, 0.1, max_buckets=600) == pytest.approx(1.6)


# -- report: pure logic ---------------------------------------------------------------------------------


def test_machine_facts_from_either_shape_with_run_start_fallback() -> None:
    api = {"cores": 2, "loopback_rtt": {"p50_us": 7.3, "p99_us": 10.9}, "etcd_fsync": {"p50_ms": 0.3, "p99_ms": 1.8}}
    m = report.machine_of(api)
    assert (m.cores, m.fsync_p50_ms, m.rtt_p99_us, m.borrowed) == (2, 0.3, 10.9, ())
    assert "etcd put (fsync proxy) p50/p99 0.30/1.80 ms" in m.caption()

    run_start = {"cores": 2, "fsync_ms": {"p50": 0.05, "p99": 0.4}, "loopback_rtt_us": {"p50": 3.0, "p99": 4.0}}
    m = report.machine_of({"cores": 2, "loopback_rtt": {"p50_us": 5.0, "p99_us": 6.0}}, run_start)
    assert (m.fsync_what, m.fsync_p50_ms, m.rtt_p50_us, m.borrowed) == ("disk fsync", 0.05, 5.0, ("fsync",))
    assert "measured at the start of the run" in m.caption()

    assert "not recorded" in report.machine_of(None).caption()


def test_cdf_from_summary_and_rates() -> None:
    assert report.cdf_from_summary({"p50_ms": 2.0, "p99_ms": 9.0, "max_ms": 12.0, "mean_ms": 3.0}) == [
        [2.0, 0.5], [9.0, 0.99], [12.0, 1.0]]
    assert report.cdf_from_summary({"p50": None}) == []
    assert report.rate_before([10, 20, 20, 99], 1.0, until=3.0, skip_s=1.0) == 20.0
    assert report.rate_before([10], 1.0, until=0.5) is None
    assert report.rate_outside([10, 0, 0, 10], 0.5, [(0.6, 1.4)]) == 20.0


def test_fault_windows_and_chaos_runs() -> None:
    faults = [{"kind": "kill", "start": 5.0, "heal_start": 10.0, "healed": 14.0}, {"kind": "stop", "start": 20.0}]
    assert [w[:2] for w in report.fault_windows(faults, 30.0)] == [(5.0, 10.0), (10.0, 14.0), (20.0, 30.0),
                                                                   (30.0, 30.0)]
    assert report.chaos_runs({"runs": [{"a": 1}, "junk"]}) == [{"a": 1}]
    assert report.chaos_runs({"faults": []}) == [{"faults": []}]
    assert report.chaos_runs(None) == []


def test_fault_kinds_table_sums_failed_probes_and_their_reasons() -> None:
    runs = [{"quorum_reads": True, "faults": [
        {"kind": "stop", "start": 1.0, "healed": 4.0, "probes_failed": 2,
         "probe_failure_reasons": {"TimeoutError": 1, "ClientConnectorError": 1}},
        {"kind": "stop", "start": 10.0, "healed": 11.0, "probes_failed": 1,
         "probe_failure_reasons": {"TimeoutError": 1}},
        {"kind": "kill", "start": 20.0, "healed": 30.0, "probes_failed": 0},
        {"kind": "kill", "error": "not healthy", "at": 40.0}]}]
    lines = report.fault_kinds_table(runs)
    assert "| quorum | stop | 2 | 2.0 | 3 | TimeoutError ×2, ClientConnectorError ×1 |" in lines
    assert "| quorum | kill | 1 | 10.0 | 0 | – |" in lines


# -- report: the whole thing on thin results -------------------------------------------------------------


def test_report_on_no_results_says_not_measured(tmp_path: Path) -> None:
    text = report.build(tmp_path / "nothing", tmp_path / "REPORT.md", tmp_path / "figures", plots=False)
    assert text == (tmp_path / "REPORT.md").read_text()
    assert text.count("Not measured in this run") == len(report.SECTIONS)
    assert not (tmp_path / "figures").exists()


def test_report_with_chaos_timeline_and_a_broken_file(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "density.json").write_text("{not json")
    run = {"quorum_reads": True, "faults": [{"kind": "kill", "replicas": ["r1"], "start": 3.0, "heal_start": 5.0,
                                             "healed": 7.0}],
           "read_latency_ms": {"p50": 4.0, "p99": 30.0, "mean": 6.0}, "operations": 100,
           "timeline": {"bucket_s": 1.0, "ok": [10, 10, 10, 2, 1, 8, 10, 10, 10, 10], "fail": [0, 0, 0, 3, 2, 0, 0, 0,
                                                                                               0, 0],
                        "unknown": [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]}}
    (results / "chaos.json").write_text(json.dumps(run))
    (results / "run_all.json").write_text(json.dumps({
        "started": "2026-01-01T00:00:00Z", "budget_s": 1800, "benchmarks_s": 12.0,
        "machine": {"cores": 2, "fsync_ms": {"p50": 0.1, "p99": 0.5}, "loopback_rtt_us": {"p50": 3.0, "p99": 5.0}},
        "benchmarks": [{"name": "chaos", "args": ["--duration", "10"],
                        "wall_s": 12.0, "exit_code": 0}]}))
    figures = tmp_path / "figures"
    (figures).mkdir()
    (figures / "stale.png").write_bytes(b"old")
    plots = report.pyplot() is not None
    text = report.build(results, tmp_path / "REPORT.md", figures, plots=plots)
    assert "density.json: unreadable" in text
    assert "| chaos | `--duration 10` | 12.0 | 0 |" in text
    assert "10.0 ok requests/s before the first fault" in text  # seconds 1-2: the first bucket is skipped
    assert "disk fsync p50/p99 0.10/0.50 ms" in text
    assert "serializable counterpart" in text
    assert not (figures / "stale.png").exists()
    if plots:
        assert "![chaos timelines](figures/chaos_timeline.png)" in text
        assert (figures / "chaos_timeline.png").read_bytes().startswith(b"\x89PNG")

