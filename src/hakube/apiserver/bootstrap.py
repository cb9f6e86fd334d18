"""Things every API server keeps true in the background.

- The system namespaces exist (k/k `pkg/controlplane/controller/systemnamespaces`).
- etcd history is compacted every interval. In HA only one server wins each
  round: a compare-and-set on the `compact_rev_key` key's version, then a
  compaction to the revision seen one round earlier (apiserver
  `pkg/storage/etcd3/compact.go`), so clients have one interval to resume.
"""

from __future__ import annotations

import asyncio
import logging

from aetcd import rpc

from hakube.apiserver import status
from hakube.apiserver.registry import Registry, WriteOptions
from hakube.apiserver.resources import SYSTEM_NAMESPACES
from hakube.store.errors import StoreError
from hakube.store.storage import Storage

log = logging.getLogger(__name__)

# kube-apiserver keeps this key outside its prefix; we keep it inside, so that every
# revision of etcd is a revision our watch cache sees (see WatchCache.wait_for).
COMPACT_KEY = b"/registry/compact_rev_key"


async def ensure_system_namespaces(registries: dict[tuple[str, str, str], Registry], *,
                                   interval: float = 60.0) -> None:
    reg = registries[("", "v1", "namespaces")]
    while True:
        for name in SYSTEM_NAMESPACES:
            try:
                await reg.create(None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
                                 WriteOptions())
                log.info("created system namespace %s", name)
            except status.StatusError as err:
                if err.code != 409:
                    log.warning("could not create namespace %s: %s", name, err.message)
            except StoreError as err:
                log.warning("could not create namespace %s: %s", name, err)
        await asyncio.sleep(interval)


class Compactor:
    def __init__(self, storage: Storage, interval: float) -> None:
        self.storage = storage
        self.interval = interval
        self._version = 0  # the compact key's version we last saw
        self._previous = 0  # the revision seen one round ago

    async def run(self) -> None:
        if self.interval <= 0:
            return
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.round()
            except StoreError as err:
                log.warning("compaction round failed: %s", err)

    async def round(self) -> str:
        """One compaction round; returns what it did, for the log."""
        resp = await self.storage._txn(
            [rpc.Compare(key=COMPACT_KEY, target=rpc.Compare.VERSION, result=rpc.Compare.EQUAL,
                         version=self._version)],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=COMPACT_KEY, value=COMPACT_KEY))],
            [rpc.RequestOp(request_range=rpc.RangeRequest(key=COMPACT_KEY))],
        )
        current = int(resp.header.revision)
        if not resp.succeeded:
            kvs = resp.responses[0].response_range.kvs
            self._version = int(kvs[0].version) if kvs else 0
            self._previous = current
            return "another API server compacted this round"
        self._version += 1
        target, self._previous = self._previous, current
        if target > 0:
            await self.storage.compact(target)
            return f"compacted etcd history up to revision {target}"
        return "first round: nothing to compact yet"
