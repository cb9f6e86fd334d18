"""Replicated masters: create, add, remove, replace, fail and recover replicas (DESIGN.md §3–4).

Each replica is a supervisor running its static pods on its own loopback
address. Adding one (seed 004, "Adding a new master replica"): its etcd member
joins as a learner, catches up and is promoted, its API server starts on its
local member, and the load balancer takes the external IP over when the
second replica arrives. Removing one: its leader-elected components hand
their leases over first, the load balancer drains it, its etcd member is
removed before its processes stop, and the external IP returns to the last
API server when only one is left.

Every step is recorded in the cluster state file before it is taken
(`Operation`), so an interrupted command, run again, finishes the job; the
cluster lock keeps two commands from interleaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from hakube.apiserver.listeners_file import ListenerSpec, write_spec
from hakube.chaos.netrules import isolation
from hakube.client.api import LEASES, NODES, PODS, ApiClient, ApiError, Credentials
from hakube.cluster import pki, processes
from hakube.cluster.addons import write_default_addons
from hakube.cluster.certs import COMPONENT_USERS, ClusterPKI
from hakube.cluster.kubeconfig import render_kubeconfig
from hakube.cluster.layout import ClusterState, Layout, Operation, ReplicaState
from hakube.cluster.manifests import (
    APISERVER_LB_AGENT_PORT,
    APISERVER_PORT,
    client_endpoint,
    listeners_file,
    peer_url,
    replica_manifests,
    write_replica_manifests,
)
from hakube.cluster.network import NetworkError, NetworkFaults
from hakube.cluster.zones import ZoneError, check_new_zone, least_used_zone
from hakube.lb import Backend, HAProxy, LBSettings
from hakube.lb.handoff import ReplicaListeners, drain_backend, give_back, take_over
from hakube.store.errors import StoreError
from hakube.store.membership import Membership, join_settings, removal_problem
from hakube.store.storage import TLSFiles
from hakube.supervisor import read_status, remove_manifest

Say = Callable[[str], None]


class ReplicaError(Exception):
    """A refused or failed replica operation; the message is one line for the user."""


def replica_name(cluster: str, taken: set[str]) -> str:
    """kube-up's pattern: `<cluster>-<3 hex>` (so KUBE_REPLICA_NAME takes names from `replica list`)."""
    for i in range(4096):
        suffix = hashlib.sha256(f"{cluster}/{time.time_ns()}/{i}".encode()).hexdigest()[:3]
        name = f"{cluster}-{suffix}"
        if name not in taken:
            return name
    raise ReplicaError("no free replica name")


