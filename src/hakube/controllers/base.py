"""What every controller gets: a fenced client, shared informers, an event recorder, settings."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from hakube.client.api import ApiClient, ResourceRef
from hakube.client.events import EventRecorder
from hakube.client.informer import Informer
from hakube.client.workqueue import WorkQueue


@dataclass(frozen=True)
class ControllerSettings:
    """Timings and cluster facts (kube-controller-manager flag names in comments)."""

    node_monitor_grace_period: float = 40.0  # --node-monitor-grace-period
    node_monitor_period: float = 5.0  # --node-monitor-period
    pod_eviction_timeout: float = 300.0  # default NoExecute toleration for unreachable/not-ready
    external_ip: str = ""  # where default/kubernetes points (the cluster's external IP)
    external_port: int = 6443
    workers: int = 4  # --concurrent-*-syncs


class InformerFactory:
    """One informer per resource, shared by every controller (client-go SharedInformerFactory)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._informers: dict[ResourceRef, Informer] = {}

    def get(self, ref: ResourceRef) -> Informer:
        informer = self._informers.get(ref)
        if informer is None:
            informer = self._informers[ref] = Informer(self.client, ref)
        return informer

    async def start(self) -> None:
        for informer in self._informers.values():
            if informer._task is None:
                await informer.start()

    async def wait_synced(self, timeout: float = 60.0) -> None:
        await asyncio.gather(*(i.wait_synced(timeout) for i in self._informers.values()))

    async def stop(self) -> None:
        await asyncio.gather(*(i.stop() for i in self._informers.values()))


@dataclass
class ControllerContext:
    client: ApiClient  # fenced: every write checks leadership first
    informers: InformerFactory
    recorder: EventRecorder
    settings: ControllerSettings


class Controller(Protocol):
    """A controller registers its informer handlers in `setup`, then works in `run` until cancelled."""

    name: str

    def setup(self, ctx: ControllerContext) -> None: ...

    async def run(self, ctx: ControllerContext) -> None: ...


async def run_queue(queue: WorkQueue, sync: Callable[[str], Awaitable[str]], *, workers: int, name: str,
                    log: logging.Logger) -> None:
    """Work `queue` with `sync` until cancelled, logging the sentence each sync returns (STYLE.md)."""

    async def one(key: str) -> None:
        said = await sync(key)
        if said:
            log.info("%s", said)

    try:
        await queue.run_workers(one, workers=workers, name=name)
    finally:
        queue.shutdown()
