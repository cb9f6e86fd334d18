"""etcd version policy and command line (no etcd process needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hakube.store.etcd import (
    EtcdMemberSpec,
    EtcdTLS,
    EtcdVersionError,
    check_etcd_version,
    etcd_command,
    find_etcd,
)


@pytest.mark.parametrize("version", ["3.5.0", "3.5.1", "3.5.2", "v3.5.1"])
def test_data_loss_versions_are_refused(version: str) -> None:
    with pytest.raises(EtcdVersionError, match=r"3\.5\.[012] is not usable: .*lose committed writes"):
        check_etcd_version(version)


@pytest.mark.parametrize("version", ["3.3.25", "2.3.8", "3.0.0"])
def test_versions_before_3_4_are_refused(version: str) -> None:
    with pytest.raises(EtcdVersionError, match=f"etcd {version} is not usable: .*older than 3.4.0"):
        check_etcd_version(version)


@pytest.mark.parametrize("version", ["3.4.0", "3.4.23", "3.5.3", "3.5.9", "3.6.0", "3.6.0-rc.1", "v3.5.17"])
def test_good_versions_pass(version: str) -> None:
    check_etcd_version(version)


@pytest.mark.parametrize("version", ["", "3.5", "three", "3.5.x"])
def test_unparsable_versions_are_refused(version: str) -> None:
    with pytest.raises(EtcdVersionError, match="cannot parse"):
        check_etcd_version(version)


def _fake_etcd(directory: Path, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "etcd"
    script.write_text(f"#!/bin/sh\necho 'etcd Version: {version}'\necho 'Git SHA: x'\n")
    script.chmod(0o755)
    return script


def test_find_etcd_skips_refused_versions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _fake_etcd(tmp_path / "a", "3.5.1")
    good = _fake_etcd(tmp_path / "b", "3.5.9")
    monkeypatch.setenv("PATH", f"{bad.parent}:{good.parent}")
    assert find_etcd() == (good, "3.5.9")


def test_find_etcd_names_what_it_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _fake_etcd(tmp_path / "a", "3.5.2")
    old = _fake_etcd(tmp_path / "b", "3.3.27")
    monkeypatch.setenv("PATH", f"{bad.parent}:{old.parent}")
    with pytest.raises(EtcdVersionError) as info:
        find_etcd()
    message = str(info.value)
    assert "\n" not in message
    assert f"{bad} is 3.5.2" in message and "lose committed writes" in message
    assert f"{old} is 3.3.27" in message


def test_find_etcd_without_etcd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EtcdVersionError, match="no etcd executable on PATH"):
        find_etcd()


def test_find_etcd_unreadable_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "etcd"
    script.write_text("#!/bin/sh\necho hello\n")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EtcdVersionError, match="no 'etcd Version:' line"):
        find_etcd()


def _flags(argv: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in argv[1:])


def test_command_plain() -> None:
    spec = EtcdMemberSpec(name="replica-1", data_dir=Path("/d"), ip="127.0.0.7")
    argv = etcd_command(spec, executable="/x/etcd", version="3.4.23")
    assert argv[0] == "/x/etcd"
    flags = _flags(argv)
    assert flags["name"] == "replica-1"
    assert flags["data-dir"] == "/d"
    assert flags["listen-client-urls"] == flags["advertise-client-urls"] == "http://127.0.0.7:2379"
    assert flags["listen-peer-urls"] == flags["initial-advertise-peer-urls"] == "http://127.0.0.7:2380"
    assert flags["initial-cluster"] == "replica-1=http://127.0.0.7:2380"
    assert flags["initial-cluster-state"] == "new"
    assert flags["heartbeat-interval"] == "100" and flags["election-timeout"] == "1000"
    assert flags["enable-v2"] == "false"
    assert flags["logger"] == "zap" and flags["log-outputs"] == "stderr"
    assert int(flags["quota-backend-bytes"]) == 2 * 1024**3
    assert not any(k.startswith(("auto-compaction", "listen-metrics")) for k in flags)
    assert not any("cert" in k or "key-file" in k for k in flags)
    assert spec.client_url == "http://127.0.0.7:2379" and spec.peer_url == "http://127.0.0.7:2380"


def test_command_tls_and_existing_cluster() -> None:
    tls = EtcdTLS(cert_file=Path("/p/m.crt"), key_file=Path("/p/m.key"), trusted_ca_file=Path("/p/ca.crt"),
                  peer_cert_file=Path("/p/peer.crt"), peer_key_file=Path("/p/peer.key"))
    spec = EtcdMemberSpec(
        name="replica-2",
        data_dir=Path("/d"),
        ip="127.0.0.8",
        client_port=12379,
        peer_port=12380,
        initial_cluster="replica-1=https://127.0.0.7:12380,replica-2=https://127.0.0.8:12380",
        initial_cluster_state="existing",
        tls=tls,
    )
    flags = _flags(etcd_command(spec))
    assert flags["listen-client-urls"] == "https://127.0.0.8:12379"
    assert flags["initial-advertise-peer-urls"] == "https://127.0.0.8:12380"
    assert flags["initial-cluster"] == spec.initial_cluster
    assert flags["initial-cluster-state"] == "existing"
    assert flags["cert-file"] == "/p/m.crt" and flags["key-file"] == "/p/m.key"
    assert flags["trusted-ca-file"] == "/p/ca.crt" and flags["client-cert-auth"] == "true"
    assert flags["peer-cert-file"] == "/p/peer.crt" and flags["peer-key-file"] == "/p/peer.key"
    assert flags["peer-trusted-ca-file"] == "/p/ca.crt"  # defaults to the client-side CA
    assert flags["peer-client-cert-auth"] == "true"


def test_command_drops_flags_newer_etcd_removed() -> None:
    spec = EtcdMemberSpec(name="r", data_dir=Path("/d"), ip="127.0.0.7")
    assert "--enable-v2=false" not in etcd_command(spec, version="3.6.1")
    assert "--enable-v2=false" in etcd_command(spec, version="3.5.9")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": ""},
        {"name": "a,b"},
        {"ip": "localhost"},
        {"client_port": 0},
        {"peer_port": 2379},
        {"initial_cluster_state": "joining"},
        {"heartbeat_interval_ms": 100, "election_timeout_ms": 400},
    ],
)
def test_spec_validation(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {"name": "r", "data_dir": Path("/d"), "ip": "127.0.0.7", **kwargs}
    with pytest.raises(ValueError):
        EtcdMemberSpec(**args)  # type: ignore[arg-type]
