"""Deployments and ReplicaSets end to end: a real API server, a real controller-manager
process running the `replicaset` and `deployment` controllers, the real kubectl, and a
fake kubelet in the test that turns pods Running and Ready.

There is no scheduler here: pods stay unbound, so deleting one removes it at once.
A watch samples every state the pods pass through, so "never fewer than
replicas - maxUnavailable ready" is checked on each intermediate state, not on
a few polls. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hakube.client.api import DEPLOYMENTS, EVENTS, NAMESPACES, PODS, REPLICASETS, ApiClient, ApiError, Credentials
from hakube.client.informer import Informer
from hakube.testing import Kubectl, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="session")

Obj = dict[str, Any]
REVISION = "deployment.kubernetes.io/revision"
NEVER_READY = "test.hakube.io/never-ready"  # pods with this label are left Pending by the fake kubelet


# -- processes ------------------------------------------------------------------------------


@dataclass
class Env:
    stack: LocalStack
    proc: subprocess.Popen[bytes]
    log: Path
    kubectl: Kubectl

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """Our own stack (the controllers see every namespace) and one controller-manager."""
    stack = LocalStack.create()
    try:
        stack.start_etcd()
        stack.start_apiserver("--etcd-compaction-interval=0")
        log = stack.root / "controller-manager.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "hakube.controllers", "--kubeconfig", str(stack.kubeconfig(0)),
             "--controllers=replicaset,deployment", "--leader-elect=false"],
            stdout=open(log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        e = Env(stack, proc, log, Kubectl(stack.kubeconfig(0), tmp_path_factory.mktemp("kubectl-home")))
        try:
            yield e
        finally:
            e.stop()
    finally:
        stack.cleanup()


@pytest.fixture(autouse=True)
def _show_controller_log(env: Env) -> Iterator[None]:
    yield
    print(f"--- controller-manager log (tail) ---\n{env.log_tail()}")  # shown for failed tests only


@pytest.fixture(scope="module")
async def client(env: Env) -> AsyncIterator[ApiClient]:
    async with ApiClient(Credentials.from_kubeconfig(env.stack.kubeconfig(0))) as c:
        yield c


class FakeKubelet:
    """Plays every node at once: a pod becomes Running and Ready `delay` seconds after it appears.

    `hold(namespace)` keeps new pods of a namespace not ready until `release(namespace)`.
    """

    def __init__(self, client: ApiClient, *, delay: float = 0.3) -> None:
        self.client = client
        self.delay = delay
        self.informer = Informer(client, PODS)
        self.informer.add_handler(self._on_pod)
        self.held: dict[str, list[Obj]] = {}
        self._seen: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def _on_pod(self, event_type: str, pod: Obj, old: Obj | None) -> None:
        meta = pod["metadata"]
        if event_type == "DELETED" or meta.get("deletionTimestamp") or meta["uid"] in self._seen:
            return
        if (meta.get("labels") or {}).get(NEVER_READY) or _ready(pod):
            return
        if meta["namespace"] in self.held:
            self.held[meta["namespace"]].append(pod)
            self._seen.add(meta["uid"])
            return
        self._start(pod)

    def _start(self, pod: Obj) -> None:
        self._seen.add(pod["metadata"]["uid"])
        task = asyncio.create_task(self._run(pod), name=f"kubelet-{pod['metadata']['name']}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, pod: Obj) -> None:
        await asyncio.sleep(self.delay)
        now = _now()
        containers = (pod.get("spec") or {}).get("containers") or []
        status = {"status": {
            "phase": "Running", "startTime": now, "podIP": "10.0.0.1", "hostIP": "10.0.0.1",
            "conditions": [{"type": t, "status": "True", "lastTransitionTime": now, "lastProbeTime": None}
                           for t in ("Initialized", "ContainersReady", "Ready")],
            "containerStatuses": [{"name": c["name"], "image": c["image"], "imageID": "", "ready": True,
                                   "started": True, "restartCount": 0, "state": {"running": {"startedAt": now}}}
                                  for c in containers]}}
        meta = pod["metadata"]
        with contextlib.suppress(ApiError):  # deleted meanwhile
            await self.client.patch(PODS, meta["name"], status, meta["namespace"], subresource="status")

    def hold(self, namespace: str) -> None:
        self.held.setdefault(namespace, [])

    def release(self, namespace: str) -> None:
        for pod in self.held.pop(namespace, []):
            self._start(pod)

    async def stop(self) -> None:
        await self.informer.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


@pytest.fixture(scope="module")
async def kubelet(client: ApiClient) -> AsyncIterator[FakeKubelet]:
    k = FakeKubelet(client)
    await k.informer.start()
    await k.informer.wait_synced()
    try:
        yield k
    finally:
        await k.stop()


@dataclass
class Sample:
    live: int  # pods not being deleted
    ready: int
    images: frozenset[str]


@dataclass
class PodSampler:
    """Every state a watch shows of one app's pods (after the initial list)."""

    client: ApiClient
    namespace: str
    app: str
    samples: list[Sample] = field(default_factory=list)

    async def __aenter__(self) -> PodSampler:
        self.informer = Informer(self.client, PODS, namespace=self.namespace, label_selector=f"app={self.app}")
        self.informer.add_handler(self._sample)
        await self.informer.start()
        await self.informer.wait_synced()
        self._sample("SYNCED", {}, None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.informer.stop()

    def _sample(self, _type: str, _obj: Obj, _old: Obj | None) -> None:
        if not self.informer.synced.is_set():
            return
        live = [p for p in self.informer.items() if not p["metadata"].get("deletionTimestamp")]
        images = frozenset(c["image"] for p in live for c in p["spec"]["containers"])
        self.samples.append(Sample(len(live), sum(1 for p in live if _ready(p)), images))


# -- helpers ------------------------------------------------------------------------------------


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ready(pod: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def deployment(name: str, *, replicas: int, image: str = "nginx:1.0", labels: dict[str, str] | None = None,
               container: Obj | None = None, template_annotations: dict[str, str] | None = None,
               **spec: Any) -> Obj:
    pod_labels = {"app": name, **(labels or {})}
    meta: Obj = {"labels": pod_labels, **({"annotations": template_annotations} if template_annotations else {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": meta,
                                  "spec": {"containers": [{"name": "app", "image": image, **(container or {})}]}},
                     **spec}}


def replicaset(name: str, *, replicas: int, app: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app}},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.0"}]}}}}


async def namespace(client: ApiClient) -> str:
    name = f"wl-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


async def until(check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "condition",
                interval: float = 0.1) -> None:
    for _ in range(int(timeout / interval)):
        if await check():
            return
        await asyncio.sleep(interval)
    if not await check():
        raise AssertionError(f"{what}: not within {timeout}s")


async def pods_of(client: ApiClient, ns: str, app: str) -> list[Obj]:
    items: list[Obj] = (await client.list(PODS, ns, label_selector=f"app={app}"))["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


async def replicasets_of(client: ApiClient, ns: str, app: str) -> list[Obj]:
    items: list[Obj] = (await client.list(REPLICASETS, ns, label_selector=f"app={app}"))["items"]
    return sorted(items, key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, "0")))


