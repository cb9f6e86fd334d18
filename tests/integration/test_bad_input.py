"""Requests a client can get wrong: each is refused with the right `Status`, and nothing is written.

Raw HTTPS against one real API server, so the exact code, reason and wording
are what a client sees (API-COMPAT.md §2.2, §2.4, §3, §9, §10). After every
refused write the test reads back to make sure no object appeared or changed.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from hakube.store.storage import Storage
from hakube.testing import LocalStack


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Just enough HTTP for these tests: one request, its status, headers and body."""

    def __init__(self, stack: LocalStack) -> None:
        self.base = stack.apiservers[0].url
        self.admin = stack.ssl_context()  # client certificate of a system:masters user
        self.anonymous = ssl.create_default_context(cafile=str(stack.ca_file))  # no client certificate

    def request(self, method: str, path: str, body: bytes | dict[str, Any] | None = None, *,
                content_type: str | None = "application/json", token: str | None = None,
                cert: bool = True, timeout: float = 15) -> Reply:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None and content_type is not None:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", "application/json")
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        ctx = self.admin if cert else self.anonymous
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=timeout) as resp:
                return Reply(resp.status, dict(resp.headers.items()), resp.read())
        except urllib.error.HTTPError as err:
            return Reply(err.code, dict(err.headers.items()), err.read())


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Client:
    return Client(stack)


@pytest.fixture(scope="module")
def ns(api: Client) -> Iterator[str]:
    name = f"bad-input-{uuid.uuid4().hex[:8]}"
    reply = api.request("POST", "/api/v1/namespaces",
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    assert reply.status == 201, reply.body
    yield name


def assert_status(reply: Reply, code: int, reason: str) -> dict[str, Any]:
    assert reply.status == code, reply.body[:500]
    assert reply.headers.get("Content-Type", "").startswith("application/json"), reply.headers
    status = reply.json()
    assert status["kind"] == "Status"
    assert status["apiVersion"] == "v1"
    assert status["status"] == "Failure"
    assert status["code"] == code
    assert status["reason"] == reason
    assert isinstance(status.get("message"), str) and status["message"]
    return status


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}, **extra}


def names_in(api: Client, ns: str, resource: str = "configmaps") -> list[str]:
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/{resource}")
    assert reply.status == 200, reply.body
    return sorted(item["metadata"]["name"] for item in reply.json()["items"])


def assert_absent(api: Client, ns: str, name: str, resource: str = "configmaps") -> None:
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/{resource}/{name}")
    status = assert_status(reply, 404, "NotFound")
    assert status["message"] == f'{resource} "{name}" not found'


# -- undecodable bodies ------------------------------------------------------------


def test_malformed_json_is_400(api: Client, ns: str) -> None:
    before = names_in(api, ns)
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                        b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "half"')
    assert_status(reply, 400, "BadRequest")
    assert names_in(api, ns) == before
    assert_absent(api, ns, "half")


def test_malformed_yaml_is_400(api: Client, ns: str) -> None:
    before = names_in(api, ns)
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-broken\ndata: a: b: c\n  - [\n"
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body, content_type="application/yaml")
    assert_status(reply, 400, "BadRequest")
    assert names_in(api, ns) == before
    assert_absent(api, ns, "yaml-broken")


def test_well_formed_yaml_is_accepted(api: Client, ns: str) -> None:
    """The control for the case above: the same media type with a valid body creates the object."""
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: yaml-ok\ndata:\n  a: b\n"
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body, content_type="application/yaml")
    assert reply.status == 201, reply.body
    got = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/yaml-ok").json()
    assert got["data"] == {"a": "b"}


def test_body_that_is_not_an_object_is_400(api: Client, ns: str) -> None:
    before = names_in(api, ns)
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", b'["not", "an", "object"]')
    assert_status(reply, 400, "BadRequest")
    assert names_in(api, ns) == before


def _lease(name: str, renew_time: str) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 15, "renewTime": renew_time}}


