"""`hakube up / status / down` as a user runs them: real processes, real etcd."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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
    assert replica["healthy"] is True and replica["etcdLeader"] is True and len(replica["etcdMemberID"]) > 0
    assert replica["name"].startswith(f"{info['name']}-") and len(replica["name"]) == len(info["name"]) + 4
    components = replica["components"]
    assert set(components) == {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                               "addon-manager", "cluster-autoscaler"}
    assert all(c["state"] == "running" for c in components.values()), components
    # With one replica its API server serves the external IP itself; the replica has its own address too.
    assert replica["ip"] != info["externalIP"]

    # The kubeconfig written by `up` works for the real kubectl, through the external IP.
    out = subprocess.run(["kubectl", "get", "--raw", "/readyz"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": str(kubeconfig)})
    assert out.stdout.strip() == "ok", out.stderr
    # The leader-elected components run and hold their leases with `<replica>_<random>` identities.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        info = json.loads(hakube("status", "-o", "json", cluster_dir=cluster_dir).stdout)
        if all(info["leases"][n] for n in ("kube-controller-manager", "kube-scheduler")):
            break
        time.sleep(0.5)
    for lease in ("kube-controller-manager", "kube-scheduler"):
        assert (info["leases"][lease] or "").startswith(f"{replica['name']}_"), info["leases"]

    # API server identity is off by default: no identity leases.
    assert info["apiservers"] == []
    # The default add-ons: cluster-info makes `kubectl cluster-info` work.
    for _ in range(60):
        ci = subprocess.run(["kubectl", "get", "configmap", "cluster-info", "-n", "kube-public", "-o", "json"],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "KUBECONFIG": str(kubeconfig)})
        if ci.returncode == 0:
            break
        time.sleep(0.5)
    assert f"https://{info['externalIP']}:6443" in json.loads(ci.stdout)["data"]["kubeconfig"]
    ci = subprocess.run(["kubectl", "cluster-info"], capture_output=True, text=True, timeout=60,
                        env={**os.environ, "KUBECONFIG": str(kubeconfig)})
    assert ci.returncode == 0 and info["externalIP"] in ci.stdout, ci.stderr
    extra = cluster_dir / "extra.yaml"
    extra.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra-addon\n  namespace: default\n"
                     "  labels: {addonmanager.kubernetes.io/mode: Reconcile}\ndata: {a: b}\n")
    applied = hakube("addons", "apply", str(extra), cluster_dir=cluster_dir)
    assert "extra.yaml" in applied.stdout and (cluster_dir / "addons" / "extra.yaml").exists()
    for _ in range(60):
        got = subprocess.run(["kubectl", "get", "configmap", "extra-addon"], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "KUBECONFIG": str(kubeconfig)})
        if got.returncode == 0:
            break
        time.sleep(0.5)
    assert got.returncode == 0, got.stderr

    # A second `up` of a running cluster is refused and changes nothing.
    again = hakube("up", cluster_dir=cluster_dir, check=False)
    assert again.returncode != 0 and "already running" in again.stderr
    assert "Traceback" not in again.stderr

    supervisor = replica["supervisor"]["pid"]
    down = hakube("down", cluster_dir=cluster_dir)
    assert replica["name"] in down.stdout
    assert processes.running_pid(cluster_dir / "replicas" / replica["name"] / "run" / "supervisor.pid") is None
    for c in components.values():
        assert not Path(f"/proc/{c['pid']}").exists() or c["pid"] == supervisor
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
    two = hakube("up", "--replicas", "2", cluster_dir=tmp_path / "c", check=False)
    assert two.returncode == 1 and "two replicas" in two.stderr and "--force" in two.stderr
    assert not (tmp_path / "c").exists()
    other_region = hakube("up", "--zone", "Not_A_Zone", cluster_dir=tmp_path / "c", check=False)
    assert other_region.returncode == 1 and "invalid zone" in other_region.stderr
    assert not (tmp_path / "c" / "cluster.json").exists()
