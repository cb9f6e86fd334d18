"""Protobuf request bodies end to end: real kubectl 1.32 typed commands, and raw bodies a client can get wrong.

kubectl's typed commands (`create configmap|secret|namespace|deployment|
serviceaccount|service|job`) send protobuf and never fall back to JSON
(API-COMPAT.md §0 item 2, §10). Each must succeed, and the stored object must
hold what the same command's `--dry-run=client -o json` shows it would have
sent. The raw requests check the refusals: a garbled, truncated or
mislabelled body is a 400 `Status` and nothing is written.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from hakube.testing import Kubectl, LocalStack
from pbwire import encode_object, envelope, lfield, vfield

PROTOBUF = "application/vnd.kubernetes.protobuf"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def ns(kubectl: Kubectl) -> str:
    name = _unique("proto")
    # `create namespace` itself is one of the protobuf commands.
    assert kubectl.run("create", "namespace", name).stdout.strip() == f"namespace/{name} created"
    assert kubectl.json("get", "namespace", name)["metadata"]["name"] == name
    return name


def _missing(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` lacks what `expected` holds (a null or an empty object expects nothing)."""
    if expected is None or expected == {}:
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        return [m for key, value in expected.items() for m in _missing(value, actual.get(key), f"{path}.{key}")]
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r} != {expected!r}"]
        return [m for i, (e, a) in enumerate(zip(expected, actual, strict=True))
                for m in _missing(e, a, f"{path}[{i}]")]
    return [] if expected == actual else [f"{path}: {actual!r} != {expected!r}"]


def _dry_run(args: list[str]) -> list[str]:
    """`args` with `--dry-run=client -o json`, placed before a `--` command."""
    flags = ["--dry-run=client", "-o", "json"]
    if "--" in args:
        i = args.index("--")
        return [*args[:i], *flags, *args[i:]]
    return [*args, *flags]


# (resource for `kubectl get`, the arguments after `kubectl -n NS`); `{name}` is a fresh name.
COMMANDS = [
    ("configmaps", ["create", "configmap", "{name}", "--from-literal=a=b", "--from-literal=greeting=hello world"]),
    ("secrets", ["create", "secret", "generic", "{name}", "--from-literal=user=admin", "--from-literal=pw=s3cr=t"]),
    ("secrets", ["create", "secret", "docker-registry", "{name}", "--docker-server=registry.example",
                 "--docker-username=u", "--docker-password=p"]),
    ("deployments.apps", ["create", "deployment", "{name}", "--image=nginx", "--replicas=2", "--port=80"]),
    ("deployments.apps", ["create", "deployment", "{name}", "--image=nginx", "--image=busybox:1.36"]),
    ("serviceaccounts", ["create", "serviceaccount", "{name}"]),
    ("services", ["create", "service", "clusterip", "{name}", "--tcp=80:8080"]),
    ("services", ["create", "service", "clusterip", "{name}", "--clusterip=None"]),
    ("services", ["create", "service", "nodeport", "{name}", "--tcp=80:8080"]),
    ("services", ["create", "service", "externalname", "{name}", "--external-name=example.com"]),
    ("jobs.batch", ["create", "job", "{name}", "--image=busybox", "--", "echo", "hi"]),
]

# Typed commands for kinds the decoder knows whatever the server serves; each runs once its resource is served.
LATER_COMMANDS = [
    ("cronjobs.batch", ["create", "cronjob", "{name}", "--image=busybox", "--schedule=*/5 * * * *", "--", "date"]),
    ("roles.rbac.authorization.k8s.io",
     ["create", "role", "{name}", "--verb=get,list", "--resource=pods,deployments.apps", "--resource-name=x"]),
    ("rolebindings.rbac.authorization.k8s.io",
     ["create", "rolebinding", "{name}", "--clusterrole=view", "--user=alice", "--group=devs",
      "--serviceaccount=default:builder"]),
    ("clusterroles.rbac.authorization.k8s.io", ["create", "clusterrole", "{name}", "--verb=get", "--resource=nodes"]),
    ("clusterroles.rbac.authorization.k8s.io",
     ["create", "clusterrole", "{name}", "--verb=get", "--non-resource-url=/logs/*"]),
    ("clusterrolebindings.rbac.authorization.k8s.io",
     ["create", "clusterrolebinding", "{name}", "--clusterrole=view", "--user=bob"]),
    ("poddisruptionbudgets.policy",
     ["create", "poddisruptionbudget", "{name}", "--selector=app=web", "--min-available=0"]),
    ("poddisruptionbudgets.policy",
     ["create", "poddisruptionbudget", "{name}", "--selector=app=web", "--max-unavailable=50%"]),
    ("priorityclasses.scheduling.k8s.io",
     ["create", "priorityclass", "{name}", "--value=0", "--description=zero is a value"]),
    ("resourcequotas", ["create", "quota", "{name}", "--hard=cpu=1,memory=1G,pods=2", "--scopes=BestEffort"]),
    ("ingresses.networking.k8s.io",
     ["create", "ingress", "{name}", "--rule=foo.com/bar=svc1:8080,tls=my-cert", "--class=nginx"]),
]


