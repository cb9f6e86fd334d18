"""Server-side apply with field ownership, driven by the real kubectl.

Two field managers apply parts of one object: conflicts, forcing, merging of
disjoint fields, pruning of dropped fields, list types (containers by name,
finalizers as a set, args atomic) and the Update entries other commands leave.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from httpapi import Api

from hakube.testing import Kubectl, LocalStack


@pytest.fixture(scope="module")
def ns(kubectl: Kubectl) -> str:
    name = f"ssa-{uuid.uuid4().hex[:6]}"
    kubectl.run("create", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    return name


def _apply(kubectl: Kubectl, ns: str, obj: dict[str, Any], *extra: str, check: bool = True) -> Any:
    return kubectl.run("apply", "--server-side", "-n", ns, "-f", "-", *extra, input=json.dumps(obj), check=check)


def _deployment(name: str, **spec: Any) -> dict[str, Any]:
    labels = {"app": name}
    body = {"selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": body}


def _managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e["fieldsV1"] for e in obj["metadata"].get("managedFields", [])}


def _get(kubectl: Kubectl, ns: str, kind: str, name: str) -> Any:
    return kubectl.json("get", kind, name, "-n", ns, "--show-managed-fields")


def test_apply_creates_reapplies_and_changes(kubectl: Kubectl, ns: str) -> None:
    obj = _deployment("one", replicas=2)
    assert _apply(kubectl, ns, obj).stdout.strip() == "deployment.apps/one serverside-applied"
    assert _apply(kubectl, ns, obj).stdout.strip() == "deployment.apps/one serverside-applied"
    got = _get(kubectl, ns, "deployment", "one")
    assert got["spec"]["replicas"] == 2
    fields = _managers(got)[("kubectl", "Apply")]
    assert "f:replicas" in fields["f:spec"]
    assert 'k:{"name":"web"}' in fields["f:spec"]["f:template"]["f:spec"]["f:containers"]
    obj["spec"]["replicas"] = 4
    _apply(kubectl, ns, obj)
    assert _get(kubectl, ns, "deployment", "one")["spec"]["replicas"] == 4
    # kubectl hides managedFields unless asked.
    assert "managedFields" not in kubectl.json("get", "deployment", "one", "-n", ns)["metadata"]
    shown = kubectl.run("get", "deployment", "one", "-n", ns, "-o", "yaml", "--show-managed-fields").stdout
    assert "manager: kubectl" in shown and "operation: Apply" in shown and "fieldsV1:" in shown


def test_two_managers_conflict_force_merge_and_prune(kubectl: Kubectl, ns: str) -> None:
    _apply(kubectl, ns, _deployment("two", replicas=1), "--field-manager=a")
    # b changes a field a owns: a conflict naming the field and the manager, nothing written.
    b_config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "two"},
                "spec": {"replicas": 3}}
    proc = _apply(kubectl, ns, b_config, "--field-manager=b", check=False)
    assert proc.returncode != 0
    assert 'conflict with "a"' in proc.stderr and ".spec.replicas" in proc.stderr
    assert _get(kubectl, ns, "deployment", "two")["spec"]["replicas"] == 1
    # The same value is no conflict: both own it.
    same = {**b_config, "spec": {"replicas": 1}}
    _apply(kubectl, ns, same, "--field-manager=b")
    managers = _managers(_get(kubectl, ns, "deployment", "two"))
    assert "f:replicas" in managers[("a", "Apply")]["f:spec"] and "f:replicas" in managers[("b", "Apply")]["f:spec"]
    # a stops applying replicas: b still owns it, so it stays.
    _apply(kubectl, ns, _deployment("two"), "--field-manager=a")
    assert _get(kubectl, ns, "deployment", "two")["spec"]["replicas"] == 1
    # --force-conflicts takes ownership.
    _apply(kubectl, ns, _deployment("two", replicas=1, minReadySeconds=3), "--field-manager=a")
    _apply(kubectl, ns, {**b_config, "spec": {"replicas": 2}}, "--field-manager=b", "--force-conflicts")
    got = _get(kubectl, ns, "deployment", "two")
    assert got["spec"]["replicas"] == 2
    managers = _managers(got)
    assert "f:replicas" not in managers[("a", "Apply")]["f:spec"]
    # Disjoint fields merge: b adds a label, a's spec is untouched.
    b_label = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "two", "labels": {"team": "b"}}, "spec": {"replicas": 2}}
    _apply(kubectl, ns, b_label, "--field-manager=b")
    got = _get(kubectl, ns, "deployment", "two")
    assert got["metadata"]["labels"] == {"team": "b"}
    assert got["spec"]["minReadySeconds"] == 3
    assert got["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
    # a drops minReadySeconds, which only a owned: it is removed.
    _apply(kubectl, ns, _deployment("two"), "--field-manager=a")
    got = _get(kubectl, ns, "deployment", "two")
    assert "minReadySeconds" not in got["spec"] or got["spec"]["minReadySeconds"] == 0
    assert got["metadata"]["labels"] == {"team": "b"}


def test_conflict_with_client_side_apply_names_update_manager(kubectl: Kubectl, ns: str) -> None:
    kubectl.run("apply", "-n", ns, "-f", "-", input=json.dumps(_deployment("csa", replicas=1)))
    got = _get(kubectl, ns, "deployment", "csa")
    assert ("kubectl-client-side-apply", "Update") in _managers(got)
    proc = _apply(kubectl, ns, _deployment("csa", replicas=2), check=False)
    assert proc.returncode != 0
    assert 'conflict with "kubectl-client-side-apply" using apps/v1' in proc.stderr
    assert ".spec.replicas" in proc.stderr
    # Client-side apply keeps working on the object (its last-applied annotation included).
    kubectl.run("apply", "-n", ns, "-f", "-", input=json.dumps(_deployment("csa", replicas=3)))
    assert _get(kubectl, ns, "deployment", "csa")["spec"]["replicas"] == 3


def test_list_types(kubectl: Kubectl, ns: str) -> None:
    base = _deployment("lists")
    base["spec"]["template"]["spec"]["containers"] = [{"name": "web", "image": "nginx:1.27", "args": ["a", "b"]}]
    _apply(kubectl, ns, base, "--field-manager=a")
    # b adds a container (map list by name) and a finalizer (set).
    b_config = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "lists", "finalizers": ["example.com/b"]},
                "spec": {"template": {"spec": {"containers": [{"name": "side", "image": "busybox:1"}]}}}}
    _apply(kubectl, ns, b_config, "--field-manager=b")
    got = _get(kubectl, ns, "deployment", "lists")
    names = [c["name"] for c in got["spec"]["template"]["spec"]["containers"]]
    assert names == ["web", "side"]
    assert got["metadata"]["finalizers"] == ["example.com/b"]
    fields = _managers(got)[("b", "Apply")]
    assert 'v:"example.com/b"' in fields["f:metadata"]["f:finalizers"]
    # a changes its atomic args: the whole list is replaced.
    base["spec"]["template"]["spec"]["containers"][0]["args"] = ["c"]
    base["metadata"]["finalizers"] = ["example.com/a"]
    _apply(kubectl, ns, base, "--field-manager=a")
    got = _get(kubectl, ns, "deployment", "lists")
    web = got["spec"]["template"]["spec"]["containers"][0]
    assert web["args"] == ["c"]
    assert sorted(got["metadata"]["finalizers"]) == ["example.com/a", "example.com/b"]
    # b stops applying its container and finalizer: both go; a's stay.
    _apply(kubectl, ns, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "lists"},
                         "spec": {"replicas": 1}}, "--field-manager=b")
    got = _get(kubectl, ns, "deployment", "lists")
    assert [c["name"] for c in got["spec"]["template"]["spec"]["containers"]] == ["web"]
    assert got["metadata"]["finalizers"] == ["example.com/a"]
    kubectl.run("patch", "deployment", "lists", "-n", ns, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}')


def test_update_entries_from_label_and_edit(kubectl: Kubectl, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"k": "v"}}
    _apply(kubectl, ns, cm)
    kubectl.run("label", "configmap", "cm", "-n", ns, "tier=fe")
    editor = "sed -i -e 's/k: v/k: edited/'"
    kubectl.run("edit", "configmap", "cm", "-n", ns, env={"KUBE_EDITOR": editor, "EDITOR": editor})
    got = _get(kubectl, ns, "configmap", "cm")
    managers = _managers(got)
    assert managers[("kubectl-label", "Update")] == {"f:metadata": {"f:labels": {".": {}, "f:tier": {}}}}
    assert managers[("kubectl-edit", "Update")] == {"f:data": {"f:k": {}}}
    assert got["data"] == {"k": "edited"}
    # The edit took the field from the applier, so a re-apply of the old value conflicts.
    proc = _apply(kubectl, ns, cm, check=False)
    assert proc.returncode != 0 and 'conflict with "kubectl-edit"' in proc.stderr


def test_dry_run_writes_nothing(kubectl: Kubectl, ns: str) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dry"}, "data": {"k": "v"}}
    _apply(kubectl, ns, cm, "--dry-run=server")
    assert kubectl.run("get", "configmap", "dry", "-n", ns, check=False).returncode != 0


@pytest.fixture(scope="module")
def api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Api:
    return Api(stack, Path(tmp_path_factory.mktemp("ssa-api")))


APPLY = "application/apply-patch+yaml"


@pytest.mark.parametrize("body", [
    {"metadata": {"name": "bad"}, "data": {"k": "v"}},
    {"apiVersion": "v1", "metadata": {"name": "bad"}, "data": {"k": "v"}},
    {"kind": "ConfigMap", "metadata": {"name": "bad"}, "data": {"k": "v"}},
])
def test_apply_without_type_is_refused(api: Api, ns: str, body: dict[str, Any]) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/bad?fieldManager=x"
    reply = api.request("PATCH", path, body, content_type=APPLY)
    assert reply.status == 400, reply.body
    assert reply.body["kind"] == "Status" and reply.body["reason"] == "BadRequest"
    assert api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/bad").status == 404


def test_conflict_status_shape(api: Api, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/shape"
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shape"}, "data": {"k": "1"}}
    assert api.request("PATCH", path + "?fieldManager=a", body, content_type=APPLY).status == 201
    reply = api.request("PATCH", path + "?fieldManager=b", {**body, "data": {"k": "2"}}, content_type=APPLY)
    assert reply.status == 409
    assert reply.body["reason"] == "Conflict"
    assert reply.body["message"] == 'Apply failed with 1 conflict: conflict with "a": .data.k'
    assert reply.body["details"]["causes"] == [
        {"type": "FieldManagerConflict", "message": 'conflict with "a"', "field": ".data.k"}]
    reply = api.request("PATCH", path + "?fieldManager=b&force=true", {**body, "data": {"k": "2"}},
                        content_type=APPLY)
    assert reply.status == 200 and reply.body["data"] == {"k": "2"}
    # A write without fieldManager is recorded for the User-Agent's product name.
    reply = api.request("PUT", path, {**reply.body, "data": {"k": "3"}})
    assert reply.status == 200
    names = {e["manager"] for e in reply.body["metadata"]["managedFields"]}
    assert "Python-urllib" in names
