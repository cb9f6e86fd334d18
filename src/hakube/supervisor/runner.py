"""Running one static pod: a process per container, restarted with back-off, killed gently then firmly.

A `ContainerRunner` owns one container's process through its `Popen` handle —
the only processes it ever signals are ones it started and has not yet
reaped, so a reused pid can never be hit. Its `tick` is one step of the
supervisor's loop (notice an exit, start when due) and returns what it did as
short sentences for the log.

Back-off: 0.5 s after the first exit, doubling up to 10 s; a run that lasted
10 s resets it. Kubelet uses 10 s doubling to 5 min (k/k pkg/kubelet
`MaxContainerBackOff`, `backOffPeriod`) because a node runs many pods pulled
over a network; a replica runs a handful of local processes that start in
about a second, and the component most likely to crash-loop is one waiting
for a neighbour (an API server whose etcd is not up yet). Starting again
after 0.5 s keeps failover within the HA targets (~2 s); capping at 10 s picks
up a recovered dependency quickly while costing a crash-looping Python
process at most one start every 10 s.

Children die with the supervisor (`PR_SET_PDEATHSIG`): they cannot be adopted
by a restarted supervisor (it is not their parent and could not reap them),
so a supervisor that dies takes its replica with it, like a machine — and a
restarted one never finds stale processes holding its ports. They share the
supervisor's process group, so the whole replica can be signalled as one.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hakube.supervisor.manifest import ContainerSpec, StaticPod

Clock = Callable[[], float]

WAITING = "waiting"  # not started yet
RUNNING = "running"
BACKOFF = "backoff"  # exited, waiting out the back-off before the next start
TERMINATING = "terminating"  # SIGTERM sent, waiting for the exit
STOPPED = "stopped"  # stopped for good (manifest removed or changed, supervisor stopping)
COMPLETED = "completed"  # exited and its restartPolicy says not to restart

_PR_SET_PDEATHSIG = 1
_SIGKILL = int(signal.SIGKILL)
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_REAP_LIMIT = 5.0  # seconds to wait for the kernel to reap a SIGKILLed process
_POLL = 0.05


def wall_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _die_with_parent(parent: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: a syscall and a comparison, nothing that takes a lock."""

    def prepare() -> None:
        if _libc is not None:
            _libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)  # the supervisor died before the signal was armed

    return prepare


def exit_code(returncode: int) -> int:
    """A shell-style exit code: death by signal N reads 128+N (137 after SIGKILL), as kubelet reports."""
    return 128 - returncode if returncode < 0 else returncode


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    cap: float = 10.0
    reset_after: float = 10.0  # a run at least this long counts as healthy

    def next(self, previous: float | None, ran_for: float) -> float:
        if previous is None or ran_for >= self.reset_after:
            return self.initial
        return min(previous * 2, self.cap)


@dataclass(frozen=True)
class ContainerSnapshot:
    name: str
    state: str
    pid: int | None
    restarts: int
    last_exit_code: int | None
    started_at: str | None  # the current run's start (or the last run's while waiting)
    last_started_at: str | None  # the previous run's start and finish (lastState.terminated)
    last_finished_at: str | None
    back_off: float | None  # the delay being waited out in BACKOFF
    reason: str | None  # why it is not running: CrashLoopBackOff, StartError, …


@dataclass(frozen=True)
class PodSnapshot:
    name: str
    namespace: str
    hash: str
    manifest: str  # file name in the manifests folder
    stop_order: int
    pod: dict[str, Any]
    started_at: str | None  # first start of any container
    ready_since: str | None
    containers: tuple[ContainerSnapshot, ...]

    @property
    def ready(self) -> bool:
        return all(c.state == RUNNING for c in self.containers)

    @property
    def state(self) -> str:
        states = {c.state for c in self.containers}
        for state in (TERMINATING, BACKOFF, WAITING, STOPPED, COMPLETED):
            if state in states:
                return state
        return RUNNING


