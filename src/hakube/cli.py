"""The `hakube` command line (contract: DESIGN.md §3).

Errors a user can cause are one clear line on stderr and a non-zero exit;
a refused operation changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hakube.cluster import nodes as hollow_nodes
from hakube.cluster.layout import default_cluster_dir
from hakube.cluster.local import APISERVER_PORT, COMPONENTS, ClusterError, LocalCluster, UpOptions
from hakube.store.etcd import EtcdVersionError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="A highly available, Kubernetes-compatible control plane.")
err = Console(stderr=True)
out = Console()

ClusterDir = Annotated[Path | None, typer.Option("--cluster-dir", help="cluster directory "
                                                 "(default: $HAKUBE_CLUSTER_DIR or ~/.hakube/default)")]


def _dir(value: Path | None) -> Path:
    return (value or default_cluster_dir()).expanduser().absolute()


def fail(message: str) -> typer.Exit:
    err.print(f"error: {message}", markup=False, highlight=False)
    return typer.Exit(1)


def _parse_gates(text: str) -> dict[str, bool]:
    gates: dict[str, bool] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        if not sep or value.lower() not in ("true", "false") or not name:
            raise fail(f"invalid feature gate {item!r}: expected NAME=true or NAME=false")
        gates[name] = value.lower() == "true"
    return gates


@app.command()
def up(
    cluster_dir: ClusterDir = None,
    zone: Annotated[str, typer.Option(help="zone of the first replica")] = "local-a",
    multizone: Annotated[bool, typer.Option(help="allow replicas in several zones")] = False,
    quorum_reads: Annotated[bool, typer.Option(help="linearizable (quorum) etcd reads")] = False,
    replicas: Annotated[int, typer.Option(help="number of replicas")] = 1,
    nodes: Annotated[int, typer.Option(help="hollow worker nodes")] = 0,
    feature_gates: Annotated[str, typer.Option(help="G=true,…")] = "",
    force: Annotated[bool, typer.Option(help="allow refused shapes (e.g. 2 replicas)")] = False,
) -> None:
    """Create (or restart) a cluster, wait until its API answers, write DIR/kubeconfig."""
    gates = _parse_gates(feature_gates)
    if replicas < 1:
        raise fail("--replicas must be at least 1")
    if replicas > 1:
        raise fail("more than one replica needs the replicated-masters support, which is not built yet")
    if nodes:
        raise fail("hollow nodes are not built yet; use --nodes 0")
    cluster = LocalCluster(_dir(cluster_dir))
    try:
        state = cluster.create(UpOptions(zone=zone, quorum_reads=quorum_reads, multizone=multizone,
                                         feature_gates=gates))
        for replica in state.replicas:
            cluster.start_replica(state, replica)
        asyncio.run(cluster.wait_ready(state.external_ip))
    except (ClusterError, EtcdVersionError) as e:
        raise fail(str(e)) from None
    except OSError as e:
        raise fail(f"{e.strerror or e}: {e.filename or ''}") from None
    out.print(f"cluster {state.name} is up: https://{state.external_ip}:{APISERVER_PORT} "
              f"({len(state.replicas)} replica)")
    out.print(f"export KUBECONFIG={cluster.layout.kubeconfig}", markup=False, highlight=False)


LEASE_NAMES = ("kube-controller-manager", "kube-scheduler", "cluster-autoscaler")


def _leases(cluster: LocalCluster, ip: str) -> dict[str, str | None]:
    return asyncio.run(cluster.lease_holders(ip, LEASE_NAMES))


def _status(cluster: LocalCluster) -> dict[str, Any]:
    state = cluster.layout.load()
    replicas = []
    for r in state.replicas:
        pids = {c: cluster.component_pid(r.name, c) for c in COMPONENTS}
        ready, _ = asyncio.run(cluster.readyz(r.ip)) if pids["kube-apiserver"] else (False, "")
        member, leader = asyncio.run(cluster.etcd_member(r.ip)) if pids["etcd"] else (None, False)
        replicas.append({"name": r.name, "zone": r.zone, "ip": r.ip,
                         "healthy": ready and all(pids.values()),
                         "etcdMemberID": member, "etcdLeader": leader,
                         "processes": {c: {"pid": p, "running": p is not None} for c, p in pids.items()}})
    healthy = sum(1 for r in replicas if r["healthy"])
    quorum = len(replicas) // 2 + 1
    return {
        "name": state.name,
        "clusterDir": str(cluster.layout.root),
        "externalIP": state.external_ip,
        "server": f"https://{state.external_ip}:{APISERVER_PORT}",
        "replicas": replicas,
        "loadBalancer": None,
        "leases": _leases(cluster, state.external_ip),
        "quorumReads": state.quorum_reads,
        "multizone": state.multizone,
        "featureGates": state.feature_gates,
        "faultTolerance": max(0, healthy - quorum),
    }


@app.command()
def status(
    cluster_dir: ClusterDir = None,
    output: Annotated[str, typer.Option("-o", "--output", help="'json' for machine-readable output")] = "",
) -> None:
    """Show the cluster's replicas and their processes."""
    cluster = LocalCluster(_dir(cluster_dir))
    if not cluster.layout.exists():
        raise fail(f"no cluster in {cluster.layout.root}; create one with 'hakube up'")
    if output not in ("", "json"):
        raise fail(f"unknown output format {output!r}: use -o json")
    info = _status(cluster)
    if output == "json":
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    out.print(f"cluster {info['name']}  external IP {info['externalIP']}  "
              f"quorum reads {'on' if info['quorumReads'] else 'off'}  "
              f"fault tolerance {info['faultTolerance']}")
    table = Table("REPLICA", "ZONE", "IP", "HEALTHY", *(c.removeprefix("kube-").upper() for c in COMPONENTS),
                  box=None)
    for r in info["replicas"]:
        procs = r["processes"]
        table.add_row(r["name"], r["zone"], r["ip"], "yes" if r["healthy"] else "no",
                      *(f"pid {procs[c]['pid']}" if procs[c]["running"] else "stopped"
                        for c in COMPONENTS))
    out.print(table)
    for lease, holder in info["leases"].items():
        out.print(f"{lease}: {holder or '-'}", markup=False, highlight=False)