class Replicas:
    """Operations on the replicas of one local cluster. Callers hold the cluster lock."""

    def __init__(self, layout: Layout, *, say: Say = print) -> None:
        self.layout = layout
        self.say = say
        self.pki = ClusterPKI(layout.pki)
        self.network = NetworkFaults(layout)

    # -- credentials and handles ---------------------------------------------------------------

    def etcd_tls(self) -> TLSFiles:
        return TLSFiles(ca_pem=(self.layout.pki / "etcd-ca.crt").read_bytes(),
                        cert_pem=(self.layout.pki / "etcd-admin.crt").read_bytes(),
                        key_pem=(self.layout.pki / "etcd-admin.key").read_bytes())

    def membership(self, state: ClusterState, *, exclude: str = "") -> Membership:
        endpoints = [client_endpoint(r) for r in state.replicas if r.name != exclude]
        return Membership(endpoints, tls=self.etcd_tls())

    def lb(self, state: ClusterState) -> HAProxy:
        return HAProxy(LBSettings(external_ip=state.external_ip, ca_file=self.layout.pki / "ca.crt",
                                  run_dir=self.layout.root / "lb", agent_port=APISERVER_LB_AGENT_PORT))

    def listeners(self, replica: ReplicaState) -> ReplicaListeners:
        return ReplicaListeners(listeners_file(self.layout, replica))

    def admin(self, ip: str) -> ApiClient:
        creds = Credentials.from_kubeconfig(self.layout.kubeconfig)
        return ApiClient(Credentials(server=f"https://{ip}:{APISERVER_PORT}", ca_pem=creds.ca_pem,
                                     cert_pem=creds.cert_pem, key_pem=creds.key_pem), timeout=5.0)

    def client_ssl(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.layout.pki / "ca.crt"))
        ctx.load_cert_chain(self.layout.pki / "admin.crt", self.layout.pki / "admin.key")
        return ctx

    async def readyz(self, ip: str, *, timeout: float = 2.0) -> tuple[bool, str]:
        """(ready, the verbose answer or why there is none) of the API server at `ip`."""
        url = f"https://{ip}:{APISERVER_PORT}/readyz?verbose"
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                    session.get(url, ssl=self.client_ssl()) as resp:
                return resp.status == 200, await resp.text()
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            return False, str(err) or type(err).__name__

    def supervisor_pidfile(self, replica: ReplicaState) -> Path:
        return self.layout.pidfile(replica.name, "supervisor")

    def supervisor_pid(self, replica: ReplicaState) -> int | None:
        return processes.running_pid(self.supervisor_pidfile(replica))

    # -- one replica's files and processes ---------------------------------------------------------

    def prepare(self, state: ClusterState, replica: ReplicaState) -> None:
        """Certificates and kubeconfigs of a replica (idempotent)."""
        rdir = self.layout.replica(replica.name)
        rdir.mkdir(parents=True, exist_ok=True)
        if not (self.layout.replica_pki(replica.name) / "apiserver.crt").exists():
            self.pki.issue_replica(self.layout.replica_pki(replica.name), replica_ip=replica.ip,
                                   external_ip=state.external_ip)
        ca = self.pki.load("ca")
        server = f"https://{replica.ip}:{APISERVER_PORT}"
        for component, user in COMPONENT_USERS.items():
            self._kubeconfig(rdir / f"{component}.kubeconfig", state, server, user, self.pki.load(component), ca)
        node_cert = self.layout.replica_pki(replica.name) / "node.crt"
        if not node_cert.exists():
            ClusterPKI(self.layout.replica_pki(replica.name)).save(
                "node", pki.issue_cert(ca, common_name=f"system:node:{replica.name}", organizations=["system:nodes"],
                                       client=True))
        node = ClusterPKI(self.layout.replica_pki(replica.name)).load("node")
        self._kubeconfig(rdir / "node.kubeconfig", state, server, f"system:node:{replica.name}", node, ca)

    @staticmethod
    def _kubeconfig(path: Path, state: ClusterState, server: str, user: str, cert: pki.CertKey,
                    ca: pki.CertKey) -> None:
        path.write_text(render_kubeconfig(cluster_name=state.name, server=server, ca_pem=ca.cert_pem, user=user,
                                          client=cert))
        path.chmod(0o600)

    def write_manifests(self, state: ClusterState, replica: ReplicaState, *, initial_cluster: str,
                        initial_state: str, listen_external: bool) -> None:
        path = listeners_file(self.layout, replica)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            external = [f"{state.external_ip}:{APISERVER_PORT}"] if listen_external else []
            write_spec(path, ListenerSpec(generation=1, listen=tuple(external)))
        write_default_addons(self.layout, state, self.pki.load("ca").cert_pem)
        pods = replica_manifests(self.layout, state, replica, initial_cluster=initial_cluster,
                                 initial_state=initial_state)
        write_replica_manifests(self.layout, pods, replica)

    def start_supervisor(self, replica: ReplicaState) -> None:
        if self.supervisor_pid(replica) is not None:
            return
        rdir = self.layout.replica(replica.name)
        argv = [sys.executable, "-m", "hakube.supervisor", f"--replica-dir={rdir}", f"--replica={replica.name}",
                f"--zone={replica.zone}", f"--kubeconfig={rdir / 'node.kubeconfig'}", f"--node-ip={replica.ip}"]
        processes.start(argv, pidfile=self.supervisor_pidfile(replica), log=rdir / "logs" / "supervisor.log")

    def stop_supervisor(self, replica: ReplicaState, *, timeout: float = 60.0) -> bool:
        return processes.stop(self.supervisor_pidfile(replica), timeout=timeout)

    async def wait_ready(self, replica: ReplicaState, *, timeout: float = 90.0) -> None:
        """Until the replica's API server answers /readyz (and its supervisor lives)."""
        deadline = time.monotonic() + timeout
        last = ""
        for _ in range(int(timeout / 0.2) + 1):
            ok, last = await self.readyz(replica.ip)
            if ok:
                return
            if self.supervisor_pid(replica) is None:
                raise ReplicaError(f"the supervisor of {replica.name} exited; see "
                                   f"{self.layout.replica(replica.name) / 'logs'}")
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.2)
        last = last.strip().splitlines()[-1] if last.strip() else "no answer"
        raise ReplicaError(f"the API server of {replica.name} did not become ready in {timeout:.0f}s ({last}); "
                           f"see {self.layout.replica(replica.name) / 'logs' / 'kube-apiserver.log'}")

    # -- the first replica -------------------------------------------------------------------------

    async def create_first(self, state: ClusterState) -> None:
        """A one-replica cluster: its API server serves the external IP itself."""
        replica = state.replicas[0]
        self.prepare(state, replica)
        self.write_manifests(state, replica, initial_cluster=f"{replica.name}={peer_url(replica)}",
                             initial_state="new", listen_external=True)
        self.start_supervisor(replica)
        await self.wait_ready(replica)
        async with self.membership(state) as members:
            replica.etcd_member_id = await member_id_of(members, replica)
        self.layout.save(state)

    async def restart(self, state: ClusterState) -> list[str]:
        """`up` on an existing cluster: start what is not running (data kept)."""
        started = []
        for replica in state.replicas:
            if self.supervisor_pid(replica) is None:
                self.start_supervisor(replica)
                started.append(replica.name)
        lb = self.lb(state)
        if state.load_balancer and not lb.running:
            await lb.start([Backend(r.name, r.ip) for r in state.replicas])
            started.append("load balancer")
        for replica in state.replicas:
            await self.wait_ready(replica)
        return started

    # -- add -----------------------------------------------------------------------------------------

    def plan_add(self, state: ClusterState, zone: str) -> Operation:
        try:
            check_new_zone(zone, [r.zone for r in state.replicas], multizone=state.multizone)
        except ZoneError as err:
            raise ReplicaError(str(err)) from None
        taken = {r.ip for r in state.replicas}
        base = state.external_ip.rsplit(".", 1)[0]
        ip = next((f"{base}.{k}" for k in range(11, 251) if f"{base}.{k}" not in taken), None)
        if ip is None:
            raise ReplicaError("no free address left in the cluster's block")
        name = replica_name(state.name, {r.name for r in state.replicas})
        return Operation(kind="add", replica=name, zone=zone, ip=ip)

    async def add(self, state: ClusterState, op: Operation) -> ReplicaState:
        """Carry out (or resume) a recorded add."""
        replica = state.replica(op.replica) or ReplicaState(name=op.replica, zone=op.zone, ip=op.ip)
        existing = [r for r in state.replicas if r.name != replica.name]
        async with self.membership(state, exclude=replica.name) as members:
            if op.step == "planned":
                health = await members.health()
                if not health.has_quorum:
                    raise ReplicaError("etcd has lost quorum: no member can be added until it is back "
                                       "(hakube replica recover, or replace the failed replicas)")
                self.prepare(state, replica)
                member = await members.add_learner(peer_url(replica))
                if member.name not in ("", replica.name):
                    # A member of a removed replica kept this address: starting an empty data
                    # directory under its ID makes etcd panic ("tocommit out of range").
                    raise ReplicaError(f"etcd still has member {member.name} ({member.id:x}) at "
                                       f"{peer_url(replica)}; remove it first")
                replica.etcd_member_id = f"{member.id:x}"
                join = join_settings(await members.members(), name=replica.name, peer_url=peer_url(replica))
                if state.replica(replica.name) is None:
                    state.replicas.append(replica)
                self.write_manifests(state, replica, initial_cluster=join.initial_cluster,
                                     initial_state=join.initial_cluster_state, listen_external=False)
                self._step(state, op, "member-added")
                self.say(f"{replica.name}: etcd member {replica.etcd_member_id} added as a learner")
            if op.step == "member-added":
                self.start_supervisor(replica)
                started = time.monotonic()

                def progress(applied: int, leader: int) -> None:
                    self.say(f"{replica.name}: etcd catching up: applied index {applied} of {leader}")

                try:
                    await members.promote(int(replica.etcd_member_id, 16), timeout=120.0, on_progress=progress)
                except StoreError as err:
                    # promote() removed the stalled learner: undo the rest, nothing is left behind.
                    self.stop_supervisor(replica)
                    state.replicas = [r for r in state.replicas if r.name != replica.name]
                    state.operation = None
                    self.layout.save(state)
                    shutil.rmtree(self.layout.replica(replica.name), ignore_errors=True)
                    raise ReplicaError(f"{replica.name} could not join etcd: {err}; the add was rolled back") from None
                self.say(f"{replica.name}: etcd member promoted after {time.monotonic() - started:.1f}s")
                self._step(state, op, "promoted")
        if op.step == "promoted":
            await self.wait_ready(replica)
            lb = self.lb(state)
            active = [r for r in state.replicas]
            if len(active) == 2 and not state.load_balancer:
                first = existing[0]
                report = await take_over(lb, owner=self.listeners(first),
                                         backends=[Backend(r.name, r.ip) for r in active])
                state.load_balancer = True
                self.say(f"load balancer took over {state.external_ip}: {report.summary()}")
            elif state.load_balancer and replica.name not in {b.name for b in lb.backends()}:
                await lb.add_backend(Backend(replica.name, replica.ip))
                self.say(f"load balancer: {replica.name} added as a backend")
            self._step(state, op, "done")
        state.operation = None
        self.layout.save(state)
        return replica

    def _step(self, state: ClusterState, op: Operation, step: str) -> None:
        op.step = step
        state.operation = op
        self.layout.save(state)

    # -- remove --------------------------------------------------------------------------------------

    def choose(self, state: ClusterState, *, zone: str | None, name: str | None) -> ReplicaState:
        if name:
            replica = state.replica(name)
            if replica is None:
                raise ReplicaError(f"no replica named {name} (see hakube replica list)")
            if zone and replica.zone != zone:
                raise ReplicaError(f"replica {name} is in zone {replica.zone}, not {zone}")
            return replica
        in_zone = [r for r in state.replicas if r.zone == zone]
        if not in_zone:
            raise ReplicaError(f"no replica in zone {zone}")
        # Prefer one that is not running (a failed replica is the one to remove).
        return next((r for r in reversed(in_zone) if self.supervisor_pid(r) is None), in_zone[-1])

    async def check_removal(self, state: ClusterState, replica: ReplicaState, *, force: bool) -> None:
        if len(state.replicas) <= 1:
            raise ReplicaError("refusing to remove the last replica: that is 'hakube down' (or kube-down.sh)")
        if force:
            return
        async with self.membership(state) as members:
            health = await members.health()
            member_id = await member_id_of(members, replica)
        problem = removal_problem(health, int(member_id, 16)) if member_id else None
        if problem:
            raise ReplicaError(f"refusing to remove {replica.name}: {problem} (use --force to remove it anyway)")

    async def remove(self, state: ClusterState, op: Operation) -> None:
        """Carry out (or resume) a recorded removal."""
        replica = state.replica(op.replica)
        if replica is None:
            state.operation = None
            self.layout.save(state)
            return
        rest = [r for r in state.replicas if r.name != replica.name]
        lb = self.lb(state)
        if op.step == "planned":
            # Leases first: stopping its leader-elected components releases their leases at once.
            mdir = self.layout.replica(replica.name) / "manifests"
            for component in COMPONENT_USERS:
                remove_manifest(mdir, component)
            if state.load_balancer and lb.running:
                with contextlib.suppress(Exception):
                    await drain_backend(lb, backend=Backend(replica.name, replica.ip),
                                        listeners=self.listeners(replica), timeout=5.0)
            self._step(state, op, "drained")
        if op.step == "drained":
            async with self.membership(state, exclude=replica.name) as members:
                member_id = await member_id_of(members, replica)
                if member_id:
                    await members.remove(int(member_id, 16), check_quorum=not op.force)
            if member_id:
                self.say(f"{replica.name}: etcd member {member_id} removed")
            self._step(state, op, "member-removed")
        if op.step == "member-removed":
            self.stop_supervisor(replica)
            self._kill_leftovers(replica)
            if state.network_faults:
                # Its network goes with its machine: a replica added later at this address starts connected.
                with contextlib.suppress(NetworkError):
                    self.network.heal(state, [replica.ip])
            if state.load_balancer and lb.running and replica.name in {b.name for b in lb.backends()}:
                await lb.remove_backend(replica.name)
            if state.load_balancer and len(rest) == 1:
                report = await give_back(lb, to=self.listeners(rest[0]))
                state.load_balancer = False
                self.say(f"load balancer removed; {state.external_ip} is served by {rest[0].name}: "
                         f"{report.summary()}")
            self._step(state, op, "stopped")
        if op.step == "stopped":
            await self._delete_objects(rest[0], replica)
            if not op.keep_nodes and not any(r.zone == replica.zone for r in rest):
                await self._remove_zone_nodes(replica.zone)
            state.replicas = rest
            state.operation = None
            self.layout.save(state)
            shutil.rmtree(self.layout.replica(replica.name), ignore_errors=True)

    def _kill_leftovers(self, replica: ReplicaState) -> None:
        """A failed replica's processes (killed or stopped) must not come back as a phantom."""
        status = read_status(self.layout.replica(replica.name) / "run") or {}
        pgid = status.get("pgid")
        if isinstance(pgid, int) and pgid > 1 and processes.running_pid(self.supervisor_pidfile(replica)) == pgid:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)

    async def _delete_objects(self, via: ReplicaState, replica: ReplicaState) -> None:
        """The replica's Node, node Lease and mirror pods (the node is gone with its machine)."""
        try:
            async with self.admin(via.ip) as client:
                pods = await client.list(PODS, "kube-system", field_selector=f"spec.nodeName={replica.name}")
                for pod in pods.get("items") or []:
                    with contextlib.suppress(ApiError):
                        await client.delete(PODS, pod["metadata"]["name"], "kube-system", grace_period=0)
                for ref, ns in ((LEASES, "kube-node-lease"), (NODES, None)):
                    with contextlib.suppress(ApiError):
                        await client.delete(ref, replica.name, ns)
        except ApiError as err:
            self.say(f"warning: could not delete {replica.name}'s Node and mirror pods: {err.message}")

    async def _remove_zone_nodes(self, zone: str) -> None:
        from hakube.cluster.local import LocalCluster
        from hakube.cluster.nodes import NodeHosts, remove_nodes

        names = [n for n, h in NodeHosts(self.layout).all_nodes().items() if h.zone == zone]
        if names:
            removed = await remove_nodes(LocalCluster(self.layout.root), names=names)
            self.say(f"removed {len(removed)} hollow nodes of zone {zone} (kube-down deletes them; "
                     "--keep-nodes keeps them)")

    # -- failure simulation ----------------------------------------------------------------------------

    def fail(self, replica: ReplicaState, mode: str) -> str:
        if mode == "isolate":
            return self.isolate(replica)
        status = read_status(self.layout.replica(replica.name) / "run") or {}
        pgid = status.get("pgid")
        pid = self.supervisor_pid(replica)
        if pid is None:
            raise ReplicaError(f"{replica.name} is not running")
        if not isinstance(pgid, int) or pgid != pid:
            raise ReplicaError(f"{replica.name}: its supervisor's process group is unknown; not signalling")
        if mode == "kill":
            os.killpg(pgid, signal.SIGKILL)
            return f"{replica.name}: every process SIGKILLed (a dead machine); 'hakube replica recover' restarts it"
        if mode == "stop":
            os.killpg(pgid, signal.SIGSTOP)
            return f"{replica.name}: every process SIGSTOPped (a hung machine); 'hakube replica recover' resumes it"
        raise ReplicaError(f"unknown failure mode {mode!r}: use kill, stop or isolate")

    def isolate(self, replica: ReplicaState) -> str:
        """Cut every etcd peer link of the replica, both ways (its machine's network is gone).

        Its API server still reaches its own member (same machine): it answers
        from a minority, so writes and quorum reads time out and /readyz fails
        until the load balancer ejects it; serializable reads go stale.
        """
        state = self.layout.load()
        try:
            applied = self.network.add(state, isolation(replica.ip))
        except NetworkError as err:
            raise ReplicaError(str(err)) from None
        return (f"{replica.name}: every etcd peer link cut, both ways (an isolated machine); "
                f"'hakube replica recover' heals it ({applied.summary()})")

    def recover(self, replica: ReplicaState) -> str:
        done = []
        state = self.layout.load()
        if state.network_faults and any(r.involves(replica.ip) for r in self.network.rules().rules):
            removed, applied = self.network.heal(state, [replica.ip])
            done.append(f"{removed} network fault rules healed ({applied.summary()})")
        pid = self.supervisor_pid(replica)
        if pid is not None:
            os.killpg(pid, signal.SIGCONT)
            done.append("resumed")
        else:
            self.start_supervisor(replica)
            done.append("restarted with its data directory")
        return f"{replica.name}: {'; '.join(done)}"


async def member_id_of(members: Membership, replica: ReplicaState) -> str:
    """The replica's etcd member ID (hex): recorded, else found by its peer address (the first
    replica's member is made by `--initial-cluster`, not by an add; older state files lack it)."""
    if replica.etcd_member_id:
        return replica.etcd_member_id
    return next((f"{m.id:x}" for m in await members.members() if peer_url(replica) in m.peer_urls), "")


def choose_zone(state: ClusterState, zone: str | None) -> str:
    if zone:
        return zone
    return least_used_zone(r.zone for r in state.replicas) or state.replicas[0].zone
