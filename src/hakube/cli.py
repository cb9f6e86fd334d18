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
from rich.table import Table

from hakube.autoscaler import groups as autoscale_groups
from hakube.cli_common import (
    USER_ERRORS,
    ClusterDir,
    cluster_path,
    existing,
    fail,
    out,
    user_error,
)
from hakube.cli_network import network_app
from hakube.cli_replica import replica_app
from hakube.cluster import addons as cluster_addons
from hakube.cluster import nodes as hollow_nodes
from hakube.cluster import status as cluster_status
from hakube.cluster.local import APISERVER_PORT, COMPONENTS, ClusterError, LocalCluster, UpOptions
from hakube.cluster.repair import start_repair, stop_repair
from hakube.cluster.zones import spread
from hakube.lb.config import WEIGHT

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="A highly available, Kubernetes-compatible control plane.")
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
    auto_repair: Annotated[bool, typer.Option(help="bring dead replicas back (kops style)")] = False,
    force: Annotated[bool, typer.Option(help="allow refused shapes (e.g. 2 replicas)")] = False,
    network_faults: Annotated[bool, typer.Option(
        help="route etcd peer and API-server→etcd links through proxies that can cut, delay or drop them "
             "(replica fail --mode isolate, hakube network)")] = False,
) -> None:
    """Create (or restart) a cluster, wait until its API answers, write DIR/kubeconfig."""
    gates = _parse_gates(feature_gates)
    if replicas < 1:
        raise fail("--replicas must be at least 1")
    if replicas == 2 and not force:
        raise fail("refusing to create a cluster of two replicas: etcd consensus needs both, so it is worse "
                   "than one; use --replicas 1 or 3 (or --force)")
    if nodes < 0:
        raise fail("--nodes must not be negative")
    cluster = LocalCluster(cluster_path(cluster_dir), say=lambda m: out.print(m, markup=False, highlight=False))
    try:
        with cluster.layout.lock():
            if cluster.layout.exists():
                state = cluster.layout.load()
                if cluster.running():
                    raise ClusterError(f"a cluster is already running in {cluster.layout.root}; "
                                       "run 'hakube down' first")
                restarted = asyncio.run(cluster.replicas.restart(state))
                out.print(f"restarted {', '.join(restarted) or 'nothing'}", markup=False, highlight=False)
            else:
                state = cluster.create(UpOptions(zone=zone, quorum_reads=quorum_reads, multizone=multizone,
                                                 feature_gates=gates, replicas=replicas, auto_repair=auto_repair,
                                                 network_faults=network_faults))
                asyncio.run(cluster.replicas.create_first(state))
                for extra_zone in spread(zone, replicas, multizone=multizone)[1:]:
                    op = cluster.replicas.plan_add(state, extra_zone)
                    state.operation = op
                    cluster.layout.save(state)
                    added = asyncio.run(cluster.replicas.add(state, op))
                    out.print(f"replica {added.name} added in zone {added.zone}", markup=False, highlight=False)
            if state.auto_repair:
                start_repair(cluster.layout)
        if nodes:
            # Worker nodes spread over the replicas' zones, as kube-up places node groups per zone.
            zones = sorted({r.zone for r in cluster.layout.load().replicas})
            for i, node_zone in enumerate(zones):
                count = nodes // len(zones) + (1 if i < nodes % len(zones) else 0)
                if count:
                    host, names = asyncio.run(hollow_nodes.add_nodes(cluster, count=count, zone=node_zone))
                    out.print(f"added {len(names)} hollow nodes in zone {host.zone}", markup=False,
                              highlight=False)
    except USER_ERRORS as e:
        raise user_error(e) from None
    out.print(f"cluster {state.name} is up: https://{state.external_ip}:{APISERVER_PORT} "
              f"({len(state.replicas)} replica{'s' if len(state.replicas) != 1 else ''})")
    out.print(f"export KUBECONFIG={cluster.layout.kubeconfig}", markup=False, highlight=False)


@app.command()
def status(
    cluster_dir: ClusterDir = None,
    output: Annotated[str, typer.Option("-o", "--output", help="'json' for machine-readable output")] = "",
) -> None:
    """Show the cluster: replicas, etcd, the load balancer, lease holders."""
    cluster = existing(cluster_dir)
    if output not in ("", "json"):
        raise fail(f"unknown output format {output!r}: use -o json")
    info = asyncio.run(cluster_status.gather(cluster))
    if output == "json":
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
        return
    out.print(f"cluster {info['name']}  external IP {info['externalIP']}  "
              f"quorum reads {'on' if info['quorumReads'] else 'off'}  "
              f"fault tolerance {info['faultTolerance']}", markup=False, highlight=False)
    table = Table("REPLICA", "ZONE", "IP", "HEALTHY", "ETCD", *(c.removeprefix("kube-").upper() for c in COMPONENTS),
                  box=None)
    for r in info["replicas"]:
        comps = r["components"]
        etcd_role = "leader" if r["etcdLeader"] else ("learner" if r["etcdLearner"] else "member")
        table.add_row(r["name"], r["zone"], r["ip"], "yes" if r["healthy"] else "no",
                      etcd_role if r["etcdMemberID"] else "-",
                      *(_component_cell(comps.get(c)) for c in COMPONENTS))
    out.print(table)
    lb = info["loadBalancer"]
    if lb:
        backends = ", ".join(f"{b['name']} {b['status']}{_partial_weight(b.get('weight'))}"
                             for b in lb["backends"]) or "no stats"
        out.print(f"load balancer {lb['address']}: {backends}", markup=False, highlight=False)
    for lease, holder in info["leases"].items():
        out.print(f"{lease}: {holder or '-'}", markup=False, highlight=False)
    if info.get("apiservers"):
        out.print(f"API servers: {', '.join(a['id'] for a in info['apiservers'])}", markup=False,
                  highlight=False)
    if info["operation"]:
        op = info["operation"]
        out.print(f"interrupted: replica {op['kind']} of {op['replica']} at step {op['step']}; run the same "
                  "command again to finish it", markup=False, highlight=False)


