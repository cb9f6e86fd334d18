#!/usr/bin/env python3
"""Run every benchmark in bench/ within a time budget, then write bench/REPORT.md (`make bench`).

Each benchmark runs as its own process with settings chosen so that the whole
set fits in 30 minutes on a 2-core machine; its wall time and exit code go to
results/run_all.json, its output to results/logs/<name>.log. A benchmark that
fails or runs out of time is recorded and the next one runs. The machine
facts (cores, disk fsync, loopback RTT) are measured once at the start, for
the report's captions of benchmarks that do not record them themselves.

    python bench/run_all.py [--quick] [--only a,b] [--skip a,b] [--budget 1800] [--no-report]

Budget per benchmark on 2 cores (expected wall time / hard cap), from each script's settings and the
durations of earlier runs; the caps add up to more than the budget, the run as a whole is cut at --budget:

    api_throughput         ~60 s / 240 s  own etcd + API server: 9k creates, 15k GETs, 100 LISTs of 1k objects,
                                          500 watchers x 200 writes at 20/s (quick run: ~3 s)
    replica_throughput    ~150 s / 420 s  clusters of 1, 3 and 5 replicas (up ~3/10/26 s, down ~4/13/36 s),
                                          5k creates, 8k GETs, 50 LISTs on each (quick run with 1 and 3: ~31 s)
    chaos                 ~330 s / 600 s  two 3-replica clusters (quorum, then serializable reads), 100 s of
                                          every fault kind each, then the linearizability check (quick run:
                                          one 30 s run, kill and isolate: ~60 s)
    ha_lb                  ~60 s / 240 s  5 trials of LB creation + removal (~6 s each) + the kernel mechanism
                                          (quick run, 2 trials: ~16 s)
    ha_add_replica         ~90 s / 300 s  one cluster, adds at 10, 25, 50 and 100 MB (4-7 s each, a remove between;
                                          quick run at 5 and 20 MB: ~46 s)
    scheduler_throughput   ~60 s / 240 s  100 nodes, 2,000 pods: naive binder baseline, then the scheduler
                                          (quick run, 300 pods: ~12 s)
    density               ~150 s / 420 s  100 hollow nodes, 1,500 pods in each of steady (50 pods/s), burst and
                                          saturation, namespace deleted after each (quick run, 300 pods: ~42 s)
    ha_failover           ~245 s / 360 s  one 3-replica cluster, 5 trials x (etcd leader, API server only) kills,
                                          ~22 s per kill (quick run, 1 trial with 3 s of load: ~67 s)
    leader_failover       ~115 s / 240 s  5 trials x SIGTERM/SIGKILL x 2 components, ~3 s (SIGTERM) or ~8 s
                                          (SIGKILL waits the 5 s lease) each (quick run, 3 trials: ~70 s)
    report                 ~10 s          bench/report.py
    total               ~1,200 s (20 min) expected; at most --budget (30 min) by construction
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hacluster import RESULTS_DIR, log, machine_facts

HERE = Path(__file__).resolve().parent
BUDGET_S = 1800.0
REPORT_RESERVE_S = 60.0  # kept back from the benchmarks for writing the report
GRACE_S = 90.0  # after SIGINT, time for a benchmark's `finally` to tear its cluster down
KILL_WAIT_S = 30.0  # after SIGKILL to its group, for the benchmark's process to be reaped
MIN_START_S = 30.0 + GRACE_S + KILL_WAIT_S  # do not start a benchmark with less time than this left
# Every process a benchmark starts inherits this variable, detached ones (cluster supervisors, etcd,
# HAProxy) included: what is still marked once the benchmark has exited was left behind by it.
MARK = "HAKUBE_BENCH_RUN"


@dataclass(frozen=True)
class Bench:
    name: str
    args: tuple[str, ...]  # full run
    quick: tuple[str, ...]  # smoke run (`--quick`)
    cap_s: float  # hard limit for the full run


BENCHMARKS = (
    Bench("api_throughput", (), ("--quick",), 240),
    Bench("replica_throughput", ("--replicas", "1,3,5"), ("--quick", "--replicas", "1,3"), 420),
    Bench("chaos", ("--compare-quorum-reads", "--duration", "100", "--hold", "3", "--cooldown", "1", "--faults",
                    "kill,stop,isolate,zone,member-replace,leader,leases", "--seed", "3"),
          ("--duration", "30", "--hold", "3", "--faults", "kill,isolate"), 600),
    Bench("ha_lb", ("--trials", "5"), ("--quick",), 240),
    Bench("ha_add_replica", ("--sizes", "10,25,50,100"), ("--sizes", "5,20"), 300),
    Bench("scheduler_throughput", (), ("--quick",), 240),
    Bench("density", ("--nodes", "100", "--pods", "1500"), ("--quick",), 420),
    Bench("ha_failover", ("--trials", "5"), ("--trials", "1", "--observe", "3"), 360),
    Bench("leader_failover", ("--trials", "5"), ("--quick",), 240),
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="each benchmark's smallest settings (a smoke run)")
    p.add_argument("--only", help="comma-separated benchmark names to run")
    p.add_argument("--skip", help="comma-separated benchmark names not to run")
    p.add_argument("--budget", type=float, default=BUDGET_S, help="seconds for everything (default 1800)")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="results folder (default bench/results)")
    p.add_argument("--no-report", action="store_true", help="do not run bench/report.py at the end")
    args = p.parse_args(argv)
    names = {b.name for b in BENCHMARKS}
    for option in (args.only, args.skip):
        unknown = {x for x in (option or "").split(",") if x} - names
        if unknown:
            p.error(f"unknown benchmarks: {', '.join(sorted(unknown))} (known: {', '.join(sorted(names))})")
    return args


def selected(args: argparse.Namespace) -> list[Bench]:
    only = {x for x in (args.only or "").split(",") if x}
    skip = {x for x in (args.skip or "").split(",") if x}
    return [b for b in BENCHMARKS if (not only or b.name in only) and b.name not in skip]


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT first, so the benchmark's `finally` blocks tear down what it started; then its whole group."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(GRACE_S)
        return
    except subprocess.TimeoutExpired:
        pass
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(KILL_WAIT_S)


def marked(token: str) -> list[int]:
    """Live processes whose environment carries this benchmark's mark."""
    needle = f"{MARK}={token}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                pids.append(int(entry.name))
        except OSError:  # gone, or not ours to read
            continue
    return pids