def test_time_field_that_is_no_time_is_400(api: Client, ns: str) -> None:
    path = f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
    reply = api.request("POST", path, _lease("bad-time", "yesterday"))
    status = assert_status(reply, 400, "BadRequest")
    assert status["message"].startswith('Lease in version "v1" cannot be handled as a Lease: ')
    assert "spec.renewTime" in status["message"]
    gone = api.request("GET", f"{path}/bad-time")
    assert_status(gone, 404, "NotFound")
    assert gone.json()["message"] == 'leases.coordination.k8s.io "bad-time" not found'

    created = api.request("POST", path, _lease("good-time", "2026-01-02T03:04:05.123456Z"))
    assert created.status == 201, created.body
    reply = api.request("PATCH", f"{path}/good-time", b'{"spec": {"renewTime": "soon"}}',
                        content_type="application/merge-patch+json")
    assert_status(reply, 400, "BadRequest")
    now = api.request("GET", f"{path}/good-time").json()
    assert now["spec"]["renewTime"] == "2026-01-02T03:04:05.123456Z"
    assert now["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]


# -- bodies that do not belong to the URL ---------------------------------------------


def test_kind_not_matching_url_is_400(api: Client, ns: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod-as-cm"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", pod)
    status = assert_status(reply, 400, "BadRequest")
    assert "Pod" in status["message"] and "ConfigMap" in status["message"]
    assert_absent(api, ns, "pod-as-cm")
    assert_absent(api, ns, "pod-as-cm", "pods")


def test_api_version_not_matching_url_is_400(api: Client, ns: str) -> None:
    body = configmap("wrong-version")
    body["apiVersion"] = "apps/v1"
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert_status(reply, 400, "BadRequest")
    assert_absent(api, ns, "wrong-version")


def test_put_with_other_name_in_body_is_400(api: Client, ns: str) -> None:
    created = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("put-target"))
    assert created.status == 201, created.body
    original = created.json()
    body = configmap("put-other", data={"k": "changed"})
    body["metadata"]["resourceVersion"] = original["metadata"]["resourceVersion"]
    reply = api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/put-target", body)
    status = assert_status(reply, 400, "BadRequest")
    assert "put-other" in status["message"] and "put-target" in status["message"]
    now = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/put-target").json()
    assert now["data"] == {"k": "v"}
    assert now["metadata"]["resourceVersion"] == original["metadata"]["resourceVersion"]
    assert_absent(api, ns, "put-other")


def test_create_with_other_namespace_in_body_is_400(api: Client, ns: str) -> None:
    body = configmap("ns-mismatch")
    body["metadata"]["namespace"] = "default"
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    status = assert_status(reply, 400, "BadRequest")
    assert "namespace" in status["message"]
    assert_absent(api, ns, "ns-mismatch")
    assert_absent(api, "default", "ns-mismatch")


def test_update_with_other_namespace_in_body_is_400(api: Client, ns: str) -> None:
    created = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("ns-put"))
    assert created.status == 201, created.body
    original = created.json()
    body = configmap("ns-put", data={"k": "changed"})
    body["metadata"]["namespace"] = "default"
    body["metadata"]["resourceVersion"] = original["metadata"]["resourceVersion"]
    reply = api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/ns-put", body)
    assert_status(reply, 400, "BadRequest")
    now = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/ns-put").json()
    assert now["data"] == {"k": "v"}
    assert now["metadata"]["resourceVersion"] == original["metadata"]["resourceVersion"]
    assert_absent(api, "default", "ns-put")


# -- invalid objects -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Bad_Name", "x" * 300], ids=["uppercase-underscore", "300-chars"])
def test_invalid_name_is_422_with_cause(api: Client, ns: str, name: str) -> None:
    before = names_in(api, ns)
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap(name))
    status = assert_status(reply, 422, "Invalid")
    assert status["message"].startswith(f'ConfigMap "{name}" is invalid: metadata.name: Invalid value: ')
    details = status["details"]
    assert details["kind"] == "ConfigMap"
    assert details["name"] == name
    causes = details["causes"]
    assert any(c["field"] == "metadata.name" and c["reason"] == "FieldValueInvalid" for c in causes), causes
    assert names_in(api, ns) == before


def test_missing_name_is_422(api: Client, ns: str) -> None:
    before = names_in(api, ns)
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}, "data": {}})
    status = assert_status(reply, 422, "Invalid")
    assert any(c["field"] == "metadata.name" and c["reason"] == "FieldValueRequired"
               for c in status["details"]["causes"])
    assert names_in(api, ns) == before


def test_body_over_3_mib_is_413(api: Client, ns: str) -> None:
    body = configmap("too-big", data={"blob": "x" * (3 * 1024 * 1024 + 4096)})
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert_status(reply, 413, "RequestEntityTooLarge")
    assert_absent(api, ns, "too-big")


# -- paths and media types -----------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_resource_is_404(api: Client, ns: str, method: str) -> None:
    body = {"apiVersion": "v1", "kind": "Foo", "metadata": {"name": "f"}} if method == "POST" else None
    reply = api.request(method, f"/api/v1/namespaces/{ns}/foos", body)
    status = assert_status(reply, 404, "NotFound")
    assert status["message"] == "the server could not find the requested resource"


def test_unknown_group_version_resource_is_404(api: Client) -> None:
    reply = api.request("GET", "/apis/apps/v1/namespaces/default/foos")
    assert_status(reply, 404, "NotFound")


