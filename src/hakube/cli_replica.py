"""`hakube replica add|remove|replace|list|fail|recover` (contract: DESIGN.md §3).

Each command takes the cluster lock, so two commands never interleave, and
records its steps in the cluster state before taking them: run an
interrupted command again and it finishes the job.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from hakube.cli_common import USER_ERRORS, ClusterDir, count_warning, existing, fail, out, user_error
from hakube.cluster.layout import Operation
from hakube.cluster.replicas import ReplicaError, choose_zone

replica_app = typer.Typer(no_args_is_help=True, help="Master replicas: add, remove, replace, fail, recover.")


def _say(message: str) -> None:
    out.print(message, markup=False, highlight=False)


@replica_app.command("add")
def add(
    cluster_dir: ClusterDir = None,
    zone: Annotated[str | None, typer.Option(help="zone of the new replica (default: the least used)")] = None,
) -> None:
    """Add a replica: its etcd member joins as a learner, catches up, is promoted; the LB includes it."""
    cluster = existing(cluster_dir)
    try:
        with cluster.layout.lock():
            state = cluster.layout.load()
            op = state.operation
            if op is not None and op.kind != "add":
                raise ReplicaError(f"a removal of {op.replica} was interrupted; run 'hakube replica remove "
                                   f"--zone {op.zone} --name {op.replica}' again to finish it first")
            if op is None:
                op = cluster.replicas.plan_add(state, choose_zone(state, zone))
                state.operation = op
                cluster.layout.save(state)
            else:
                _say(f"resuming the interrupted add of {op.replica} (step {op.step})")
            replica = asyncio.run(cluster.replicas.add(state, op))
    except USER_ERRORS as e:
        raise user_error(e) from None
    _say(f"replica {replica.name} added in zone {replica.zone} ({replica.ip}); {len(state.replicas)} replicas")
    warning = count_warning(len(state.replicas))
    if warning:
        _say(warning)


@replica_app.command("remove")
def remove(
    cluster_dir: ClusterDir = None,
    zone: Annotated[str | None, typer.Option(help="remove a replica of this zone")] = None,
    name: Annotated[str | None, typer.Option(help="remove this replica")] = None,
    keep_nodes: Annotated[bool, typer.Option(help="keep the zone's worker nodes")] = False,
    force: Annotated[bool, typer.Option(help="even if etcd would lose quorum")] = False,
) -> None:
    """Remove a replica (by name, or any of a zone); its etcd member goes first, then its processes."""
    if not zone and not name:
        raise fail("give --zone Z (and optionally --name NAME)")
    cluster = existing(cluster_dir)
    try:
        with cluster.layout.lock():
            state = cluster.layout.load()
            op = state.operation
            if op is not None and op.kind == "add" and (name in (None, op.replica)):
                # Removing a replica whose add was interrupted rolls the add back.
                op = Operation(kind="remove", replica=op.replica, zone=op.zone, ip=op.ip, force=True,
                               keep_nodes=keep_nodes)
            elif op is not None and op.kind == "remove":
                _say(f"resuming the interrupted removal of {op.replica} (step {op.step})")
            else:
                replica = cluster.replicas.choose(state, zone=zone, name=name)
                asyncio.run(cluster.replicas.check_removal(state, replica, force=force))
                op = Operation(kind="remove", replica=replica.name, zone=replica.zone, ip=replica.ip, force=force,
                               keep_nodes=keep_nodes)
            state.operation = op
            cluster.layout.save(state)
            asyncio.run(cluster.replicas.remove(state, op))
    except USER_ERRORS as e:
        raise user_error(e) from None
    _say(f"replica {op.replica} removed; {len(state.replicas)} replica{'s' if len(state.replicas) != 1 else ''} left")
    warning = count_warning(len(state.replicas))
    if warning:
        _say(warning)


@replica_app.command("replace")
def replace(
    name: Annotated[str, typer.Argument(help="the failed replica")],
    cluster_dir: ClusterDir = None,
) -> None:
    """Replace a failed replica: remove it and add a new one in its zone (seed 004)."""
    cluster = existing(cluster_dir)
    try:
        with cluster.layout.lock():
            state = cluster.layout.load()
            if state.operation is not None:
                raise ReplicaError(f"a replica {state.operation.kind} of {state.operation.replica} was interrupted; "
                                   "finish it first")
            old = cluster.replicas.choose(state, zone=None, name=name)
            op = Operation(kind="remove", replica=old.name, zone=old.zone, ip=old.ip, force=True, keep_nodes=True)
            state.operation = op
            cluster.layout.save(state)
            asyncio.run(cluster.replicas.remove(state, op))
            _say(f"replica {old.name} removed")
            add_op = cluster.replicas.plan_add(state, old.zone)
            state.operation = add_op
            cluster.layout.save(state)
            new = asyncio.run(cluster.replicas.add(state, add_op))
    except USER_ERRORS as e:
        raise user_error(e) from None
    _say(f"replica {old.name} replaced by {new.name} in zone {new.zone}")


@replica_app.command("list")
def list_replicas(
    cluster_dir: ClusterDir = None,
    output: Annotated[str, typer.Option("-o", "--output", help="'json' for machine-readable output")] = "",
) -> None:
    """The replicas: name, zone, address, whether their supervisor runs."""
    cluster = existing(cluster_dir)
    state = cluster.layout.load()
    rows = [{"name": r.name, "zone": r.zone, "ip": r.ip, "etcdMemberID": r.etcd_member_id or None,
             "running": cluster.supervisor_pid(r) is not None} for r in state.replicas]
    if output == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if output:
        raise fail(f"unknown output format {output!r}: use -o json")
    table = Table("NAME", "ZONE", "IP", "RUNNING", box=None)
    for r in rows:
        table.add_row(str(r["name"]), str(r["zone"]), str(r["ip"]), "yes" if r["running"] else "no")
    out.print(table)


@replica_app.command("fail")
def fail_replica(
    name: Annotated[str, typer.Argument(help="the replica")],
    cluster_dir: ClusterDir = None,
    mode: Annotated[str, typer.Option(help="kill (a dead machine), stop (a hung one), isolate")] = "kill",
) -> None:
    """Simulate a machine failure of a replica."""
    if mode not in ("kill", "stop", "isolate"):
        raise fail(f"unknown --mode {mode!r}: use kill, stop or isolate")
    cluster = existing(cluster_dir)
    try:
        state = cluster.layout.load()
        replica = cluster.replicas.choose(state, zone=None, name=name)
        _say(cluster.replicas.fail(replica, mode))
    except USER_ERRORS as e:
        raise user_error(e) from None


@replica_app.command("recover")
def recover(
    name: Annotated[str, typer.Argument(help="the replica")],
    cluster_dir: ClusterDir = None,
) -> None:
    """Undo `replica fail`: resume a hung replica, or restart a dead one with its data."""
    cluster = existing(cluster_dir)
    try:
        state = cluster.layout.load()
        replica = cluster.replicas.choose(state, zone=None, name=name)
        _say(cluster.replicas.recover(replica))
    except USER_ERRORS as e:
        raise user_error(e) from None