@app.command()
def down(cluster_dir: ClusterDir = None) -> None:
    """Stop every process of the cluster; its directory and data stay."""
    cluster = LocalCluster(_dir(cluster_dir))
    if not cluster.layout.exists():
        raise fail(f"no cluster in {cluster.layout.root}")
    stopped = cluster.stop_all()
    out.print(f"stopped {len(stopped)} processes" + (f": {', '.join(stopped)}" if stopped else ""))


# -- hakube nodes add|remove ---------------------------------------------------------------------

nodes_app = typer.Typer(no_args_is_help=True, help="Hollow worker nodes (one host process per 'add').")
app.add_typer(nodes_app, name="nodes")


def _running_cluster(cluster_dir: Path | None) -> LocalCluster:
    cluster = LocalCluster(_dir(cluster_dir))
    if not cluster.layout.exists():
        raise fail(f"no cluster in {cluster.layout.root}; create one with 'hakube up'")
    return cluster


@nodes_app.command("add")
def nodes_add(
    count: Annotated[int, typer.Option("--count", help="how many nodes")],
    cluster_dir: ClusterDir = None,
    zone: Annotated[str | None, typer.Option(help="zone of the nodes (default: the first replica's)")] = None,
) -> None:
    """Start COUNT hollow nodes in a new host process and wait until they are Ready."""
    cluster = _running_cluster(cluster_dir)
    try:
        host, names = asyncio.run(hollow_nodes.add_nodes(cluster, count=count, zone=zone))
    except ClusterError as e:
        raise fail(str(e)) from None
    out.print(f"added {len(names)} hollow nodes in zone {host.zone} ({host.name}): {', '.join(names)}",
              markup=False, highlight=False)


@nodes_app.command("remove")
def nodes_remove(
    names: Annotated[list[str] | None, typer.Argument(help="node names", show_default=False)] = None,
    cluster_dir: ClusterDir = None,
    count: Annotated[int | None, typer.Option("--count", help="remove this many (newest first)")] = None,
    zone: Annotated[str | None, typer.Option(help="with --count: only nodes of this zone")] = None,
) -> None:
    """Remove hollow nodes by NAME, or --count N [--zone Z]: stop them, delete their Node, Lease and pods."""
    if names and (count is not None or zone):
        raise fail("give node names, or --count N [--zone Z], not both")
    if zone and count is None:
        raise fail("--zone needs --count")
    cluster = _running_cluster(cluster_dir)
    try:
        removed = asyncio.run(hollow_nodes.remove_nodes(cluster, names=list(names or []), count=count, zone=zone))
    except ClusterError as e:
        raise fail(str(e)) from None
    out.print(f"removed {len(removed)} hollow nodes: {', '.join(removed)}", markup=False, highlight=False)


def main() -> None:
    app()
if __name__ == "__main__":
    main()
