"""etcd membership against a real three-member cluster with TLS on every port.

Each member runs on a loopback address of its own with the usual ports, peer
and client traffic both over TLS with client-certificate authentication (as
`hakube up` runs them): nothing here speaks plain text. Every wait is bounded.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hakube.cluster import pki
from hakube.store.errors import StoreError
from hakube.store.etcd import EtcdMemberSpec, EtcdProcess, EtcdTLS, EtcdVersionError, find_etcd
from hakube.store.membership import (
    Member,
    Membership,
    PromotionFailed,
    QuorumLost,
    join_settings,
    quorum,
)
from hakube.store.storage import Storage, TLSFiles
from hakube.testing import free_loopback_ip

try:
    ETCD = find_etcd()
except EtcdVersionError as err:  # pragma: no cover - depends on the machine
    pytest.skip(f"no usable etcd: {err}", allow_module_level=True)

pytestmark = pytest.mark.asyncio(loop_scope="session")


class TLSCluster:
    """Certificates and member processes of one test cluster; stops what it started."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ca = pki.create_ca("etcd-ca")
        (root / "pki").mkdir(parents=True)
        self.ca_file = root / "pki" / "ca.crt"
        pki.write_pem(self.ca_file, self.ca.cert_pem, private=False)
        client = pki.issue_cert(self.ca, common_name="kube-apiserver-etcd-client", client=True)
        self.client_tls = TLSFiles(ca_pem=self.ca.cert_pem, cert_pem=client.cert_pem, key_pem=client.key_pem)
        self.members: dict[str, EtcdProcess] = {}

    def spec(self, name: str, *, initial_cluster: str | None = None, state: str = "new") -> EtcdMemberSpec:
        ip = free_loopback_ip((2379, 2380))
        # 127.0.0.1 too: on loopback a member dials its peers from 127.0.0.1, and etcd checks a
        # peer's client certificate against the address the connection comes from.
        cert = pki.issue_cert(self.ca, common_name=name, ip_addresses=[ip, "127.0.0.1"], server=True,
                              client=True)
        d = self.root / name
        d.mkdir()
        pki.write_pem(d / "member.crt", cert.cert_pem, private=False)
        pki.write_pem(d / "member.key", cert.key_pem, private=True)
        tls = EtcdTLS(cert_file=d / "member.crt", key_file=d / "member.key", trusted_ca_file=self.ca_file)
        return EtcdMemberSpec(name=name, data_dir=d / "data", ip=ip, tls=tls, initial_cluster=initial_cluster,
                              initial_cluster_state=state)

    async def start(self, spec: EtcdMemberSpec) -> EtcdProcess:
        member = EtcdProcess(spec, binary=ETCD, log_path=self.root / spec.name / "etcd.log")
        self.members[spec.name] = member
        await member.start(timeout=30)
        return member

    def membership(self, *names: str) -> Membership:
        urls = [self.members[n].client_url for n in names or self.members]
        return Membership(urls, tls=self.client_tls, timeout=5.0)

    async def stop(self) -> None:
        for member in self.members.values():
            await member.stop()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[TLSCluster]:
    c = TLSCluster(tmp_path)
    try:
        yield c
    finally:
        await c.stop()


async def grow(c: TLSCluster, m: Membership, name: str, progress: list[tuple[int, int]]) -> Member:
    """Add `name` as a learner, start it with state existing, promote it."""
    spec = c.spec(name)
    learner = await m.add_learner(spec.peer_url)
    assert learner.is_learner and not learner.started
    join = join_settings(await m.members(), name=name, peer_url=spec.peer_url)
    assert join.initial_cluster_state == "existing" and f"{name}={spec.peer_url}" in join.initial_cluster
    spec = EtcdMemberSpec(name=name, data_dir=spec.data_dir, ip=spec.ip, tls=spec.tls,
                          initial_cluster=join.initial_cluster, initial_cluster_state="existing")
    await c.start(spec)
    promoted = await m.promote(learner.id, timeout=30, on_progress=lambda a, b: progress.append((a, b)))
    assert not promoted.is_learner and promoted.id == learner.id
    return promoted


