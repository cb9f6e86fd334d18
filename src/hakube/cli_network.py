"""`hakube network cut|delay|drop|heal|show`: faults on the links between replicas (clusters made with
`hakube up --network-faults`; DESIGN.md §3).

GROUP is a replica name, `zone=ZONE`, several of those joined by commas, or
`*`. A fault applies to the bytes flowing from `--between` to `--and` and
back (unless `--one-way`); `--and` defaults to every other replica. The
`etcd-client` link is a replica's API server talking to its own etcd member:
name the replicas with `--between` only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from hakube.chaos.netrules import LINKS, Fault, Rule, between
from hakube.cli_common import USER_ERRORS, ClusterDir, existing, fail, out, user_error
from hakube.cluster.layout import ClusterState
from hakube.cluster.local import LocalCluster
from hakube.cluster.network import NetworkFaults, fault_from_options

network_app = typer.Typer(no_args_is_help=True,
                          help="Cut, delay or drop traffic between replicas or zones, and heal it.")

Between = Annotated[str, typer.Option("--between", help="GROUP: NAME, zone=ZONE, comma-separated, or *")]
And = Annotated[str, typer.Option("--and", help="GROUP (default: every other replica)")]
OneWay = Annotated[bool, typer.Option("--one-way", help="only from --between to --and")]
Link = Annotated[str, typer.Option("--link", help="peer (etcd member to member) or etcd-client "
                                                  "(a replica's API server to its etcd member)")]


def _say(message: str) -> None:
    out.print(message, markup=False, highlight=False)


def _rules(net: NetworkFaults, state: ClusterState, fault: Fault, *, group_a: str, group_b: str, one_way: bool,
           link: str) -> list[Rule]:
    if link not in LINKS:
        raise fail(f"unknown --link {link!r}: use {' or '.join(LINKS)}")
    a = net.addresses(state, group_a)
    if link == "etcd-client":
        if group_b:
            raise fail("the etcd-client link joins a replica to its own member: use --between only")
        return [Rule(link=link, source=x, target=x, fault=fault) for x in a]
    b = net.addresses(state, group_b) if group_b else [r.ip for r in state.replicas if r.ip not in a]
    if not set(b) - set(a):
        raise fail("--between and --and name the same replicas: there is no link between them")
    return between(a, b, fault, both_ways=not one_way, links=(link,))


def _apply(cluster_dir: ClusterDir, make_fault: Fault | None, mode: str, *, group_a: str, group_b: str,
           one_way: bool, link: str, delay_ms: float = 0.0, jitter_ms: float = 0.0, loss: float = 0.0) -> None:
    cluster: LocalCluster = existing(cluster_dir)
    try:
        with cluster.layout.lock():
            state = cluster.layout.load()
            net = cluster.replicas.network
            net.check_enabled(state)
            fault = make_fault or fault_from_options(mode, delay_ms=delay_ms, jitter_ms=jitter_ms, loss=loss)
            rules = _rules(net, state, fault, group_a=group_a, group_b=group_b, one_way=one_way, link=link)
            applied = net.add(state, rules)
    except USER_ERRORS as e:
        raise user_error(e) from None
    _say(f"{fault.describe()}: {len(rules)} {link} links ({applied.summary()})")


@network_app.command("cut")
def cut(between_: Between, and_: And = "", one_way: OneWay = False, link: Link = "peer",
        cluster_dir: ClusterDir = None) -> None:
    """Blackhole the links: bytes are held (TCP retransmitting) until `heal`."""
    _apply(cluster_dir, Fault("blackhole"), "blackhole", group_a=between_, group_b=and_, one_way=one_way, link=link)


@network_app.command("delay")
def delay(between_: Between,
          delay_ms: Annotated[float, typer.Option("--delay-ms", help="added latency per direction")],
          and_: And = "", jitter_ms: Annotated[float, typer.Option("--jitter-ms", help="± around the delay")] = 0.0,
          one_way: OneWay = False, link: Link = "peer", cluster_dir: ClusterDir = None) -> None:
    """Delay every chunk on the links (order kept)."""
    _apply(cluster_dir, None, "delay", group_a=between_, group_b=and_, one_way=one_way, link=link,
           delay_ms=delay_ms, jitter_ms=jitter_ms)


@network_app.command("drop")
def drop(between_: Between,
         loss: Annotated[float, typer.Option("--loss", help="probability a chunk is lost (ending its connection)")],
         and_: And = "", one_way: OneWay = False, link: Link = "peer", cluster_dir: ClusterDir = None) -> None:
    """Lose chunks on the links: a lost chunk resets its TCP connection."""
    _apply(cluster_dir, None, "drop", group_a=between_, group_b=and_, one_way=one_way, link=link, loss=loss)


@network_app.command("heal")
def heal(between_: Annotated[str, typer.Option("--between", help="only rules involving GROUP (default: all)")] = "",
         cluster_dir: ClusterDir = None) -> None:
    """Remove network faults: all of them, or those involving --between."""
    cluster = existing(cluster_dir)
    try:
        with cluster.layout.lock():
            state = cluster.layout.load()
            net = cluster.replicas.network
            only = net.addresses(state, between_) if between_ else None
            removed, applied = net.heal(state, only)
    except USER_ERRORS as e:
        raise user_error(e) from None
    _say(f"{removed} rules removed ({applied.summary()})")


@network_app.command("show")
def show(cluster_dir: ClusterDir = None) -> None:
    """The network faults in force."""
    cluster = existing(cluster_dir)
    try:
        state = cluster.layout.load()
        cluster.replicas.network.check_enabled(state)
        lines = cluster.replicas.network.describe(state)
    except USER_ERRORS as e:
        raise user_error(e) from None
    _say("\n".join(lines) if lines else "no network faults: every link passes")