class ContainerRunner:
    def __init__(self, *, label: str, spec: ContainerSpec, restart_policy: str, log_path: Path,
                 backoff: Backoff, clock: Clock) -> None:
        self.label = label
        self.spec = spec
        self.restart_policy = restart_policy
        self.log_path = log_path
        self.backoff = backoff
        self.clock = clock
        self.proc: subprocess.Popen[bytes] | None = None
        self.state = WAITING
        self.reason: str | None = "ContainerCreating"
        self.restarts = 0
        self.runs = 0
        self.delay: float | None = None
        self.next_start = clock()
        self.started_mono = 0.0
        self.started_at: str | None = None
        self.last_started_at: str | None = None
        self.last_finished_at: str | None = None
        self.last_exit: int | None = None
        self.retired = False  # stopped for good: never start again
        self.killing: str | None = None  # why we signalled the running process
        # Liveness probing of the current run.
        self.probe_failures = 0
        self.next_probe = 0.0
        self.probing = False

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    # -- the loop step ---------------------------------------------------------------

    def tick(self, now: float) -> list[str]:
        said: list[str] = []
        if self.proc is not None:
            code = self.proc.poll()
            if code is None:
                return said
            said.append(self._exited(exit_code(code), now))
        if self.state in (WAITING, BACKOFF) and not self.retired and now >= self.next_start:
            said.append(self._start(now))
        return said

    def _exited(self, code: int, now: float) -> str:
        ran = now - self.started_mono
        self.proc = None
        self.last_exit = code
        self.last_started_at, self.last_finished_at = self.started_at, wall_time()
        why = f" (killed: {self.killing})" if self.killing else ""
        self.killing = None
        if self.retired:
            self.state, self.reason = STOPPED, "Stopped"
            return f"{self.label} stopped (exit {code} after {ran:.1f}s)"
        if self.restart_policy == "Never" or (self.restart_policy == "OnFailure" and code == 0):
            self.state, self.reason = COMPLETED, "Completed" if code == 0 else "Error"
            return f"{self.label} exited with {code}{why}; restartPolicy {self.restart_policy}: not restarting"
        self.delay = self.backoff.next(self.delay, ran)
        self.state, self.reason = BACKOFF, "CrashLoopBackOff"
        self.next_start = now + self.delay
        return (f"{self.label} exited with {code} after {ran:.1f}s{why}; "
                f"restarting in {self.delay:g}s (back-off)")

    def _start(self, now: float) -> str:
        again = self.runs > 0
        self.runs += 1
        if again:
            self.restarts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **dict(self.spec.env)}
        try:
            fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
            try:
                self.proc = subprocess.Popen(
                    list(self.spec.argv), stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, env=env,
                    cwd=self.spec.working_dir, close_fds=True, preexec_fn=_die_with_parent(os.getpid()))
            finally:
                os.close(fd)
        except OSError as err:
            # Kubelet reports StartError and backs off; exec failures read 127/126 as in a shell.
            code = 127 if isinstance(err, FileNotFoundError) else 126
            self.last_exit, self.started_at = code, wall_time()
            self.delay = self.backoff.next(self.delay, 0.0)
            self.state, self.reason = BACKOFF, "StartError"
            self.next_start = now + self.delay
            return f"{self.label} could not start: {err}; retrying in {self.delay:g}s (back-off)"
        self.state, self.reason = RUNNING, None
        self.started_mono, self.started_at = now, wall_time()
        self.probe_failures = 0
        self.next_probe = now + (self.spec.liveness.initial_delay if self.spec.liveness else 0.0)
        if again:
            return (f"{self.label} restarted after exit {self.last_exit} (back-off {self.delay or 0:g}s), "
                    f"pid {self.proc.pid}")
        return f"{self.label} started, pid {self.proc.pid}"

    # -- liveness --------------------------------------------------------------------

    def probe_due(self, now: float) -> bool:
        return (self.spec.liveness is not None and self.state == RUNNING and not self.probing
                and self.killing is None and now >= self.next_probe)

    def probe_result(self, pid: int, failure: str | None, now: float) -> str | None:
        """Record a probe of run `pid`; a sentence when it failed, and `self.killing` set when it is to die."""
        probe = self.spec.liveness
        if probe is None or pid != self.pid or self.state != RUNNING:
            return None  # the run it probed is over
        self.next_probe = now + probe.period
        if failure is None:
            recovered = self.probe_failures > 0
            self.probe_failures = 0
            return f"{self.label} liveness probe succeeded again" if recovered else None
        self.probe_failures += 1
        if self.probe_failures < probe.failure_threshold:
            return f"{self.label} liveness probe failed ({self.probe_failures}/{probe.failure_threshold}): {failure}"
        self.killing = f"liveness probe failed {self.probe_failures} times: {failure}"
        return f"{self.label} is unhealthy ({self.killing}); restarting it"

    # -- stopping --------------------------------------------------------------------

    async def terminate(self, grace: float, *, why: str, for_good: bool) -> list[str]:
        """SIGTERM the running process, SIGKILL it after `grace` seconds; return once it has exited.

        With `for_good` it never starts again; otherwise the next tick restarts it
        with back-off (a liveness kill). SIGCONT follows SIGTERM so a stopped
        (SIGSTOPped) process can act on it; a hung one is SIGKILLed.
        """
        if for_good:
            self.retired = True
        said: list[str] = []
        proc = self.proc
        if proc is None:
            if for_good and self.state in (WAITING, BACKOFF):
                self.state, self.reason = STOPPED, "Stopped"
            return said
        if proc.poll() is None:
            self.killing = self.killing or why
            self.state = TERMINATING
            for sig in (signal.SIGTERM, signal.SIGCONT):
                proc.send_signal(sig)  # a no-op once Popen has reaped it
            if not await self._wait_exit(proc, grace):
                proc.kill()
                said.append(f"{self.label} did not exit within {grace:g}s of SIGTERM; sent SIGKILL")
                if not await self._wait_exit(proc, _REAP_LIMIT):
                    said.append(f"{self.label} (pid {proc.pid}) has not died {_REAP_LIMIT:g}s after SIGKILL")
        if for_good and self.proc is proc and proc.poll() is not None:
            said += self.tick(self.clock())
        return said

    async def _wait_exit(self, proc: subprocess.Popen[bytes], limit: float) -> bool:
        """Poll for the exit (we hold the handle, so no other waiter exists) for at most `limit` seconds."""
        deadline = self.clock() + limit
        for _ in range(int(limit / _POLL) + 2):
            if proc.poll() is not None:
                return True
            if self.clock() >= deadline:
                break
            await asyncio.sleep(_POLL)
        return proc.poll() is not None

    def snapshot(self) -> ContainerSnapshot:
        return ContainerSnapshot(
            name=self.spec.name, state=self.state, pid=self.pid, restarts=self.restarts,
            last_exit_code=self.last_exit, started_at=self.started_at, last_started_at=self.last_started_at,
            last_finished_at=self.last_finished_at, back_off=self.delay if self.state == BACKOFF else None,
            reason=self.reason)


