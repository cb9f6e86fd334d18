"""Our own components do their work under their own identities and nothing wider.

A stack of its own runs the controller-manager as `system:kube-controller-manager`,
the scheduler as `system:kube-scheduler` (both leader-elected) and two hollow
nodes as `system:node:<name>` in `system:nodes`, each authorized only by the
default RBAC policy. A Deployment must come up Running on the nodes, the
service account controller must fill a new namespace, the garbage collector
must clean up after a deleted Deployment and the namespace controller must
finish a deleted namespace — and no component may have been refused anything.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from httpapi import Api, eventually

from hakube.cluster import pki
from hakube.cluster.kubeconfig import render_kubeconfig
from hakube.testing import LocalStack

NODES = ("rbac-node-1", "rbac-node-2")


@dataclass
class Components:
    stack: LocalStack
    api: Api
    logs: dict[str, Path]

    def refusals(self) -> list[str]:
        lines = []
        for name, log in self.logs.items():
            for line in log.read_text(errors="replace").splitlines():
                if "403" in line or "forbidden" in line.lower():
                    lines.append(f"{name}: {line}")
        return lines


def _kubeconfig(stack: LocalStack, server: str, user: str, path: Path) -> Path:
    cert = pki.issue_cert(stack.ca, common_name=user, client=True)
    path.write_text(render_kubeconfig(cluster_name="test", server=server, ca_pem=stack.ca.cert_pem, user=user,
                                      client=cert))
    return path


@pytest.fixture(scope="module")
def components(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Components]:
    stack = LocalStack.create()
    procs: list[subprocess.Popen[bytes]] = []
    logs: dict[str, Path] = {}

    def start(name: str, argv: list[str]) -> None:
        logs[name] = stack.root / f"{name}.log"
        procs.append(subprocess.Popen(argv, stdout=open(logs[name], "wb"), stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL))

    try:
        stack.start_etcd()
        server = stack.start_apiserver("--etcd-compaction-interval=0")
        kcm = _kubeconfig(stack, server.url, "system:kube-controller-manager", stack.root / "kcm.kubeconfig")
        sched = _kubeconfig(stack, server.url, "system:kube-scheduler", stack.root / "sched.kubeconfig")
        certs = stack.root / "node-certs"
        certs.mkdir()
        for node in NODES:
            ck = pki.issue_cert(stack.ca, common_name=f"system:node:{node}", organizations=["system:nodes"],
                                client=True)
            pki.write_pem(certs / f"{node}.crt", ck.cert_pem, private=False)
            pki.write_pem(certs / f"{node}.key", ck.key_pem, private=True)
        start("controller-manager", [sys.executable, "-m", "hakube.controllers", f"--kubeconfig={kcm}",
                                     "--leader-elect=true", "--identity-prefix=test"])
        start("scheduler", [sys.executable, "-m", "hakube.scheduler", f"--kubeconfig={sched}",
                            "--leader-elect=true", "--identity-prefix=test"])
        start("hollow-nodes", [sys.executable, "-m", "hakube.nodes", "--server", server.url,
                               "--ca-file", str(stack.ca_file), "--cert-dir", str(certs), "--nodes", ",".join(NODES),
                               "--zone", "test-a"])
        yield Components(stack, Api(stack, tmp_path_factory.mktemp("components")), logs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        stack.cleanup()


def _deployment(name: str, replicas: int) -> dict[str, object]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def test_components_work_under_their_own_roles(components: Components) -> None:
    api = components.api
    eventually(lambda: len(api.ok("GET", "/api/v1/nodes")["items"]) == len(NODES), timeout=30)
    ns = api.namespace("components")
    # The service account controller fills the namespace.
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}/serviceaccounts/default").status == 200,
               timeout=30)

    api.ok("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("web", 3))

    def running() -> bool:
        pods = api.ok("GET", f"/api/v1/namespaces/{ns}/pods")["items"]
        return len(pods) == 3 and all(p["spec"].get("nodeName") in NODES and p["status"].get("phase") == "Running"
                                      for p in pods)

    eventually(running, timeout=60, interval=0.2)
    leases = {item["metadata"]["name"] for item in api.ok("GET", "/apis/coordination.k8s.io/v1/leases")["items"]}
    assert {"kube-controller-manager", "kube-scheduler", *NODES} <= leases

    # The garbage collector removes what the Deployment owned.
    api.ok("DELETE", f"/apis/apps/v1/namespaces/{ns}/deployments/web")
    eventually(lambda: not api.ok("GET", f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"], timeout=60,
               interval=0.2)
    # The namespace controller empties and finishes a deleted namespace.
    api.ok("DELETE", f"/api/v1/namespaces/{ns}")
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}").status == 404, timeout=60, interval=0.2)

    time.sleep(0.5)  # let the last log lines land
    assert components.refusals() == []
