"""The local provider: a replica is a supervisor and its processes on its own loopback address.

Every replica uses the same ports (2379, 2380, 6443) on its own 127.x.y.z
address, exactly as separate hosts would (DESIGN.md §2). A cluster takes a
/24 of 127/8 chosen from its directory and checked free, so two clusters on
one machine never collide: `.1` is the external IP, replicas get `.11`, `.12`, …
With one replica its API server serves the external IP itself; from two on,
HAProxy does.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from hakube.client.api import LEASES, ApiClient, ApiError, Credentials
from hakube.cluster import pki
from hakube.cluster.certs import ClusterPKI
from hakube.cluster.kubeconfig import TokenRow, render_kubeconfig, write_token_file
from hakube.cluster.layout import ClusterState, Layout, ReplicaState
from hakube.cluster.manifests import APISERVER_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT
from hakube.cluster.replicas import Replicas, Say, replica_name
from hakube.cluster.zones import ZoneError, region_of, spread
from hakube.store.etcd import find_etcd

__all__ = ["APISERVER_PORT", "COMPONENTS", "ClusterError", "LocalCluster", "UpOptions", "pick_block"]

# What a replica runs, in the order they stop: the API's clients, the API server, etcd last.
COMPONENTS = ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd", "addon-manager",
              "cluster-autoscaler")


class ClusterError(Exception):
    """A user-facing failure: one clear line, nothing half-done."""


def _port_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


def pick_block(root: Path) -> str:
    """A free 127.a.b.0/24 for this cluster, derived from its directory."""
    digest = hashlib.sha256(str(root.resolve()).encode()).digest()
    for i in range(256):
        a, b = 100 + (digest[0] + i) % 100, (digest[1] + 7 * i) % 256
        base = f"127.{a}.{b}"
        addresses = [f"{base}.1", f"{base}.11"]
        if all(_port_free(ip, p) for ip in addresses for p in (APISERVER_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT)):
            return base
    raise ClusterError("no free loopback address block found for the cluster")


def cluster_name(root: Path) -> str:
    """A DNS-label-safe cluster name from the directory name (replica and node names derive from it)."""
    name = re.sub(r"[^a-z0-9-]+", "-", root.name.lower()).strip("-")[:40].strip("-")
    return name or "hakube"


@dataclass(frozen=True)
class UpOptions:
    zone: str = "local-a"
    quorum_reads: bool = False
    multizone: bool = False
    feature_gates: dict[str, bool] | None = None
    replicas: int = 1
    auto_repair: bool = False
    network_faults: bool = False


class LocalCluster:
    def __init__(self, root: Path, *, say: Say = print) -> None:
        self.layout = Layout(root)
        self.replicas = Replicas(self.layout, say=say)

    # -- creation -------------------------------------------------------------------

    def create(self, opts: UpOptions) -> ClusterState:
        """Write a new cluster's state and certificates (nothing runs yet)."""
        find_etcd()  # refuse early, before writing anything, when no usable etcd is installed
        try:
            zones = spread(opts.zone, opts.replicas, multizone=opts.multizone)
            region_of(opts.zone)
        except ZoneError as err:
            raise ClusterError(str(err)) from None
        base = pick_block(self.layout.root)
        name = cluster_name(self.layout.root)
        first = ReplicaState(name=replica_name(name, set()), zone=zones[0], ip=f"{base}.11")
        state = ClusterState(name=name, external_ip=f"{base}.1", quorum_reads=opts.quorum_reads,
                             multizone=opts.multizone, feature_gates=dict(opts.feature_gates or {}),
                             replicas=[first], auto_repair=opts.auto_repair, network_faults=opts.network_faults)
        self._write_pki(state)
        self.layout.save(state)
        return state

    def _write_pki(self, state: ClusterState) -> None:
        cluster = ClusterPKI(self.layout.pki)
        cluster.create()
        etcd_ca = cluster.load("etcd-ca")
        # The hakube command's own etcd client identity (membership changes, status).
        cluster.save("etcd-admin", pki.issue_cert(etcd_ca, common_name="hakube-etcd-admin", client=True))
        pki.write_pem(self.layout.pki / "sa.key", pki.create_service_account_key(), private=True)
        write_token_file(self.layout.tokens, [TokenRow(secrets.token_hex(16), "admin", "admin",
                                                       ("system:masters",))])
        self.layout.kubeconfig.write_text(render_kubeconfig(
            cluster_name=state.name, server=f"https://{state.external_ip}:{APISERVER_PORT}",
            ca_pem=cluster.load("ca").cert_pem, user="admin", client=cluster.load("admin")))
        self.layout.kubeconfig.chmod(0o600)

    # -- processes --------------------------------------------------------------------

    def supervisor_pid(self, replica: ReplicaState) -> int | None:
        return self.replicas.supervisor_pid(replica)

    def running(self) -> bool:
        state = self.layout.load()
        return any(self.supervisor_pid(r) is not None for r in state.replicas)

    def stop_all(self) -> list[str]:
        """Stop node hosts, the load balancer and every replica (their data stays)."""
        stopped: list[str] = []
        if not self.layout.exists():
            return stopped
        from hakube.cluster.nodes import NodeHosts  # builds on this module: import when used

        stopped += NodeHosts(self.layout).stop_all()  # the worker nodes first, as kube-down does
        state = self.layout.load()
        for replica in state.replicas:
            if self.replicas.stop_supervisor(replica):
                stopped.append(replica.name)
        lb = self.replicas.lb(state)
        if lb.running:
            asyncio.run(lb.stop())
            stopped.append("load balancer")
        return stopped

    # -- health ----------------------------------------------------------------------

    async def readyz(self, ip: str, *, timeout: float = 2.0) -> tuple[bool, str]:
        return await self.replicas.readyz(ip, timeout=timeout)

    async def lease_holders(self, ip: str, names: tuple[str, ...]) -> dict[str, str | None]:
        """Holder identities of kube-system Leases, read through the API (None: no lease or no answer)."""
        holders: dict[str, str | None] = dict.fromkeys(names)
        creds = Credentials.from_kubeconfig(self.layout.kubeconfig)
        creds = Credentials(server=f"https://{ip}:{APISERVER_PORT}", ca_pem=creds.ca_pem, cert_pem=creds.cert_pem,
                            key_pem=creds.key_pem)
        try:
            async with ApiClient(creds, timeout=3.0) as client:
                for name in names:
                    try:
                        lease = await client.get(LEASES, name, "kube-system")
                    except ApiError:
                        continue
                    holders[name] = (lease.get("spec") or {}).get("holderIdentity") or None
        except (OSError, ssl.SSLError):
            pass
        return holders
