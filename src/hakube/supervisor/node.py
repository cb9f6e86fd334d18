"""The replica as the API sees it: a control-plane Node, its Lease, and mirror pods.

This is the kubelet's API side for static pods (k/k pkg/kubelet/kubelet_node_status.go
`registerWithAPIServer`, pkg/kubelet/nodelease, pkg/kubelet/pod/mirror_client.go):

- the Node is named after the replica, labelled `node-role.kubernetes.io/control-plane`
  and with its zone and region, tainted `…/control-plane:NoSchedule` and
  unschedulable (kube-up registers masters with `--register-schedulable=false`);
- its Lease in kube-node-lease is renewed every quarter of the lease duration
  (10 s of 40 s, as kubelet does), its status posted every minute;
- each static pod has a mirror pod `<component>-<replica>` annotated
  `kubernetes.io/config.mirror=<manifest hash>` and owned by the Node. A mirror
  pod that is being deleted or whose hash is stale is deleted at once (grace 0,
  UID precondition) and created again; mirror pods of removed manifests are
  deleted. Pods on the node without the mirror annotation are never touched.
  The node's pods are watched (an informer on `spec.nodeName`), as kubelet
  does, so a deleted mirror pod is noticed at once and nothing polls lists.

Until the API answers (it may be this replica's own API server, started by
the same supervisor) every step is retried each second, and said only once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hakube
from hakube.client.api import LEASES, NODES, PODS, ApiClient, ApiError, Credentials, Obj
from hakube.client.informer import Informer
from hakube.supervisor.mirror import MIRROR, microtime, mirror_name, mirror_pod, node_owner, pod_status
from hakube.supervisor.runner import PodSnapshot, wall_time

log = logging.getLogger("hakube.supervisor")

NODE_LEASE_NAMESPACE = "kube-node-lease"
CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"
# A modest, fixed capacity: nothing is scheduled here, and replicas on one machine
# must not each claim the whole machine.
# No answer, or an API server that is starting or overloaded: wait quietly.
_UNAVAILABLE = (0, 429, 500, 503, 504)
CAPACITY = {"cpu": "2", "memory": "4Gi", "pods": "110", "ephemeral-storage": "20Gi"}


def region_of(zone: str) -> str:
    """GCE-style zones name their region: `europe-west1-b` → `europe-west1`, `local-a` → `local`."""
    return zone.rsplit("-", 1)[0] if "-" in zone else zone


@dataclass(frozen=True)
class NodeSettings:
    name: str
    kubeconfig: Path
    zone: str = ""
    region: str = ""
    node_ip: str | None = None
    lease_duration: float = 40.0
    sync_period: float = 1.0
    status_period: float = 60.0
    pod_resync: float = 30.0  # mirror pod status is pushed on change, and at least this often


class NodeAgent:
    def __init__(self, settings: NodeSettings, pods: Callable[[], list[PodSnapshot]], *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self.pods = pods
        self.clock = clock
        self.node_uid: str | None = None
        self.last_renewal: str | None = None
        self.api_error: str | None = None
        self._client: ApiClient | None = None
        self._kubeconfig_mtime: float | None = None
        self._next_lease = 0.0
        self._next_status = 0.0
        self._registered_at = ""
        self._pushed: dict[str, tuple[str, float]] = {}  # pod uid → (status pushed, when)
        self._pod_informer: Informer | None = None  # pods bound to this node, watched as kubelet does
        self._wake = asyncio.Event()
        self._answered = False

    @property
    def name(self) -> str:
        return self.settings.name

    def state(self) -> dict[str, Any]:
        return {"registered": self.node_uid is not None, "lastLeaseRenewal": self.last_renewal,
                "apiError": self.api_error}

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    for sentence in await self.sync():
                        log.info("%s: %s", self.name, sentence)
                except ApiError as err:
                    self._trouble(err)
                except Exception:  # a bug or a malformed answer: say it, keep the replica registered
                    log.exception("%s: node sync failed", self.name)
                # Wait a sync period, or less when a mirror pod is being deleted.
                waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
                await asyncio.wait(waits, timeout=self.settings.sync_period, return_when=asyncio.FIRST_COMPLETED)
                for waiting in waits:
                    waiting.cancel()
                self._wake.clear()
        finally:
            await self._close()

    async def _close(self) -> None:
        if self._pod_informer is not None:
            await self._pod_informer.stop()
            self._pod_informer = None
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _trouble(self, err: ApiError) -> None:
        """Say a failure once; a different failure is said again."""
        text = err.message if err.code == 0 else str(err)
        if text != self.api_error:
            if err.code in _UNAVAILABLE:
                log.info("%s: the API does not answer%s (%s); retrying quietly", self.name,
                         "" if self._answered else " yet", text)
            else:
                log.warning("%s: the API refused a node update: %s", self.name, text)
        self.api_error = text

    async def _open(self) -> ApiClient:
        path = self.settings.kubeconfig
        try:
            mtime = path.stat().st_mtime
        except OSError:
            raise ApiError(0, "Unavailable", f"no kubeconfig at {path} yet") from None
        if self._client is not None and mtime == self._kubeconfig_mtime:
            return self._client
        try:
            creds = Credentials.from_kubeconfig(path)
        except (OSError, ValueError, KeyError, StopIteration, TypeError) as err:
            raise ApiError(0, "Unavailable", f"cannot read kubeconfig {path}: {err}") from None
        await self._close()
        self._client = ApiClient(creds, user_agent=f"hakube-supervisor/{self.name}", timeout=5.0)
        await self._client.open()
        self._kubeconfig_mtime = mtime
        return self._client

    async def sync(self) -> list[str]:
        """One pass: register, renew the lease when due, post node status when due, mirror pods."""
        client = await self._open()
        said: list[str] = []
        now = self.clock()
        if self.node_uid is None:
            said += await self._register(client)
        if now >= self._next_lease:
            said += await self._renew_lease(client)
            self._next_lease = now + self.settings.lease_duration / 4
        if now >= self._next_status:
            await self._post_node_status(client)
            self._next_status = now + self.settings.status_period
        said += await self._sync_mirror_pods(client)
        if self.api_error is not None or not self._answered:
            said.append(f"the API answers{' again' if self._answered else ''} at {client.creds.server}")
            self.api_error, self._answered = None, True
        return said

    # -- the Node and its Lease -----------------------------------------------------

    def _labels(self) -> dict[str, str]:
        labels = {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(),
                                                                                   platform.machine()),
                  CONTROL_PLANE_ROLE: ""}
        if self.settings.zone:
            labels["topology.kubernetes.io/zone"] = self.settings.zone
        region = self.settings.region or region_of(self.settings.zone)
        if region:
            labels["topology.kubernetes.io/region"] = region
        return labels

    def _taints(self) -> list[Obj]:
        return [{"key": CONTROL_PLANE_ROLE, "effect": "NoSchedule"}]

    async def _register(self, client: ApiClient) -> list[str]:
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name, "labels": self._labels()},
                "spec": {"taints": self._taints(), "unschedulable": True}}
        try:
            node = await client.create(NODES, body)
            said = [f"registered Node {self.name} (zone {self.settings.zone or 'none'})"]
        except ApiError as err:
            if err.code != 409:
                raise
            # Registered before (a restarted supervisor): make labels and taints right again,
            # as kubelet reconciles its own labels on re-registration.
            node = await client.get(NODES, self.name)
            labels = node["metadata"].get("labels") or {}
            taints = (node.get("spec") or {}).get("taints") or []
            missing = [t for t in self._taints() if not any(
                o.get("key") == t["key"] and o.get("effect") == t["effect"] for o in taints)]
            said = [f"Node {self.name} is registered already"]
            if any(labels.get(k) != v for k, v in self._labels().items()) or missing:
                node = await client.patch(NODES, self.name, {"metadata": {"labels": self._labels()},
                                                             "spec": {"taints": taints + missing}})
                said = [f"Node {self.name} is registered already; its labels and taints were corrected"]
        self.node_uid = node["metadata"]["uid"]
        self._registered_at = wall_time()
        self._next_status = 0.0
        await self._post_node_status(client)
        self._next_status = self.clock() + self.settings.status_period
        return said

    async def _post_node_status(self, client: ApiClient) -> None:
        if self.node_uid is None:
            return
        now = wall_time()
        since = self._registered_at or now

        def condition(kind: str, status: str, reason: str, message: str) -> Obj:
            return {"type": kind, "status": status, "reason": reason, "message": message,
                    "lastHeartbeatTime": now, "lastTransitionTime": since}

        addresses = [{"type": "Hostname", "address": self.name}]
        if self.settings.node_ip:
            addresses.insert(0, {"type": "InternalIP", "address": self.settings.node_ip})
        status = {
            "capacity": CAPACITY, "allocatable": CAPACITY,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                condition("Ready", "True", "KubeletReady", "the hakube supervisor is posting ready status"),
            ],
            "addresses": addresses,
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
            "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": platform.release(),
                         "osImage": platform.platform(terse=True), "containerRuntimeVersion": "hakube://process",
                         "kubeletVersion": hakube.KUBE_VERSION, "kubeProxyVersion": "",
                         "operatingSystem": "linux", "architecture": self._labels()["kubernetes.io/arch"]},
        }
        try:
            await client.patch(NODES, self.name, {"status": status}, subresource="status")
        except ApiError as err:
            if err.not_found:
                self.node_uid = None  # deleted under us: register again next pass
                return
            raise

    async def _renew_lease(self, client: ApiClient) -> list[str]:
        if self.node_uid is None:
            return []
        spec = {"holderIdentity": self.name, "leaseDurationSeconds": int(self.settings.lease_duration),
                "renewTime": microtime()}
        said: list[str] = []
        try:
            await client.patch(LEASES, self.name, {"spec": spec}, NODE_LEASE_NAMESPACE)
        except ApiError as err:
            if not err.not_found:
                raise
            await client.create(LEASES, {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": NODE_LEASE_NAMESPACE,
                             "ownerReferences": [self._owner()]},
                "spec": spec}, NODE_LEASE_NAMESPACE)
            said.append(f"created node Lease {NODE_LEASE_NAMESPACE}/{self.name}")
        self.last_renewal = wall_time()
        return said

    def _owner(self) -> Obj:
        return node_owner(self.name, self.node_uid)

    # -- mirror pods ------------------------------------------------------------------

    async def _sync_mirror_pods(self, client: ApiClient) -> list[str]:
        if self.node_uid is None:
            return []
        said: list[str] = []
        informer = await self._pods_watched(client)
        if not informer.synced.is_set():
            return said
        wanted = {(p.namespace, mirror_name(p, self.name)): p for p in self.pods()}
        current: dict[tuple[str, str], Obj] = {}
        recreate: set[tuple[str, str]] = set()
        for obj in informer.items():
            meta = obj["metadata"]
            annotations = meta.get("annotations") or {}
            if MIRROR not in annotations:
                continue  # a pod someone bound here; not ours
            key = (meta.get("namespace", ""), meta["name"])
            pod = wanted.get(key)
            if pod is None:
                await self._delete(client, obj)
                said.append(f"deleted mirror pod {key[0]}/{key[1]}: its manifest is gone")
            elif meta.get("deletionTimestamp") or annotations[MIRROR] != pod.hash:
                await self._delete(client, obj)
                recreate.add(key)
            else:
                current[key] = obj
        seen: set[str] = set()
        for key, pod in wanted.items():
            found = current.get(key)
            if found is not None:
                obj = found
            else:
                try:
                    obj = await client.create(PODS, mirror_pod(pod, node=self.name, node_uid=self.node_uid), key[0])
                except ApiError as err:
                    if err.code == 409:
                        continue  # not in our watched copy yet, or a pod of that name that is not a mirror pod
                    raise
                said.append(f"{'recreated' if key in recreate else 'created'} mirror pod {key[0]}/{key[1]}")
            seen.add(obj["metadata"]["uid"])
            await self._push_status(client, obj, pod)
        self._pushed = {uid: v for uid, v in self._pushed.items() if uid in seen}
        return said

    async def _pods_watched(self, client: ApiClient) -> Informer:
        if self._pod_informer is None:
            self._pod_informer = Informer(client, PODS, field_selector=f"spec.nodeName={self.name}")

            def nudge(event: str, obj: Obj, _old: Obj | None) -> None:
                if event == "DELETED" or obj["metadata"].get("deletionTimestamp"):
                    self._wake.set()

            self._pod_informer.add_handler(nudge)
            await self._pod_informer.start()
            with contextlib.suppress(TimeoutError):
                await self._pod_informer.wait_synced(5.0)
        return self._pod_informer

    async def _delete(self, client: ApiClient, obj: Obj) -> None:
        meta = obj["metadata"]
        try:
            await client.delete(PODS, meta["name"], meta.get("namespace"), preconditions={"uid": meta["uid"]},
                                grace_period=0)
        except ApiError as err:
            if err.code not in (404, 409):
                raise
        self._pushed.pop(meta["uid"], None)

    async def _push_status(self, client: ApiClient, obj: Obj, pod: PodSnapshot) -> None:
        uid = obj["metadata"]["uid"]
        status = pod_status(pod, node=self.name, node_ip=self.settings.node_ip)
        text = json.dumps(status, sort_keys=True)
        pushed = self._pushed.get(uid)
        now = self.clock()
        if pushed is not None and pushed[0] == text and now - pushed[1] < self.settings.pod_resync:
            return
        await client.patch(PODS, obj["metadata"]["name"], {"status": status}, obj["metadata"].get("namespace"),
                           subresource="status")
        self._pushed[uid] = (text, now)