def _partial_weight(weight: int | None) -> str:
    """A backend below its full weight: its API server shedding load (apiserver.lbagent) or ramping up (slowstart)."""
    return f" (weight {weight}/{WEIGHT})" if weight is not None and weight < WEIGHT else ""


def _component_cell(c: dict[str, Any] | None) -> str:
    if not c:
        return "-"
    restarts = f" ({c['restarts']} restarts)" if c.get("restarts") else ""
    return f"{c.get('state')}{restarts}"


@app.command()
def down(cluster_dir: ClusterDir = None) -> None:
    """Stop every process of the cluster; its directory and data stay."""
    cluster = LocalCluster(cluster_path(cluster_dir))
    if not cluster.layout.exists():
        raise fail(f"no cluster in {cluster.layout.root}")
    try:
        with cluster.layout.lock():
            stop_repair(cluster.layout)
            stopped = cluster.stop_all()
    except USER_ERRORS as e:
        raise user_error(e) from None
    out.print(f"stopped {len(stopped)}: {', '.join(stopped)}" if stopped else "nothing was running",
              markup=False, highlight=False)


# -- hakube nodes add|remove ---------------------------------------------------------------------

nodes_app = typer.Typer(no_args_is_help=True, help="Hollow worker nodes (one host process per 'add').")
app.add_typer(nodes_app, name="nodes")


def _running_cluster(cluster_dir: Path | None) -> LocalCluster:
    cluster = LocalCluster(cluster_path(cluster_dir))
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


@nodes_app.command("autoscale")
def nodes_autoscale(
    zone: Annotated[str, typer.Option(help="the zone whose hollow nodes form the group")],
    min_size: Annotated[int, typer.Option("--min", help="never fewer nodes than this")],
    max_size: Annotated[int, typer.Option("--max", help="never more nodes than this")],
    cluster_dir: ClusterDir = None,
    unneeded_time: Annotated[float | None, typer.Option(
        "--scale-down-unneeded-time", help="seconds a node stays under-used before removal")] = None,
    threshold: Annotated[float | None, typer.Option(
        "--scale-down-utilization-threshold", help="requested/allocatable under which a node is under-used")] = None,
    delay_after_add: Annotated[float | None, typer.Option(
        "--scale-down-delay-after-add", help="seconds after a scale-up of the group before scale-down")] = None,
) -> None:
    """Let the cluster autoscaler keep the hollow nodes of ZONE between --min and --max."""
    cluster = _running_cluster(cluster_dir)
    group = autoscale_groups.NodeGroup(zone=zone, min_size=min_size, max_size=max_size, unneeded_time=unneeded_time,
                                       utilization_threshold=threshold, delay_after_add=delay_after_add)
    try:
        with cluster.layout.lock():
            autoscale_groups.save_group(cluster.layout.root, group)
    except (autoscale_groups.GroupError, OSError) as e:
        raise fail(str(e)) from None
    out.print(f"node group {group.name}: min {min_size}, max {max_size}", markup=False, highlight=False)


app.add_typer(replica_app, name="replica")
app.add_typer(network_app, name="network")

# -- hakube addons apply --------------------------------------------------------------------------

addons_app = typer.Typer(no_args_is_help=True, help="The add-on folder every replica's add-on manager keeps in sync.")
app.add_typer(addons_app, name="addons")


@addons_app.command("apply")
def addons_apply(
    source: Annotated[Path, typer.Argument(help="an add-on file, or a folder of them")],
    cluster_dir: ClusterDir = None,
) -> None:
    """Copy add-on files into the cluster's add-on folder (atomically); the managers apply them."""
    cluster = _running_cluster(cluster_dir)
    if not source.exists():
        raise fail(f"{source} does not exist")
    try:
        with cluster.layout.lock():
            copied = cluster_addons.apply_addons(cluster.layout, source)
    except (ValueError, OSError) as e:
        raise fail(str(e)) from None
    out.print(f"copied {', '.join(copied)} into {cluster_addons.addons_dir(cluster.layout)}", markup=False,
              highlight=False)


def main() -> None:
    app()
if __name__ == "__main__":
    main()
