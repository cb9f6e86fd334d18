"""Hollow node hosts of a cluster: names, certificates, processes (`hakube nodes add|remove`).

Every `nodes add` starts one host process (`python -m hakube.nodes`) for its
nodes. A node is named `hollow-<zone>-<n>` with n unique in the cluster and
never reused, which also fixes its pod CIDR and address. Removal stops the
host serving the node before its Node, Lease and pods are deleted, so no
heartbeat can write them back: a host that keeps other nodes gets its node
list rewritten and a SIGHUP, and answers with the list it now serves.

```
DIR/nodes/counters.json              {"node": next n, "host": next k}
DIR/nodes/host-<k>/host.json         {"name", "zone", "region"}
DIR/nodes/host-<k>/nodes             node names, one a line (the host's --nodes-file)
DIR/nodes/host-<k>/nodes.active      the names the host serves (written by the host)
DIR/nodes/host-<k>/certs/<node>.crt  client certificate CN=system:node:<node>, O=system:nodes (+ .key)
DIR/nodes/host-<k>/run/host.pid, logs/host.log
```
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

from hakube.client.api import LEASES, NODES, PODS, ApiClient, ApiError, Credentials
from hakube.cluster import pki, processes
from hakube.cluster.layout import Layout
from hakube.cluster.local import APISERVER_PORT, ClusterError, LocalCluster
from hakube.nodes.objects import INSTANCE_TYPE, NODE_LEASE_NAMESPACE, pod_cidr, region_of

POD_CIDR_BASE = "10.244"
MAX_COUNT = 1000
_ZONE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")
_RELOAD_TIMEOUT = 15.0


@dataclass(frozen=True)
class NodeHost:
    name: str
    zone: str
    region: str
    dir: Path

    @property
    def nodes_file(self) -> Path:
        return self.dir / "nodes"

    @property
    def pidfile(self) -> Path:
        return self.dir / "run" / "host.pid"

    @property
    def log(self) -> Path:
        return self.dir / "logs" / "host.log"

    @property
    def certs(self) -> Path:
        return self.dir / "certs"

    def nodes(self) -> list[str]:
        try:
            return _read_names(self.nodes_file)
        except OSError:
            return []

    def active(self) -> list[str] | None:
        try:
            return _read_names(self.nodes_file.with_name("nodes.active"))
        except OSError:
            return None

    def pid(self) -> int | None:
        return processes.running_pid(self.pidfile)


def _read_names(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


class NodeHosts:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.root = layout.root / "nodes"

    # -- records --------------------------------------------------------------------------------

    def hosts(self) -> list[NodeHost]:
        found = []
        for meta in sorted(self.root.glob("host-*/host.json"), key=lambda p: int(p.parent.name.split("-")[1])):
            data = json.loads(meta.read_text())
            found.append(NodeHost(name=data["name"], zone=data["zone"], region=data["region"], dir=meta.parent))
        return found

    def all_nodes(self) -> dict[str, NodeHost]:
        return {node: host for host in self.hosts() for node in host.nodes()}

    def _next(self, what: str, count: int) -> int:
        """Reserve `count` numbers of a never-reused sequence; returns the first."""
        path = self.root / "counters.json"
        counters = json.loads(path.read_text()) if path.exists() else {}
        first = int(counters.get(what, 1))
        counters[what] = first + count
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(counters) + "\n")
        return first

    # -- processes -------------------------------------------------------------------------------

    def _start(self, host: NodeHost) -> None:
        state = self.layout.load()
        argv = [sys.executable, "-m", "hakube.nodes",
                f"--server=https://{state.external_ip}:{APISERVER_PORT}",
                f"--ca-file={self.layout.pki / 'ca.crt'}", f"--cert-dir={host.certs}",
                f"--nodes-file={host.nodes_file}", f"--zone={host.zone}", f"--region={host.region}",
                f"--pod-cidr-base={POD_CIDR_BASE}"]
        host.nodes_file.with_name("nodes.active").unlink(missing_ok=True)
        processes.start(argv, pidfile=host.pidfile, log=host.log)

    def stop_all(self) -> list[str]:
        """Stop every host process (`hakube down`); records and Node objects stay."""
        return [f"nodes/{h.name}" for h in self.hosts() if processes.stop(h.pidfile)]

    # -- add ---------------------------------------------------------------------------------------

    def create(self, *, count: int, zone: str) -> tuple[NodeHost, list[str]]:
        """Record a new host with `count` fresh nodes and their certificates, and start it."""
        if not 1 <= count <= MAX_COUNT:
            raise ClusterError(f"--count must be between 1 and {MAX_COUNT}")
        if not _ZONE.match(zone):
            raise ClusterError(f"invalid zone {zone!r}: use lowercase letters, digits and '-' (at most 40)")
        first = self._next("node", count)
        try:
            pod_cidr(POD_CIDR_BASE, first + count - 1)
        except ValueError:
            raise ClusterError(f"no pod CIDRs left under {POD_CIDR_BASE}.0.0 for {count} more nodes") from None
        k = self._next("host", 1)
        host = NodeHost(name=f"host-{k}", zone=zone, region=region_of(zone), dir=self.root / f"host-{k}")
        names = [f"hollow-{zone}-{n}" for n in range(first, first + count)]
        ca = pki.load_cert_key(self.layout.pki / "ca.crt", self.layout.pki / "ca.key")
        host.certs.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in names:
            cert = pki.issue_cert(ca, common_name=f"system:node:{name}", organizations=["system:nodes"],
                                  client=True)
            pki.write_pem(host.certs / f"{name}.crt", cert.cert_pem, private=False)
            pki.write_pem(host.certs / f"{name}.key", cert.key_pem, private=True)
        _write_atomic(host.nodes_file, "".join(f"{n}\n" for n in names))
        _write_atomic(host.dir / "host.json", json.dumps({"name": host.name, "zone": zone,
                                                          "region": host.region}) + "\n")
        self._start(host)
        return host, names

    def discard(self, host: NodeHost) -> None:
        processes.stop(host.pidfile)
        shutil.rmtree(host.dir, ignore_errors=True)

    # -- remove ------------------------------------------------------------------------------------

    def choose(self, *, names: list[str], count: int | None, zone: str | None) -> list[str]:
        """The nodes a remove would take (validated; nothing changes)."""
        known = self.all_nodes()
        if names:
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ClusterError(f"no hollow node named {', '.join(unknown)} in this cluster")
            return list(dict.fromkeys(names))
        if count is None or count < 1:
            raise ClusterError("give node names, or --count N (at least 1)")
        pool = [n for n, h in known.items() if zone is None or h.zone == zone]
        if len(pool) < count:
            where = f" in zone {zone}" if zone else ""
            raise ClusterError(f"cannot remove {count} nodes: {len(pool)} hollow nodes{where}")
        pool.sort(key=lambda n: int(n.rsplit("-", 1)[1]), reverse=True)  # newest first
        return sorted(pool[:count], key=lambda n: int(n.rsplit("-", 1)[1]))

    async def release(self, names: list[str]) -> None:
        """Make every host stop serving `names` (and forget them); returns once none does."""
        targets = set(names)
        for host in self.hosts():
            current = host.nodes()
            keep = [n for n in current if n not in targets]
            if len(keep) == len(current):
                continue
            if not keep:
                self.discard(host)
                continue
            _write_atomic(host.nodes_file, "".join(f"{n}\n" for n in keep))
            pid = host.pid()
            if pid is not None and not await self._reload(host, pid, keep):
                processes.stop(host.pidfile)  # it did not answer: start it again on the new list
                self._start(host)
            for name in current:
                if name in targets:
                    for suffix in (".crt", ".key"):
                        (host.certs / f"{name}{suffix}").unlink(missing_ok=True)

    async def _reload(self, host: NodeHost, pid: int, keep: list[str]) -> bool:
        host.nodes_file.with_name("nodes.active").unlink(missing_ok=True)
        os.kill(pid, signal.SIGHUP)
        deadline = time.monotonic() + _RELOAD_TIMEOUT
        while time.monotonic() < deadline:
            if host.active() is not None:
                return set(host.active() or []) <= set(keep)
            if host.pid() is None:
                return False
            await asyncio.sleep(0.05)
        return False


# -- through the API ----------------------------------------------------------------------------------


def _admin(layout: Layout) -> ApiClient:
    return ApiClient(Credentials.from_kubeconfig(layout.kubeconfig), user_agent="hakube-cli", timeout=10.0)


async def require_api(cluster: LocalCluster) -> None:
    state = cluster.layout.load()
    ok, _ = await cluster.readyz(state.external_ip)
    if not ok:
        raise ClusterError("the cluster's API does not answer; start it with 'hakube up'")


async def wait_ready(layout: Layout, host: NodeHost, names: list[str], *, timeout: float = 60.0) -> None:
    """Until every node is registered and Ready; a host that exits fails at once."""
    waiting = set(names)
    async with _admin(layout) as client:
        for _ in range(int(timeout / 0.2)):
            try:
                body = await client.list(NODES, label_selector=f"node.kubernetes.io/instance-type={INSTANCE_TYPE}")
            except ApiError:
                body = {"items": []}
            for node in body.get("items") or []:
                ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (node.get("status") or {}).get("conditions") or [])
                if ready:
                    waiting.discard(node["metadata"]["name"])
            if not waiting:
                return
            if host.pid() is None:
                tail = host.log.read_text(errors="replace").strip().splitlines()[-1:] if host.log.exists() else []
                raise ClusterError(f"the hollow node host exited: {' '.join(tail) or 'no log'} (log: {host.log})")
            await asyncio.sleep(0.2)
    raise ClusterError(f"{len(waiting)} of {len(names)} nodes did not become Ready in {timeout:.0f}s "
                       f"(log: {host.log})")


async def delete_objects(layout: Layout, names: list[str]) -> None:
    """Delete the Nodes, their Leases and the pods bound to them (grace 0: no kubelet will finish them)."""
    async with _admin(layout) as client:
        for name in names:
            pods = await client.list(PODS, field_selector=f"spec.nodeName={name}")
            for pod in pods.get("items") or []:
                meta = pod["metadata"]
                await _ignore_gone(client.delete(PODS, meta["name"], meta["namespace"],
                                                 preconditions={"uid": meta["uid"]}, grace_period=0))
            await _ignore_gone(client.delete(NODES, name))
            await _ignore_gone(client.delete(LEASES, name, NODE_LEASE_NAMESPACE))


async def _ignore_gone(call: Awaitable[object]) -> None:
    try:
        await call
    except ApiError as err:
        if not (err.not_found or err.conflict):
            raise ClusterError(f"the API refused a deletion: {err}") from None


def default_zone(layout: Layout) -> str:
    return layout.load().replicas[0].zone


# -- the commands ---------------------------------------------------------------------------------------


async def add_nodes(cluster: LocalCluster, *, count: int, zone: str | None = None) -> tuple[NodeHost, list[str]]:
    """`hakube nodes add`: a new host with `count` nodes, returned once all are Ready; nothing left on failure."""
    await require_api(cluster)
    hosts = NodeHosts(cluster.layout)
    host, names = hosts.create(count=count, zone=zone or default_zone(cluster.layout))
    try:
        await wait_ready(cluster.layout, host, names)
    except BaseException:
        hosts.discard(host)
        with contextlib.suppress(ClusterError, ApiError):
            await delete_objects(cluster.layout, names)
        raise
    return host, names


async def remove_nodes(cluster: LocalCluster, *, names: list[str], count: int | None = None,
                       zone: str | None = None) -> list[str]:
    """`hakube nodes remove`: stop serving the nodes, then delete their Node, Lease and pods."""
    hosts = NodeHosts(cluster.layout)
    chosen = hosts.choose(names=names, count=count, zone=zone)
    await require_api(cluster)
    await hosts.release(chosen)
    await delete_objects(cluster.layout, chosen)
    return chosen
