"""Network faults on a real 3-replica cluster made with `--network-faults`: isolation of the etcd leader,
a delayed API-server→etcd link, and replacing the first replica (whose member `--initial-cluster` made).

One cluster serves the module's tests, in order; it is torn down at the end.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_ha import hk, replica_by_name, status, wait_for

from hakube.lb.config import WEIGHT


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("netfaults") / "c"
    try:
        hk(d, "up", "--multizone", "--replicas", "3", "--network-faults", "--quorum-reads", timeout=300)
        yield d
    finally:
        hk(d, "down", check=False, timeout=180)


def _ctx(cluster: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(cluster / "pki" / "ca.crt"))
    ctx.load_cert_chain(cluster / "pki" / "admin.crt", cluster / "pki" / "admin.key")
    return ctx


def request(cluster: Path, url: str, body: dict[str, Any] | None = None, *, timeout: float = 5) -> int:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=_ctx(cluster), timeout=timeout) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (urllib.error.URLError, TimeoutError, OSError):
        return 0


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def healthy(cluster: Path) -> dict[str, Any] | None:
    st = status(cluster)
    ok = all(r["healthy"] for r in st["replicas"]) and st["etcd"]["hasQuorum"]
    return st if ok else None


def test_isolating_the_etcd_leader_moves_leadership_and_heals(cluster: Path) -> None:
    st = wait_for(lambda: healthy(cluster), timeout=60, what="a healthy cluster")
    leader = next(r for r in st["replicas"] if r["etcdLeader"])
    out = hk(cluster, "replica", "fail", leader["name"], "--mode", "isolate").stdout
    assert "every etcd peer link cut" in out and "follows rules generation" in out, out
    assert status(cluster)["networkFaults"] == [f"peer: {leader['name']} → *: blackhole",
                                                f"peer: * → {leader['name']}: blackhole"]
    started = time.monotonic()

    def new_leader() -> str | None:
        s = status(cluster)
        return next((r["name"] for r in s["replicas"] if r["etcdLeader"] and r["name"] != leader["name"]), None)

    assert wait_for(new_leader, timeout=15, what="a leader among the connected majority")
    # Writes go on through the load balancer; the isolated replica's API server cannot serve them.
    server = st["server"]
    cm = f"{server}/api/v1/namespaces/default/configmaps"
    wait_for(lambda: request(cluster, cm, configmap("during-isolation")) == 201, timeout=15,
             what="a write through the load balancer")
    elected_after = time.monotonic() - started
    direct = f"https://{leader['ip']}:6443/api/v1/namespaces/default/configmaps/during-isolation"
    assert request(cluster, direct, timeout=4) in (0, 500, 503, 504), "an isolated minority served a quorum read"
    lb = wait_for(lambda: next((b for b in status(cluster)["loadBalancer"]["backends"]
                                if b["name"] == leader["name"] and b["status"].startswith("DOWN")), None),
                  timeout=15, what="the load balancer ejecting the isolated replica")
    assert lb["status"].startswith("DOWN")  # "DOWN (agent)" until its /readyz fails too
    # Its API server asked the load balancer's agent check for 1 % of its weight, seconds before
    # /readyz failed (apiserver.lbagent); the others keep their full weight.
    weights = {b["name"]: b["weight"] for b in status(cluster)["loadBalancer"]["backends"]}
    assert weights.pop(leader["name"]) == 1 and set(weights.values()) == {WEIGHT}, weights
    assert not replica_by_name(status(cluster), leader["name"])["healthy"]

    out = hk(cluster, "replica", "recover", leader["name"]).stdout
    assert "2 network fault rules healed" in out, out
    wait_for(lambda: healthy(cluster), timeout=60, what="the healed replica back in the cluster")
    # It caught up: a quorum read on its own API server sees the write it missed.
    wait_for(lambda: request(cluster, direct) == 200, timeout=20, what="the healed replica serving the write")
    assert status(cluster)["networkFaults"] == []
    wait_for(lambda: {b["weight"] for b in status(cluster)["loadBalancer"]["backends"]} == {WEIGHT}, timeout=10,
             what="the healed replica asking for its full weight again")
    assert elected_after < 15


def test_a_delayed_etcd_link_slows_that_replica_only(cluster: Path) -> None:
    st = wait_for(lambda: healthy(cluster), timeout=60, what="a healthy cluster")
    slow, fast = st["replicas"][0], st["replicas"][1]

    def read_time(replica: dict[str, Any]) -> float:
        t = time.monotonic()
        assert request(cluster, f"https://{replica['ip']}:6443/api/v1/namespaces/default/configmaps/absent") == 404
        return time.monotonic() - t

    hk(cluster, "network", "delay", "--between", slow["name"], "--link", "etcd-client", "--delay-ms", "300")
    try:
        # A quorum read is at least one round trip to etcd: 300 ms each way.
        assert min(read_time(slow) for _ in range(3)) >= 0.55
        assert min(read_time(fast) for _ in range(3)) < 0.3
    finally:
        out = hk(cluster, "network", "heal").stdout
    assert "1 rules removed" in out, out
    assert min(read_time(slow) for _ in range(3)) < 0.3


def test_network_commands_refuse_bad_input_and_change_nothing(cluster: Path) -> None:
    before = (cluster / "network" / "faults.json").read_text()
    for args, message in ((("cut", "--between", "nope"), "no replica named nope"),
                          (("drop", "--between", "zone=local-a", "--loss", "1.5"), "probability"),
                          (("cut", "--between", "*", "--and", "*"), "same replicas"),
                          (("delay", "--between", "zone=local-b", "--delay-ms", "5", "--link", "raft"),
                           "unknown --link")):
        proc = hk(cluster, "network", *args, check=False)
        assert proc.returncode == 1, proc
        assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert (cluster / "network" / "faults.json").read_text() == before


def test_replacing_the_first_replica(cluster: Path) -> None:
    """The first replica's member came from `--initial-cluster`: its replacement must remove it by address
    (before, the new member took over the old ID with an empty log and etcd panicked)."""
    st = wait_for(lambda: healthy(cluster), timeout=60, what="a healthy cluster")
    first = min(st["replicas"], key=lambda r: tuple(int(x) for x in r["ip"].split(".")))
    hk(cluster, "replica", "replace", first["name"], timeout=300)
    after = wait_for(lambda: healthy(cluster), timeout=60, what="a healthy cluster after the replace")
    names = {r["name"] for r in after["replicas"]}
    ids = [r["etcdMemberID"] for r in after["replicas"]]
    assert first["name"] not in names and len(names) == 3
    assert first["etcdMemberID"] not in ids and len(set(ids)) == 3
    assert after["etcd"]["members"] == 3
