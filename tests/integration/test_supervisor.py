"""The supervisor as a real process: manifests in, processes, restarts, probes, status, Node and mirror pods out.

Simple components are small Python programs written here (sleepers that log
their start and stop times, a crasher, an HTTP server); one test runs a real
etcd and API server from manifests and checks what the API shows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hakube.client.api import LEASES, NODES, PODS, ApiClient, ApiError, Credentials
from hakube.cluster import pki
from hakube.cluster.kubeconfig import render_kubeconfig
from hakube.store.etcd import EtcdMemberSpec, etcd_command, find_etcd
from hakube.supervisor import (
    STOP_ORDER_ANNOTATION,
    ManifestError,
    http_liveness,
    manifest,
    parse_manifest,
    remove_manifest,
    write_manifest,
)
from hakube.supervisor.runner import Backoff
from hakube.testing import LocalStack, free_loopback_ip

T = TypeVar("T")

# Logs "start|term|exit <name> <ns>"; on SIGTERM waits STOP_DELAY seconds before exiting.
SLEEPER = """
import os, signal, sys, time
name = sys.argv[1]
print(f"start {name} {time.time_ns()}", flush=True)
def term(*_):
    print(f"term {name} {time.time_ns()}", flush=True)
    time.sleep(float(os.environ.get("STOP_DELAY", "0")))
    print(f"exit {name} {time.time_ns()}", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
for _ in range(6000):
    time.sleep(0.1)
"""
CRASHER = """
import sys, time
print(f"start {time.time()}", flush=True)
sys.exit(3)
"""
HTTP_SERVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
print("serving", flush=True)
server.serve_forever()
"""


def wait_until(predicate: Callable[[], T | None], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.05) + 1):
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


