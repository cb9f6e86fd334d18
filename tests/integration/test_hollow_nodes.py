"""Hollow nodes and the node lifecycle controller, on real processes.

Two hollow node hosts (zone test-a: two nodes, zone test-b: one) and a
controller-manager running only the node lifecycle controller with short
timeouts, on an API server of their own; then `hakube nodes add|remove` on a
cluster made by `hakube up`.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hakube.client.api import LEASES, NODES, PODS, ApiClient, ApiError, Credentials
from hakube.cluster import pki, processes
from hakube.testing import LocalStack

on_session_loop = pytest.mark.asyncio(loop_scope="session")

GRACE = 4  # --node-monitor-grace-period
EVICTION = 3  # --pod-eviction-timeout
LEASE = 4  # --node-lease-duration-seconds: renewed every second

Obj = dict[str, Any]


@dataclass
class Hollow:
    stack: LocalStack
    host_a: subprocess.Popen[bytes]  # hn-a-1, hn-a-2 in zone test-a
    host_b: subprocess.Popen[bytes]  # hn-b-3 in zone test-b
    controllers: subprocess.Popen[bytes]


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def hollow() -> Iterator[Hollow]:
    stack = LocalStack.create()
    started: list[subprocess.Popen[bytes]] = []
    try:
        stack.start_etcd()
        server = stack.start_apiserver()
        certs = stack.root / "node-certs"
        certs.mkdir()
        for name in ("hn-a-1", "hn-a-2", "hn-b-3"):
            ck = pki.issue_cert(stack.ca, common_name=f"system:node:{name}", organizations=["system:nodes"],
                                client=True)
            pki.write_pem(certs / f"{name}.crt", ck.cert_pem, private=False)
            pki.write_pem(certs / f"{name}.key", ck.key_pem, private=True)

        def host(nodes: str, zone: str) -> subprocess.Popen[bytes]:
            proc = _start([sys.executable, "-m", "hakube.nodes", "--server", server.url,
                           "--ca-file", str(stack.ca_file), "--cert-dir", str(certs), "--nodes", nodes,
                           "--zone", zone, "--cpu", "8", "--memory", "32Gi", "--pods", "50",
                           "--node-lease-duration-seconds", str(LEASE)], stack.root / f"host-{zone}.log")
            started.append(proc)
            return proc

        host_a, host_b = host("hn-a-1,hn-a-2", "test-a"), host("hn-b-3", "test-b")
        controllers = _start([sys.executable, "-m", "hakube.controllers", "--kubeconfig", str(stack.kubeconfig(0)),
                              "--controllers=nodelifecycle", "--leader-elect=false",
                              "--node-monitor-grace-period", str(GRACE), "--pod-eviction-timeout", str(EVICTION)],
                             stack.root / "controller-manager.log")
        started.append(controllers)
        hollow = Hollow(stack, host_a, host_b, controllers)
        yield hollow
        started += [hollow.host_a, hollow.host_b, hollow.controllers]  # tests may have restarted some
    finally:
        for proc in started:
            _stop(proc)
        stack.cleanup()


@pytest.fixture
async def client(hollow: Hollow) -> AsyncIterator[ApiClient]:
    async with ApiClient(Credentials.from_kubeconfig(hollow.stack.kubeconfig(0))) as c:
        yield c


async def until(check: Callable[[], Awaitable[Any]], *, timeout: float, what: str) -> Any:
    """Poll `check` (every 0.2 s, bounded) until it returns something truthy; return that."""
    for _ in range(int(timeout / 0.2)):
        try:
            result = await check()
        except ApiError:
            result = None
        if result:
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")


def condition(obj: Obj, kind: str) -> Obj:
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c["type"] == kind), {})


async def ready_nodes(client: ApiClient, names: set[str]) -> dict[str, Obj] | None:
    nodes = {n["metadata"]["name"]: n for n in (await client.list(NODES))["items"]}
    if names <= {n for n, node in nodes.items() if condition(node, "Ready").get("status") == "True"}:
        return nodes
    return None


async def bound_pod(client: ApiClient, name: str, node: str, *, tolerations: list[Obj] | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "web", "image": "nginx:1.27"}]}
    if tolerations:
        spec["tolerations"] = tolerations
    await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": name, "namespace": "default"}, "spec": spec})
    await client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                               "target": {"apiVersion": "v1", "kind": "Node", "name": node}},
                        "default", subresource="binding", name=name)

    async def running() -> Obj | None:
        pod = await client.get(PODS, name, "default")
        return pod if pod["status"].get("phase") == "Running" and pod["status"].get("podIP") else None

    result: Obj = await until(running, timeout=15, what=f"pod {name} Running")
    return result


@on_session_loop
async def test_nodes_register_with_labels_capacity_and_leases(client: ApiClient) -> None:
    nodes = await until(lambda: ready_nodes(client, {"hn-a-1", "hn-a-2", "hn-b-3"}), timeout=30,
                        what="three Ready nodes")
    a1 = nodes["hn-a-1"]
    assert a1["metadata"]["labels"] == {
        "kubernetes.io/hostname": "hn-a-1", "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "hollow",
        "topology.kubernetes.io/zone": "test-a", "topology.kubernetes.io/region": "test"}
    status = a1["status"]
    assert status["capacity"]["cpu"] == "8" and status["capacity"]["memory"] == "32Gi"
    assert status["capacity"]["pods"] == "50" and status["allocatable"]["pods"] == "50"
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "Ready": "True", "MemoryPressure": "False", "DiskPressure": "False", "PIDPressure": "False"}
    assert condition(a1, "Ready")["reason"] == "KubeletReady"
    assert [a["type"] for a in status["addresses"]] == ["InternalIP", "Hostname"]
    assert status["addresses"][0]["address"].startswith("10.")
    assert status["nodeInfo"]["kubeletVersion"] == "v1.32.4"
    assert status["nodeInfo"]["containerRuntimeVersion"] == "hollow://1.0"
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    cidrs = {n["spec"]["podCIDR"] for n in nodes.values() if n["metadata"]["name"].startswith("hn-")}
    assert cidrs == {"10.244.1.0/24", "10.244.2.0/24", "10.244.3.0/24"}
    assert nodes["hn-b-3"]["metadata"]["labels"]["topology.kubernetes.io/zone"] == "test-b"

    async def created() -> Obj | None:
        # The kubelet creates its Lease on its first heartbeat, just after registering the
        # (already Ready) Node, so the Lease may lag the Node by up to a renew interval.
        try:
            return await client.get(LEASES, "hn-a-1", "kube-node-lease")
        except ApiError as err:
            if err.not_found:
                return None
            raise

    lease: Obj = await until(created, timeout=LEASE, what="the node lease created")
    assert lease["spec"]["holderIdentity"] == "hn-a-1" and lease["spec"]["leaseDurationSeconds"] == LEASE
    assert lease["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Node", "name": "hn-a-1", "uid": a1["metadata"]["uid"]}]
    first = lease["spec"]["renewTime"]

    async def renewed() -> bool:
        return bool((await client.get(LEASES, "hn-a-1", "kube-node-lease"))["spec"]["renewTime"] > first)

    await until(renewed, timeout=LEASE, what="the lease renewed")


@on_session_loop
async def test_a_bound_pod_runs_and_its_deletion_finishes(client: ApiClient) -> None:
    pod = await bound_pod(client, "runner", "hn-a-1")
    status = pod["status"]
    assert status["podIP"].startswith("10.244.1.") and status["podIPs"] == [{"ip": status["podIP"]}]
    node = await client.get(NODES, "hn-a-1")
    assert status["hostIP"] == node["status"]["addresses"][0]["address"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "Ready": "True", "ContainersReady": "True",
        "PodScheduled": "True"}
    [container] = status["containerStatuses"]
    assert container["ready"] is True and container["restartCount"] == 0 and container["started"] is True
    assert container["image"] == "nginx:1.27" and container["containerID"].startswith("hollow://")
    assert "startedAt" in container["state"]["running"] and status["startTime"]

    # A graceful delete (30 s by default) is finished by the node after at most 2 s.
    deleted = await client.delete(PODS, "runner", "default")
    assert deleted["metadata"]["deletionTimestamp"]

    async def gone() -> bool:
        try:
            await client.get(PODS, "runner", "default")
        except ApiError as err:
            return err.not_found
        return False

    await until(gone, timeout=6, what="the pod deleted by its node")


@on_session_loop
async def test_unreachable_nodes_are_tainted_and_their_pods_evicted(hollow: Hollow, client: ApiClient) -> None:
    forever = [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}]
    await bound_pod(client, "doomed", "hn-a-1")
    await bound_pod(client, "tolerant", "hn-a-2", tolerations=forever)
    await bound_pod(client, "elsewhere", "hn-b-3")

    hollow.host_a.send_signal(signal.SIGSTOP)  # a hung machine: no heartbeats, no status
    try:
        async def unreachable() -> bool:
            nodes = {n: await client.get(NODES, n) for n in ("hn-a-1", "hn-a-2")}
            return all(condition(n, "Ready").get("status") == "Unknown" and
                       {("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable",
                                                                           "NoExecute")}
                       <= {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}
                       for n in nodes.values())

        await until(unreachable, timeout=GRACE + 10, what="test-a nodes Unknown and tainted unreachable")
        node = await client.get(NODES, "hn-a-1")
        ready = condition(node, "Ready")
        assert ready["reason"] == "NodeStatusUnknown" and ready["message"] == "Kubelet stopped posting node status."
        assert condition(node, "MemoryPressure")["status"] == "Unknown"
        assert all(t.get("timeAdded") for t in node["spec"]["taints"])

        async def not_ready() -> bool:
            return bool(condition(await client.get(PODS, "tolerant", "default"), "Ready").get("status") == "False")

        await until(not_ready, timeout=5, what="pods of the unreachable node marked not ready")

        async def evicted() -> bool:
            try:
                await client.get(PODS, "doomed", "default")
            except ApiError as err:
                return err.not_found
            return False

        await until(evicted, timeout=EVICTION + 8, what="the pod evicted after its default toleration")
        await asyncio.sleep(1)
        await client.get(PODS, "tolerant", "default")  # tolerates unreachable forever
        elsewhere = await client.get(PODS, "elsewhere", "default")
        assert condition(elsewhere, "Ready")["status"] == "True"
        assert condition(await client.get(NODES, "hn-b-3"), "Ready")["status"] == "True"
    finally:
        hollow.host_a.send_signal(signal.SIGCONT)

    async def recovered() -> bool:
        nodes = [await client.get(NODES, n) for n in ("hn-a-1", "hn-a-2")]
        return all(condition(n, "Ready").get("status") == "True" and not n["spec"].get("taints") for n in nodes)

    await until(recovered, timeout=20, what="test-a nodes Ready again without taints")

    async def pod_ready() -> bool:
        return bool(condition(await client.get(PODS, "tolerant", "default"), "Ready").get("status") == "True")

    await until(pod_ready, timeout=10, what="the surviving pod Ready again")
    assert hollow.controllers.poll() is None and hollow.host_b.poll() is None


@on_session_loop
async def test_a_restarted_host_keeps_its_nodes_and_pods(hollow: Hollow, client: ApiClient) -> None:
    before = await client.get(PODS, "elsewhere", "default")
    node_uid = (await client.get(NODES, "hn-b-3"))["metadata"]["uid"]
    argv = [str(a) for a in hollow.host_b.args]
    _stop(hollow.host_b)
    hollow.host_b = _start(argv, hollow.stack.root / "host-test-b-again.log")

    async def heartbeat_after_restart() -> bool:
        log = (hollow.stack.root / "host-test-b-again.log").read_text()
        return "hn-b-3: already registered" in log

    await until(heartbeat_after_restart, timeout=15, what="the restarted host re-registering hn-b-3")
    await asyncio.sleep(1)
    node = await client.get(NODES, "hn-b-3")
    assert node["metadata"]["uid"] == node_uid and condition(node, "Ready")["status"] == "True"
    after = await client.get(PODS, "elsewhere", "default")
    # The running pod is adopted as it is: same IP, no status rewrite.
    assert after["status"]["podIP"] == before["status"]["podIP"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    pod = await bound_pod(client, "newcomer", "hn-b-3")
    assert pod["status"]["podIP"] != before["status"]["podIP"]


# -- hakube nodes add|remove on a cluster made by `hakube up` ----------------------------------------------


def hakube(*args: str, cluster_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "hakube.cli", *args, "--cluster-dir", str(cluster_dir)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    if check and proc.returncode != 0:
        raise AssertionError(f"hakube {' '.join(args)} failed: {proc.stderr}")
    return proc


def kubectl_nodes(cluster_dir: Path) -> dict[str, str]:
    out = subprocess.run(["kubectl", "get", "nodes", "-o", "json"], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "KUBECONFIG": str(cluster_dir / "kubeconfig")}, check=True)
    return {n["metadata"]["name"]: condition(n, "Ready").get("status", "")
            for n in json.loads(out.stdout)["items"]
            if n["metadata"].get("labels", {}).get("node.kubernetes.io/instance-type") == "hollow"}


def test_cli_nodes_add_remove_and_down(tmp_path: Path) -> None:
    cluster_dir = tmp_path / "cluster"
    try:
        hakube("up", cluster_dir=cluster_dir)
        added = hakube("nodes", "add", "--count", "3", "--zone", "local-a", cluster_dir=cluster_dir)
        names = ["hollow-local-a-1", "hollow-local-a-2", "hollow-local-a-3"]
        assert "added 3 hollow nodes in zone local-a" in added.stdout and all(n in added.stdout for n in names)
        assert kubectl_nodes(cluster_dir) == dict.fromkeys(names, "True")
        listing = subprocess.run(["kubectl", "get", "nodes"], capture_output=True, text=True, timeout=60, check=True,
                                 env={**os.environ, "KUBECONFIG": str(cluster_dir / "kubeconfig")}).stdout
        rows = {line.split()[0]: line.split()[1] for line in listing.splitlines()[1:] if line.strip()}
        assert all(rows.get(n) == "Ready" for n in names), listing

        removed = hakube("nodes", "remove", "hollow-local-a-2", cluster_dir=cluster_dir)
        assert "removed 1 hollow nodes: hollow-local-a-2" in removed.stdout
        assert kubectl_nodes(cluster_dir) == dict.fromkeys(["hollow-local-a-1", "hollow-local-a-3"], "True")
        lease = subprocess.run(["kubectl", "get", "lease", "-n", "kube-node-lease", "hollow-local-a-2"],
                               capture_output=True, text=True, timeout=60,
                               env={**os.environ, "KUBECONFIG": str(cluster_dir / "kubeconfig")})
        assert lease.returncode != 0 and "NotFound" in lease.stderr

        newest = hakube("nodes", "remove", "--count", "1", "--zone", "local-a", cluster_dir=cluster_dir)
        assert "hollow-local-a-3" in newest.stdout
        assert kubectl_nodes(cluster_dir) == {"hollow-local-a-1": "True"}
        wrong = hakube("nodes", "remove", "no-such-node", cluster_dir=cluster_dir, check=False)
        assert wrong.returncode == 1 and "no hollow node named no-such-node" in wrong.stderr
        assert "Traceback" not in wrong.stderr

        pidfile = cluster_dir / "nodes" / "host-1" / "run" / "host.pid"
        assert processes.running_pid(pidfile) is not None
        down = hakube("down", cluster_dir=cluster_dir)
        assert "nodes/host-1" in down.stdout
        assert processes.running_pid(pidfile) is None
    finally:
        subprocess.run([sys.executable, "-m", "hakube.cli", "down", "--cluster-dir", str(cluster_dir)],
                       capture_output=True, timeout=60)
