"""The official `kubernetes` Python client against a real API server.

The client sends bodies without a Content-Type, encodes dict patches as
strategic merge patches, parses watch streams line by line and writes
datetimes as `isoformat()` (API-COMPAT.md §11); these tests go through it for
CRUD, selectors, pagination, watch resumption, the optimistic-lock errors
and Lease MicroTime fields.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from hakube.testing import LocalStack


@pytest.fixture(scope="module")
def api_client(stack: LocalStack) -> Iterator[client.ApiClient]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=str(stack.kubeconfig(0)), client_configuration=cfg)
    with client.ApiClient(cfg) as api:
        yield api


@pytest.fixture(scope="module")
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture(scope="module")
def apps(api_client: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(api_client)


@pytest.fixture(scope="module")
def coordination(api_client: client.ApiClient) -> client.CoordinationV1Api:
    return client.CoordinationV1Api(api_client)


def _new_namespace(core: client.CoreV1Api, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    assert created.metadata.name == name
    return name


@pytest.fixture(scope="module")
def ns(core: client.CoreV1Api) -> str:
    return _new_namespace(core, "pyclient")


def status_of(err: ApiException) -> dict[str, Any]:
    body = json.loads(err.body)
    assert body["kind"] == "Status"
    assert body["status"] == "Failure"
    assert body["code"] == err.status
    return body


def cm(name: str, data: dict[str, str] | None = None, labels: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels), data=data)


# -- CRUD -------------------------------------------------------------------------


def test_configmap_crud(core: client.CoreV1Api, ns: str) -> None:
    created = core.create_namespaced_config_map(ns, cm("crud", {"a": "1"}))
    assert created.metadata.name == "crud"
    assert created.metadata.namespace == ns
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    assert created.data == {"a": "1"}
    rv1 = int(created.metadata.resource_version)

    got = core.read_namespaced_config_map("crud", ns)
    assert got.metadata.uid == created.metadata.uid
    assert got.metadata.resource_version == created.metadata.resource_version
    assert got.data == {"a": "1"}

    got.data = {"a": "2", "b": "3"}
    replaced = core.replace_namespaced_config_map("crud", ns, got)
    assert replaced.data == {"a": "2", "b": "3"}
    rv2 = int(replaced.metadata.resource_version)
    assert rv2 > rv1
    assert replaced.metadata.uid == created.metadata.uid
    assert replaced.metadata.creation_timestamp == created.metadata.creation_timestamp

    # A dict body is a strategic merge patch: maps merge, other keys stay.
    patched = core.patch_namespaced_config_map("crud", ns, {"data": {"c": "4"}, "metadata": {"labels": {"x": "y"}}})
    assert patched.data == {"a": "2", "b": "3", "c": "4"}
    assert patched.metadata.labels == {"x": "y"}
    assert int(patched.metadata.resource_version) > rv2

    # A JSON merge patch removes a key with null.
    merged = core.patch_namespaced_config_map("crud", ns, {"data": {"a": None}},
                                              _content_type="application/merge-patch+json")
    assert merged.data == {"b": "3", "c": "4"}
    assert core.read_namespaced_config_map("crud", ns).data == {"b": "3", "c": "4"}

    # This client version returns the DELETE body as a plain dict.
    deleted = core.delete_namespaced_config_map("crud", ns)
    assert deleted["kind"] == "Status"
    assert deleted["status"] == "Success"
    assert deleted["details"] == {"name": "crud", "kind": "configmaps", "uid": created.metadata.uid}
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("crud", ns)
    assert exc.value.status == 404
    assert status_of(exc.value)["reason"] == "NotFound"


def _deployment(name: str) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=1,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(containers=[
                    client.V1Container(name="web", image="nginx:1.27",
                                       ports=[client.V1ContainerPort(container_port=80)]),
                    client.V1Container(name="sidecar", image="busybox:1.36", command=["sleep", "3600"]),
                ]),
            ),
        ),
    )


def test_deployment_crud(apps: client.AppsV1Api, ns: str) -> None:
    created = apps.create_namespaced_deployment(ns, _deployment("web"))
    assert created.metadata.generation == 1
    assert created.spec.replicas == 1
    assert [c.name for c in created.spec.template.spec.containers] == ["web", "sidecar"]

    got = apps.read_namespaced_deployment("web", ns)
    assert got.metadata.uid == created.metadata.uid
    got.spec.replicas = 3
    replaced = apps.replace_namespaced_deployment("web", ns, got)
    assert replaced.spec.replicas == 3
    assert replaced.metadata.generation == 2

    # Strategic merge: the containers list merges by name, so the sidecar stays
    # and the web container keeps its ports.
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}}}}
    patched = apps.patch_namespaced_deployment("web", ns, patch)
    containers = {c.name: c for c in patched.spec.template.spec.containers}
    assert set(containers) == {"web", "sidecar"}
    assert containers["web"].image == "nginx:1.28"
    assert containers["web"].ports[0].container_port == 80
    assert containers["sidecar"].image == "busybox:1.36"
    assert containers["sidecar"].command == ["sleep", "3600"]
    assert patched.metadata.generation == 3

    # A metadata-only change does not bump the generation.
    relabeled = apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"tier": "front"}}})
    assert relabeled.metadata.labels == {"app": "web", "tier": "front"}
    assert relabeled.metadata.generation == 3

    apps.delete_namespaced_deployment("web", ns)
    with pytest.raises(ApiException) as exc:
        apps.read_namespaced_deployment("web", ns)
    assert exc.value.status == 404
    body = status_of(exc.value)
    assert body["reason"] == "NotFound"
    assert body["message"] == 'deployments.apps "web" not found'
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


# -- lists ------------------------------------------------------------------------


def test_list_with_label_selector(core: client.CoreV1Api, ns: str) -> None:
    for name, tier in (("sel-a1", "a"), ("sel-a2", "a"), ("sel-b1", "b"), ("sel-c1", "c")):
        core.create_namespaced_config_map(ns, cm(name, {"k": "v"}, {"suite": "sel", "tier": tier}))
    core.create_namespaced_config_map(ns, cm("sel-none", {"k": "v"}, {"suite": "sel"}))

    def names(selector: str) -> list[str]:
        result = core.list_namespaced_config_map(ns, label_selector=selector)
        assert int(result.metadata.resource_version) > 0
        return sorted(item.metadata.name for item in result.items)

    assert names("suite=sel,tier=a") == ["sel-a1", "sel-a2"]
    assert names("suite=sel,tier in (a,b)") == ["sel-a1", "sel-a2", "sel-b1"]
    assert names("suite=sel,tier notin (a,b)") == ["sel-c1", "sel-none"]
    assert names("suite=sel,tier!=a") == ["sel-b1", "sel-c1", "sel-none"]
    assert names("suite=sel,!tier") == ["sel-none"]
    assert names("suite=sel,tier") == ["sel-a1", "sel-a2", "sel-b1", "sel-c1"]
    assert names("suite=nothing") == []


def test_pagination_sees_every_object_once(core: client.CoreV1Api) -> None:
    pages_ns = _new_namespace(core, "pages")
    expected = [f"page-{i}" for i in range(7)]
    for name in expected:
        core.create_namespaced_config_map(pages_ns, cm(name, {"k": name}))

    seen: list[str] = []
    sizes: list[int] = []
    remaining: list[int | None] = []
    token: str | None = None
    list_rv = ""
    for page_number in range(10):
        if token:
            page = core.list_namespaced_config_map(pages_ns, limit=2, _continue=token)
        else:
            page = core.list_namespaced_config_map(pages_ns, limit=2)
        if page_number == 0:
            list_rv = page.metadata.resource_version
            # Written after the first page: a paginated list is one snapshot, so this is not in it.
            core.create_namespaced_config_map(pages_ns, cm("page-late"))
        assert page.metadata.resource_version == list_rv
        sizes.append(len(page.items))
        remaining.append(page.metadata.remaining_item_count)
        seen.extend(item.metadata.name for item in page.items)
        token = page.metadata._continue
        if not token:
            break
    else:
        pytest.fail("pagination did not end within 10 pages")

    assert seen == sorted(expected)  # every object exactly once, in key order
    assert sizes == [2, 2, 2, 1]
    assert remaining == [5, 3, 1, None]
    assert token in (None, "")
    after = core.list_namespaced_config_map(pages_ns)
    assert sorted(i.metadata.name for i in after.items) == sorted([*expected, "page-late"])


# -- watch ------------------------------------------------------------------------


def test_watch_resumes_from_resource_version(core: client.CoreV1Api, ns: str) -> None:
    labels = {"suite": "watch"}
    core.create_namespaced_config_map(ns, cm("w-a", {"v": "1"}, labels))
    rv = core.list_namespaced_config_map(ns, label_selector="suite=watch").metadata.resource_version

    core.create_namespaced_config_map(ns, cm("w-b", {"v": "1"}, labels))
    core.patch_namespaced_config_map("w-a", ns, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("w-b", ns)
    core.create_namespaced_config_map(ns, cm("w-other", {"v": "1"}, {"suite": "elsewhere"}))

    events: list[tuple[str, str, str, int]] = []
    w = watch.Watch()
    started = time.monotonic()
    for event in w.stream(core.list_namespaced_config_map, namespace=ns, label_selector="suite=watch",
                          resource_version=rv, timeout_seconds=2):
        obj = event["object"]
        assert isinstance(obj, client.V1ConfigMap)
        events.append((event["type"], obj.metadata.name, (obj.data or {}).get("v", ""),
                       int(obj.metadata.resource_version)))
        if len(events) > 10 or time.monotonic() - started > 20:
            w.stop()
    assert [e[:3] for e in events] == [("ADDED", "w-b", "1"), ("MODIFIED", "w-a", "2"), ("DELETED", "w-b", "1")]
    revisions = [e[3] for e in events]
    assert revisions == sorted(revisions) and len(set(revisions)) == 3
    assert revisions[0] > int(rv)


def test_watch_without_resource_version_starts_with_current_state(core: client.CoreV1Api, ns: str) -> None:
    labels = {"suite": "watch-now"}
    for name in ("n-1", "n-2"):
        core.create_namespaced_config_map(ns, cm(name, {"v": name}, labels))
    w = watch.Watch()
    seen: list[tuple[str, str]] = []
    for event in w.stream(core.list_namespaced_config_map, namespace=ns, label_selector="suite=watch-now",
                          timeout_seconds=5):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    assert sorted(seen) == [("ADDED", "n-1"), ("ADDED", "n-2")]


# -- errors ------------------------------------------------------------------------


def test_replace_with_stale_resource_version_conflicts(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, cm("stale", {"v": "0"}))
    first = core.read_namespaced_config_map("stale", ns)
    second = core.read_namespaced_config_map("stale", ns)
    first.data = {"v": "1"}
    won = core.replace_namespaced_config_map("stale", ns, first)
    assert won.data == {"v": "1"}

    second.data = {"v": "2"}
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("stale", ns, second)
    assert exc.value.status == 409
    body = status_of(exc.value)
    assert body["reason"] == "Conflict"
    assert body["message"] == ('Operation cannot be fulfilled on configmaps "stale": the object has been '
                               "modified; please apply your changes to the latest version and try again")
    now = core.read_namespaced_config_map("stale", ns)
    assert now.data == {"v": "1"}
    assert now.metadata.resource_version == won.metadata.resource_version


def test_create_existing_name_is_already_exists(core: client.CoreV1Api, ns: str) -> None:
    original = core.create_namespaced_config_map(ns, cm("twice", {"v": "first"}))
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(ns, cm("twice", {"v": "second"}))
    assert exc.value.status == 409
    body = status_of(exc.value)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "twice" already exists'
    assert body["details"] == {"name": "twice", "kind": "configmaps"}
    now = core.read_namespaced_config_map("twice", ns)
    assert now.data == {"v": "first"}
    assert now.metadata.resource_version == original.metadata.resource_version


def test_missing_name_is_not_found(core: client.CoreV1Api, apps: client.AppsV1Api, ns: str) -> None:
    for call in (lambda: core.read_namespaced_config_map("nope", ns),
                 lambda: core.delete_namespaced_config_map("nope", ns),
                 lambda: core.patch_namespaced_config_map("nope", ns, {"data": {"a": "b"}})):
        with pytest.raises(ApiException) as exc:
            call()
        assert exc.value.status == 404
        body = status_of(exc.value)
        assert body["reason"] == "NotFound"
        assert body["message"] == 'configmaps "nope" not found'
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("nope", ns, cm("nope", {"a": "b"}))
    assert exc.value.status == 404
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("nope", ns)
    assert exc.value.status == 404


# -- Lease MicroTime ------------------------------------------------------------------

_MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def _raw_lease(coordination: client.CoordinationV1Api, name: str, ns: str) -> dict[str, Any]:
    resp = coordination.read_namespaced_lease(name, ns, _preload_content=False)
    return json.loads(resp.data)


def test_lease_microtime_round_trip(coordination: client.CoordinationV1Api, ns: str) -> None:
    acquired = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    renewed = datetime(2026, 3, 4, 5, 6, 9, 654321, tzinfo=UTC)
    lease = client.V1Lease(
        metadata=client.V1ObjectMeta(name="leader"),
        spec=client.V1LeaseSpec(holder_identity="replica-1", lease_duration_seconds=15,
                                acquire_time=acquired, renew_time=renewed, lease_transitions=0),
    )
    created = coordination.create_namespaced_lease(ns, lease)
    assert created.spec.acquire_time == acquired
    assert created.spec.renew_time == renewed

    got = coordination.read_namespaced_lease("leader", ns)
    assert got.spec.holder_identity == "replica-1"
    assert got.spec.lease_duration_seconds == 15
    assert got.spec.acquire_time == acquired
    assert got.spec.renew_time == renewed
    raw = _raw_lease(coordination, "leader", ns)["spec"]
    assert raw["acquireTime"] == "2026-03-04T05:06:07.123456Z"
    assert raw["renewTime"] == "2026-03-04T05:06:09.654321Z"

    # The client drops the fraction when microseconds are 0 and keeps a non-UTC
    # offset as it is; the server stores the same instant in Go's MicroTime form.
    renewed_again = datetime(2026, 3, 4, 7, 6, 20, 0, tzinfo=timezone(timedelta(hours=2)))
    got.spec.renew_time = renewed_again
    got.spec.holder_identity = "replica-2"
    got.spec.lease_transitions = 1
    updated = coordination.replace_namespaced_lease("leader", ns, got)
    assert updated.spec.renew_time == renewed_again
    assert updated.spec.acquire_time == acquired
    assert updated.spec.holder_identity == "replica-2"
    assert updated.spec.lease_transitions == 1
    raw = _raw_lease(coordination, "leader", ns)["spec"]
    assert raw["renewTime"] == "2026-03-04T05:06:20.000000Z"
    assert _MICRO.match(raw["acquireTime"])

    # A renewal from a stale copy loses: leader election depends on this 409.
    got.spec.renew_time = datetime(2026, 3, 4, 5, 6, 30, 7, tzinfo=UTC)
    with pytest.raises(ApiException) as exc:
        coordination.replace_namespaced_lease("leader", ns, got)
    assert exc.value.status == 409
    assert status_of(exc.value)["reason"] == "Conflict"
    assert coordination.read_namespaced_lease("leader", ns).spec.renew_time == renewed_again

    # A renewal from the current copy wins, to the microsecond.
    current = coordination.read_namespaced_lease("leader", ns)
    current.spec.renew_time = datetime(2026, 3, 4, 5, 6, 31, 7, tzinfo=UTC)
    coordination.replace_namespaced_lease("leader", ns, current)
    raw = _raw_lease(coordination, "leader", ns)["spec"]
    assert raw["renewTime"] == "2026-03-04T05:06:31.000007Z"
    assert coordination.read_namespaced_lease("leader", ns).spec.renew_time == \
        datetime(2026, 3, 4, 5, 6, 31, 7, tzinfo=UTC)
