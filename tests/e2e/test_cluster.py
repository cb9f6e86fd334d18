"""A working cluster end to end (issue 4, "Must work"): real processes, real kubectl.

Three groups, each on processes of its own:

- a cluster made by `hakube up` with six hollow nodes in three zones, driven
  with kubectl: a 30-replica Deployment spreads over the zones, scales,
  rolls out within maxUnavailable (sampled by a watch), rolls back; namespace
  and foreground deletion; a pod too big for any node;
- a LocalStack API server with a controller-manager and scheduler of our own
  and two hollow-node hosts, with short node timeouts: a host that stops
  heartbeating loses its pods to the other host;
- a LocalStack API server with two controller-managers and two schedulers:
  one of each acts; SIGTERM, SIGKILL and SIGSTOP/SIGCONT of the active one.

Every process started here is stopped here, by pid (or `hakube down`).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hakube.client.api import DEPLOYMENTS, LEASES, NODES, PODS, ApiClient, ApiError, Credentials
from hakube.cluster import pki
from hakube.testing import Kubectl, LocalStack

on_session_loop = pytest.mark.asyncio(loop_scope="session")

HAKUBE = [sys.executable, "-m", "hakube.cli"]
ZONES = ("zone-a", "zone-b", "zone-c")
ZONE_LABEL = "topology.kubernetes.io/zone"
FAST_ELECTION = ("--leader-elect-lease-duration=3", "--leader-elect-renew-deadline=2",
                 "--leader-elect-retry-period=0.5")
LEASE_S, RETRY_S = 3.0, 0.5

Obj = dict[str, Any]


# -- helpers -------------------------------------------------------------------------------------


def hakube(*args: str, cluster_dir: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*HAKUBE, *args, "--cluster-dir", str(cluster_dir)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "COLUMNS": "200"})
    if proc.returncode != 0:
        raise AssertionError(f"hakube {' '.join(args)} failed: {proc.stderr}")
    return proc


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGCONT)  # a stopped process cannot act on SIGTERM
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)


async def until(check: Callable[[], Awaitable[Any]], *, timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll `check` (bounded) until it returns something truthy; return that."""
    for _ in range(max(1, int(timeout / every))):
        try:
            result = await check()
        except ApiError:
            result = None
        if result:
            return result
        await asyncio.sleep(every)
    raise AssertionError(f"not within {timeout}s: {what}")


def condition(obj: Obj, kind: str) -> Obj:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == kind:
            return dict(c)
    return {}


def running_ready(pod: Obj) -> bool:
    return (not pod["metadata"].get("deletionTimestamp") and (pod.get("status") or {}).get("phase") == "Running"
            and condition(pod, "Ready").get("status") == "True")


def images(pod: Obj) -> list[str]:
    return [c["image"] for c in pod["spec"]["containers"]]


async def lease_holder(client: ApiClient, name: str) -> str:
    try:
        lease = await client.get(LEASES, name, "kube-system")
    except ApiError:
        return ""
    return str(lease["spec"].get("holderIdentity") or "")


