"""Field sets, FieldsV1, structured merge and ownership without a server."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hakube.apiserver import status
from hakube.apiserver.fieldmanager import fieldpath, manager, merge
from hakube.apiserver.schema.registry import type_for

DEPLOYMENT = type_for("apps", "v1", "Deployment")
SHAPE = fieldpath.type_shape(DEPLOYMENT)


def _deployment(**spec: Any) -> dict[str, Any]:
    pod = {"containers": [{"name": "web", "image": "nginx", "args": ["a", "b"], "ports": [{"containerPort": 80}]}]}
    body: dict[str, Any] = {"selector": {"matchLabels": {"app": "x"}},
                            "template": {"metadata": {"labels": {"app": "x"}}, "spec": pod}}
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": body}


def _apply(live: Any, cfg: dict[str, Any], who: str, *, force: bool = False) -> dict[str, Any]:
    return manager.apply(live, cfg, manager=who, force=force, api_version="apps/v1", type_name=DEPLOYMENT)


def _owned(obj: dict[str, Any], who: str, op: str = "Apply") -> set[fieldpath.Path]:
    for e in obj["metadata"].get("managedFields", []):
        if (e["manager"], e["operation"]) == (who, op):
            return fieldpath.decode(e["fieldsV1"])
    return set()


def test_field_set_uses_list_types_and_round_trips() -> None:
    fs = fieldpath.to_field_set(_deployment(), SHAPE)
    containers = (("f", "spec"), ("f", "template"), ("f", "spec"), ("f", "containers"))
    web = (*containers, ("k", (("name", "web"),)))
    assert web in fs and (*web, ("f", "args")) in fs
    assert (*web, ("f", "args"), ("i", 0)) not in fs  # atomic: a leaf
    port = (*web, ("f", "ports"), ("k", (("containerPort", 80), ("protocol", "TCP"))))
    assert port in fs
    encoded = fieldpath.encode(fs)
    assert encoded["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']["."] == {}
    assert fieldpath.decode(encoded) == fs
    assert fieldpath.render((*web, ("f", "image"))) == '.spec.template.spec.containers[name="web"].image'


def test_set_elements_and_bad_fieldsv1() -> None:
    meta_shape = SHAPE.child("metadata")
    fs = fieldpath.to_field_set({"finalizers": ["x", "y"]}, meta_shape)
    assert fs == {(("f", "finalizers"), ("v", "x")), (("f", "finalizers"), ("v", "y"))}
    assert fieldpath.encode(fs) == {"f:finalizers": {'v:"x"': {}, 'v:"y"': {}}}
    with pytest.raises(ValueError):
        fieldpath.decode({"z:what": {}})


def test_merge_follows_list_types() -> None:
    live = _deployment()
    live["metadata"]["finalizers"] = ["a"]
    cfg = {"metadata": {"finalizers": ["b", "a"]},
           "spec": {"template": {"spec": {"containers": [
               {"name": "side", "image": "busybox"}, {"name": "web", "args": ["c"]}]}}}}
    out = merge.merge(live, cfg, SHAPE)
    assert out["metadata"]["finalizers"] == ["a", "b"]
    containers = out["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "side"]
    assert containers[0]["args"] == ["c"] and containers[0]["image"] == "nginx"
    assert live["spec"]["template"]["spec"]["containers"][0]["args"] == ["a", "b"]  # input untouched


def test_compare_reports_added_modified_removed() -> None:
    old = {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 1, "paused": True}}
    new = {"metadata": {"labels": {"a": "2", "b": "1"}}, "spec": {"replicas": 1, "minReadySeconds": 2}}
    added, modified, removed = fieldpath.compare(old, new, SHAPE)
    assert added == {(("f", "metadata"), ("f", "labels"), ("f", "b")), (("f", "spec"), ("f", "minReadySeconds"))}
    assert modified == {(("f", "metadata"), ("f", "labels"), ("f", "a"))}
    assert removed == {(("f", "spec"), ("f", "paused"))}


def test_conflict_force_and_co_ownership() -> None:
    live = _apply(None, _deployment(replicas=1), "a")
    b = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 2}}
    with pytest.raises(status.StatusError) as err:
        _apply(live, b, "b")
    assert err.value.code == 409
    assert err.value.message == 'Apply failed with 1 conflict: conflict with "a": .spec.replicas'
    same = _apply(live, {**b, "spec": {"replicas": 1}}, "b")
    assert (("f", "spec"), ("f", "replicas")) in _owned(same, "a") & _owned(same, "b")
    forced = _apply(live, b, "b", force=True)
    assert forced["spec"]["replicas"] == 2
    assert (("f", "spec"), ("f", "replicas")) not in _owned(forced, "a")


def test_prune_removes_only_unowned_fields() -> None:
    live = _apply(None, _deployment(replicas=1, minReadySeconds=5), "a")
    live = _apply(live, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                         "spec": {"replicas": 1}}, "b")
    out = _apply(copy.deepcopy(live), _deployment(), "a")
    assert "minReadySeconds" not in out["spec"]
    assert out["spec"]["replicas"] == 1  # b still owns it
    containers = _deployment()
    containers["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
    two = _apply(out, containers, "a")
    one = _apply(two, _deployment(), "a")
    assert [c["name"] for c in one["spec"]["template"]["spec"]["containers"]] == ["web"]


def test_update_records_changed_fields_and_takes_them() -> None:
    old = _apply(None, _deployment(replicas=1), "a")
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    new["metadata"]["labels"] = {"tier": "fe"}
    manager.record_update(old, new, manager="kubectl-edit", incoming=new["metadata"]["managedFields"],
                          api_version="apps/v1", type_name=DEPLOYMENT)
    mine = _owned(new, "kubectl-edit", "Update")
    assert (("f", "spec"), ("f", "replicas")) in mine
    assert (("f", "metadata"), ("f", "labels")) in mine  # the new map itself: "." in FieldsV1
    assert (("f", "spec"), ("f", "replicas")) not in _owned(new, "a")
    reset = copy.deepcopy(new)
    manager.record_update(new, reset, manager="x", incoming=[], api_version="apps/v1", type_name=DEPLOYMENT)
    assert "managedFields" not in reset["metadata"]


def test_default_manager_from_user_agent() -> None:
    assert manager.default_manager("kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07") == "kubectl"
    assert manager.default_manager("OpenAPI-Generator/37.0.2/python") == "OpenAPI-Generator"
    assert manager.default_manager("") == "unknown"