async def ready_pods(client: ApiClient, ns: str, app: str, count: int, *, image: str | None = None,
                     timeout: float = 30.0) -> list[Obj]:
    """Wait for exactly `count` live pods, all ready (and of `image`)."""
    found: list[Obj] = []

    async def check() -> bool:
        nonlocal found
        found = await pods_of(client, ns, app)
        return len(found) == count and all(_ready(p) for p in found) and (
            image is None or all(p["spec"]["containers"][0]["image"] == image for p in found))

    await until(check, timeout=timeout, what=f"{count} ready pods of {app}")
    return found


async def kubectl(env: Env, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The real kubectl, off the event loop (the fake kubelet runs on it)."""
    return await asyncio.to_thread(env.kubectl.run, *args, check=check, timeout=timeout)


async def create(env: Env, ns: str, obj: Obj) -> None:
    """`kubectl create -f` (JSON on the wire; `kubectl create deployment` would send protobuf)."""
    await asyncio.to_thread(env.kubectl.run, "create", "-n", ns, "-f", "-", input=json.dumps(obj))


def condition(obj: Obj, kind: str) -> Obj:
    return next(c for c in obj["status"].get("conditions") or [] if c["type"] == kind)


# -- tests ---------------------------------------------------------------------------------------


async def test_deployment_runs_pods_through_its_replicaset(env: Env, client: ApiClient,
                                                           kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    # A template the server defaults in many places: the ReplicaSet's copy must still match it,
    # or every sync would make another ReplicaSet.
    await create(env, ns, deployment("web", replicas=5, template_annotations={"team": "a"}, container={
        "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}],
        "resources": {"requests": {"cpu": "0.5", "memory": "64Mi"}, "limits": {"cpu": "1"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": 80}}}))
    out = await kubectl(env, "rollout", "status", "deployment/web", "-n", ns, "--timeout=60s")
    assert 'deployment "web" successfully rolled out' in out.stdout

    d = await client.get(DEPLOYMENTS, "web", ns)
    [rs] = await replicasets_of(client, ns, "web")
    pods = await ready_pods(client, ns, "web", 5)
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}" and pod_hash.isalnum() and len(pod_hash) <= 10
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": pod_hash}
    assert rs["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True}]
    # 25% surge of 5 rounds up to 2.
    assert {k: v for k, v in rs["metadata"]["annotations"].items() if k.startswith("deployment.")} == {
        REVISION: "1", "deployment.kubernetes.io/desired-replicas": "5",
        "deployment.kubernetes.io/max-replicas": "7"}
    for pod in pods:
        assert pod["metadata"]["name"].startswith(f"{rs['metadata']['name']}-")
        assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
        assert pod["metadata"]["annotations"] == {"team": "a"}
        assert pod["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs["metadata"]["name"],
            "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]

    assert d["metadata"]["annotations"][REVISION] == "1"
    status = d["status"]
    assert status["observedGeneration"] == d["metadata"]["generation"]
    assert (status["replicas"], status["updatedReplicas"], status["readyReplicas"],
            status["availableReplicas"]) == (5, 5, 5, 5)
    assert "unavailableReplicas" not in status
    available, progressing = condition(d, "Available"), condition(d, "Progressing")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    assert (progressing["status"], progressing["reason"]) == ("True", "NewReplicaSetAvailable")
    assert progressing["message"] == f'ReplicaSet "{rs["metadata"]["name"]}" has successfully progressed.'
    rs_status = rs["status"]
    assert (rs_status["replicas"], rs_status["fullyLabeledReplicas"], rs_status["readyReplicas"],
            rs_status["availableReplicas"], rs_status["observedGeneration"]) == (5, 5, 5, 5, 1)

    await asyncio.sleep(0.5)
    assert len(await replicasets_of(client, ns, "web")) == 1  # still one: the templates match
    events = (await client.list(EVENTS, ns))["items"]
    messages = {(e["reason"], e["message"]) for e in events}
    assert ("ScalingReplicaSet", f"Scaled up replica set {rs['metadata']['name']} from 0 to 5") in messages
    assert sum(1 for e in events if e["reason"] == "SuccessfulCreate") == 5
    assert {(e["reason"], e["source"]["component"]) for e in events} == {
        ("ScalingReplicaSet", "deployment-controller"), ("SuccessfulCreate", "replicaset-controller")}


async def test_scale_up_and_down(env: Env, client: ApiClient, kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    await create(env, ns, deployment("sc", replicas=2))
    await ready_pods(client, ns, "sc", 2)
    await kubectl(env, "scale", "deployment/sc", "-n", ns, "--replicas=7")
    await ready_pods(client, ns, "sc", 7)
    await kubectl(env, "rollout", "status", "deployment/sc", "-n", ns, "--timeout=30s")
    [rs] = await replicasets_of(client, ns, "sc")
    assert rs["spec"]["replicas"] == 7
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "7"

    await kubectl(env, "scale", "deployment/sc", "-n", ns, "--replicas=1")
    await ready_pods(client, ns, "sc", 1)
    await kubectl(env, "rollout", "status", "deployment/sc", "-n", ns, "--timeout=30s")
    d = await client.get(DEPLOYMENTS, "sc", ns)
    assert (d["status"]["replicas"], d["status"]["availableReplicas"]) == (1, 1)
    messages = {e["message"] for e in (await client.list(EVENTS, ns))["items"] if e["reason"] == "ScalingReplicaSet"}
    assert f"Scaled up replica set {rs['metadata']['name']} from 2 to 7" in messages
    assert f"Scaled down replica set {rs['metadata']['name']} from 7 to 1" in messages

    # PUT of the manifest as written (no server defaults in it) is a scaling, not a new template.
    await asyncio.to_thread(env.kubectl.run, "replace", "-n", ns, "-f", "-",
                            input=json.dumps(deployment("sc", replicas=3)))
    await ready_pods(client, ns, "sc", 3)
    assert [r["metadata"]["name"] for r in await replicasets_of(client, ns, "sc")] == [rs["metadata"]["name"]]


async def test_rolling_update_respects_max_unavailable_and_max_surge(env: Env, client: ApiClient,
                                                                     kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    # 25% of 6: surge rounds up to 2, unavailable rounds down to 1.
    await create(env, ns, deployment("roll", replicas=6, strategy={
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}))
    await ready_pods(client, ns, "roll", 6)
    await kubectl(env, "rollout", "status", "deployment/roll", "-n", ns, "--timeout=30s")
    async with PodSampler(client, ns, "roll") as sampler:
        await kubectl(env, "set", "image", "deployment/roll", "-n", ns, "app=nginx:2.0")
        out = await kubectl(env, "rollout", "status", "deployment/roll", "-n", ns, "--timeout=90s", timeout=100)
        await ready_pods(client, ns, "roll", 6, image="nginx:2.0")
    assert 'deployment "roll" successfully rolled out' in out.stdout
    samples = sampler.samples
    assert len(samples) > 10
    assert max(s.live for s in samples) <= 6 + 2, [s.live for s in samples]
    assert min(s.ready for s in samples) >= 6 - 1, [s.ready for s in samples]
    assert max(s.live for s in samples) > 6  # the surge was used
    assert any(s.images == {"nginx:1.0", "nginx:2.0"} for s in samples)  # old and new side by side

    old, new = await replicasets_of(client, ns, "roll")
    assert old["spec"]["replicas"] == 0 and new["spec"]["replicas"] == 6
    assert new["metadata"]["annotations"][REVISION] == "2"
    assert new["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "8"
    d = await client.get(DEPLOYMENTS, "roll", ns)
    assert d["metadata"]["annotations"][REVISION] == "2"
    assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"


async def test_rollout_history_undo_and_restart(env: Env, client: ApiClient, kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    await create(env, ns, deployment("hist", replicas=2, image="nginx:1.0"))
    await kubectl(env, "rollout", "status", "deployment/hist", "-n", ns, "--timeout=30s")
    await kubectl(env, "set", "image", "deployment/hist", "-n", ns, "app=nginx:2.0")
    await kubectl(env, "annotate", "deployment/hist", "-n", ns, "kubernetes.io/change-cause=to 2.0")
    await kubectl(env, "rollout", "status", "deployment/hist", "-n", ns, "--timeout=30s")
    await ready_pods(client, ns, "hist", 2, image="nginx:2.0")

    history = (await kubectl(env, "rollout", "history", "deployment/hist", "-n", ns)).stdout
    rows = [line.split(None, 1) for line in history.splitlines()[2:] if line.strip()]
    assert [r[0] for r in rows] == ["1", "2"], history
    assert rows[1][1].strip() == "to 2.0", history
    detail = (await kubectl(env, "rollout", "history", "deployment/hist", "-n", ns, "--revision=1")).stdout
    assert "nginx:1.0" in detail, detail

    out = await kubectl(env, "rollout", "undo", "deployment/hist", "-n", ns)
    assert "rolled back" in out.stdout
    await kubectl(env, "rollout", "status", "deployment/hist", "-n", ns, "--timeout=30s")
    await ready_pods(client, ns, "hist", 2, image="nginx:1.0")
    rss = await replicasets_of(client, ns, "hist")
    assert len(rss) == 2  # the revision-1 ReplicaSet came back as revision 3
    reused = rss[-1]
    assert reused["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.0"
    assert reused["metadata"]["annotations"][REVISION] == "3"
    assert reused["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    history = (await kubectl(env, "rollout", "history", "deployment/hist", "-n", ns)).stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"], history

    await kubectl(env, "rollout", "undo", "deployment/hist", "-n", ns, "--to-revision=2")
    await kubectl(env, "rollout", "status", "deployment/hist", "-n", ns, "--timeout=30s")
    await ready_pods(client, ns, "hist", 2, image="nginx:2.0")

    before = {p["metadata"]["name"] for p in await pods_of(client, ns, "hist")}
    await kubectl(env, "rollout", "restart", "deployment/hist", "-n", ns)
    await kubectl(env, "rollout", "status", "deployment/hist", "-n", ns, "--timeout=30s")
    after = await ready_pods(client, ns, "hist", 2, image="nginx:2.0")
    assert not before & {p["metadata"]["name"] for p in after}  # every pod replaced
    rss = await replicasets_of(client, ns, "hist")
    assert rss[-1]["metadata"]["annotations"][REVISION] == "5"
    assert "kubectl.kubernetes.io/restartedAt" in rss[-1]["spec"]["template"]["metadata"]["annotations"]


async def test_pause_and_resume(env: Env, client: ApiClient, kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    await create(env, ns, deployment("pz", replicas=2))
    await kubectl(env, "rollout", "status", "deployment/pz", "-n", ns, "--timeout=30s")
    await kubectl(env, "rollout", "pause", "deployment/pz", "-n", ns)
    await kubectl(env, "set", "image", "deployment/pz", "-n", ns, "app=nginx:2.0")

    async def paused_observed() -> bool:
        d = await client.get(DEPLOYMENTS, "pz", ns)
        return (d["status"].get("observedGeneration") == d["metadata"]["generation"]
                and condition(d, "Progressing")["reason"] == "DeploymentPaused")

    await until(paused_observed, timeout=10, what="paused deployment observed")
    await asyncio.sleep(1.0)
    assert len(await replicasets_of(client, ns, "pz")) == 1  # no rollout while paused
    assert {p["spec"]["containers"][0]["image"] for p in await pods_of(client, ns, "pz")} == {"nginx:1.0"}
    assert condition(await client.get(DEPLOYMENTS, "pz", ns), "Progressing")["status"] == "Unknown"

    await kubectl(env, "rollout", "resume", "deployment/pz", "-n", ns)
    await kubectl(env, "rollout", "status", "deployment/pz", "-n", ns, "--timeout=30s")
    await ready_pods(client, ns, "pz", 2, image="nginx:2.0")
    assert len(await replicasets_of(client, ns, "pz")) == 2


async def test_recreate_strategy_never_runs_old_and_new_together(env: Env, client: ApiClient,
                                                                 kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    await create(env, ns, deployment("rc", replicas=3, strategy={"type": "Recreate"}))
    await kubectl(env, "rollout", "status", "deployment/rc", "-n", ns, "--timeout=30s")
    async with PodSampler(client, ns, "rc") as sampler:
        await kubectl(env, "set", "image", "deployment/rc", "-n", ns, "app=nginx:2.0")
        await kubectl(env, "rollout", "status", "deployment/rc", "-n", ns, "--timeout=30s")
        await ready_pods(client, ns, "rc", 3, image="nginx:2.0")
    assert all(len(s.images) <= 1 for s in sampler.samples)
    assert any(s.live == 0 for s in sampler.samples)  # all old pods went before new ones came
    old, new = await replicasets_of(client, ns, "rc")
    assert (old["spec"]["replicas"], new["spec"]["replicas"]) == (0, 3)


async def test_revision_history_limit_deletes_old_replicasets(env: Env, client: ApiClient,
                                                              kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    await create(env, ns, deployment("lim", replicas=1, revisionHistoryLimit=1))
    for version in ("2.0", "3.0", "4.0"):
        await kubectl(env, "set", "image", "deployment/lim", "-n", ns, f"app=nginx:{version}")
        await kubectl(env, "rollout", "status", "deployment/lim", "-n", ns, "--timeout=30s")

    async def two_left() -> bool:
        return len(await replicasets_of(client, ns, "lim")) == 2

    await until(two_left, timeout=15, what="old ReplicaSets cleaned up")
    rss = await replicasets_of(client, ns, "lim")
    assert [rs["metadata"]["annotations"][REVISION] for rs in rss] == ["3", "4"]


async def test_progress_deadline_exceeded(env: Env, client: ApiClient, kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    await create(env, ns, deployment("stuck", replicas=1, labels={NEVER_READY: "true"},
                                     progressDeadlineSeconds=2))

    async def timed_out() -> bool:
        d = await client.get(DEPLOYMENTS, "stuck", ns)
        conds = {c["type"]: c for c in d["status"].get("conditions") or []}
        return conds.get("Progressing", {}).get("reason") == "ProgressDeadlineExceeded"

    await until(timed_out, timeout=15, what="ProgressDeadlineExceeded")
    d = await client.get(DEPLOYMENTS, "stuck", ns)
    progressing, available = condition(d, "Progressing"), condition(d, "Available")
    assert progressing["status"] == "False"
    assert progressing["message"].endswith("has timed out progressing.")
    assert (available["status"], available["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert d["status"]["unavailableReplicas"] == 1
    out = await kubectl(env, "rollout", "status", "deployment/stuck", "-n", ns, "--timeout=10s", check=False)
    assert out.returncode != 0 and "exceeded its progress deadline" in out.stderr


async def test_replicaset_adopts_orphans_and_releases_pods_that_stop_matching(
        env: Env, client: ApiClient, kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    orphan = await client.create(PODS, {"apiVersion": "v1", "kind": "Pod",
                                        "metadata": {"name": "orphan", "labels": {"app": "adopt"}},
                                        "spec": {"containers": [{"name": "app", "image": "nginx:1.0"}]}}, ns)
    rs = await client.create(REPLICASETS, replicaset("adopter", replicas=2, app="adopt"), ns)
    pods = await ready_pods(client, ns, "adopt", 2)
    assert "orphan" in {p["metadata"]["name"] for p in pods}  # adopted, so only one pod was created
    for pod in pods:
        [ref] = pod["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["name"], ref["uid"], ref["controller"]) == (
            "ReplicaSet", "adopter", rs["metadata"]["uid"], True)
    adopted = await client.get(PODS, "orphan", ns)
    assert adopted["metadata"]["uid"] == orphan["metadata"]["uid"]
    # The uid in an adopt/release patch is a precondition: a pod recreated under the name is left alone.
    with pytest.raises(ApiError) as err:
        await client.patch(PODS, "orphan", {"metadata": {"uid": str(uuid.uuid4()), "ownerReferences": []}}, ns,
                           patch_type="application/strategic-merge-patch+json")
    assert err.value.code == 422 and "metadata.uid" in err.value.message

    # Relabelled out of the selector: released (no owner), and replaced.
    await client.patch(PODS, "orphan", {"metadata": {"labels": {"app": "elsewhere"}}}, ns)

    async def released() -> bool:
        pod = await client.get(PODS, "orphan", ns)
        return not pod["metadata"].get("ownerReferences")

    await until(released, timeout=15, what="pod released")
    replacement = await ready_pods(client, ns, "adopt", 2)
    assert "orphan" not in {p["metadata"]["name"] for p in replacement}

    async def status_counts() -> bool:
        status = (await client.get(REPLICASETS, "adopter", ns))["status"]
        return (status.get("replicas"), status.get("readyReplicas")) == (2, 2)

    await until(status_counts, timeout=10, what="ReplicaSet status 2/2")


async def test_replicaset_deletes_not_ready_and_unscheduled_pods_first(env: Env, client: ApiClient,
                                                                       kubelet: FakeKubelet) -> None:
    ns = await namespace(client)
    await client.create(REPLICASETS, replicaset("pick", replicas=3, app="pick"), ns)
    first = {p["metadata"]["name"] for p in await ready_pods(client, ns, "pick", 3)}

    kubelet.hold(ns)  # the next pods stay not ready
    try:
        await client.patch(REPLICASETS, "pick", {"spec": {"replicas": 5}}, ns)

        async def five() -> bool:
            return len(await pods_of(client, ns, "pick")) == 5

        await until(five, timeout=15, what="5 pods")
        await client.patch(REPLICASETS, "pick", {"spec": {"replicas": 3}}, ns)

        async def back_to_first() -> bool:
            return {p["metadata"]["name"] for p in await pods_of(client, ns, "pick")} == first

        await until(back_to_first, timeout=15, what="the not-ready pods deleted")
    finally:
        kubelet.release(ns)

    # Of ready pods, an unscheduled one goes before scheduled ones.
    names = sorted(first)
    for name in names[:2]:
        await client.create(PODS, {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                                   "target": {"apiVersion": "v1", "kind": "Node", "name": "node-a"}},
                            ns, name=name, subresource="binding")
    await client.patch(REPLICASETS, "pick", {"spec": {"replicas": 2}}, ns)

    async def unscheduled_gone() -> bool:
        return {p["metadata"]["name"] for p in await pods_of(client, ns, "pick")} == set(names[:2])

    await until(unscheduled_gone, timeout=15, what="the unscheduled pod deleted")