def issue_node_certs(ca: pki.CertKey, directory: Path, names: list[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        ck = pki.issue_cert(ca, common_name=f"system:node:{name}", organizations=["system:nodes"], client=True)
        pki.write_pem(directory / f"{name}.crt", ck.cert_pem, private=False)
        pki.write_pem(directory / f"{name}.key", ck.key_pem, private=True)


# -- a `hakube up` cluster with six hollow nodes in three zones ------------------------------------


@dataclass
class Cluster:
    dir: Path
    kubectl: Kubectl


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    d = tmp_path_factory.mktemp("e2e-cluster")
    try:
        hakube("up", cluster_dir=d)
        for zone in ZONES:
            hakube("nodes", "add", "--count", "2", "--zone", zone, cluster_dir=d)
        yield Cluster(d, Kubectl(d / "kubeconfig", tmp_path_factory.mktemp("kubectl-home")))
    finally:
        subprocess.run([*HAKUBE, "down", "--cluster-dir", str(d)], capture_output=True, timeout=120)


@pytest.fixture
async def api(cluster: Cluster) -> AsyncIterator[ApiClient]:
    async with ApiClient(Credentials.from_kubeconfig(cluster.dir / "kubeconfig")) as c:
        yield c


async def wait_nodes_ready(client: ApiClient, count: int) -> dict[str, str]:
    async def ready() -> dict[str, str] | None:
        nodes = (await client.list(NODES))["items"]
        # Only the hollow nodes: the replica's own (unschedulable) node is registered too, as kube-up's master.
        zones = {n["metadata"]["name"]: n["metadata"]["labels"].get(ZONE_LABEL, "") for n in nodes
                 if condition(n, "Ready").get("status") == "True" and n["metadata"]["name"].startswith("hollow-")}
        return zones if len(zones) >= count else None

    return dict(await until(ready, timeout=60, what=f"{count} nodes Ready"))


async def pods_of(client: ApiClient, ns: str, selector: str) -> list[Obj]:
    return list((await client.list(PODS, ns, label_selector=selector))["items"])


async def wait_running(client: ApiClient, ns: str, selector: str, count: int, *, timeout: float = 90,
                       image: str | None = None) -> list[Obj]:
    async def done() -> list[Obj] | None:
        pods = await pods_of(client, ns, selector)
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        if len(live) == count and all(running_ready(p) for p in live) and \
                (image is None or all(images(p) == [image] for p in live)):
            return live
        return None

    return list(await until(done, timeout=timeout, what=f"{count} pods {selector} Running in {ns}", every=0.5))


@on_session_loop
async def test_deployment_spreads_scales_rolls_out_and_back(cluster: Cluster, api: ApiClient) -> None:
    k = cluster.kubectl
    zone_of = await wait_nodes_ready(api, 6)
    assert sorted(Counter(zone_of.values()).values()) == [2, 2, 2], zone_of
    k.run("create", "namespace", "web")
    k.run("-n", "web", "create", "deployment", "web", "--image=nginx", "--replicas=30")
    pods = await wait_running(api, "web", "app=web", 30, timeout=120)
    per_zone = Counter(zone_of[p["spec"]["nodeName"]] for p in pods)
    assert set(per_zone) == set(ZONES) and min(per_zone.values()) >= 8, per_zone
    per_node = Counter(p["spec"]["nodeName"] for p in pods)
    assert len(per_node) == 6 and min(per_node.values()) >= 3, per_node

    k.run("-n", "web", "scale", "deployment/web", "--replicas=36")
    await wait_running(api, "web", "app=web", 36)
    k.run("-n", "web", "scale", "deployment/web", "--replicas=12")
    await wait_running(api, "web", "app=web", 12)
    k.run("-n", "web", "rollout", "status", "deployment/web", "--timeout=60s")

    # set image, sampling readiness from a watch: kubectl's default strategy is 25%/25%, so with 12
    # replicas at most 3 may be unavailable (k/k pkg/controller/deployment/rolling.go).
    deployment = await api.get(DEPLOYMENTS, "web", "web")
    strategy = deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate", strategy
    max_unavailable = 3
    listing = await api.list(PODS, "web", label_selector="app=web")
    state = {p["metadata"]["name"]: p for p in listing["items"]}
    samples: list[int] = []
    rolled = asyncio.Event()

    async def sample() -> None:
        async for kind, pod in api.watch(PODS, "web", resource_version=listing["metadata"]["resourceVersion"],
                                         label_selector="app=web", timeout_seconds=120):
            if kind == "BOOKMARK":
                continue
            if kind == "DELETED":
                state.pop(pod["metadata"]["name"], None)
            else:
                state[pod["metadata"]["name"]] = pod
            samples.append(sum(running_ready(p) for p in state.values()))
            live = [p for p in state.values() if not p["metadata"].get("deletionTimestamp")]
            if len(live) == 12 and all(running_ready(p) and images(p) == ["nginx:1.25"] for p in live):
                rolled.set()
                return

    watcher = asyncio.create_task(sample(), name="readiness-sampler")
    try:
        await asyncio.sleep(0.3)  # the watch is open
        k.run("-n", "web", "set", "image", "deployment/web", "nginx=nginx:1.25")
        k.run("-n", "web", "rollout", "status", "deployment/web", "--timeout=90s", timeout=120)
        await asyncio.wait_for(rolled.wait(), 30)
    finally:
        watcher.cancel()
    assert len(samples) > 12, samples
    assert min(samples) >= 12 - max_unavailable, samples
    await wait_running(api, "web", "app=web", 12, image="nginx:1.25")
    history = k.run("-n", "web", "rollout", "history", "deployment/web").stdout
    assert "1" in history and "2" in history, history

    k.run("-n", "web", "rollout", "undo", "deployment/web")
    k.run("-n", "web", "rollout", "status", "deployment/web", "--timeout=90s", timeout=120)
    await wait_running(api, "web", "app=web", 12, image="nginx")
    deployment = await api.get(DEPLOYMENTS, "web", "web")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx"
    assert deployment["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"


@on_session_loop
async def test_deleting_a_namespace_removes_everything_then_the_namespace(cluster: Cluster, api: ApiClient) -> None:
    k = cluster.kubectl
    await wait_nodes_ready(api, 6)
    k.run("create", "namespace", "doomed")
    k.run("-n", "doomed", "create", "deployment", "app", "--image=nginx", "--replicas=4")
    k.run("-n", "doomed", "expose", "deployment", "app", "--port=80")
    k.run("-n", "doomed", "create", "configmap", "settings", "--from-literal=a=b")
    await wait_running(api, "doomed", "app=app", 4)

    kinds = "deployments,replicasets,pods,services,endpoints,configmaps,serviceaccounts"
    k.run("delete", "namespace", "doomed", "--wait=false")
    seen_terminating_with_objects = False
    for _ in range(300):
        got = k.run("get", "namespace", "doomed", "-o", "json", check=False)
        if got.returncode != 0:
            assert "NotFound" in got.stderr, got.stderr
            break
        ns = json.loads(got.stdout)
        assert ns["status"]["phase"] == "Terminating", ns["status"]
        left = k.json("-n", "doomed", "get", kinds)["items"]
        seen_terminating_with_objects |= bool(left)
        await asyncio.sleep(0.2)
    else:
        raise AssertionError("namespace doomed still there after 60 s")
    assert seen_terminating_with_objects  # the namespace outlived its contents, not the other way round
    assert k.json("-n", "doomed", "get", kinds)["items"] == []


@on_session_loop
async def test_foreground_deletion_deletes_dependents_first(cluster: Cluster, api: ApiClient) -> None:
    k = cluster.kubectl
    await wait_nodes_ready(api, 6)
    k.run("create", "namespace", "fg")
    k.run("-n", "fg", "create", "deployment", "fg", "--image=nginx", "--replicas=4")
    await wait_running(api, "fg", "app=fg", 4)
    k.run("-n", "fg", "delete", "deployment", "fg", "--cascade=foreground", "--wait=false")

    seen_blocked = False
    for _ in range(300):
        try:
            d = await api.get(DEPLOYMENTS, "fg", "fg")
        except ApiError as err:
            assert err.not_found, err
            break
        assert d["metadata"].get("deletionTimestamp"), d["metadata"]
        assert "foregroundDeletion" in (d["metadata"].get("finalizers") or []), d["metadata"]
        dependents = (await api.list(PODS, "fg"))["items"] + k.json("-n", "fg", "get", "replicasets")["items"]
        seen_blocked |= bool(dependents)
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("deployment fg still there after 30 s")
    assert seen_blocked
    # Gone only after its dependents: nothing is left the moment the owner disappears.
    assert (await api.list(PODS, "fg"))["items"] == []
    assert k.json("-n", "fg", "get", "replicasets")["items"] == []


@on_session_loop
async def test_a_pod_bigger_than_any_node_stays_pending_with_failed_scheduling(
        cluster: Cluster, api: ApiClient) -> None:
    k = cluster.kubectl
    await wait_nodes_ready(api, 6)
    k.run("create", "namespace", "big")
    k.run("-n", "big", "run", "huge", "--image=nginx", "--overrides",
          json.dumps({"spec": {"containers": [{"name": "huge", "image": "nginx",
                                               "resources": {"requests": {"cpu": "100"}}}]}}))

    async def failed() -> list[Obj]:
        events = k.json("-n", "big", "get", "events", "--field-selector", "involvedObject.name=huge")["items"]
        return [e for e in events if e.get("reason") == "FailedScheduling"]

    events = await until(failed, timeout=30, what="a FailedScheduling event for huge")
    total = len((await api.list(NODES))["items"])  # six hollow nodes and the replica's unschedulable one
    message = events[0]["message"]
    assert message.startswith(f"0/{total} nodes are available: ") and "6 Insufficient cpu." in message, message
    await asyncio.sleep(2)
    pod = await api.get(PODS, "huge", "big")
    assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")
    scheduled = condition(pod, "PodScheduled")
    assert scheduled["status"] == "False" and scheduled["reason"] == "Unschedulable", scheduled


# -- a hung hollow-node host loses its pods ---------------------------------------------------------


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    s = LocalStack.create()
    try:
        s.start_etcd()
        s.start_apiserver()
        yield s
    finally:
        s.cleanup()


@on_session_loop
async def test_a_host_that_stops_heartbeating_loses_its_pods_to_other_nodes(local_stack: LocalStack) -> None:
    s = local_stack
    url = s.apiservers[0].url
    certs = s.root / "e2e-node-certs"
    names = {"a": ["hb-a-1", "hb-a-2"], "b": ["hb-b-1", "hb-b-2"]}
    issue_node_certs(s.ca, certs, names["a"] + names["b"])
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for host, nodes in names.items():
            procs[f"host-{host}"] = start(
                [sys.executable, "-m", "hakube.nodes", "--server", url, "--ca-file", str(s.ca_file),
                 "--cert-dir", str(certs), "--nodes", ",".join(nodes), "--zone", f"hb-{host}",
                 "--node-lease-duration-seconds", "4"], s.root / f"hb-host-{host}.log")
        procs["controller-manager"] = start(
            [sys.executable, "-m", "hakube.controllers", f"--kubeconfig={s.kubeconfig(0)}", "--leader-elect=false",
             "--node-monitor-grace-period", "4", "--pod-eviction-timeout", "3"], s.root / "hb-cm.log")
        procs["scheduler"] = start([sys.executable, "-m", "hakube.scheduler", f"--kubeconfig={s.kubeconfig(0)}",
                                    "--leader-elect=false"], s.root / "hb-scheduler.log")
        k = Kubectl(s.kubeconfig(0), s.root)
        async with ApiClient(Credentials.from_kubeconfig(s.kubeconfig(0))) as api:
            async def all_ready() -> bool:
                nodes = {n["metadata"]["name"]: n for n in (await api.list(NODES))["items"]}
                return all(n in nodes and condition(nodes[n], "Ready").get("status") == "True"
                           for n in names["a"] + names["b"])

            await until(all_ready, timeout=30, what="four hollow nodes Ready")
            k.run("create", "namespace", "hb")
            k.run("-n", "hb", "create", "deployment", "hb", "--image=nginx", "--replicas=8")
            pods = await wait_running(api, "hb", "app=hb", 8, timeout=60)
            on_a = {p["metadata"]["name"] for p in pods if p["spec"]["nodeName"] in names["a"]}
            assert on_a, "spreading put no pod on host a"

            # A pod bigger than any node stays Pending, with upstream's message (all four nodes are workers).
            k.run("-n", "hb", "run", "huge", "--image=nginx", "--overrides", json.dumps(
                {"spec": {"containers": [{"name": "huge", "image": "nginx",
                                          "resources": {"requests": {"cpu": "100"}}}]}}))

            async def failed() -> list[Obj]:
                events = (await api.request("GET", "/api/v1/namespaces/hb/events"))["items"]
                return [e for e in events if e.get("reason") == "FailedScheduling"
                        and e["involvedObject"]["name"] == "huge"]

            events = await until(failed, timeout=30, what="a FailedScheduling event for huge")
            assert events[0]["message"] == "0/4 nodes are available: 4 Insufficient cpu.", events[0]
            pod = await api.get(PODS, "huge", "hb")
            assert pod["status"]["phase"] == "Pending" and not pod["spec"].get("nodeName")

            os.kill(procs["host-a"].pid, signal.SIGSTOP)  # a hung machine: no heartbeats

            async def unknown() -> bool:
                nodes = [await api.get(NODES, n) for n in names["a"]]
                return all(condition(n, "Ready").get("status") == "Unknown" for n in nodes)

            await until(unknown, timeout=20, what="host a's nodes Ready=Unknown")

            async def moved() -> list[Obj] | None:
                pods = await pods_of(api, "hb", "app=hb")
                live = [p for p in pods if running_ready(p)]
                if len(live) == 8 and all(p["spec"]["nodeName"] in names["b"] for p in live) and \
                        not on_a & {p["metadata"]["name"] for p in pods}:
                    return live
                return None

            await until(moved, timeout=30, what="8 pods Running on host b, host a's evicted")

    finally:
        for proc in procs.values():
            stop(proc)


# -- two controller-managers and two schedulers ----------------------------------------------------


@dataclass
class Component:
    name: str  # controllers | scheduler
    lease: str
    stack: LocalStack
    procs: dict[str, subprocess.Popen[bytes]]

    def start(self, prefix: str) -> None:
        self.procs[prefix] = start([sys.executable, "-m", f"hakube.{self.name}",
                                    f"--kubeconfig={self.stack.kubeconfig(0)}", "--leader-elect=true",
                                    f"--identity-prefix={prefix}", *FAST_ELECTION], self.log(prefix))

    def log(self, prefix: str) -> Path:
        return Path(self.stack.root) / f"ha-{self.name}-{prefix}.log"

    def text(self, prefix: str) -> str:
        return self.log(prefix).read_text(errors="replace")


async def events_by(api: ApiClient, ns: str) -> Counter[str]:
    items = (await api.request("GET", f"/api/v1/namespaces/{ns}/events"))["items"]
    return Counter(str((e.get("source") or {}).get("host") or e.get("reportingInstance") or "") for e in items)


async def wait_holder(api: ApiClient, lease: str, prefix: str, timeout: float) -> float:
    started = time.monotonic()
    for _ in range(int(timeout / 0.02) + 1):
        if (await lease_holder(api, lease)).startswith(prefix + "_"):
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"{prefix} did not take {lease} within {timeout}s (holder {await lease_holder(api, lease)!r})")


@on_session_loop
async def test_two_of_each_one_acts_and_handovers(local_stack: LocalStack) -> None:
    s = local_stack
    procs: dict[str, subprocess.Popen[bytes]] = {}
    cm = Component("controllers", "kube-controller-manager", s, {})
    sched = Component("scheduler", "kube-scheduler", s, {})
    k = Kubectl(s.kubeconfig(0), s.root)
    try:
        async with ApiClient(Credentials.from_kubeconfig(s.kubeconfig(0))) as api:
            for i in range(3):  # Node objects for the scheduler (no kubelets: pods stay bound, not Running)
                ready = {"cpu": "4", "memory": "16Gi", "pods": "110"}
                body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"ha-node-{i}"},
                        "status": {"capacity": ready, "allocatable": ready,
                                   "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}
                created = await api.create(NODES, body)
                created["status"] = body["status"]
                await api.replace(NODES, created, subresource="status")
            for comp in (cm, sched):
                comp.start("one")
            await wait_holder(api, cm.lease, "one", 20)
            await wait_holder(api, sched.lease, "one", 20)
            for comp in (cm, sched):
                comp.start("two")
            for _ in range(200):
                if "caches synced" in sched.text("two"):
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # the standbys campaign

            # Exactly one of each acts: the lease holders, and only they record events.
            k.run("create", "namespace", "ha")
            k.run("-n", "ha", "create", "deployment", "ha", "--image=nginx", "--replicas=3")

            async def three_bound() -> bool:
                return sum(bool(p["spec"].get("nodeName")) for p in await pods_of(api, "ha", "app=ha")) == 3

            await until(three_bound, timeout=30, what="3 pods created and bound")
            await asyncio.sleep(0.5)
            by = await events_by(api, "ha")
            assert by["one"] >= 3 + 1 + 1 and by["two"] == 0, by  # Scheduled ×3, ScalingReplicaSet, SuccessfulCreate
            assert "running controllers" in cm.text("one") and "running controllers" not in cm.text("two")
            assert " bound " in sched.text("one") and " bound " not in sched.text("two")
            assert (await lease_holder(api, cm.lease)).startswith("one_")
            assert (await lease_holder(api, sched.lease)).startswith("one_")

            for comp in (cm, sched):
                # SIGTERM: the leader releases the lease; the standby (watching it) takes over at once.
                os.kill(comp.procs["one"].pid, signal.SIGTERM)
                took = await wait_holder(api, comp.lease, "two", 5)
                assert took <= 1.0, (comp.name, "SIGTERM", took)
                comp.procs["one"].wait(10)
                comp.start("three")
                await asyncio.sleep(1.5)  # synced and campaigning

                # SIGKILL: no release; the standby waits out the lease on its own clock.
                os.kill(comp.procs["two"].pid, signal.SIGKILL)
                took = await wait_holder(api, comp.lease, "three", LEASE_S + RETRY_S + 3)
                assert took <= LEASE_S + RETRY_S + 0.5, (comp.name, "SIGKILL", took)

                # SIGSTOP past the lease, then SIGCONT: the old leader writes nothing before re-acquiring.
                comp.start("four")
                await asyncio.sleep(1.5)
                paused = comp.procs["three"]
                os.kill(paused.pid, signal.SIGSTOP)
                try:
                    await wait_holder(api, comp.lease, "four", LEASE_S + RETRY_S + 4)
                    lease_before = await api.get(LEASES, comp.lease, "kube-system")
                    k.run("-n", "ha", "scale", "deployment/ha", "--replicas=5" if comp is cm else "--replicas=7")
                    want = 5 if comp is cm else 7
                    await until(lambda want=want: _bound_count(api, "ha", want), timeout=30,  # type: ignore[misc]
                                what=f"{want} pods bound")
                    log_before = len(comp.text("three"))
                    events_before = (await events_by(api, "ha"))["three"]
                finally:
                    os.kill(paused.pid, signal.SIGCONT)
                await asyncio.sleep(LEASE_S)  # time to act, if it were (wrongly) going to
                by = await events_by(api, "ha")
                assert by["three"] == events_before, (comp.name, by)
                resumed = comp.text("three")[log_before:]
                assert " bound " not in resumed and "running controllers" not in resumed, resumed
                lease_after = await api.get(LEASES, comp.lease, "kube-system")
                assert lease_after["spec"]["holderIdentity"] == lease_before["spec"]["holderIdentity"]
                assert lease_after["spec"].get("leaseTransitions") == lease_before["spec"].get("leaseTransitions")
                procs.update({f"{comp.name}-{p}": proc for p, proc in comp.procs.items()})
    finally:
        for proc in [*cm.procs.values(), *sched.procs.values(), *procs.values()]:
            stop(proc)


async def _bound_count(api: ApiClient, ns: str, want: int) -> bool:
    return sum(bool(p["spec"].get("nodeName")) for p in await pods_of(api, ns, "app=ha")) == want