def sweep(token: str) -> int:
    """End what a benchmark left running (e.g. a cluster whose `hakube up` was interrupted): SIGTERM, then SIGKILL.

    A leftover cluster would otherwise eat the cores of every benchmark after it.
    """
    left = marked(token)
    for pid in left:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while marked(token) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in marked(token):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(left)


def tail(path: Path, lines: int = 15) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def run_one(bench: Bench, args: tuple[str, ...], out: Path, timeout: float, logs: Path) -> dict[str, Any]:
    """Run one benchmark to its end or its timeout; what happened, for run_all.json."""
    log_path = logs / f"{bench.name}.log"
    argv = [sys.executable, str(HERE / f"{bench.name}.py"), *args, "--out", str(out)]
    token = uuid.uuid4().hex
    started = time.monotonic()
    timed_out = False
    with open(log_path, "wb") as sink:
        # A session of its own: on a timeout its children (etcd, API servers, HAProxy) can be reached as a group.
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=HERE.parent, start_new_session=True, env={**os.environ, MARK: token})
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            stop(proc)
            code = proc.returncode
    leftovers = sweep(token)
    entry: dict[str, Any] = {"name": bench.name, "args": list(args), "timeout_s": round(timeout),
                             "wall_s": round(time.monotonic() - started, 1), "exit_code": code,
                             "timed_out": timed_out, "leftover_processes_ended": leftovers,
                             "log": str(log_path.relative_to(HERE.parent)) if log_path.is_relative_to(HERE.parent)
                             else log_path.name}
    if code != 0:
        entry["log_tail"] = tail(log_path)
    return entry


def write_report(results: Path) -> dict[str, Any]:
    started = time.monotonic()
    try:
        code: int | None = subprocess.call([sys.executable, str(HERE / "report.py"), "--results", str(results)],
                                           cwd=HERE.parent, timeout=REPORT_RESERVE_S * 3)
    except subprocess.TimeoutExpired:
        code = None
    return {"exit_code": code, "wall_s": round(time.monotonic() - started, 1)}


def save(out: Path, summary: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "run_all.json").write_text(json.dumps(summary, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    deadline = time.monotonic() + args.budget - (0 if args.no_report else REPORT_RESERVE_S)
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                               "quick": args.quick, "budget_s": args.budget,
                               "machine": machine_facts(args.out), "benchmarks": []}
    began = time.monotonic()
    for bench in selected(args):
        left = deadline - time.monotonic()
        if left < MIN_START_S:
            log(f"{bench.name}: skipped, {left:.0f}s of the budget left")
            summary["benchmarks"].append({"name": bench.name, "skipped": "out of time", "exit_code": None})
            continue
        settings = bench.quick if args.quick else bench.args
        # The grace period counts against the budget too: a benchmark cut short still tears down.
        timeout = max(1.0, min(bench.cap_s, left - GRACE_S - KILL_WAIT_S))
        log(f"{bench.name}: {' '.join(settings) or '(defaults)'} (up to {timeout:.0f}s)")
        entry = run_one(bench, settings, args.out, timeout, logs)
        log(f"{bench.name}: exit {entry['exit_code']}{' (timed out)' if entry['timed_out'] else ''} "
            f"after {entry['wall_s']}s")
        summary["benchmarks"].append(entry)
        save(args.out, summary)  # progress survives an interrupted run
    summary["benchmarks_s"] = round(time.monotonic() - began, 1)
    save(args.out, summary)
    if not args.no_report:
        summary["report"] = write_report(args.out)
    summary["total_s"] = round(time.monotonic() - began, 1)
    save(args.out, summary)
    failed = [b["name"] for b in summary["benchmarks"] if b.get("exit_code") != 0]
    log(f"done in {summary['total_s']:.0f}s; " + (f"not ok: {', '.join(failed)}" if failed else "all ok"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