def test_unsupported_media_type_is_415(api: Client, ns: str) -> None:
    before = names_in(api, ns)
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", json.dumps(configmap("plain")).encode(),
                        content_type="text/plain")
    status = assert_status(reply, 415, "UnsupportedMediaType")
    assert status["message"].startswith("the body of the request was in an unknown format - accepted media "
                                        "types include: ")
    assert "application/json" in status["message"]
    assert names_in(api, ns) == before
    assert_absent(api, ns, "plain")


def test_patch_with_unsupported_media_type_is_415(api: Client, ns: str) -> None:
    created = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("patch-415"))
    assert created.status == 201, created.body
    reply = api.request("PATCH", f"/api/v1/namespaces/{ns}/configmaps/patch-415",
                        b'{"data": {"k": "patched"}}', content_type="application/json")
    assert_status(reply, 415, "UnsupportedMediaType")
    now = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/patch-415").json()
    assert now["data"] == {"k": "v"}
    assert now["metadata"]["resourceVersion"] == created.json()["metadata"]["resourceVersion"]


# -- authentication and authorization ---------------------------------------------------


def test_no_credentials_is_401(api: Client, ns: str) -> None:
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps", cert=False)
    status = assert_status(reply, 401, "Unauthorized")
    assert status["message"] == "Unauthorized"
    write = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("anon"), cert=False)
    assert_status(write, 401, "Unauthorized")
    assert_absent(api, ns, "anon")


def test_bad_bearer_token_is_401(api: Client, ns: str) -> None:
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps", token="not-a-token", cert=False)
    assert_status(reply, 401, "Unauthorized")
    write = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("bad-token"),
                        token="not-a-token", cert=False)
    assert_status(write, 401, "Unauthorized")
    assert_absent(api, ns, "bad-token")


def test_valid_token_is_accepted(api: Client, stack: LocalStack, ns: str) -> None:
    """The control for the 401 cases: the same request with a master's token succeeds."""
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps", token=stack.token, cert=False)
    assert reply.status == 200, reply.body
    assert reply.json()["kind"] == "ConfigMapList"


def test_user_without_permission_is_403(api: Client, stack: LocalStack, ns: str) -> None:
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps", token=stack.user_token, cert=False)
    status = assert_status(reply, 403, "Forbidden")
    assert status["message"] == (f'configmaps is forbidden: User "alice" cannot list resource "configmaps" '
                                 f'in API group "" in the namespace "{ns}"')
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/yaml-ok", token=stack.user_token,
                        cert=False)
    status = assert_status(reply, 403, "Forbidden")
    # A request for one object names it (apierrors.NewForbidden with the name).
    assert status["message"] == (f'configmaps "yaml-ok" is forbidden: User "alice" cannot get resource '
                                 f'"configmaps" in API group "" in the namespace "{ns}"')
    write = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("by-alice"),
                        token=stack.user_token, cert=False)
    status = assert_status(write, 403, "Forbidden")
    assert 'cannot create resource "configmaps"' in status["message"]
    assert_absent(api, ns, "by-alice")


def test_user_without_permission_on_cluster_scope_is_403(api: Client, stack: LocalStack) -> None:
    reply = api.request("GET", "/api/v1/namespaces", token=stack.user_token, cert=False)
    status = assert_status(reply, 403, "Forbidden")
    assert status["message"] == ('namespaces is forbidden: User "alice" cannot list resource "namespaces" '
                                 'in API group "" at the cluster scope')


# -- strict field validation ------------------------------------------------------------


def _deployment(name: str, **spec_extra: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                     **spec_extra}}


def test_strict_unknown_field_is_400(api: Client, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    reply = api.request("POST", path + "?fieldValidation=Strict", _deployment("strict-unknown", foo=1))
    status = assert_status(reply, 400, "BadRequest")
    assert status["message"] == 'strict decoding error: unknown field "spec.foo"'
    gone = api.request("GET", f"{path}/strict-unknown")
    assert_status(gone, 404, "NotFound")
    assert gone.json()["message"] == 'deployments.apps "strict-unknown" not found'


def test_strict_unknown_field_on_configmap_is_400(api: Client, ns: str) -> None:
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict",
                        configmap("strict-cm", extra={"a": 1}))
    status = assert_status(reply, 400, "BadRequest")
    assert 'unknown field "extra"' in status["message"]
    assert_absent(api, ns, "strict-cm")


def test_warn_unknown_field_creates_with_warning(api: Client, ns: str) -> None:
    """The control for Strict: the default (Warn) accepts the object and says what it dropped."""
    reply = api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("warn-unknown", foo=1))
    assert reply.status == 201, reply.body
    # a quoted-string, as client-go's ParseWarningHeader needs (apimachinery util/net NewWarningHeader)
    assert reply.headers.get("Warning") == '299 - "unknown field \\"spec.foo\\""', reply.headers
    assert api.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/warn-unknown").status == 200


