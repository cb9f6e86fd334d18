"""The local provider: a replica is a set of processes on its own loopback address.

Every replica uses the same ports (2379, 2380, 6443) on its own 127.x.y.z
address, exactly as separate hosts would (DESIGN.md §2). A cluster takes a
/24 of 127/8 chosen from its directory and checked free, so two clusters on
one machine never collide. With one replica the external IP is that
replica's own address.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from hakube.client.api import LEASES, ApiClient, ApiError, Credentials
from hakube.cluster import pki, processes
from hakube.cluster.kubeconfig import TokenRow, render_kubeconfig, write_token_file
from hakube.cluster.layout import ClusterState, Layout, ReplicaState
from hakube.store.errors import StoreError
from hakube.store.etcd import EtcdMemberSpec, etcd_command, find_etcd
from hakube.store.storage import Storage

ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
APISERVER_PORT = 6443
# Stop order: the API's clients first, then the API server, etcd last.
COMPONENTS = ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd")
# Leader-elected components: their module and client identity (kube's bootstrap user names).
ELECTED = {
    "kube-controller-manager": ("hakube.controllers", "system:kube-controller-manager"),
    "kube-scheduler": ("hakube.scheduler", "system:kube-scheduler"),
}


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
        if all(_port_free(f"{base}.1", p) for p in (APISERVER_PORT, ETCD_CLIENT_PORT, ETCD_PEER_PORT)):
            return base
    raise ClusterError("no free loopback address block found for the cluster")


@dataclass(frozen=True)
class UpOptions:
    zone: str = "local-a"
    quorum_reads: bool = False
    multizone: bool = False
    feature_gates: dict[str, bool] | None = None


class LocalCluster:
    def __init__(self, root: Path) -> None:
        self.layout = Layout(root)
        # Processes this command started, by (replica, component): their exit is certain.
        self.children: dict[tuple[str, str], subprocess.Popen[bytes]] = {}

    # -- creation -------------------------------------------------------------------

    def create(self, opts: UpOptions) -> ClusterState:
        if self.layout.exists():
            state = self.layout.load()
            if any(self.component_pid(r.name, c) for r in state.replicas for c in COMPONENTS):
                raise ClusterError(f"a cluster is already running in {self.layout.root}; "
                                   "run 'hakube down' first")
            return state
        find_etcd()  # refuse early, before writing anything, when no usable etcd is installed
        base = pick_block(self.layout.root)
        ip = f"{base}.1"
        state = ClusterState(name=self.layout.root.name or "hakube", external_ip=ip,
                             quorum_reads=opts.quorum_reads, multizone=opts.multizone,
                             feature_gates=dict(opts.feature_gates or {}),
                             replicas=[ReplicaState(name="replica-1", zone=opts.zone, ip=ip)])
        self._write_pki(state)
        self.layout.save(state)
        return state

    def _write_pki(self, state: ClusterState) -> None:
        d = self.layout.pki
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        ca = pki.create_ca("hakube-ca")
        etcd_ca = pki.create_ca("hakube-etcd-ca")
        admin = pki.issue_cert(ca, common_name="kubernetes-admin", organizations=["system:masters"],
                               client=True)
        components = {component: pki.issue_cert(ca, common_name=user, client=True)
                      for component, (_module, user) in ELECTED.items()}
        for stem, ck in (("ca", ca), ("etcd-ca", etcd_ca), ("admin", admin), *components.items()):
            pki.write_pem(d / f"{stem}.crt", ck.cert_pem, private=False)
            pki.write_pem(d / f"{stem}.key", ck.key_pem, private=True)
        for replica in state.replicas:
            self._write_replica_pki(state, replica, ca)
        write_token_file(self.layout.tokens, [TokenRow(secrets.token_hex(16), "admin", "admin",
                                                       ("system:masters",))])
        server = f"https://{state.external_ip}:{APISERVER_PORT}"
        self.layout.kubeconfig.write_text(render_kubeconfig(
            cluster_name=state.name, server=server, ca_pem=ca.cert_pem, user="admin", client=admin))
        self.layout.kubeconfig.chmod(0o600)
        for component, (_module, user) in ELECTED.items():
            for replica in state.replicas:
                self._write_component_kubeconfig(state, replica, component, user, ca)

    def _write_component_kubeconfig(self, state: ClusterState, replica: ReplicaState, component: str, user: str,
                                    ca: pki.CertKey) -> None:
        """Components talk to their own replica's API server, as on kube-up masters."""
        cert = pki.load_cert_key(self.layout.pki / f"{component}.crt", self.layout.pki / f"{component}.key")
        path = self.layout.replica(replica.name) / f"{component}.kubeconfig"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_kubeconfig(cluster_name=state.name, server=f"https://{replica.ip}:{APISERVER_PORT}",
                                          ca_pem=ca.cert_pem, user=user, client=cert))
        path.chmod(0o600)

    def _write_replica_pki(self, state: ClusterState, replica: ReplicaState, ca: pki.CertKey) -> None:
        dns, ips = pki.apiserver_sans(state.external_ip, replica.ip)
        serving = pki.issue_cert(ca, common_name="kube-apiserver", dns_names=dns, ip_addresses=ips,
                                 server=True)
        d = self.layout.replica_pki(replica.name)
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        pki.write_pem(d / "apiserver.crt", serving.cert_pem, private=False)
        pki.write_pem(d / "apiserver.key", serving.key_pem, private=True)

    # -- processes --------------------------------------------------------------------

    def component_pid(self, replica: str, component: str) -> int | None:
        return processes.running_pid(self.layout.pidfile(replica, component))

    def start_replica(self, state: ClusterState, replica: ReplicaState) -> None:
        etcd_path, etcd_version = find_etcd()
        spec = EtcdMemberSpec(name=replica.name, data_dir=self.layout.etcd_data(replica.name), ip=replica.ip,
                              client_port=ETCD_CLIENT_PORT, peer_port=ETCD_PEER_PORT,
                              initial_cluster_token=f"hakube-{state.name}-{state.external_ip}")
        if self.component_pid(replica.name, "etcd") is None:
            self.children[replica.name, "etcd"] = processes.start(
                etcd_command(spec, executable=etcd_path, version=etcd_version),
                pidfile=self.layout.pidfile(replica.name, "etcd"), log=self.layout.log(replica.name, "etcd"))
        if self.component_pid(replica.name, "kube-apiserver") is None:
            d = self.layout.replica_pki(replica.name)
            argv = [sys.executable, "-m", "hakube.apiserver",
                    f"--etcd-servers={replica.ip}:{ETCD_CLIENT_PORT}",
                    f"--bind-address={replica.ip}", f"--secure-port={APISERVER_PORT}",
                    f"--advertise-address={state.external_ip}:{APISERVER_PORT}",
                    f"--tls-cert-file={d / 'apiserver.crt'}", f"--tls-private-key-file={d / 'apiserver.key'}",
                    f"--client-ca-file={self.layout.pki / 'ca.crt'}",
                    f"--token-auth-file={self.layout.tokens}",
                    f"--quorum-reads={'true' if state.quorum_reads else 'false'}"]
            # One service account signing key for the cluster (every replica signs and verifies with it).
            sa_key = self.layout.pki / "sa.key"
            if not sa_key.exists():
                pki.write_pem(sa_key, pki.create_service_account_key(), private=True)
            argv += [f"--service-account-signing-key-file={sa_key}", f"--service-account-key-file={sa_key}"]
            self.children[replica.name, "kube-apiserver"] = processes.start(
                argv, pidfile=self.layout.pidfile(replica.name, "kube-apiserver"),
                log=self.layout.log(replica.name, "kube-apiserver"))

        for component, (module, _user) in ELECTED.items():
            if self.component_pid(replica.name, component) is None:
                argv = [sys.executable, "-m", module,
                        f"--kubeconfig={self.layout.replica(replica.name) / f'{component}.kubeconfig'}",
                        "--leader-elect=true", f"--identity-prefix={replica.name}"]
                if component == "kube-controller-manager":
                    argv.append(f"--external-ip={state.external_ip}")
                self.children[replica.name, component] = processes.start(
                    argv, pidfile=self.layout.pidfile(replica.name, component),
                    log=self.layout.log(replica.name, component))

    def stop_all(self) -> list[str]:
        stopped: list[str] = []
        if not self.layout.exists():
            return stopped
        from hakube.cluster.nodes import NodeHosts  # builds on this module: import when used

        stopped += NodeHosts(self.layout).stop_all()  # the worker nodes first, as kube-down does
        for replica in self.layout.load().replicas:
            for component in COMPONENTS:
                if processes.stop(self.layout.pidfile(replica.name, component)):
                    stopped.append(f"{replica.name}/{component}")
        return stopped

    # -- health ----------------------------------------------------------------------

    def client_ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.layout.pki / "ca.crt"))
        ctx.load_cert_chain(self.layout.pki / "admin.crt", self.layout.pki / "admin.key")
        return ctx

    async def readyz(self, ip: str, *, timeout: float = 2.0) -> tuple[bool, str]:
        url = f"https://{ip}:{APISERVER_PORT}/readyz?verbose"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                    session.get(url, ssl=self.client_ssl()) as resp:
                return resp.status == 200, await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            return False, str(err) or type(err).__name__

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

    async def etcd_member(self, ip: str) -> tuple[str | None, bool]:
        """(member id in hex, whether it is the leader), or (None, False) when it does not answer."""
        async with Storage(f"{ip}:{ETCD_CLIENT_PORT}", timeout=2.0) as store:
            try:
                member, leader = await store.member_status()
            except StoreError:
                return None, False
        return f"{member:x}", member == leader

    async def wait_ready(self, ip: str, *, timeout: float = 60.0, replica: str = "replica-1") -> None:
        deadline = time.monotonic() + timeout
        detail = ""
        while time.monotonic() < deadline:
            ok, detail = await self.readyz(ip)
            if ok:
                return
            for component in COMPONENTS:
                if component in ELECTED:
                    continue  # they wait for the API; `hakube status` shows how they fare
                child = self.children.get((replica, component))
                exited = child.poll() is not None if child else self.component_pid(replica, component) is None
                if exited:
                    log = self.layout.log(replica, component)
                    tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
                    raise ClusterError(f"{component} of {replica} exited: {' '.join(tail) or 'no log'} "
                                       f"(log: {log})")
            await asyncio.sleep(0.2)
        raise ClusterError(f"the API server at {ip}:{APISERVER_PORT} did not become ready in {timeout:.0f}s: "
                           f"{detail.strip().splitlines()[-1] if detail.strip() else 'no answer'}")
