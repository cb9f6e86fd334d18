"""The supervisor's loop: make the running processes match the manifests folder.

Every 0.5 s the folder is read (content hashes, no inotify); every 0.1 s the
loop reconciles: a new manifest gets a `PodRunner`, a removed one is stopped,
a changed one is stopped and then started afresh (a new pod, as for kubelet:
restart counts start over). Stops run as tasks, so one slow component never
holds up the others. A manifest that cannot be parsed is reported once and,
if an earlier version of it runs, that version keeps running: a typo in a file
must not take a control-plane component down (kubelet would drop the pod).

On SIGTERM the components stop by their stop order, highest first (the API's
clients, then the API server, etcd last), each group within its
terminationGracePeriodSeconds before SIGKILL; nothing restarts meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any

import aiohttp

from hakube.supervisor import probe
from hakube.supervisor.manifest import ManifestError, StaticPod, content_hash, manifest_files, parse_manifest
from hakube.supervisor.node import NodeAgent, NodeSettings, region_of
from hakube.supervisor.runner import Backoff, ContainerRunner, PodRunner, PodSnapshot, wall_time
from hakube.supervisor.status import component_entry, write_json_atomic

log = logging.getLogger("hakube.supervisor")

STATUS_REFRESH = 5.0  # rewrite the status file at least this often, so readers can tell it is alive


@dataclass(frozen=True)
class SupervisorConfig:
    replica: str
    replica_dir: Path
    zone: str = ""
    region: str = ""
    node_ip: str | None = None
    kubeconfig: Path | None = None
    node_lease_duration: float = 40.0
    scan_interval: float = 0.5
    tick_interval: float = 0.1
    backoff: Backoff = field(default_factory=Backoff)

    @property
    def manifests_dir(self) -> Path:
        return self.replica_dir / "manifests"

    @property
    def logs_dir(self) -> Path:
        return self.replica_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.replica_dir / "run"

    @property
    def status_file(self) -> Path:
        return self.run_dir / "supervisor.json"


class Supervisor:
    def __init__(self, config: SupervisorConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.clock = clock
        self.runners: dict[str, PodRunner] = {}
        self.retiring: dict[str, tuple[PodRunner, asyncio.Task[list[str]]]] = {}
        self.desired: dict[str, StaticPod] = {}
        self.state = "running"
        self.agent: NodeAgent | None = None
        if config.kubeconfig is not None:
            self.agent = NodeAgent(NodeSettings(
                name=config.replica, kubeconfig=config.kubeconfig, zone=config.zone, region=config.region,
                node_ip=config.node_ip, lease_duration=config.node_lease_duration), self.snapshot, clock=clock)
        self._parsed: dict[Path, StaticPod] = {}  # last good version of each file
        self._refused: dict[Path, str] = {}  # file → hash of content already reported as unusable
        self._tasks: set[asyncio.Task[None]] = set()
        self._status_text = ""
        self._status_written = 0.0
        self._session: aiohttp.ClientSession | None = None

    def say(self, sentences: list[str]) -> None:
        for sentence in sentences:
            log.info("%s: %s", self.config.replica, sentence)

    # -- reading the folder -----------------------------------------------------------

    def scan(self) -> list[str]:
        """Read the manifests folder into `self.desired`; what cannot be used is said once."""
        said: list[str] = []
        desired: dict[str, StaticPod] = {}
        files = manifest_files(self.config.manifests_dir)
        for path in files:
            try:
                data = path.read_bytes()
            except OSError:
                continue  # removed between listing and reading
            known = self._parsed.get(path)
            pod = known
            if known is None or known.hash != content_hash(data):
                try:
                    pod = parse_manifest(data, path)
                    self._parsed[path] = pod
                    self._refused.pop(path, None)
                except ManifestError as err:
                    if self._refused.get(path) != content_hash(data):
                        self._refused[path] = content_hash(data)
                        keep = f"; {known.name} keeps running its previous version" if known else ""
                        said.append(f"ignoring manifest {path.name}: {err}{keep}")
            if pod is None:
                continue
            if pod.name in desired:
                if self._refused.get(path) != f"dup:{pod.hash}":
                    self._refused[path] = f"dup:{pod.hash}"
                    said.append(f"ignoring manifest {path.name}: {pod.name} is already defined by "
                                f"{desired[pod.name].source.name}")
                continue
            desired[pod.name] = pod
        for gone in set(self._parsed) - set(files):
            del self._parsed[gone]
            self._refused.pop(gone, None)
        self.desired = desired
        return said

    # -- one step of the loop ---------------------------------------------------------

    def reconcile(self) -> list[str]:
        said: list[str] = []
        for name, (_runner, task) in list(self.retiring.items()):
            if task.done():
                del self.retiring[name]
                if task.cancelled():
                    continue
                if task.exception() is not None:
                    log.error("%s: stopping %s failed", self.config.replica, name, exc_info=task.exception())
                else:
                    said += task.result()
        for name, runner in list(self.runners.items()):
            pod = self.desired.get(name)
            if pod is None:
                said.append(f"stopping {name}: its manifest was removed")
                self._retire(runner, "manifest removed")
            elif pod.hash != runner.pod.hash:
                said.append(f"restarting {name}: its manifest changed ({runner.pod.hash[:8]} → {pod.hash[:8]})")
                self._retire(runner, "manifest changed")
        for name, pod in self.desired.items():
            if name not in self.runners and name not in self.retiring:
                self.runners[name] = PodRunner(pod, logs_dir=self.config.logs_dir, backoff=self.config.backoff,
                                               clock=self.clock)
        return said

    def _retire(self, runner: PodRunner, why: str) -> None:
        del self.runners[runner.pod.name]
        task = asyncio.create_task(runner.stop(why), name=f"stop-{runner.pod.name}")
        self.retiring[runner.pod.name] = (runner, task)

    def tick(self, now: float) -> list[str]:
        said: list[str] = []
        for runner in self.runners.values():
            said += runner.tick(now)
            for container in runner.containers:
                if container.probe_due(now):
                    container.probing = True  # until the probe task has an answer
                    self._spawn(self._probe(runner, container), f"probe-{runner.pod.name}-{container.spec.name}")
        return said

    def _spawn(self, coro: Any, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: task %s failed", self.config.replica, task.get_name(), exc_info=task.exception())

    async def _probe(self, runner: PodRunner, container: ContainerRunner) -> None:
        spec = container.spec.liveness
        pid = container.pid
        try:
            if spec is None or pid is None or self._session is None:
                return
            failure = await probe.check(spec, default_host=self.config.node_ip or "127.0.0.1",
                                        session=self._session)
        finally:
            container.probing = False
        sentence = container.probe_result(pid, failure, self.clock())
        if sentence:
            self.say([sentence])
        if container.killing is not None and container.pid == pid and self.state == "running":
            self.say(await container.terminate(runner.grace_for(container), why=container.killing, for_good=False))

    # -- status -----------------------------------------------------------------------

    def snapshot(self) -> list[PodSnapshot]:
        """Every static pod the supervisor runs (those being stopped too, until they are gone)."""
        pods = {name: runner.snapshot() for name, (runner, _task) in self.retiring.items()}
        if self.state == "running":
            pods.update((name, runner.snapshot()) for name, runner in self.runners.items())
            return [pods[name] for name in sorted(pods) if name in self.desired]
        pods.update((name, runner.snapshot()) for name, runner in self.runners.items())
        return [pods[name] for name in sorted(pods)]

    def status_document(self) -> dict[str, Any]:
        pods = {name: runner.snapshot() for name, (runner, _task) in self.retiring.items()}
        pods.update((name, runner.snapshot()) for name, runner in self.runners.items())
        return {
            "replica": self.config.replica,
            "zone": self.config.zone,
            "region": self.config.region or region_of(self.config.zone),
            "pid": os.getpid(),
            "pgid": os.getpgrp(),
            "state": self.state,
            "node": self.agent.state() if self.agent is not None else None,
            "components": {name: component_entry(pods[name]) for name in sorted(pods)},
        }

    def write_status(self, *, force: bool = False) -> None:
        doc = self.status_document()
        text = json.dumps(doc, sort_keys=True)
        now = self.clock()
        if not force and text == self._status_text and now - self._status_written < STATUS_REFRESH:
            return
        doc["updatedAt"] = wall_time()
        write_json_atomic(self.config.status_file, doc)
        self._status_text, self._status_written = text, now

    # -- lifetime ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Supervise until `stop` is set, then stop every component in order."""
        self.config.manifests_dir.mkdir(parents=True, exist_ok=True)
        self.config.logs_dir.mkdir(parents=True, exist_ok=True)
        agent_stop = asyncio.Event()
        connector = aiohttp.TCPConnector(force_close=True, ssl=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            self._session = session
            agent = None
            if self.agent is not None:
                agent = asyncio.create_task(self.agent.run(agent_stop), name="node-agent")
            self.say([f"supervising {self.config.manifests_dir} (pid {os.getpid()}, process group {os.getpgrp()})"])
            next_scan = 0.0
            while not stop.is_set():
                now = self.clock()
                said: list[str] = []
                if now >= next_scan:
                    said += self.scan()
                    next_scan = now + self.config.scan_interval
                said += self.reconcile()
                said += self.tick(now)
                self.say(said)
                self.write_status()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.config.tick_interval)
            self.state = "stopping"
            self.write_status(force=True)
            if agent is not None:
                # Its writes are idempotent and a request to a hung API must not delay the stop.
                agent_stop.set()
                agent.cancel()
                await asyncio.gather(agent, return_exceptions=True)
            await self.shutdown()
            self._session = None

    async def shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for runner in self.runners.values():
            for container in runner.containers:
                container.retired = True  # nothing restarts while we stop
        by_order = sorted(self.runners.values(), key=lambda r: -r.pod.stop_order)
        for order, group in groupby(by_order, key=lambda r: r.pod.stop_order):
            runners = list(group)
            self.say([f"stopping {', '.join(r.pod.name for r in runners)} (stop order {order})"])
            for said in await asyncio.gather(*(r.stop("supervisor stopping") for r in runners)):
                self.say(said)
            self.write_status(force=True)
        for name, (_runner, stopping) in list(self.retiring.items()):
            self.say(await stopping)
            del self.retiring[name]
        self.state = "stopped"
        self.write_status(force=True)
        self.say(["all components stopped"])
