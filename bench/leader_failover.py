#!/usr/bin/env python3
"""Leader handover time of the controller-manager and the scheduler (issue 4, DESIGN.md §7).

On one etcd and one API server of its own, two copies of a component campaign
for their Lease; the active one is sent SIGTERM (it releases the lease on the
way out, the standby watches the Lease and takes over at once) or SIGKILL (no
release: the standby waits out the lease on its own clock). A watch on the
Lease sees the new holder; handover = that watch event − the signal (both on
this process's clock). The Lease's acquireTime − the signal's wall-clock time
is reported too. After each trial a fresh standby is started, so the next
trial signals the new leader. Election timings default to 5/3/1 s (the
kube-vip values PERF-RELIABILITY.md proposes as the stretch config).

    python bench/leader_failover.py [--json] [--trials N] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from api_throughput import _clean, pct

SCRIPT = Path(__file__).resolve()
RESULTS_DIR = SCRIPT.parent / "results"
COMPONENTS = {"controller-manager": ("hakube.controllers", "kube-controller-manager"),
              "scheduler": ("hakube.scheduler", "kube-scheduler")}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    p.add_argument("--quick", action="store_true", help="3 trials each")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--lease-duration", type=float, default=5.0)
    p.add_argument("--renew-deadline", type=float, default=3.0)
    p.add_argument("--retry-period", type=float, default=1.0)
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    args = p.parse_args(argv)
    if args.quick:
        args.trials = 3
    if args.trials < 1:
        p.error("--trials must be at least 1")
    return args


def micro_time(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class Holders:
    """Follows the Lease through a watch: (monotonic time, wall time, holder, acquireTime) per change."""

    def __init__(self) -> None:
        self.changes: list[tuple[float, str, float | None]] = []
        self.changed = asyncio.Event()

    def current(self) -> str:
        return self.changes[-1][1] if self.changes else ""

    async def follow(self, client: Any, lease: str) -> None:
        from hakube.client.api import LEASES, ApiError

        for _ in range(10_000):  # re-watch after the server's timeout; bounded
            try:
                listing = await client.list(LEASES, "kube-system", field_selector=f"metadata.name={lease}")
                for item in listing["items"]:
                    self._note(item)
                async for _kind, obj in client.watch(LEASES, "kube-system", field_selector=f"metadata.name={lease}",
                                                     resource_version=listing["metadata"]["resourceVersion"],
                                                     timeout_seconds=300, bookmarks=False):
                    self._note(obj)
            except ApiError:
                await asyncio.sleep(0.1)

    def _note(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        holder = str(spec.get("holderIdentity") or "")
        if holder != self.current():
            self.changes.append((time.monotonic(), holder, micro_time(spec.get("acquireTime"))))
            self.changed.set()

    async def wait_for(self, predicate: Any, timeout: float) -> tuple[float, str, float | None]:
        deadline = time.monotonic() + timeout
        for _ in range(100_000):
            for change in reversed(self.changes):
                if predicate(change[1]):
                    return change
            self.changed.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                break
        raise RuntimeError(f"no matching holder within {timeout}s (now {self.current()!r})")


def start(module: str, kubeconfig: Path, prefix: str, args: argparse.Namespace, log_path: Path
          ) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", module, f"--kubeconfig={kubeconfig}", "--leader-elect=true",
            f"--identity-prefix={prefix}", f"--leader-elect-lease-duration={args.lease_duration}",
            f"--leader-elect-renew-deadline={args.renew_deadline}", f"--leader-elect-retry-period={args.retry_period}"]
    with open(log_path, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(15)


async def trials_for(stack: Any, name: str, args: argparse.Namespace) -> dict[str, Any]:
    from hakube.client.api import ApiClient, Credentials

    module, lease = COMPONENTS[name]
    kubeconfig = stack.kubeconfig(0)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    counter = iter(range(10_000))
    out: dict[str, Any] = {}
    async with ApiClient(Credentials.from_kubeconfig(kubeconfig)) as client:
        holders = Holders()
        follower = asyncio.create_task(holders.follow(client, lease), name=f"follow-{lease}")

        def spawn() -> str:
            prefix = f"{name}-{next(counter)}"
            procs[prefix] = start(module, kubeconfig, prefix, args, stack.root / f"{prefix}.log")
            return prefix

        try:
            first = spawn()
            await holders.wait_for(lambda h: h.startswith(first + "_"), 30)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                samples, by_acquire = [], []
                for trial in range(args.trials):
                    standby = spawn()
                    await asyncio.sleep(2.0 + args.retry_period)  # started, synced, campaigning (watching)
                    holder = holders.current()
                    leader = holder.split("_")[0]
                    sent_wall, sent = time.time(), time.monotonic()
                    os.kill(procs[leader].pid, sig)
                    at, new, acquired = await holders.wait_for(lambda h, s=standby: h.startswith(s + "_"),
                                                               args.lease_duration * 3 + 10)
                    samples.append(at - sent)
                    if acquired is not None:
                        by_acquire.append(acquired - sent_wall)
                    procs[leader].wait(15)
                    log(f"  {name} {sig.name} trial {trial + 1}: {new} after {(at - sent) * 1e3:.0f} ms")
                out[sig.name] = {"trials": len(samples), "p50_s": round(pct(samples, 0.5), 3),
                                 "p99_s": round(pct(samples, 0.99), 3), "max_s": round(max(samples), 3),
                                 "acquire_time_p50_s": round(pct(by_acquire, 0.5), 3) if by_acquire else None,
                                 "samples_s": [round(x, 3) for x in samples]}
        finally:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
            for proc in procs.values():
                stop(proc)
    return out


async def measure(stack: Any, args: argparse.Namespace) -> dict[str, Any]:
    return {name: await trials_for(stack, name, args) for name in COMPONENTS}


def judge(results: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    checks = []
    for name, r in results.items():
        term, kill = r["SIGTERM"]["p99_s"], r["SIGKILL"]["p99_s"]
        checks.append({"name": f"{name}: SIGTERM handover p99 (s)", "target": "<= 1", "value": term,
                       "passed": term <= 1.0})
        bound = args.lease_duration + args.retry_period
        checks.append({"name": f"{name}: SIGKILL handover p99 (s)", "target": f"<= {bound:g} (lease + retry)",
                       "value": kill, "passed": kill <= bound})
    return checks


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from hakube.testing import LocalStack

    stack = LocalStack.create()
    try:
        stack.start_etcd()
        stack.start_apiserver()
        results = asyncio.run(measure(stack, args))
    finally:
        stack.cleanup()
    report: dict[str, Any] = {
        "benchmark": "leader_failover", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "settings": {"trials": args.trials, "lease_duration": args.lease_duration,
                     "renew_deadline": args.renew_deadline, "retry_period": args.retry_period},
        "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "notes": ["handover = watch event showing the standby as holder - the signal (monotonic, this process)",
                  "acquire_time_p50_s = Lease acquireTime - the signal's wall-clock time"],
        "results": results,
    }
    report["targets"] = judge(results, args)
    report["all_pass"] = all(c["passed"] for c in report["targets"])
    report = _clean(report)
    lines = [f"leader failover: {args.trials} trials, lease {args.lease_duration:g}/{args.renew_deadline:g}/"
             f"{args.retry_period:g} s"]
    for name, r in results.items():
        for sig, row in r.items():
            lines.append(f"  {name:<19} {sig:<8} p50 {row['p50_s']:.3f} s  p99 {row['p99_s']:.3f} s  "
                         f"max {row['max_s']:.3f} s  (acquireTime p50 {row['acquire_time_p50_s']})")
    for c in report["targets"]:
        lines.append(f"  {'PASS' if c['passed'] else 'FAIL'}  {c['name']}: {c['value']} (target {c['target']})")
    text = "\n".join(lines)
    print(text, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "leader_failover.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "leader_failover.md").write_text(f"# leader failover\n\n{report['time']}\n\n```\n{text}\n```\n")
    if args.json:
        print(json.dumps(report, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
