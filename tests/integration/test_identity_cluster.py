"""`hakube up --feature-gates APIServerIdentity=true` with three replicas: every API server announces
itself, `hakube status` lists them, and a killed replica's Lease stops being renewed.

Collection of the dead Lease needs short durations; test_apiserver_identity covers it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HAKUBE = [sys.executable, "-m", "hakube.cli"]


def hakube(*args: str, cluster_dir: Path) -> str:
    proc = subprocess.run([*HAKUBE, *args, "--cluster-dir", str(cluster_dir)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, f"hakube {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("identity")
    try:
        yield d
    finally:
        subprocess.run([*HAKUBE, "down", "--cluster-dir", str(d)], capture_output=True, timeout=120)


def status(cluster_dir: Path) -> dict[str, Any]:
    return dict(json.loads(hakube("status", "-o", "json", cluster_dir=cluster_dir)))


def leases(cluster_dir: Path) -> dict[str, dict[str, Any]]:
    out = subprocess.run(["kubectl", "get", "leases", "-n", "kube-system", "-l", "k8s.io/component=kube-apiserver",
                          "-o", "json"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": str(cluster_dir / "kubeconfig")})
    assert out.returncode == 0, out.stderr
    return {i["metadata"]["name"]: i for i in json.loads(out.stdout)["items"]}


def test_three_replicas_announce_themselves(cluster_dir: Path) -> None:
    hakube("up", "--replicas", "3", "--multizone", "--feature-gates", "APIServerIdentity=true",
           cluster_dir=cluster_dir)
    info: dict[str, Any] = {}
    for _ in range(60):
        info = status(cluster_dir)
        if len(info.get("apiservers") or []) == 3:
            break
        time.sleep(1)
    assert len(info["apiservers"]) == 3, info.get("apiservers")
    assert all(a["id"].startswith("kube-apiserver-") and a["holderIdentity"] == a["id"] for a in info["apiservers"])
    assert info["featureGates"] == {"APIServerIdentity": True}
    assert "API servers: kube-apiserver-" in hakube("status", cluster_dir=cluster_dir)

    # Kill the third replica: its Lease freezes while the survivors' keep moving (renewed every 10 s).
    victim = info["replicas"][2]
    log = cluster_dir / "replicas" / victim["name"]
    ids = {a["id"] for a in info["apiservers"]}
    hakube("replica", "fail", victim["name"], cluster_dir=cluster_dir)
    dead = [i for i in ids if any(i in p.read_text(errors="replace") for p in log.rglob("*.log"))]
    assert len(dead) == 1, dead
    before = leases(cluster_dir)
    time.sleep(22)
    after = leases(cluster_dir)
    assert after[dead[0]]["spec"]["renewTime"] == before[dead[0]]["spec"]["renewTime"]
    for name in ids - set(dead):
        assert after[name]["spec"]["renewTime"] != before[name]["spec"]["renewTime"]