def log_path(logs_dir: Path, pod: StaticPod, container: ContainerSpec) -> Path:
    """`<component>.log`; a second container of a pod gets `<component>-<container>.log`."""
    if len(pod.containers) == 1 or container.name == pod.name:
        return logs_dir / f"{pod.name}.log"
    return logs_dir / f"{pod.name}-{container.name}.log"


class PodRunner:
    """The containers of one static pod, each with its own process, restarts and probe."""

    def __init__(self, pod: StaticPod, *, logs_dir: Path, backoff: Backoff, clock: Clock) -> None:
        self.pod = pod
        self.containers = [
            ContainerRunner(label=pod.name if len(pod.containers) == 1 else f"{pod.name}/{c.name}", spec=c,
                            restart_policy=pod.restart_policy, log_path=log_path(logs_dir, pod, c),
                            backoff=backoff, clock=clock)
            for c in pod.containers]
        self.started_at: str | None = None
        self._ready = False
        self._ready_since: str | None = None

    def tick(self, now: float) -> list[str]:
        said = [s for c in self.containers for s in c.tick(now)]
        if self.started_at is None and any(c.started_at for c in self.containers):
            self.started_at = wall_time()
        ready = all(c.state == RUNNING for c in self.containers)
        if ready != self._ready:
            self._ready, self._ready_since = ready, wall_time() if ready else None
        return said

    def grace_for(self, container: ContainerRunner) -> float:
        probe = container.spec.liveness
        if probe is not None and probe.grace_period is not None:
            return probe.grace_period
        return self.pod.grace_period

    async def stop(self, why: str) -> list[str]:
        """Stop every container for good, concurrently, each within the pod's grace period."""
        results = await asyncio.gather(*(c.terminate(self.pod.grace_period, why=why, for_good=True)
                                         for c in self.containers))
        self.tick(self.containers[0].clock())
        return [s for said in results for s in said]

    def snapshot(self) -> PodSnapshot:
        return PodSnapshot(
            name=self.pod.name, namespace=self.pod.namespace, hash=self.pod.hash, manifest=self.pod.source.name,
            stop_order=self.pod.stop_order, pod=self.pod.pod, started_at=self.started_at,
            ready_since=self._ready_since, containers=tuple(c.snapshot() for c in self.containers))
