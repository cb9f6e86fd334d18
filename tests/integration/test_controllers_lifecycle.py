"""Object lifecycle controllers as a real controller-manager process against a real API server:
namespace deletion, garbage collection (background, foreground, orphan), the default
ServiceAccount, endpoints and endpointslices, and the default/kubernetes Service.

Pods and ReplicaSets are made by hand, with ownerReferences, so that nothing here depends on
the workload controllers; pods have no kubelet, so their status is patched by the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hakube.client.api import (
    CONFIGMAPS,
    DEPLOYMENTS,
    ENDPOINTS,
    ENDPOINTSLICES,
    NAMESPACES,
    NODES,
    PODS,
    REPLICASETS,
    SERVICEACCOUNTS,
    SERVICES,
    ApiClient,
    ApiError,
    Credentials,
    ResourceRef,
)
from hakube.testing import Kubectl, LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="session")

Obj = dict[str, Any]
T = TypeVar("T")
CONTROLLERS = "namespace,garbagecollector,serviceaccount,endpoints,endpointslice,kubernetes-service"
EXTERNAL_IP = "192.0.2.10"  # TEST-NET-1: only ever written into objects, never dialled
MOVED_IP = "192.0.2.20"


# -- processes --------------------------------------------------------------------------------


class ControllerManager:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.proc: subprocess.Popen[bytes] | None = None
        self.logs: list[Path] = []

    def start(self, external_ip: str) -> None:
        log = self.stack.root / f"controller-manager-{len(self.logs)}.log"
        self.logs.append(log)
        argv = [sys.executable, "-m", "hakube.controllers", f"--kubeconfig={self.stack.kubeconfig(0)}",
                f"--controllers={CONTROLLERS}", "--leader-elect=false", f"--external-ip={external_ip}"]
        self.proc = subprocess.Popen(argv, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs)


@pytest.fixture(scope="module")
def lifecycle_stack() -> Iterator[tuple[LocalStack, ControllerManager]]:
    """A stack of our own: the controllers act on every namespace of their cluster."""
    stack = LocalStack.create()
    manager = ControllerManager(stack)
    try:
        stack.start_etcd()
        stack.start_apiserver("--etcd-compaction-interval=0")
        manager.start(EXTERNAL_IP)
        yield stack, manager
    finally:
        manager.stop()
        stack.cleanup()


@pytest.fixture
async def api(lifecycle_stack: tuple[LocalStack, ControllerManager]) -> AsyncIterator[ApiClient]:
    async with ApiClient(Credentials.from_kubeconfig(lifecycle_stack[0].kubeconfig(0))) as client:
        yield client


@pytest.fixture
def manager(lifecycle_stack: tuple[LocalStack, ControllerManager]) -> ControllerManager:
    return lifecycle_stack[1]


@pytest.fixture
def lifecycle_kubectl(lifecycle_stack: tuple[LocalStack, ControllerManager], tmp_path: Path) -> Kubectl:
    return Kubectl(lifecycle_stack[0].kubeconfig(0), tmp_path)


# -- helpers ----------------------------------------------------------------------------------


async def until(check: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "") -> T:
    """Poll `check` until it returns something truthy; a bounded number of times."""
    interval = 0.1
    for _ in range(int(timeout / interval)):
        result = await check()
        if result:
            return result
        await asyncio.sleep(interval)
    raise AssertionError(f"not within {timeout}s: {what or check}")


async def maybe(api: ApiClient, ref: ResourceRef, name: str, namespace: str | None = None) -> Obj | None:
    try:
        return await api.get(ref, name, namespace)
    except ApiError as err:
        if err.not_found:
            return None
        raise


async def gone(api: ApiClient, ref: ResourceRef, name: str, namespace: str | None = None) -> bool:
    return await maybe(api, ref, name, namespace) is None


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def namespace(api: ApiClient, prefix: str = "lc") -> str:
    name = unique(prefix)
    await api.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def owner_ref(owner: Obj, *, kind: str, api_version: str, block: bool = True) -> Obj:
    meta = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": block}


def configmap(name: str, *, owners: list[Obj] | None = None, finalizers: list[str] | None = None) -> Obj:
    meta: Obj = {"name": name}
    if owners:
        meta["ownerReferences"] = owners
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def pod(name: str, *, labels: dict[str, str] | None = None, owners: list[Obj] | None = None,
        node: str = "", ports: list[Obj] | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": labels or {"app": name}}
    if owners:
        meta["ownerReferences"] = owners
    container: Obj = {"name": "main", "image": "busybox:1"}
    if ports:
        container["ports"] = ports
    spec: Obj = {"containers": [container]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def workload(kind: str, name: str, labels: dict[str, str], *, owners: list[Obj] | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": labels}
    if owners:
        meta["ownerReferences"] = owners
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": meta,
            "spec": {"replicas": 2, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "main", "image": "busybox:1"}]}}}}


async def deployment_tree(api: ApiClient, ns: str, name: str) -> tuple[Obj, Obj, list[Obj]]:
    """A Deployment owning a ReplicaSet owning two pods, as the workload controllers would make them."""
    labels = {"app": name}
    dep = await api.create(DEPLOYMENTS, workload("Deployment", name, labels), ns)
    rs = await api.create(REPLICASETS, workload("ReplicaSet", f"{name}-abc", labels, owners=[
        owner_ref(dep, kind="Deployment", api_version="apps/v1")]), ns)
    pods = [await api.create(PODS, pod(f"{name}-abc-{i}", labels=labels, owners=[
        owner_ref(rs, kind="ReplicaSet", api_version="apps/v1")]), ns) for i in range(2)]
    return dep, rs, pods


async def set_pod_status(api: ApiClient, ns: str, name: str, *, ip: str, ready: bool) -> None:
    status = "True" if ready else "False"
    await api.patch(PODS, name, {"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [{"type": "Ready", "status": status, "lastTransitionTime": "2025-01-01T00:00:00Z"}]}},
        ns, subresource="status")


class DeletionLog:
    """DELETED events of some resources in one namespace, by revision (one etcd order for all)."""

    def __init__(self, api: ApiClient, ns: str, refs: list[ResourceRef]) -> None:
        self.api, self.ns, self.refs = api, ns, refs
        self.deleted: dict[str, int] = {}  # "<plural>/<name>" -> delete revision
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> DeletionLog:
        for ref in self.refs:
            rv = (await self.api.list(ref, self.ns))["metadata"]["resourceVersion"]
            self._tasks.append(asyncio.create_task(self._watch(ref, rv), name=f"watch-{ref.plural}"))
        return self

    async def _watch(self, ref: ResourceRef, rv: str) -> None:
        async for event_type, obj in self.api.watch(ref, self.ns, resource_version=rv, timeout_seconds=60):
            if event_type == "DELETED":
                meta = obj["metadata"]
                self.deleted[f"{ref.plural}/{meta['name']}"] = int(meta["resourceVersion"])

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, ApiError):
                await task


# -- default/kubernetes ---------------------------------------------------------------------------


async def test_default_kubernetes_service_points_at_the_external_ip(api: ApiClient) -> None:
    svc = await until(lambda: maybe(api, SERVICES, "kubernetes", "default"), what="default/kubernetes")
    assert svc["spec"]["clusterIP"] == "10.96.0.1" and svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
    assert not svc["spec"].get("selector")
    ep = await until(lambda: maybe(api, ENDPOINTS, "kubernetes", "default"), what="its Endpoints")
    assert ep["subsets"] == [{"addresses": [{"ip": EXTERNAL_IP}],
                              "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]
    eps = await until(lambda: maybe(api, ENDPOINTSLICES, "kubernetes", "default"), what="its EndpointSlice")
    assert eps["addressType"] == "IPv4" and eps["endpoints"][0]["addresses"] == [EXTERNAL_IP]
    assert eps["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes"

    # Deleted or changed by hand: put back.
    await api.delete(ENDPOINTS, "kubernetes", "default")
    await api.patch(SERVICES, "kubernetes", {"spec": {"ports": [{"name": "https", "port": 443,
                                                                 "targetPort": 9999}]}}, "default")

    async def restored() -> bool:
        ep = await maybe(api, ENDPOINTS, "kubernetes", "default")
        svc = await api.get(SERVICES, "kubernetes", "default")
        return ep is not None and svc["spec"]["ports"][0]["targetPort"] == 6443

    await until(restored, what="Endpoints recreated and Service ports put right")


# -- serviceaccount ---------------------------------------------------------------------------------


async def test_every_new_namespace_gets_a_default_serviceaccount(api: ApiClient) -> None:
    ns = await namespace(api, "sa")
    sa = await until(lambda: maybe(api, SERVICEACCOUNTS, "default", ns), what="default ServiceAccount")
    await api.delete(SERVICEACCOUNTS, "default", ns)

    async def recreated() -> bool:
        again = await maybe(api, SERVICEACCOUNTS, "default", ns)
        return again is not None and again["metadata"]["uid"] != sa["metadata"]["uid"]

    await until(recreated, what="default ServiceAccount recreated")
    assert await maybe(api, SERVICEACCOUNTS, "default", "kube-system") is not None


# -- namespace deletion --------------------------------------------------------------------------------


async def test_deleting_a_namespace_removes_everything_then_the_namespace(api: ApiClient) -> None:
    ns = await namespace(api, "del")
    for i in range(3):
        await api.create(CONFIGMAPS, configmap(f"cm-{i}"), ns)
    await api.create(CONFIGMAPS, configmap("held", finalizers=["example.com/hold"]), ns)
    for i in range(2):
        await api.create(PODS, pod(f"loose-{i}"), ns)
    await deployment_tree(api, ns, "web")
    await api.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}, ns)

    await api.delete(NAMESPACES, ns)
    marked = await api.get(NAMESPACES, ns)
    assert marked["status"]["phase"] == "Terminating"

    async def only_the_held_one_left() -> Obj | None:
        left = {}
        for ref in (CONFIGMAPS, PODS, REPLICASETS, DEPLOYMENTS, SERVICES, ENDPOINTS, ENDPOINTSLICES, SERVICEACCOUNTS):
            for item in (await api.list(ref, ns))["items"]:
                left[f"{ref.plural}/{item['metadata']['name']}"] = item
        if list(left) != ["configmaps/held"]:
            return None
        current = await api.get(NAMESPACES, ns)
        conditions = {c["type"]: c for c in current["status"].get("conditions") or []}
        return conditions if conditions.get("NamespaceFinalizersRemaining", {}).get("status") == "True" else None

    conditions = await until(only_the_held_one_left, what="everything but the held configmap deleted")
    assert conditions["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances")
    assert conditions["NamespaceContentRemaining"]["reason"] == "SomeResourcesRemain"
    assert conditions["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
    assert (await api.get(CONFIGMAPS, "held", ns))["metadata"]["deletionTimestamp"]
    assert await maybe(api, NAMESPACES, ns) is not None

    await api.patch(CONFIGMAPS, "held", {"metadata": {"finalizers": None,
                                                      "resourceVersion": None}}, ns)
    await until(lambda: gone(api, NAMESPACES, ns), what=f"namespace {ns} gone")
    assert await gone(api, CONFIGMAPS, "held", ns)


async def test_kubectl_delete_namespace_waits_until_it_is_gone(api: ApiClient,
                                                               lifecycle_kubectl: Kubectl) -> None:
    ns = await namespace(api, "kns")
    await api.create(CONFIGMAPS, configmap("cm"), ns)
    await deployment_tree(api, ns, "app")
    out = await asyncio.to_thread(lifecycle_kubectl.run, "delete", "namespace", ns, "--timeout=40s", timeout=45)
    assert out.stdout.strip() == f'namespace "{ns}" deleted'
    assert await gone(api, NAMESPACES, ns)


# -- garbage collection ----------------------------------------------------------------------------------


async def test_foreground_deletion_deletes_dependents_first(api: ApiClient) -> None:
    ns = await namespace(api, "fg")
    _dep, rs, pods = await deployment_tree(api, ns, "web")
    async with DeletionLog(api, ns, [PODS, REPLICASETS, DEPLOYMENTS]) as log:
        await api.delete(DEPLOYMENTS, "web", ns, propagation="Foreground")
        marked = await api.get(DEPLOYMENTS, "web", ns)
        assert marked["metadata"]["deletionTimestamp"]
        assert "foregroundDeletion" in marked["metadata"]["finalizers"]
        await until(lambda: gone(api, DEPLOYMENTS, "web", ns), what="deployment gone")

        async def all_seen() -> bool:
            return len(log.deleted) == 4

        await until(all_seen, what="all four deletions seen")
    pod_revisions = [log.deleted[f"pods/{p['metadata']['name']}"] for p in pods]
    rs_revision = log.deleted[f"replicasets/{rs['metadata']['name']}"]
    assert max(pod_revisions) < rs_revision < log.deleted["deployments/web"], log.deleted


async def test_background_deletion_removes_orphaned_dependents(api: ApiClient) -> None:
    ns = await namespace(api, "bg")
    owner = await api.create(CONFIGMAPS, configmap("owner"), ns)
    other = await api.create(CONFIGMAPS, configmap("other-owner"), ns)
    ref = owner_ref(owner, kind="ConfigMap", api_version="v1", block=False)
    for i in range(2):
        await api.create(CONFIGMAPS, configmap(f"dep-{i}", owners=[ref]), ns)
    # Two owners, one stays: the dependent stays, without the reference to the one that went.
    both = await api.create(CONFIGMAPS, configmap("both", owners=[
        ref, {**owner_ref(other, kind="ConfigMap", api_version="v1"), "controller": False}]), ns)
    # An owner that never existed.
    never = {"apiVersion": "v1", "kind": "ConfigMap", "name": "never", "uid": str(uuid.uuid4())}
    await api.create(CONFIGMAPS, configmap("orphan-from-birth", owners=[never]), ns)

    await api.delete(CONFIGMAPS, "owner", ns)  # kubectl's default: background
    for name in ("dep-0", "dep-1", "orphan-from-birth"):
        await until(lambda name=name: gone(api, CONFIGMAPS, name, ns), what=f"{name} collected")

    async def reference_dropped() -> bool:
        current = await api.get(CONFIGMAPS, "both", ns)
        return [r["uid"] for r in current["metadata"].get("ownerReferences") or []] == [other["metadata"]["uid"]]

    await until(reference_dropped, what="reference to the deleted owner removed")
    assert (await api.get(CONFIGMAPS, "both", ns))["metadata"]["uid"] == both["metadata"]["uid"]


async def test_orphan_propagation_leaves_dependents_without_the_reference(api: ApiClient) -> None:
    ns = await namespace(api, "orphan")
    labels = {"app": "keep"}
    rs = await api.create(REPLICASETS, workload("ReplicaSet", "keep", labels), ns)
    for i in range(2):
        await api.create(PODS, pod(f"keep-{i}", labels=labels, owners=[
            owner_ref(rs, kind="ReplicaSet", api_version="apps/v1")]), ns)
    await api.delete(REPLICASETS, "keep", ns, propagation="Orphan")
    assert "orphan" in (await api.get(REPLICASETS, "keep", ns))["metadata"]["finalizers"]
    await until(lambda: gone(api, REPLICASETS, "keep", ns), what="replicaset gone")
    for i in range(2):
        current = await api.get(PODS, f"keep-{i}", ns)
        assert not current["metadata"].get("ownerReferences")
        assert not current["metadata"].get("deletionTimestamp")


async def test_kubectl_delete_with_cascade_foreground(api: ApiClient, lifecycle_kubectl: Kubectl) -> None:
    ns = await namespace(api, "kfg")
    _dep, rs, pods = await deployment_tree(api, ns, "web")
    out = await asyncio.to_thread(lifecycle_kubectl.run, "-n", ns, "delete", "deploy/web", "--cascade=foreground",
                                  "--timeout=30s", timeout=40)
    assert out.stdout.strip() == 'deployment.apps "web" deleted'
    # kubectl waited for the Deployment, which waited for its dependents.
    assert await gone(api, REPLICASETS, rs["metadata"]["name"], ns)
    assert all([await gone(api, PODS, p["metadata"]["name"], ns) for p in pods])

    labels = {"app": "solo"}
    solo = await api.create(REPLICASETS, workload("ReplicaSet", "solo", labels), ns)
    await api.create(PODS, pod("solo-0", labels=labels, owners=[
        owner_ref(solo, kind="ReplicaSet", api_version="apps/v1")]), ns)
    out = await asyncio.to_thread(lifecycle_kubectl.run, "-n", ns, "delete", "rs/solo", "--cascade=foreground",
                                  "--timeout=30s", timeout=40)
    assert out.stdout.strip() == 'replicaset.apps "solo" deleted'
    assert await gone(api, PODS, "solo-0", ns)


async def test_kubectl_delete_with_cascade_orphan(api: ApiClient, lifecycle_kubectl: Kubectl) -> None:
    ns = await namespace(api, "kor")
    _dep, rs, _pods = await deployment_tree(api, ns, "web")
    await asyncio.to_thread(lifecycle_kubectl.run, "-n", ns, "delete", "deploy/web", "--cascade=orphan",
                            "--timeout=30s", timeout=40)
    current = await api.get(REPLICASETS, rs["metadata"]["name"], ns)
    assert not current["metadata"].get("ownerReferences")


# -- endpoints and endpointslices ----------------------------------------------------------------------------


async def test_endpoints_and_slices_follow_pod_readiness(api: ApiClient) -> None:
    ns = await namespace(api, "ep")
    node = unique("node")
    await api.create(NODES, {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": node, "labels": {"topology.kubernetes.io/zone": "zone-a"}}})
    await api.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
                                "spec": {"selector": {"app": "web"},
                                         "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}}, ns)
    await api.create(SERVICES, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "manual"},
                                "spec": {"ports": [{"port": 80}]}}, ns)
    web_port = [{"name": "web", "containerPort": 8080}]
    for i in range(2):
        await api.create(PODS, pod(f"web-{i}", labels={"app": "web"}, node=node, ports=web_port), ns)
    await api.create(PODS, pod("other", labels={"app": "other"}, node=node, ports=web_port), ns)
    await set_pod_status(api, ns, "web-0", ip="10.244.0.10", ready=True)
    await set_pod_status(api, ns, "web-1", ip="10.244.0.11", ready=False)
    await set_pod_status(api, ns, "other", ip="10.244.0.12", ready=True)

    def ips(subset: Obj, key: str) -> list[str]:
        return [a["ip"] for a in subset.get(key) or []]

    async def endpoints_are(ready: list[str], not_ready: list[str]) -> Obj | None:
        ep = await maybe(api, ENDPOINTS, "web", ns)
        subsets = (ep or {}).get("subsets") or []
        got_ready = sorted(ip for s in subsets for ip in ips(s, "addresses"))
        got_not_ready = sorted(ip for s in subsets for ip in ips(s, "notReadyAddresses"))
        return ep if (got_ready, got_not_ready) == (ready, not_ready) else None

    async def slices_are(conditions: dict[str, dict[str, bool]]) -> list[Obj] | None:
        items = (await api.list(ENDPOINTSLICES, ns, label_selector="kubernetes.io/service-name=web"))["items"]
        got = {e["addresses"][0]: e["conditions"] for s in items for e in s["endpoints"]}
        return items if got == conditions else None

    ep = await until(lambda: endpoints_are(["10.244.0.10"], ["10.244.0.11"]), what="ready and not-ready addresses")
    subset = ep["subsets"][0]
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    first = subset["addresses"][0]
    assert first["nodeName"] == node
    assert first["targetRef"]["kind"] == "Pod" and first["targetRef"]["name"] == "web-0"
    ready, not_ready = ({"ready": True, "serving": True, "terminating": False},
                        {"ready": False, "serving": False, "terminating": False})
    slices = await until(lambda: slices_are({"10.244.0.10": ready, "10.244.0.11": not_ready}),
                         what="slice conditions")
    assert len(slices) == 1
    eps = slices[0]
    assert eps["addressType"] == "IPv4"
    assert eps["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == "endpointslice-controller.k8s.io"
    assert eps["metadata"]["ownerReferences"][0]["kind"] == "Service"
    assert eps["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    endpoint = next(e for e in eps["endpoints"] if e["addresses"] == ["10.244.0.10"])
    assert endpoint["nodeName"] == node and endpoint["zone"] == "zone-a"
    assert endpoint["targetRef"]["name"] == "web-0"

    # Readiness flips both ways.
    await set_pod_status(api, ns, "web-1", ip="10.244.0.11", ready=True)
    await set_pod_status(api, ns, "web-0", ip="10.244.0.10", ready=False)
    await until(lambda: endpoints_are(["10.244.0.11"], ["10.244.0.10"]), what="readiness swapped")
    await until(lambda: slices_are({"10.244.0.10": not_ready, "10.244.0.11": ready}), what="slices swapped")

    # A terminating pod leaves the Endpoints; its slice endpoint says terminating (serving as it was).
    await api.delete(PODS, "web-1", ns)
    await until(lambda: endpoints_are([], ["10.244.0.10"]), what="terminating pod out of Endpoints")
    await until(lambda: slices_are({"10.244.0.10": not_ready, "10.244.0.11": {
        "ready": False, "serving": True, "terminating": True}}), what="terminating endpoint")
    await api.delete(PODS, "web-1", ns, grace_period=0)
    await api.delete(PODS, "web-0", ns, grace_period=0)
    await until(lambda: endpoints_are([], []), what="no pods, no addresses")
    placeholder = await until(lambda: slices_are({}), what="an empty placeholder slice")
    assert len(placeholder) == 1 and placeholder[0]["ports"] == []

    # No selector: no Endpoints from the controller. Service deleted: its Endpoints and slices go.
    assert await maybe(api, ENDPOINTS, "manual", ns) is None
    await api.delete(SERVICES, "web", ns)
    await until(lambda: gone(api, ENDPOINTS, "web", ns), what="Endpoints of a deleted Service")
    await until(lambda: slices_gone(api, ns), what="slices collected with their Service")
    await api.delete(NODES, node)


async def slices_gone(api: ApiClient, ns: str) -> bool:
    items = (await api.list(ENDPOINTSLICES, ns, label_selector="kubernetes.io/service-name=web"))["items"]
    return not items


# -- the external IP moves --------------------------------------------------------------------------------


async def test_kubernetes_endpoints_follow_a_new_external_ip(api: ApiClient, manager: ControllerManager) -> None:
    await until(lambda: maybe(api, ENDPOINTS, "kubernetes", "default"), what="default/kubernetes Endpoints")
    await asyncio.to_thread(manager.stop)
    manager.start(MOVED_IP)

    async def moved() -> bool:
        ep = await maybe(api, ENDPOINTS, "kubernetes", "default")
        eps = await maybe(api, ENDPOINTSLICES, "kubernetes", "default")
        return bool(ep and eps and ep["subsets"][0]["addresses"] == [{"ip": MOVED_IP}]
                    and eps["endpoints"][0]["addresses"] == [MOVED_IP])

    await until(moved, what="Endpoints and EndpointSlice at the new IP")
    assert "Traceback" not in manager.text(), manager.text()[-3000:]