@pytest.fixture(scope="module")
def served(kubectl: Kubectl) -> set[str]:
    return set(kubectl.run("api-resources", "-o", "name").stdout.split())


def _create_and_compare(kubectl: Kubectl, ns: str, resource: str, args: list[str]) -> None:
    name = _unique(resource.split(".")[0][:8])
    cmd = ["-n", ns, *[a.replace("{name}", name) for a in args]]
    would_send = json.loads(kubectl.run(*_dry_run(cmd)).stdout)
    out = kubectl.run(*cmd).stdout
    assert f"/{name} created" in out
    stored = kubectl.json("-n", ns, "get", resource, name)
    assert _missing(would_send, stored) == []


@pytest.mark.parametrize(("resource", "args"), COMMANDS, ids=[" ".join(a[1:3]) for _, a in COMMANDS])
def test_typed_create_commands(kubectl: Kubectl, ns: str, resource: str, args: list[str]) -> None:
    _create_and_compare(kubectl, ns, resource, args)


@pytest.mark.parametrize(("resource", "args"), LATER_COMMANDS, ids=[" ".join(a[1:3]) for _, a in LATER_COMMANDS])
def test_typed_create_commands_of_newer_resources(kubectl: Kubectl, ns: str, served: set[str], resource: str,
                                                  args: list[str]) -> None:
    if resource not in served:
        pytest.skip(f"{resource} is not served")
    _create_and_compare(kubectl, ns, resource, args)


def test_autoscale_token_and_auth(kubectl: Kubectl, ns: str, served: set[str]) -> None:
    needed = {"horizontalpodautoscalers.autoscaling", "selfsubjectaccessreviews.authorization.k8s.io",
              "selfsubjectreviews.authentication.k8s.io"}
    if not needed <= served:
        pytest.skip(f"{sorted(needed - served)} not served")
    kubectl.run("-n", ns, "create", "deployment", "scaled", "--image=nginx")
    autoscale = ["-n", ns, "autoscale", "deployment", "scaled", "--min=2", "--max=5", "--cpu-percent=80"]
    would_send = json.loads(kubectl.run(*_dry_run(autoscale)).stdout)
    assert "autoscaled" in kubectl.run(*autoscale).stdout
    stored = kubectl.json("-n", ns, "get", "horizontalpodautoscalers.v1.autoscaling", "scaled")
    assert _missing(would_send, stored) == []
    assert kubectl.run("-n", ns, "auth", "can-i", "create", "pods").stdout.strip() == "yes"
    assert "Username" in kubectl.run("auth", "whoami").stdout
    kubectl.run("-n", ns, "create", "serviceaccount", "tokens")
    token = kubectl.run("-n", ns, "create", "token", "tokens", "--duration=10m").stdout.strip()
    assert token.count(".") == 2


def test_create_namespace_and_deployment_with_zero_replicas(kubectl: Kubectl, ns: str) -> None:
    # replicas is a pointer in Go: a protobuf 0 is a value, not an unset field the server defaults to 1.
    kubectl.run("-n", ns, "create", "deployment", "zero", "--image=nginx", "--replicas=0")
    assert kubectl.json("-n", ns, "get", "deployment", "zero")["spec"]["replicas"] == 0


