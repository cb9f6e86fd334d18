"""One hollow kubelet: register the Node, renew its Lease, keep its Ready condition posted.

Its pods are driven by the host (`hakube.nodes.host`), which watches pods
once for all its nodes; every write about this node or its pods goes
through this node's own client, i.e. its own certificate
(`system:node:<name>` in `system:nodes`), as a kubelet's would.

Heartbeats follow the kubelet with node leases (KEP-0009,
k/k `pkg/kubelet/nodelease`, `component-helpers/apimachinery/lease`): the
Lease is renewed every leaseDurationSeconds / 4 (10 s for the default 40 s)
with a compare-and-set on the last Lease seen; the node status is posted when
it changes or every `status_report_frequency` (the kubelet's
nodeStatusReportFrequency, 5 min upstream; we default to 1 min so
`kubectl get nodes` shows fresh heartbeats). "Changes" includes the node
lifecycle controller having set Ready=Unknown while we were unreachable: the
kubelet posts Ready=True again on its next heartbeat.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from hakube.client.api import LEASES, NODES, ApiClient, ApiError, Obj
from hakube.client.informer import Informer
from hakube.nodes.objects import (
    NODE_LEASE_NAMESPACE,
    IpAllocator,
    NodeShape,
    conditions_current,
    lease_object,
    micro_time,
    node_conditions,
    node_ip,
    node_labels,
    node_object,
    node_status,
    now_time,
    pod_cidr,
)

log = logging.getLogger("hollow-node")

_MAX_BACKOFF = 7.0  # the kubelet lease controller's maxBackoff


@dataclass(frozen=True)
class KubeletSettings:
    shape: NodeShape
    pod_cidr_base: str = "10.244"
    lease_duration: int = 40  # nodeLeaseDurationSeconds
    status_report_frequency: float = 60.0  # nodeStatusReportFrequency


class HollowNode:
    def __init__(self, name: str, *, index: int, client: ApiClient, settings: KubeletSettings,
                 nodes: Informer, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.index = index
        self.client = client
        self.settings = settings
        self.cidr = pod_cidr(settings.pod_cidr_base, index)
        self.ip = node_ip(index)
        self.ips = IpAllocator(self.cidr)
        self.uid = ""
        self.registered = asyncio.Event()
        self._nodes = nodes  # the host's shared Node informer
        self._clock = clock
        self._lease: Obj | None = None
        self._last_report = 0.0
        self._failing = False

    @property
    def renew_interval(self) -> float:
        return self.settings.lease_duration / 4  # nodeLeaseRenewIntervalFraction

    async def run(self, *, registration: asyncio.Semaphore, on_registered: Callable[[HollowNode], None]) -> None:
        """Register (retrying with back-off), then heartbeat until cancelled."""
        backoff = 0.2
        while not self.registered.is_set():
            try:
                async with registration:
                    await self.register()
            except ApiError as err:
                log.warning("%s: registration failed: %s; retrying in %.1fs", self.name, err, backoff)
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, _MAX_BACKOFF)
        on_registered(self)
        while True:
            await self.heartbeat()
            await asyncio.sleep(self.renew_interval * (1 - 0.04 * random.random()))  # JitterUntil, 0.04

    async def register(self) -> None:
        shape = self.settings.shape
        body = node_object(self.name, index=self.index, cidr=self.cidr, shape=shape, now=now_time())
        try:
            node = await self.client.create(NODES, body)
            log.info("%s: registered (InternalIP %s, podCIDR %s)", self.name, self.ip, self.cidr)
        except ApiError as err:
            if not err.conflict:
                raise
            # Already registered (a restarted host): like the kubelet's tryRegisterWithAPIServer,
            # keep the Node and its identity, reconcile labels and post a fresh status.
            node = await self.client.patch(NODES, self.name, {"metadata": {"labels": node_labels(self.name, shape)}})
            previous = (node.get("status") or {}).get("conditions") or []
            status = node_status(self.name, ip=self.ip, shape=shape, previous=previous, now=now_time())
            node = await self.client.patch(NODES, self.name, {"status": status}, subresource="status")
            log.info("%s: already registered; status refreshed", self.name)
        self.uid = node["metadata"]["uid"]
        self._last_report = self._clock()
        self.registered.set()

    async def heartbeat(self) -> None:
        """Renew the Lease, then post the status if it is due or someone changed it."""
        try:
            await self._renew_lease()
            await self._report_status()
        except ApiError as err:
            if not self._failing:
                log.warning("%s: heartbeat failed: %s", self.name, err)
            self._failing = True
        else:
            if self._failing:
                log.info("%s: heartbeats resumed", self.name)
            self._failing = False

    async def _renew_lease(self) -> None:
        for _ in range(2):  # the cached lease, then a fresh read after a conflict
            lease = self._lease
            if lease is None:
                try:
                    lease = await self.client.get(LEASES, self.name, NODE_LEASE_NAMESPACE)
                except ApiError as err:
                    if not err.not_found:
                        raise
                    self._lease = await self.client.create(
                        LEASES, lease_object(self.name, node_uid=self.uid,
                                             duration=self.settings.lease_duration))
                    return
            body = copy.deepcopy(lease)
            spec = body.setdefault("spec", {})
            spec.update(holderIdentity=self.name, leaseDurationSeconds=self.settings.lease_duration,
                        renewTime=micro_time())
            if self.uid and not body["metadata"].get("ownerReferences"):
                body["metadata"]["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.name,
                                                        "uid": self.uid}]
            try:
                self._lease = await self.client.replace(LEASES, body)
                return
            except ApiError as err:
                self._lease = None
                if not (err.conflict or err.not_found):
                    raise

    async def _report_status(self) -> None:
        node = self._nodes.get(self.name)
        due = self._clock() - self._last_report >= self.settings.status_report_frequency
        changed = node is not None and not conditions_current(node)
        if not (due or changed):
            return
        previous = ((node or {}).get("status") or {}).get("conditions") or []
        # A merge patch replaces the list: this kubelet owns every condition it posts.
        try:
            await self.client.patch(NODES, self.name, {"status": {"conditions": node_conditions(previous, now_time())}},
                                    subresource="status")
        except ApiError as err:
            if err.not_found:
                # The kubelet does not re-register a deleted Node; neither do we.
                raise ApiError(404, "NotFound", f"node {self.name} was deleted; not re-registering") from None
            raise
        self._last_report = self._clock()
        if changed:
            log.info("%s: posted Ready=True again", self.name)
