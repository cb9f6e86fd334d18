"""A process hosting many hollow nodes: shared watches, one work queue, per-node identities.

Identity trade-off. Every write about a node or its pods (Node, Lease, pod
status, pod deletion) goes through that node's own client certificate
(`system:node:<name>`, group `system:nodes`), so each write is attributable
to its node as a kubelet's is. Reads are shared: one pods watch
(`fieldSelector=spec.nodeName!=`, every bound pod) and one Node watch
(label `node.kubernetes.io/instance-type=hollow`) per process, under the
identity of the first node the host started with, filtered locally. A
kubelet watches only `spec.nodeName=<itself>`; a watch per node would cost
the API server one selector evaluation per node for every pod event (its
watch cache has no per-node index), which is what hundreds of nodes in one
process cannot afford. Kubernetes 1.32's selector-aware node authorization
(AuthorizeNodeWithSelectors) would refuse those shared reads to a node
identity; when hakube grows a node authorizer, the host needs a reader
identity of its own.

Pods (k/k `pkg/kubelet`, minus containers):
- a pod bound to one of our nodes is moved to Running through `pods/status`
  (compare-and-set on the resourceVersion we saw) with an IP from the node's
  podCIDR, Ready containers and a startTime;
- a pod being deleted is deleted for good (grace 0, uid precondition) after
  min(its grace period, `max_grace_period`): hollow containers stop at once,
  so we wait only long enough for clients to see the Terminating state;
- pods never finish: a restartPolicy Never/OnFailure pod (a Job's) stays
  Running, as there is no process whose exit could end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hakube.client.api import NODES, PODS, ApiClient, ApiError, Credentials
from hakube.client.informer import Informer, key_of
from hakube.client.workqueue import WorkQueue
from hakube.nodes.kubelet import HollowNode, KubeletSettings
from hakube.nodes.objects import INSTANCE_TYPE, Obj, is_running, node_indices, now_time, running_status

log = logging.getLogger("hollow-host")


@dataclass(frozen=True)
class HostSettings:
    server: str
    ca_pem: bytes
    cert_dir: Path  # <node>.crt and <node>.key for every node
    kubelet: KubeletSettings
    max_grace_period: float = 2.0
    workers: int = 16
    register_concurrency: int = 16


class HollowHost:
    def __init__(self, settings: HostSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self.nodes: dict[str, HollowNode] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._reader: ApiClient | None = None
        self._pods: Informer | None = None
        self._node_informer: Informer | None = None
        self._queue = WorkQueue(max_delay=5.0)
        self._workers: asyncio.Task[None] | None = None
        self._by_node: dict[str, set[str]] = {}  # pod keys bound to each node name
        self._terminating: dict[str, float] = {}  # pod key → when its deletion was first seen
        self._registration = asyncio.Semaphore(settings.register_concurrency)

    # -- lifetime ------------------------------------------------------------------------------

    async def __aenter__(self) -> HollowHost:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _client(self, name: str) -> ApiClient:
        d = self.settings.cert_dir
        creds = Credentials(server=self.settings.server, ca_pem=self.settings.ca_pem,
                            cert_pem=(d / f"{name}.crt").read_bytes(), key_pem=(d / f"{name}.key").read_bytes())
        return ApiClient(creds, user_agent=f"hakube-hollow-node/{name}")

    async def start(self, names: Sequence[str]) -> list[str]:
        """Open the shared watches (as the first node), then start every node."""
        if not names:
            raise ValueError("a hollow node host needs at least one node")
        self._reader = self._client(names[0])
        await self._reader.open()
        self._pods = Informer(self._reader, PODS, field_selector="spec.nodeName!=")
        self._node_informer = Informer(self._reader, NODES,
                                       label_selector=f"node.kubernetes.io/instance-type={INSTANCE_TYPE}")
        self._pods.add_handler(self._on_pod)
        await self._pods.start()
        await self._node_informer.start()
        self._workers = asyncio.create_task(
            self._queue.run_workers(self._sync_pod, workers=self.settings.workers, name="hollow-pods"),
            name="hollow-pod-workers")
        return await self.set_nodes(names)

    async def close(self) -> None:
        await self.set_nodes([])
        self._queue.shutdown()
        if self._workers is not None:
            self._workers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._workers
        for informer in (self._pods, self._node_informer):
            if informer is not None:
                await informer.stop()
        if self._reader is not None:
            await self._reader.close()

    async def set_nodes(self, names: Sequence[str]) -> list[str]:
        """Serve exactly `names`: start the new ones, stop (never delete) the others. Returns what runs."""
        wanted = list(dict.fromkeys(names))
        gone = [n for n in self.nodes if n not in wanted]
        for name in gone:
            task = self._tasks.pop(name)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.nodes.pop(name).client.close()
            log.info("%s: no longer served by this host", name)
        indices = node_indices(wanted)
        taken = {n.index for n in self.nodes.values()}
        for name in wanted:
            if name in self.nodes:
                continue
            index = indices[name]
            if index in taken:  # positional numbering moved under a reload: take a fresh number
                index = max(taken | set(indices.values())) + 1
            try:
                client = self._client(name)
            except OSError as err:
                log.error("%s: no client certificate (%s); not started", name, err)
                continue
            taken.add(index)
            await client.open()
            assert self._node_informer is not None
            node = HollowNode(name, index=index, client=client, settings=self.settings.kubelet,
                              nodes=self._node_informer, clock=self._clock)
            self.nodes[name] = node
            self._tasks[name] = asyncio.create_task(self._run_node(node), name=f"hollow-node-{name}")
        return list(self.nodes)

    async def _run_node(self, node: HollowNode) -> None:
        try:
            await node.run(registration=self._registration, on_registered=self._registered)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug: say so, and leave the other nodes running
            log.exception("%s: node loop failed", node.name)

    def _registered(self, node: HollowNode) -> None:
        for key in self._by_node.get(node.name, ()):
            self._queue.add(key)

    # -- pods ----------------------------------------------------------------------------------

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        key = key_of(pod)
        node_name = (pod.get("spec") or {}).get("nodeName") or ""
        if event_type == "DELETED":
            self._by_node.get(node_name, set()).discard(key)
            self._terminating.pop(key, None)
            node = self.nodes.get(node_name)
            if node is not None:
                node.ips.release(key)
            return
        self._by_node.setdefault(node_name, set()).add(key)
        if node_name in self.nodes:
            self._queue.add(key)

    async def _sync_pod(self, key: str) -> None:
        assert self._pods is not None
        pod = self._pods.get(key)
        if pod is None:
            return
        spec, meta, status = pod.get("spec") or {}, pod["metadata"], pod.get("status") or {}
        node = self.nodes.get(spec.get("nodeName") or "")
        if node is None or not node.registered.is_set():
            return  # not ours, or registration will requeue it
        if status.get("phase") in ("Succeeded", "Failed"):
            node.ips.release(key)
            return
        if meta.get("deletionTimestamp"):
            await self._terminate(node, key, pod)
            return
        if spec.get("hostNetwork"):
            ip: str | None = node.ip
        else:
            mine = status.get("hostIP") == node.ip
            ip = node.ips.allocate(key, preferred=status.get("podIP", "") if mine else "")
        if ip is None:
            log.warning("%s: no free pod IP in %s for %s", node.name, node.cidr, key)
            return
        if is_running(pod, host_ip=node.ip, pod_ip=ip):
            return
        body = {**pod, "status": running_status(pod, host_ip=node.ip, pod_ip=ip, now=now_time())}
        try:
            await node.client.replace(PODS, body, subresource="status")
        except ApiError as err:
            if err.conflict or err.not_found:
                return  # a newer version (or the deletion) is on its way to the informer and requeues the key
            raise
        log.info("%s: pod %s running (%s)", node.name, key, ip)

    async def _terminate(self, node: HollowNode, key: str, pod: Obj) -> None:
        meta = pod["metadata"]
        first_seen = self._terminating.setdefault(key, self._clock())
        grace = min(float(meta.get("deletionGracePeriodSeconds") or 0), self.settings.max_grace_period)
        remaining = first_seen + grace - self._clock()
        if remaining > 0:
            self._queue.add_after(key, remaining)
            return
        try:
            await node.client.delete(PODS, meta["name"], meta.get("namespace"),
                                     preconditions={"uid": meta.get("uid")}, grace_period=0)
        except ApiError as err:
            if not (err.not_found or err.conflict):
                raise
            return
        log.info("%s: pod %s stopped and deleted", node.name, key)
