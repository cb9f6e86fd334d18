"""Network fault rules: matching, precedence, groups, the file, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from hakube.chaos import netrules
from hakube.chaos.netrules import PASS, Fault, Rule, Rules, between, isolation

A, B, C = "127.0.0.11", "127.0.0.12", "127.0.0.13"


def test_isolation_cuts_both_ways_and_nothing_else() -> None:
    r = Rules(rules=isolation(A))
    assert r.fault("peer", A, B).mode == "blackhole"
    assert r.fault("peer", C, A).mode == "blackhole"
    assert r.fault("peer", B, C) == PASS
    assert r.fault("etcd-client", A, A) == PASS  # its API server still reaches its own member


def test_last_rule_wins() -> None:
    r = Rules(rules=[Rule("*", "*", "*", Fault("delay", delay=0.1)), Rule("peer", A, B, Fault("blackhole"))])
    assert r.fault("peer", A, B).mode == "blackhole"
    assert r.fault("peer", B, A).mode == "delay"
    r.rules.append(Rule("peer", "*", B, PASS))
    assert r.fault("peer", A, B) == PASS


def test_between_groups() -> None:
    one_way = between([A], [B, C], Fault("blackhole"), both_ways=False)
    assert {(x.source, x.target) for x in one_way} == {(A, B), (A, C)}
    both = between([A, B], [B, C], Fault("blackhole"))
    assert (B, B) not in {(x.source, x.target) for x in both}
    assert {(x.source, x.target) for x in both} >= {(A, B), (B, A), (A, C), (C, A), (B, C), (C, B)}


def test_file_round_trip_bumps_the_generation(tmp_path: Path) -> None:
    path = tmp_path / "network" / "faults.json"
    assert netrules.load(path) == Rules()
    r = Rules(rules=[*isolation(A), Rule("etcd-client", B, B, Fault("drop", loss=0.5))])
    netrules.save(path, r)
    netrules.save(path, r)
    loaded = netrules.load(path)
    assert loaded.generation == 2 and loaded.rules == r.rules


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown fault mode"):
        Fault("partition")
    with pytest.raises(ValueError, match="probability"):
        Fault("drop", loss=2)
    with pytest.raises(ValueError, match="between 0 and 60"):
        Fault("delay", delay=-1)
    with pytest.raises(ValueError, match="unknown link"):
        Rule("raft", A, B, PASS)


def test_describe() -> None:
    assert Fault("delay", delay=0.2, jitter=0.05).describe() == "delay 200ms ±50ms"
    assert Fault("drop", loss=0.25).describe() == "drop 25%"
    assert Fault("blackhole").describe() == "blackhole"


def test_a_cluster_without_proxies_refuses_network_faults(tmp_path: Path) -> None:
    from hakube.cluster.layout import ClusterState, Layout
    from hakube.cluster.network import NetworkError, NetworkFaults

    state = ClusterState(name="c", external_ip="127.0.0.1", network_faults=False)
    with pytest.raises(NetworkError, match="--network-faults"):
        NetworkFaults(Layout(tmp_path)).add(state, isolation(A))
    assert not (tmp_path / "network").exists()
