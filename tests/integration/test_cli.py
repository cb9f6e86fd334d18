"""`hakube up / status / down` as a user runs them: real processes, real etcd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hakube.cluster import processes

HAKUBE = [sys.executable, "-m", "hakube.cli"]


def hakube(*args: str, cluster_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*HAKUBE, *args, "--cluster-dir", str(cluster_dir)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    if check and proc.returncode != 0:
        raise AssertionError(f"hakube {' '.join(args)} failed: {proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("cluster")
    try:
        yield d
    finally:
        subprocess.run([*HAKUBE, "down", "--cluster-dir", str(d)], capture_output=True, timeout=60)


def test_up_status_down(cluster_dir: Path) -> None:
    up = hakube("up", "--quorum-reads", cluster_dir=cluster_dir)
    assert "is up: https://127." in up.stdout
    kubeconfig = cluster_dir / "kubeconfig"
    assert kubeconfig.exists() and oct(kubeconfig.stat().st_mode & 0o777) == "0o600"
    assert oct((cluster_dir / "pki" / "ca.key").stat().st_mode & 0o777) == "0o600"

    info = json.loads(hakube("status", "-o", "json", cluster_dir=cluster_dir).stdout)
    assert info["quorumReads"] is True and info["multizone"] is False
    assert info["loadBalancer"] is None and info["faultTolerance"] == 0
    [replica] = info["replicas"]
    assert replica["etcdLeader"] is True
    assert replica["processes"]["kube-apiserver"]["running"] and replica["processes"]["etcd"]["running"]
    assert replica["ip"] == info["externalIP"] and len(replica["etcdMemberID"]) > 0
    pids = {c: p["pid"] for c, p in replica["processes"].items() if p["running"]}

    # The kubeconfig written by `up` works for the real kubectl.
    out = subprocess.run(["kubectl", "get", "--raw", "/readyz"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": str(kubeconfig)})
    assert out.stdout.strip() == "ok", out.stderr

    # A second `up` of a running cluster is refused and changes nothing.
    again = hakube("up", cluster_dir=cluster_dir, check=False)
    assert again.returncode != 0 and "already running" in again.stderr
    assert "Traceback" not in again.stderr

    down = hakube("down", cluster_dir=cluster_dir)
    running = [c for c, p in replica["processes"].items() if p["running"]]
    assert {"etcd", "kube-apiserver", "kube-controller-manager"} <= set(running)
    assert f"stopped {len(running)} processes" in down.stdout
    for component in running:
        assert f"replica-1/{component}" in down.stdout
    for component in pids:
        assert processes.running_pid(cluster_dir / "replicas" / "replica-1" / "run" / f"{component}.pid") is None
    info = json.loads(hakube("status", "-o", "json", cluster_dir=cluster_dir).stdout)
    assert info["replicas"][0]["healthy"] is False

    # `up` again restarts the same cluster with its data.
    hakube("up", cluster_dir=cluster_dir)
    info2 = json.loads(hakube("status", "-o", "json", cluster_dir=cluster_dir).stdout)
    assert info2["replicas"][0]["etcdMemberID"] == replica["etcdMemberID"]


def test_user_mistakes_are_one_line(tmp_path: Path) -> None:
    missing = hakube("status", cluster_dir=tmp_path / "nothing", check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [f"error: no cluster in {tmp_path / 'nothing'}; "
                                                   "create one with 'hakube up'"]
    bad_gate = hakube("up", "--feature-gates", "Foo", cluster_dir=tmp_path / "c", check=False)
    assert bad_gate.returncode == 1 and len(bad_gate.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()