async def test_grow_one_to_three_with_learners(cluster: TLSCluster) -> None:
    first = await cluster.start(cluster.spec("m1"))
    async with Storage(f"{first.spec.ip}:2379", tls=cluster.client_tls) as store:
        for i in range(200):  # something for the learners to copy
            await store.create(f"/registry/test/{i}", b"x" * 512)
    async with cluster.membership("m1") as m:
        for name in ("m2", "m3"):
            progress: list[tuple[int, int]] = []
            await grow(cluster, m, name, progress)
            assert progress, "the progress callback was never called"
            applied, leader_applied = progress[-1]
            assert leader_applied > 200 and applied >= 0.9 * leader_applied
        members = await m.members()
        assert sorted(x.name for x in members) == ["m1", "m2", "m3"]
        assert not any(x.is_learner for x in members)
        health = await m.health()
        assert health.has_quorum and len(health.healthy_voting) == 3 and health.fault_tolerance == 1
        assert health.leader is not None and health.quorum == quorum(3) == 2
        status = await m.status(members[0])
        assert status.raft_applied_index > 200 and status.leader_id == health.leader_id

        # Re-adding a peer URL that is in the cluster returns that member (kubeadm ErrPeerURLExist).
        m2 = next(x for x in members if x.name == "m2")
        again = await m.add_learner(m2.peer_urls[0])
        assert again.id == m2.id and not again.is_learner
        assert len(await m.members()) == 3

        # Reads and writes work through the grown cluster on any member.
        async with Storage(f"{cluster.members['m3'].spec.ip}:2379", tls=cluster.client_tls) as store:
            assert (await store.get("/registry/test/7")).value == b"x" * 512


async def test_readd_of_a_pending_learner_is_idempotent(cluster: TLSCluster) -> None:
    await cluster.start(cluster.spec("m1"))
    async with cluster.membership("m1") as m:
        spec = cluster.spec("m2")
        first = await m.add_learner(spec.peer_url)
        second = await m.add_learner(spec.peer_url)  # an interrupted `replica add`, run again
        assert second.id == first.id and second.is_learner
        assert len(await m.members()) == 2


async def test_stalled_learner_is_removed_after_the_timeout(cluster: TLSCluster) -> None:
    await cluster.start(cluster.spec("m1"))
    async with cluster.membership("m1") as m:
        spec = cluster.spec("never-started")
        learner = await m.add_learner(spec.peer_url)
        progress: list[tuple[int, int]] = []
        start = time.monotonic()
        with pytest.raises(PromotionFailed, match=r"did not catch up .* removed again"):
            await m.promote(learner.id, timeout=2.0, interval=0.2, on_progress=lambda a, b: progress.append((a, b)))
        assert 1.9 < time.monotonic() - start < 10
        assert progress and all(applied == 0 for applied, _ in progress)
        assert [x.name for x in await m.members()] == ["m1"]
        assert (await m.health()).has_quorum


async def test_remove_member_and_refuse_quorum_loss(cluster: TLSCluster) -> None:
    await cluster.start(cluster.spec("m1"))
    async with cluster.membership("m1") as m:
        for name in ("m2", "m3"):
            await grow(cluster, m, name, [])
        m3 = next(x for x in await m.members() if x.name == "m3")
        # Removed through its own endpoint while it runs: the member leaves and stops by itself.
        async with cluster.membership("m3") as through_m3:
            assert await through_m3.remove(m3.id)
        assert sorted(x.name for x in await m.members()) == ["m1", "m2"]
        assert not await m.remove(m3.id)  # already gone: nothing to do
        await cluster.members["m3"].stop()

        # Two voters, one stopped: removing the healthy one would leave no quorum.
        await cluster.members["m2"].stop()
        m1 = next(x for x in await m.members() if x.name == "m1")
        with pytest.raises(QuorumLost, match="fewer than the quorum"):
            await m.remove(m1.id)
        assert len(await m.members()) == 2


async def test_no_add_while_quorum_is_lost(cluster: TLSCluster) -> None:
    await cluster.start(cluster.spec("m1"))
    async with cluster.membership("m1") as m:
        for name in ("m2", "m3"):
            await grow(cluster, m, name, [])
    await cluster.members["m2"].stop()
    await cluster.members["m3"].stop()
    async with cluster.membership("m1") as m:
        health = await m.health()
        assert not health.has_quorum and len(health.healthy_voting) < health.quorum
        spec = cluster.spec("m4")
        start = time.monotonic()
        with pytest.raises(QuorumLost, match="lost quorum"):
            await m.add_learner(spec.peer_url)
        assert time.monotonic() - start < 10
        assert len(await m.members()) == 3  # nothing was added


async def test_errors_are_store_errors(cluster: TLSCluster) -> None:
    await cluster.start(cluster.spec("m1"))
    async with cluster.membership("m1") as m:
        with pytest.raises(StoreError, match="not in the cluster"):
            await m.promote(0xDEAD, timeout=1)