def test_create_twice_is_already_exists(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("-n", ns, "create", "serviceaccount", "twice")
    proc = kubectl.run("-n", ns, "create", "serviceaccount", "twice", check=False)
    assert proc.returncode != 0
    assert 'serviceaccounts "twice" already exists' in proc.stderr


# -- raw protobuf requests ----------------------------------------------------------------------------


class Client:
    def __init__(self, stack: LocalStack) -> None:
        self.base = stack.apiservers[0].url
        self.context: ssl.SSLContext = stack.ssl_context()

    def request(self, method: str, path: str, body: bytes | None = None,
                content_type: str = PROTOBUF) -> tuple[int, Any]:
        req = urllib.request.Request(self.base + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", f"{PROTOBUF},application/json")
        try:
            with urllib.request.urlopen(req, context=self.context, timeout=15) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())


@pytest.fixture(scope="module")
def client(stack: LocalStack) -> Client:
    return Client(stack)


def _configmap(name: str, data: dict[str, str], **meta: Any) -> dict[str, Any]:
    return {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": name, **meta}, "data": data}


def _refused(client: Client, ns: str, body: bytes, name: str) -> dict[str, Any]:
    code, status = client.request("POST", f"/api/v1/namespaces/{ns}/configmaps", body)
    assert code == 400, status
    assert status["kind"] == "Status" and status["reason"] == "BadRequest"
    assert client.request("GET", f"/api/v1/namespaces/{ns}/configmaps/{name}")[0] == 404
    return status


def test_create_and_update_by_protobuf(client: Client, ns: str) -> None:
    base = f"/api/v1/namespaces/{ns}/configmaps"
    code, created = client.request("POST", base, encode_object(_configmap("pb", {"a": "1"}, labels={"x": "y"})))
    assert code == 201, created
    assert created["data"] == {"a": "1"} and created["metadata"]["labels"] == {"x": "y"}
    rv = created["metadata"]["resourceVersion"]
    update = _configmap("pb", {"a": "2"}, resourceVersion=rv)
    code, updated = client.request("PUT", f"{base}/pb?fieldValidation=Strict", encode_object(update))
    assert code == 200, updated
    assert updated["data"] == {"a": "2"} and "labels" not in updated["metadata"]
    # A stale resourceVersion is a conflict, as for JSON.
    code, status = client.request("PUT", f"{base}/pb", encode_object(update))
    assert code == 409 and status["reason"] == "Conflict"


def test_envelope_kind_or_version_not_matching_the_url(client: Client, ns: str) -> None:
    secret = envelope("v1", "Secret", lfield(1, lfield(1, "wrong-kind")))
    status = _refused(client, ns, secret, "wrong-kind")
    assert status["message"] == ('Secret in version "v1" cannot be handled as a ConfigMap: the object provided is '
                                 'unrecognized in group version "v1"')
    other = envelope("v2", "ConfigMap", lfield(1, lfield(1, "wrong-version")))
    status = _refused(client, ns, other, "wrong-version")
    assert status["message"] == "the API version in the data (v2) does not match the expected API version (v1)"


def test_garbage_truncated_and_unknown_fields(client: Client, ns: str) -> None:
    status = _refused(client, ns, b"\x00\x01garbage", "x")
    assert "does not appear to be a protobuf message" in status["message"]
    body = encode_object(_configmap("truncated", {"a": "b"}))
    status = _refused(client, ns, body[:-7], "truncated")
    assert "runs past the end of the data" in status["message"]
    raw = lfield(1, lfield(1, "unknown-field")) + lfield(42, "surprise")
    status = _refused(client, ns, envelope("v1", "ConfigMap", raw), "unknown-field")
    assert "k8s.io.api.core.v1.ConfigMap field 42" in status["message"]
    assert "refused rather than dropped" in status["message"]


def _pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def test_subresources_and_delete_options_by_protobuf(client: Client, ns: str) -> None:
    pods = f"/api/v1/namespaces/{ns}/pods"
    for name in ("bound", "evicted", "deleted"):
        code, _ = client.request("POST", pods, json.dumps(_pod(name)).encode(), "application/json")
        assert code == 201
    binding = {"kind": "Binding", "apiVersion": "v1", "metadata": {"name": "bound"},
               "target": {"kind": "Node", "name": "node-1"}}
    no_target = {**binding, "target": {"kind": "Node"}}
    code, status = client.request("POST", f"{pods}/bound/binding", encode_object(no_target))
    assert code == 422 and status["details"]["causes"][0]["field"] == "target.name"
    code, status = client.request("POST", f"{pods}/bound/binding", encode_object(binding))
    assert code == 201, status
    conditions = client.request("GET", f"{pods}/bound")[1]["status"]["conditions"]
    assert {"type": "PodScheduled", "status": "True"}.items() <= conditions[-1].items()

    eviction = {"kind": "Eviction", "apiVersion": "policy/v1", "metadata": {"name": "evicted"},
                "deleteOptions": {"gracePeriodSeconds": 0}}
    code, status = client.request("POST", f"{pods}/evicted/eviction", encode_object(eviction))
    assert code == 201, status

    options = envelope("meta.k8s.io/v1", "DeleteOptions", vfield(1, 0) + lfield(4, "Background"))
    code, status = client.request("DELETE", f"{pods}/deleted", options)
    assert code == 200, status
    code, status = client.request("DELETE", f"{pods}/bound", envelope("v1", "Pod", b""))
    assert code == 400 and "cannot be handled as a DeleteOptions" in status["message"]