def test_warn_unknown_field_is_not_stored(api: Client, ns: str) -> None:
    """kube drops unknown fields when it decodes the body (Warn and Ignore): they never reach storage."""
    reply = api.request("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", _deployment("warn-dropped", foo=1))
    assert reply.status == 201, reply.body
    assert "foo" not in reply.json()["spec"]
    got = api.request("GET", f"/apis/apps/v1/namespaces/{ns}/deployments/warn-dropped").json()
    assert "foo" not in got["spec"] and got["spec"]["replicas"] == reply.json()["spec"]["replicas"]
    ignored = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Ignore",
                          configmap("ignore-unknown", extra={"a": 1}))
    assert ignored.status == 201 and "Warning" not in ignored.headers, ignored.body
    assert "extra" not in api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/ignore-unknown").json()


def test_strict_duplicate_field_is_400(api: Client, ns: str) -> None:
    raw = (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "strict-dup"},'
           b' "data": {"a": "1"}, "data": {"b": "2"}}')
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Strict", raw)
    status = assert_status(reply, 400, "BadRequest")
    assert 'duplicate field "data"' in status["message"]
    assert_absent(api, ns, "strict-dup")


def test_strict_duplicate_field_on_update_is_400(api: Client, ns: str) -> None:
    created = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("strict-dup-put"))
    assert created.status == 201, created.body
    rv = created.json()["metadata"]["resourceVersion"]
    raw = (b'{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "strict-dup-put", "resourceVersion": "'
           + rv.encode() + b'", "name": "strict-dup-put"}, "data": {"k": "changed"}}')
    reply = api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/strict-dup-put?fieldValidation=Strict", raw)
    status = assert_status(reply, 400, "BadRequest")
    assert 'duplicate field "metadata.name"' in status["message"]
    now = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/strict-dup-put").json()
    assert now["data"] == {"k": "v"}
    assert now["metadata"]["resourceVersion"] == rv


def test_invalid_field_validation_value_is_400(api: Client, ns: str) -> None:
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Sometimes",
                        configmap("fv-bad"))
    assert_status(reply, 400, "BadRequest")
    assert_absent(api, ns, "fv-bad")


# -- watch from a compacted revision ----------------------------------------------------


def _compact(stack: LocalStack, revision: int) -> None:
    async def run() -> None:
        storage = Storage(stack.etcd_endpoint)
        await storage.connect()
        try:
            await storage.compact(revision)
        finally:
            await storage.close()

    asyncio.run(run())


def _expired_watch(api: Client, ns: str, rv: int) -> dict[str, Any]:
    """The Status of the one ERROR event a watch from `rv` gets."""
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={rv}"
                        "&timeoutSeconds=5")
    # kube starts the stream, then reports the error in it (cacher.go; API-COMPAT.md §3)
    assert reply.status == 200, reply.body[:500]
    assert reply.body.endswith(b"\n")
    lines = [line for line in reply.body.split(b"\n") if line.strip()]
    assert len(lines) == 1, lines
    event = json.loads(lines[0])
    assert event["type"] == "ERROR"
    status = event["object"]
    assert status["kind"] == "Status"
    assert status["apiVersion"] == "v1"
    assert status["status"] == "Failure"
    assert status["code"] == 410
    assert status["reason"] == "Expired"
    # kube's two wordings: the watch cache's and etcd's (apiserver cacher/watch_cache.go, etcd3/watcher.go)
    assert (status["message"] == "The resourceVersion for the provided watch is too old."
            or status["message"].startswith(f"too old resource version: {rv} (")), status["message"]
    return status


def test_watch_from_compacted_revision_is_410_error_event(api: Client, stack: LocalStack, ns: str) -> None:
    for i in range(3):
        reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap(f"compact-{i}"))
        assert reply.status == 201, reply.body
    revision = int(reply.json()["metadata"]["resourceVersion"])
    _compact(stack, revision)

    _expired_watch(api, ns, 1)
    _expired_watch(api, ns, revision - 1)  # the last revision etcd no longer has
    # From the compaction revision on, watching works: it sees the next change and nothing older.
    reply = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps", configmap("after-compact"))
    assert reply.status == 201, reply.body
    reply = api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion={revision}"
                        "&timeoutSeconds=1")
    assert reply.status == 200
    events = [json.loads(line) for line in reply.body.split(b"\n") if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "after-compact")]


# -- namespaces -----------------------------------------------------------------------------


def test_create_in_missing_namespace_is_404(api: Client) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    reply = api.request("POST", f"/api/v1/namespaces/{missing}/configmaps", configmap("orphan"))
    status = assert_status(reply, 404, "NotFound")
    assert status["message"] == f'namespaces "{missing}" not found'
    assert status["details"] == {"name": missing, "kind": "namespaces"}
    assert_absent(api, missing, "orphan")
    assert_status(api.request("GET", f"/api/v1/namespaces/{missing}"), 404, "NotFound")