async def until(predicate: Callable[[], Awaitable[T | None]], *, timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.2) + 1):
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_ok(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


class Supervised:
    """One supervisor process on a replica directory; stopped (and, failing that, killed) at teardown."""

    def __init__(self, replica_dir: Path, *extra: str, replica: str = "replica-1", zone: str = "local-a") -> None:
        self.dir = replica_dir
        self.manifests = replica_dir / "manifests"
        self.manifests.mkdir(parents=True, exist_ok=True)
        self.out = replica_dir / "supervisor.out"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "hakube.supervisor", f"--replica-dir={replica_dir}", f"--replica={replica}",
             f"--zone={zone}", *extra],
            stdin=subprocess.DEVNULL, stdout=open(self.out, "wb"), stderr=subprocess.STDOUT)

    def status(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.dir / "run" / "supervisor.json").read_text())
        except (OSError, ValueError):
            return {}
        return data

    def component(self, name: str) -> dict[str, Any]:
        entry: dict[str, Any] = self.status().get("components", {}).get(name) or {}
        return entry

    def running_pid(self, name: str) -> int | None:
        c = self.component(name)
        return c["pid"] if c.get("state") == "running" else None

    def log(self, name: str) -> str:
        path = self.dir / "logs" / f"{name}.log"
        return path.read_text() if path.exists() else ""

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"supervisor did not stop within {timeout}s:\n{self.out.read_text()[-3000:]}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            # It leads its own process group: the group is the supervisor and what it started.
            if os.getpgid(self.proc.pid) == self.proc.pid:
                os.killpg(self.proc.pid, signal.SIGKILL)
            else:
                self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def supervise(tmp_path: Path) -> Iterator[Callable[..., Supervised]]:
    started: list[Supervised] = []

    def start(*extra: str, **kw: str) -> Supervised:
        s = Supervised(tmp_path / f"replica-{len(started) + 1}", *extra, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            try:
                s.stop(20)
            finally:
                s.kill()


def sleeper(name: str, *, stop_delay: float = 0.0, version: str = "1", **kw: Any) -> dict[str, Any]:
    return manifest(name, [sys.executable, "-c", SLEEPER, name],
                    env={"STOP_DELAY": str(stop_delay), "VERSION": version}, grace_period=5, **kw)


def test_backoff_doubles_to_its_cap_and_resets_after_a_healthy_run() -> None:
    b = Backoff()
    delays = [b.next(None, 0.1)]
    for _ in range(6):
        delays.append(b.next(delays[-1], 0.1))
    assert delays == [0.5, 1, 2, 4, 8, 10, 10]
    assert b.next(10, 10.0) == 0.5


def test_manifests_are_parsed_strictly_and_written_in_kubeadm_shape(tmp_path: Path) -> None:
    pod = manifest("kube-apiserver", ["/bin/true", "--x=1"], env={"A": "b"},
                   liveness=http_liveness(port=6443, scheme="HTTPS", host="127.0.0.9"))
    path = write_manifest(tmp_path, pod)
    assert path.name == "kube-apiserver.yaml" and [p.name for p in tmp_path.iterdir()] == [path.name]
    parsed = parse_manifest(path.read_bytes(), path)
    assert parsed.stop_order == 10 and parsed.grace_period == 30 and parsed.namespace == "kube-system"
    (c,) = parsed.containers
    assert c.argv == ("/bin/true", "--x=1") and c.env == (("A", "b"),)
    assert c.liveness is not None and c.liveness.scheme == "HTTPS" and c.liveness.port == 6443
    assert manifest("kube-scheduler", ["x"])["metadata"]["annotations"][STOP_ORDER_ANNOTATION] == "20"
    assert manifest("etcd", ["x"], stop_order=5)["metadata"]["annotations"][STOP_ORDER_ANNOTATION] == "5"
    for bad, why in [(b"kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: a}]}", "command is required"),
                     (b"[1", "not valid YAML"),
                     (b"metadata: {name: a}\nspec: {containers: [{name: a, command: [x], livenessProbe: "
                      b"{exec: {command: [x]}}}]}", "only httpGet and tcpSocket"),
                     (b"metadata: {name: a, annotations: {hakube.io/stop-order: high}}\n"
                      b"spec: {containers: [{name: a, command: [x]}]}", "must be an integer")]:
        with pytest.raises(ManifestError, match=why):
            parse_manifest(bad, tmp_path / "x.yaml")


def test_manifest_added_changed_removed_acts_within_2s(supervise: Callable[..., Supervised]) -> None:
    s = supervise()
    wait_until(lambda: s.status().get("state") == "running", timeout=10, what="supervisor status file")

    t0 = time.monotonic()
    write_manifest(s.manifests, sleeper("alpha"))
    pid = wait_until(lambda: s.running_pid("alpha"), timeout=2, what="alpha started")
    assert time.monotonic() - t0 < 2
    assert alive(pid)
    wait_until(lambda: "start alpha" in s.log("alpha"), timeout=5, what="alpha logs to logs/alpha.log")

    t0 = time.monotonic()
    write_manifest(s.manifests, sleeper("alpha", version="2"))
    new = wait_until(lambda: (p := s.running_pid("alpha")) != pid and p, timeout=2, what="alpha restarted")
    assert time.monotonic() - t0 < 2
    assert not alive(pid) and alive(new)
    assert s.component("alpha")["restarts"] == 0  # a changed manifest is a new pod
    assert "exit alpha" in s.log("alpha")  # stopped with SIGTERM, not killed

    # A broken edit is reported and the running version stays.
    (s.manifests / "alpha.yaml").write_text("kind: Pod\nmetadata: {name: alpha}\nspec: {containers: [{name: a}]}\n")
    wait_until(lambda: "ignoring manifest alpha.yaml" in s.out.read_text(), timeout=2, what="broken manifest said")
    time.sleep(0.6)
    assert s.running_pid("alpha") == new

    t0 = time.monotonic()
    assert remove_manifest(s.manifests, "alpha")
    wait_until(lambda: "alpha" not in s.status().get("components", {"alpha": 1}), timeout=2, what="alpha stopped")
    assert time.monotonic() - t0 < 2
    assert not alive(new)
    out = s.out.read_text()
    assert "replica-1: alpha started" in out and "manifest changed" in out and "manifest was removed" in out


def test_crash_loop_restarts_with_growing_back_off(supervise: Callable[..., Supervised]) -> None:
    s = supervise()
    write_manifest(s.manifests, manifest("crasher", [sys.executable, "-c", CRASHER]))
    wait_until(lambda: s.component("crasher").get("restarts", 0) >= 3, timeout=10, what="three restarts")
    entry = s.component("crasher")
    assert entry["lastExitCode"] == 3
    assert entry["containers"][0]["restarts"] == entry["restarts"]
    starts = wait_until(lambda: (t := [float(m) for m in re.findall(r"start (\d+\.\d+)", s.log("crasher"))])
                        and len(t) >= 4 and t, timeout=3, what="four runs logged")
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Each gap is the back-off (0.5, 1, 2 s) plus a start-up time that cancels out in the differences.
    assert gaps[0] >= 0.4
    assert gaps[1] - gaps[0] > 0.3 and gaps[2] - gaps[1] > 0.7, gaps
    assert re.search(r"replica-1: crasher restarted after exit 3 \(back-off 2s\)", s.out.read_text())


def test_liveness_probe_restarts_a_hung_server(supervise: Callable[..., Supervised]) -> None:
    port = free_port()
    s = supervise()
    probe = http_liveness(port=port, path="/", host="127.0.0.1", initial_delay=0, period=1, timeout=1,
                          failure_threshold=2)
    write_manifest(s.manifests, manifest("web", [sys.executable, "-c", HTTP_SERVER, str(port)], liveness=probe,
                                         grace_period=2))
    pid = wait_until(lambda: s.running_pid("web"), timeout=5, what="web started")
    wait_until(lambda: http_ok(port), timeout=5, what="web answers")
    time.sleep(1.5)  # a few successful probes
    assert s.component("web")["restarts"] == 0

    os.kill(pid, signal.SIGSTOP)  # hung: the kernel still accepts connections, nobody answers
    new = wait_until(lambda: (p := s.running_pid("web")) != pid and p, timeout=10, what="web restarted")
    assert not alive(pid)
    assert s.component("web")["restarts"] == 1
    wait_until(lambda: http_ok(port), timeout=5, what="the new web answers")
    out = s.out.read_text()
    assert "web liveness probe failed (1/2)" in out and "web is unhealthy" in out
    assert alive(new)


def test_sigterm_stops_clients_then_apiserver_then_etcd(supervise: Callable[..., Supervised]) -> None:
    s = supervise()
    names = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
    for name in names:
        write_manifest(s.manifests, sleeper(name, stop_delay=0.3))
    pids = {n: wait_until(lambda n=n: s.running_pid(n), timeout=5, what=f"{n} started") for n in names}
    for n in names:
        wait_until(lambda n=n: f"start {n}" in s.log(n), timeout=5, what=f"{n} logged")

    status = s.status()
    assert status["pid"] == s.proc.pid and status["replica"] == "replica-1"
    assert status["zone"] == "local-a" and status["region"] == "local" and status["node"] is None
    assert status["pgid"] == s.proc.pid  # it leads its own group …
    assert all(os.getpgid(pid) == status["pgid"] for pid in pids.values())  # … and its children are in it
    assert (s.dir / "run" / "supervisor.pid").read_text().split()[0] == str(s.proc.pid)
    for n in names:
        entry = status["components"][n]
        assert entry["state"] == "running" and entry["restarts"] == 0 and entry["lastExitCode"] is None
        assert entry["startedAt"].endswith("Z") and entry["manifest"] == f"{n}.yaml"
    assert [status["components"][n]["stopOrder"] for n in names] == [0, 10, 20, 20]

    assert s.stop(20) == 0

    def times(kind: str, name: str) -> int:
        match = re.search(rf"{kind} {name} (\d+)", s.log(name))
        assert match, f"{name} did not log {kind}: {s.log(name)!r}"
        return int(match.group(1))

    clients_done = max(times("exit", "kube-controller-manager"), times("exit", "kube-scheduler"))
    assert clients_done <= times("term", "kube-apiserver")
    assert times("exit", "kube-apiserver") <= times("term", "etcd")
    assert not any(alive(pid) for pid in pids.values())
    assert not (s.dir / "run" / "supervisor.pid").exists()
    final = s.status()
    assert final["state"] == "stopped"
    assert all(final["components"][n]["state"] == "stopped" and final["components"][n]["lastExitCode"] == 0
               for n in names)


def test_components_die_with_their_supervisor(supervise: Callable[..., Supervised]) -> None:
    s = supervise()
    write_manifest(s.manifests, sleeper("alpha"))
    pid = wait_until(lambda: s.running_pid("alpha"), timeout=5, what="alpha started")
    s.proc.kill()  # the supervisor alone
    s.proc.wait(5)
    wait_until(lambda: not alive(pid), timeout=3, what="alpha died with its supervisor")
    # A second supervisor on the same directory starts cleanly (the lock died with the first).
    again = Supervised(s.dir)
    try:
        wait_until(lambda: again.status().get("pid") == again.proc.pid and again.running_pid("alpha"), timeout=5,
                   what="alpha started again")
    finally:
        assert again.stop(10) == 0


@pytest.mark.asyncio(loop_scope="session")
async def test_real_etcd_and_apiserver_register_node_lease_and_mirror_pods(
        supervise: Callable[..., Supervised], tmp_path: Path) -> None:
    stack = LocalStack.create(tmp_path / "stack")  # its CA and admin certificate
    ip = free_loopback_ip()
    replica = "replica-7"
    etcd_path, etcd_version = find_etcd()
    data = tmp_path / "etcd-data"
    data.mkdir(mode=0o700)
    etcd_argv = etcd_command(EtcdMemberSpec(name=replica, data_dir=data, ip=ip), executable=etcd_path,
                             version=etcd_version)
    dns, ips = pki.apiserver_sans(ip, ip)
    serving = pki.issue_cert(stack.ca, common_name="kube-apiserver", dns_names=dns, ip_addresses=ips, server=True)
    pki.write_pem(tmp_path / "tls.crt", serving.cert_pem, private=False)
    pki.write_pem(tmp_path / "tls.key", serving.key_pem, private=True)
    apiserver_argv = [sys.executable, "-m", "hakube.apiserver", f"--etcd-servers={ip}:2379", f"--bind-address={ip}",
                      "--secure-port=6443", f"--tls-cert-file={tmp_path / 'tls.crt'}",
                      f"--tls-private-key-file={tmp_path / 'tls.key'}", f"--client-ca-file={stack.ca_file}",
                      "--shutdown-delay-duration=0.5", "--etcd-compaction-interval=0"]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(render_kubeconfig(cluster_name="test", server=f"https://{ip}:6443",
                                            ca_pem=stack.ca.cert_pem, user="admin", client=stack.admin))

    s = supervise(f"--kubeconfig={kubeconfig}", f"--node-ip={ip}", "--node-lease-duration=4",
                  replica=replica, zone="europe-west1-b")
    write_manifest(s.manifests, manifest("etcd", etcd_argv, grace_period=10, liveness=http_liveness(
        port=2379, path="/health", host=ip, initial_delay=5, period=2, timeout=2)))
    write_manifest(s.manifests, manifest("kube-apiserver", apiserver_argv, grace_period=5,
                                         env={"PYTHONUNBUFFERED": "1"},
                                         liveness=http_liveness(port=6443, path="/livez", host=ip, scheme="HTTPS",
                                                                initial_delay=5, period=2, timeout=2)))
    write_manifest(s.manifests, sleeper("kube-scheduler"))

    async with ApiClient(Credentials.from_kubeconfig(kubeconfig), timeout=3) as client:

        async def get(ref: Any, name: str, ns: str | None = None) -> dict[str, Any] | None:
            try:
                return await client.get(ref, name, ns)
            except ApiError:
                return None

        node = await until(lambda: get(NODES, replica), timeout=40, what=f"Node {replica}")
        labels = node["metadata"]["labels"]
        assert labels["node-role.kubernetes.io/control-plane"] == ""
        assert labels["kubernetes.io/hostname"] == replica
        assert labels["topology.kubernetes.io/zone"] == "europe-west1-b"
        assert labels["topology.kubernetes.io/region"] == "europe-west1"
        assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in node["spec"]["taints"]
        node = await until(lambda: get(NODES, replica), timeout=5, what="node status")
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        assert ready["Ready"] == "True"
        assert {"type": "InternalIP", "address": ip} in node["status"]["addresses"]

        lease = await until(lambda: get(LEASES, replica, "kube-node-lease"), timeout=5, what="node lease")
        assert lease["spec"]["holderIdentity"] == replica and lease["spec"]["leaseDurationSeconds"] == 4
        assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
        first_renewal = lease["spec"]["renewTime"]

        async def renewed() -> bool:
            lease = await get(LEASES, replica, "kube-node-lease")
            return bool(lease and lease["spec"]["renewTime"] != first_renewal)

        await until(renewed, timeout=4, what="lease renewed every quarter of its duration")

        async def running_mirror(component: str, restarts: int = 0) -> dict[str, Any] | None:
            pod = await get(PODS, f"{component}-{replica}", "kube-system")
            if not pod or (pod.get("status") or {}).get("phase") != "Running":
                return None
            cs = pod["status"]["containerStatuses"][0]
            if cs["restartCount"] != restarts or "running" not in cs["state"]:
                return None
            return pod

        hashes = {n: s.component(n).get("hash") for n in ("etcd", "kube-apiserver", "kube-scheduler")}
        for component in ("etcd", "kube-apiserver", "kube-scheduler"):
            pod = await until(lambda c=component: running_mirror(c), timeout=10, what=f"mirror pod of {component}")
            meta = pod["metadata"]
            assert meta["annotations"]["kubernetes.io/config.mirror"] == hashes[component]
            assert meta["annotations"]["kubernetes.io/config.source"] == "file"
            assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Node", "name": replica,
                                                "uid": node["metadata"]["uid"], "controller": True}]
            assert pod["spec"]["nodeName"] == replica
            conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
            assert conditions["Ready"] == "True"
            assert pod["status"]["startTime"] and pod["status"]["hostIP"] == ip

        # A crashed API server comes back; its mirror pod (written through it) counts the restart.
        os.kill(s.running_pid("kube-apiserver") or 0, signal.SIGKILL)
        await until(lambda: running_mirror("kube-apiserver", restarts=1), timeout=20, what="apiserver restart shown")
        assert s.component("kube-apiserver")["restarts"] == 1

        # A deleted mirror pod is recreated; a removed manifest's mirror pod goes away.
        old = await client.get(PODS, f"kube-scheduler-{replica}", "kube-system")
        await client.delete(PODS, f"kube-scheduler-{replica}", "kube-system")

        async def recreated() -> dict[str, Any] | None:
            pod = await running_mirror("kube-scheduler")
            return pod if pod and pod["metadata"]["uid"] != old["metadata"]["uid"] else None

        await until(recreated, timeout=10, what="deleted mirror pod recreated")
        remove_manifest(s.manifests, "kube-scheduler")

        async def gone() -> bool:
            return await get(PODS, f"kube-scheduler-{replica}", "kube-system") is None

        await until(gone, timeout=10, what="mirror pod of a removed manifest deleted")

    assert s.stop(30) == 0
    out = s.out.read_text()
    assert "stopping kube-apiserver (stop order 10)" in out
    assert out.index("kube-apiserver stopped") < out.index("etcd stopped")
    assert f"{replica}: registered Node {replica}" in out
    assert "shutting down: readyz failing" in s.log("kube-apiserver")
