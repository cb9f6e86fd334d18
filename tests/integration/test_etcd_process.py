"""A real etcd member on a loopback address of its own: start, use, stop."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager
from pathlib import Path

import aetcd
import aiohttp
import pytest

from hakube.cluster.pki import create_ca, issue_cert, write_pem
from hakube.store.etcd import (
    EtcdMemberSpec,
    EtcdProcess,
    EtcdStartError,
    EtcdTLS,
    EtcdVersionError,
    find_etcd,
)

try:
    ETCD = find_etcd()
except EtcdVersionError as err:  # pragma: no cover - depends on the machine
    pytest.skip(f"no usable etcd: {err}", allow_module_level=True)


def _free_address(*, ports: int = 2) -> tuple[str, list[int]]:
    """A random 127.0.0.x and ports free on it, found by binding first."""
    for _ in range(50):
        ip = f"127.0.0.{random.randint(2, 250)}"
        with ExitStack() as stack:
            found: list[int] = []
            try:
                for _ in range(ports):
                    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
                    sock.bind((ip, 0))
                    found.append(sock.getsockname()[1])
            except OSError:
                continue
            return ip, found
    raise RuntimeError("no free loopback address")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def spec(tmp_path: Path) -> EtcdMemberSpec:
    ip, (client_port, peer_port) = _free_address()
    return EtcdMemberSpec(
        name="replica-1", data_dir=tmp_path / "etcd", ip=ip, client_port=client_port, peer_port=peer_port
    )


@asynccontextmanager
async def _running(member: EtcdProcess) -> AsyncIterator[EtcdProcess]:
    try:
        await member.start()
        yield member
    finally:
        await member.stop()


async def test_start_put_get_stop(spec: EtcdMemberSpec) -> None:
    member = EtcdProcess(spec, binary=ETCD)
    async with _running(member):
        pid = member.pid
        assert pid is not None and member.running
        assert member.client_url == f"http://{spec.ip}:{spec.client_port}"
        assert member.peer_url == f"http://{spec.ip}:{spec.peer_port}"
        async with aetcd.Client(host=spec.ip, port=spec.client_port, timeout=5) as client:
            await client.put(b"/registry/test", b"hello")
            got = await client.get(b"/registry/test")
            assert got is not None and got.value == b"hello"
            status = await client.status()
            assert status.version == ETCD[1]
    assert not member.running and member.returncode is not None
    assert _pid_gone(pid)
    assert (spec.data_dir / "member").is_dir()


async def test_restart_keeps_data_and_logs_to_file(spec: EtcdMemberSpec, tmp_path: Path) -> None:
    log = tmp_path / "logs" / "etcd.log"
    async with EtcdProcess(spec, log_path=log) as member:
        async with aetcd.Client(host=spec.ip, port=spec.client_port, timeout=5) as client:
            await client.put(b"k", b"v1")
    assert not member.running
    first_size = log.stat().st_size
    assert first_size > 0 and b"serving client traffic" in log.read_bytes()
    async with EtcdProcess(spec, log_path=log) as member:
        async with aetcd.Client(host=spec.ip, port=spec.client_port, timeout=5) as client:
            got = await client.get(b"k")
            assert got is not None and got.value == b"v1"
    assert log.stat().st_size > first_size  # appended, not truncated


async def test_exit_during_start_reports_the_log(spec: EtcdMemberSpec) -> None:
    with socket.socket() as squatter:  # the client port is taken: etcd exits at once
        squatter.bind((spec.ip, spec.client_port))
        squatter.listen()
        member = EtcdProcess(spec, binary=ETCD)
        expected = r"(?s)exited with code \d+ while starting.*address already in use"
        with pytest.raises(EtcdStartError, match=expected):
            await member.start(timeout=20)
    assert member.pid is not None and member.returncode is not None
    assert _pid_gone(member.pid)


async def test_unhealthy_member_times_out_and_is_stopped(spec: EtcdMemberSpec, tmp_path: Path) -> None:
    """A member of a two-member cluster whose peer never comes has no quorum, so never healthy."""
    _, (absent_port,) = _free_address(ports=1)
    lonely = EtcdMemberSpec(
        name="replica-1",
        data_dir=spec.data_dir,
        ip=spec.ip,
        client_port=spec.client_port,
        peer_port=spec.peer_port,
        initial_cluster=f"replica-1={spec.peer_url},replica-2=http://{spec.ip}:{absent_port}",
    )
    member = EtcdProcess(lonely, log_path=tmp_path / "etcd.log", binary=ETCD)
    expected = r"(?s)not healthy at http://.* within 3s \(last probe: .*last log"
    with pytest.raises(EtcdStartError, match=expected):
        await member.start(timeout=3)
    assert member.pid is not None and not member.running
    assert _pid_gone(member.pid)


async def test_three_members_on_their_own_addresses(tmp_path: Path) -> None:
    """Each replica has its own loopback address and the same ports, as separate hosts would."""
    ips: list[str] = []
    client_port = peer_port = 0
    while len(ips) < 3:
        ip, (c, p) = _free_address()
        if ip in ips:
            continue
        if not ips:
            client_port, peer_port = c, p
        else:
            # The first address's free ports must also be free here.
            try:
                for port in (client_port, peer_port):
                    with socket.socket() as probe:
                        probe.bind((ip, port))
            except OSError:
                continue
        ips.append(ip)
    names = [f"replica-{i}" for i in range(1, 4)]
    cluster = ",".join(f"{n}=http://{ip}:{peer_port}" for n, ip in zip(names, ips, strict=True))
    members = [
        EtcdProcess(
            EtcdMemberSpec(
                name=name, data_dir=tmp_path / name, ip=ip, client_port=client_port, peer_port=peer_port,
                initial_cluster=cluster,
            ),
            binary=ETCD,
        )
        for name, ip in zip(names, ips, strict=True)
    ]
    try:
        await asyncio.gather(*(m.start(timeout=30) for m in members))
        async with aetcd.Client(host=ips[0], port=client_port, timeout=5) as first:
            await first.put(b"replicated", b"yes")
        async with aetcd.Client(host=ips[2], port=client_port, timeout=5) as third:
            got = await third.get(b"replicated")  # linearizable: goes through the leader
            assert got is not None and got.value == b"yes"
            members_seen = [m async for m in third.members()]
            assert sorted(m.name for m in members_seen) == names
    finally:
        # One after another: stopped together, the leader would wait out its
        # leadership-transfer timeout (about 7 s) on a follower that is going away.
        for member in members:
            await member.stop()
    for member in members:
        assert member.pid is not None and _pid_gone(member.pid)


@pytest.fixture
def tls_files(tmp_path: Path, spec: EtcdMemberSpec) -> Iterator[tuple[EtcdTLS, Path, Path]]:
    ca = create_ca("etcd-ca")
    member = issue_cert(ca, common_name=spec.name, ip_addresses=[spec.ip], server=True, client=True)
    apiserver = issue_cert(ca, common_name="kube-apiserver-etcd-client", client=True)
    pki = tmp_path / "pki"
    pki.mkdir()
    write_pem(pki / "ca.crt", ca.cert_pem, private=False)
    for name, pair in (("member", member), ("apiserver", apiserver)):
        write_pem(pki / f"{name}.crt", pair.cert_pem, private=False)
        write_pem(pki / f"{name}.key", pair.key_pem, private=True)
    tls = EtcdTLS(cert_file=pki / "member.crt", key_file=pki / "member.key", trusted_ca_file=pki / "ca.crt")
    yield tls, pki / "apiserver.crt", pki / "apiserver.key"


async def test_tls_member_requires_client_certificates(
    spec: EtcdMemberSpec, tls_files: tuple[EtcdTLS, Path, Path]
) -> None:
    tls, client_cert, client_key = tls_files
    secure = EtcdMemberSpec(
        name=spec.name, data_dir=spec.data_dir, ip=spec.ip, client_port=spec.client_port,
        peer_port=spec.peer_port, tls=tls,
    )
    assert secure.client_url.startswith("https://") and secure.peer_url.startswith("https://")
    async with EtcdProcess(secure, binary=ETCD) as member:
        context = ssl.create_default_context(cafile=str(tls.trusted_ca_file))
        context.load_cert_chain(str(client_cert), str(client_key))
        async with aiohttp.ClientSession() as session:
            # etcd's gRPC gateway (JSON over the same TLS port), as a client with a certificate.
            async with session.post(
                f"{member.client_url}/v3/kv/put", json={"key": b64(b"k"), "value": b64(b"v")}, ssl=context
            ) as response:
                assert response.status == 200, await response.text()
            async with session.post(
                f"{member.client_url}/v3/kv/range", json={"key": b64(b"k")}, ssl=context
            ) as response:
                body = await response.json()
                assert base64.b64decode(body["kvs"][0]["value"]) == b"v"
            # Without a client certificate the TLS handshake is refused.
            anonymous = ssl.create_default_context(cafile=str(tls.trusted_ca_file))
            with pytest.raises(aiohttp.ClientError):
                async with session.get(f"{member.client_url}/health", ssl=anonymous) as response:
                    await response.read()
