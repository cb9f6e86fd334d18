"""PATCH bodies: RFC 6902, RFC 7386 and strategic merge patch.

The strategic cases are shaped like real kubectl traffic (`apply`, `patch`,
`rollout restart`, `set image`) against a small hand-made schema table that
carries the upstream struct tags of the fields involved.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hakube.apiserver.patch import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from hakube.apiserver.schema.model import Field, ObjectType

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."


def _type(name: str, fields: dict[str, Field], *, open: bool = False) -> tuple[str, ObjectType]:
    return name, ObjectType(name=name, fields=fields, open=open)


TYPES: dict[str, ObjectType] = dict(
    [
        _type(
            APPS + "Deployment",
            {
                "apiVersion": Field("string"),
                "kind": Field("string"),
                "metadata": Field(META + "ObjectMeta"),
                "spec": Field(APPS + "DeploymentSpec"),
                "status": Field(APPS + "DeploymentStatus"),
            },
        ),
        _type(APPS + "DeploymentStatus", {}, open=True),
        _type(
            META + "ObjectMeta",
            {
                "name": Field("string"),
                "namespace": Field("string"),
                "labels": Field("string", map=True),
                "annotations": Field("string", map=True),
                "finalizers": Field("string", list=True, patch_strategy="merge", list_type="set"),
                "ownerReferences": Field(
                    META + "OwnerReference",
                    list=True,
                    patch_strategy="merge",
                    merge_key="uid",
                    list_type="map",
                ),
            },
        ),
        _type(
            META + "OwnerReference",
            {
                "apiVersion": Field("string"),
                "kind": Field("string"),
                "name": Field("string"),
                "uid": Field("string"),
            },
        ),
        _type(
            APPS + "DeploymentSpec",
            {
                "replicas": Field("integer"),
                "template": Field(CORE + "PodTemplateSpec"),
                "strategy": Field(APPS + "DeploymentStrategy", patch_strategy="retainKeys"),
            },
        ),
        _type(
            APPS + "DeploymentStrategy",
            {"type": Field("string"), "rollingUpdate": Field(APPS + "RollingUpdateDeployment")},
        ),
        _type(
            APPS + "RollingUpdateDeployment",
            {"maxSurge": Field("int-or-string"), "maxUnavailable": Field("int-or-string")},
        ),
        _type(
            CORE + "PodTemplateSpec",
            {"metadata": Field(META + "ObjectMeta"), "spec": Field(CORE + "PodSpec")},
        ),
        _type(
            CORE + "PodSpec",
            {
                "containers": Field(
                    CORE + "Container", list=True, patch_strategy="merge", merge_key="name", list_type="map"
                ),
                "volumes": Field(
                    CORE + "Volume",
                    list=True,
                    patch_strategy="merge,retainKeys",
                    merge_key="name",
                    list_type="map",
                ),
                "tolerations": Field(CORE + "Toleration", list=True, list_type="atomic"),
                "nodeSelector": Field("string", map=True),
            },
        ),
        _type(
            CORE + "Container",
            {
                "name": Field("string"),
                "image": Field("string"),
                "args": Field("string", list=True, list_type="atomic"),
                "ports": Field(
                    CORE + "ContainerPort",
                    list=True,
                    patch_strategy="merge",
                    merge_key="containerPort",
                    list_type="map",
                ),
                "env": Field(
                    CORE + "EnvVar", list=True, patch_strategy="merge", merge_key="name", list_type="map"
                ),
                "volumeMounts": Field(
                    CORE + "VolumeMount",
                    list=True,
                    patch_strategy="merge",
                    merge_key="mountPath",
                    list_type="map",
                ),
                "resources": Field(CORE + "ResourceRequirements"),
            },
        ),
        _type(
            CORE + "ContainerPort",
            {"containerPort": Field("integer"), "name": Field("string"), "protocol": Field("string")},
        ),
        _type(
            CORE + "EnvVar",
            {"name": Field("string"), "value": Field("string"), "valueFrom": Field(CORE + "EnvVarSource")},
        ),
        _type(CORE + "EnvVarSource", {}, open=True),
        _type(
            CORE + "VolumeMount",
            {"name": Field("string"), "mountPath": Field("string"), "readOnly": Field("boolean")},
        ),
        _type(
            CORE + "ResourceRequirements",
            {"limits": Field("quantity", map=True), "requests": Field("quantity", map=True)},
        ),
        _type(
            CORE + "Volume",
            {
                "name": Field("string"),
                "configMap": Field(CORE + "ConfigMapVolumeSource"),
                "secret": Field(CORE + "SecretVolumeSource"),
                "emptyDir": Field(CORE + "EmptyDirVolumeSource"),
            },
        ),
        _type(CORE + "ConfigMapVolumeSource", {"name": Field("string"), "defaultMode": Field("integer")}),
        _type(CORE + "SecretVolumeSource", {"secretName": Field("string"), "defaultMode": Field("integer")}),
        _type(CORE + "EmptyDirVolumeSource", {"medium": Field("string")}),
        _type(
            CORE + "Toleration",
            {
                "key": Field("string"),
                "operator": Field("string"),
                "value": Field("string"),
                "effect": Field("string"),
            },
        ),
        _type(
            CORE + "Service",
            {"metadata": Field(META + "ObjectMeta"), "spec": Field(CORE + "ServiceSpec")},
        ),
        _type(
            CORE + "ServiceSpec",
            {
                "ports": Field(
                    CORE + "ServicePort", list=True, patch_strategy="merge", merge_key="port", list_type="map"
                ),
                "selector": Field("string", map=True),
                "type": Field("string"),
            },
        ),
        _type(
            CORE + "ServicePort",
            {"name": Field("string"), "port": Field("integer"), "targetPort": Field("int-or-string")},
        ),
    ]
)

DEPLOYMENT = APPS + "Deployment"


def smp(obj: dict[str, Any], patch: Any, root: str | None = DEPLOYMENT) -> dict[str, Any]:
    """Apply a strategic merge patch and check that neither input changed."""
    obj_before, patch_before = copy.deepcopy(obj), copy.deepcopy(patch)
    result = apply_strategic_merge_patch(obj, patch, types=TYPES, root=root)
    assert obj == obj_before
    assert patch == patch_before
    assert not _directive_keys(result)
    return result


def _directive_keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [key for key in value if key.startswith("$")]
        return found + [key for child in value.values() for key in _directive_keys(child)]
    if isinstance(value, list):
        return [key for child in value for key in _directive_keys(child)]
    return []


def pod_spec(**spec: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": spec}}}


def live_deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
            "finalizers": ["a.example.com/f1", "b.example.com/f2"],
            "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "owner", "uid": "u-1"}],
        },
        "spec": {
            "replicas": 2,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "a",
                            "image": "x",
                            "args": ["--one", "--two"],
                            "ports": [
                                {"containerPort": 80, "name": "http", "protocol": "TCP"},
                                {"containerPort": 443, "name": "https", "protocol": "TCP"},
                            ],
                            "env": [{"name": "E1", "value": "1"}, {"name": "E2", "value": "2"}],
                            "volumeMounts": [
                                {"name": "cfg", "mountPath": "/etc/cfg"},
                                {"name": "data", "mountPath": "/data"},
                            ],
                            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
                        },
                        {"name": "b", "image": "y"},
                    ],
                    "volumes": [
                        {"name": "cfg", "configMap": {"name": "web-cfg", "defaultMode": 420}},
                        {"name": "data", "emptyDir": {}},
                    ],
                    "tolerations": [{"key": "k1", "operator": "Exists"}],
                    "nodeSelector": {"disk": "ssd", "zone": "a"},
                },
            },
        },
        "status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]},
    }


def containers(result: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = result["spec"]["template"]["spec"]["containers"]
    return found


# --- RFC 6902 -------------------------------------------------------------------------------


def test_json_patch_applies_operations_without_touching_inputs() -> None:
    obj = {"metadata": {"name": "n", "labels": {"a": "1"}}, "spec": {"replicas": 1}}
    patch = [
        {"op": "replace", "path": "/spec/replicas", "value": 3},
        {"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "test", "path": "/metadata/name", "value": "n"},
    ]
    obj_before, patch_before = copy.deepcopy(obj), copy.deepcopy(patch)
    result = apply_json_patch(obj, patch)
    assert result == {
        "metadata": {"name": "n", "labels": {}, "annotations": {"k": "v"}},
        "spec": {"replicas": 3},
    }
    assert obj == obj_before and patch == patch_before
    result["metadata"]["annotations"]["k"] = "changed"
    assert patch == patch_before  # the result shares nothing with the patch


def test_json_patch_escapes_slash_and_tilde_in_keys() -> None:
    obj: dict[str, Any] = {"metadata": {"annotations": {}}}
    patch = [{"op": "add", "path": "/metadata/annotations/example.com~1a~0b", "value": "v"}]
    assert apply_json_patch(obj, patch) == {"metadata": {"annotations": {"example.com/a~b": "v"}}}


def test_json_patch_appends_to_a_list_with_dash() -> None:
    obj = {"spec": {"args": ["a"]}}
    assert apply_json_patch(obj, [{"op": "add", "path": "/spec/args/-", "value": "b"}]) == {
        "spec": {"args": ["a", "b"]}
    }


def test_json_patch_failed_test_operation_is_a_patch_error() -> None:
    with pytest.raises(PatchError, match="test"):
        apply_json_patch({"a": 1}, [{"op": "test", "path": "/a", "value": 2}])


@pytest.mark.parametrize(
    "patch",
    [
        {"op": "add", "path": "/a", "value": 1},
        '[{"op": "add", "path": "/a", "value": 1}]',
        None,
        ["add"],
        [{"op": "bogus", "path": "/a"}],
        [{"op": "add"}],
        [{"op": "add", "path": "a", "value": 1}],
        [{"op": "remove", "path": "/missing"}],
        [{"op": "replace", "path": "/missing/deeper", "value": 1}],
        [{"op": "add", "path": "/list/9", "value": 1}],
        [{"op": "add", "path": "/list/x", "value": 1}],
        [{"op": "move", "from": "/nope", "path": "/b"}],
        [{"op": "copy", "path": "/b"}],
        [{"op": "replace", "path": "", "value": [1]}],
    ],
)
def test_json_patch_mistakes_are_patch_errors(patch: Any) -> None:
    with pytest.raises(PatchError):
        apply_json_patch({"a": 1, "list": [1]}, patch)


# --- RFC 7386 -------------------------------------------------------------------------------


def test_merge_patch_merges_maps_deletes_nulls_and_replaces_lists() -> None:
    obj = {
        "metadata": {"labels": {"app": "web", "tier": "front"}},
        "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}},
    }
    patch = {
        "metadata": {"labels": {"tier": None, "new": "yes"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "b"}]}}},
    }
    obj_before, patch_before = copy.deepcopy(obj), copy.deepcopy(patch)
    assert apply_merge_patch(obj, patch) == {
        "metadata": {"labels": {"app": "web", "new": "yes"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "b"}]}}},
    }
    assert obj == obj_before and patch == patch_before


# RFC 7386 appendix A, the cases whose target and patch are both objects.
@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_rfc_examples(
    target: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_merge_patch(target, patch) == expected


@pytest.mark.parametrize("patch", [["a"], "a", None, 1])
def test_merge_patch_must_be_an_object(patch: Any) -> None:
    with pytest.raises(PatchError, match="JSON object"):
        apply_merge_patch({"a": 1}, patch)


# --- strategic merge patch: what kubectl sends ------------------------------------------------


def test_apply_changing_one_image_keeps_everything_else() -> None:
    live = live_deployment()
    patch = pod_spec(
        **{
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"image": "x2", "name": "a"}],
        }
    )
    result = smp(live, patch)
    expected = live_deployment()
    expected["spec"]["template"]["spec"]["containers"][0]["image"] = "x2"
    assert result == expected


def test_set_image_without_set_element_order() -> None:
    result = smp(live_deployment(), pod_spec(containers=[{"name": "b", "image": "y2"}]))
    assert [(c["name"], c["image"]) for c in containers(result)] == [("a", "x"), ("b", "y2")]


def test_env_merges_by_name_in_the_order_kubectl_asks_for() -> None:
    patch = pod_spec(
        containers=[
            {
                "name": "a",
                "$setElementOrder/env": [{"name": "E1"}, {"name": "E2"}, {"name": "E3"}],
                "env": [{"name": "E2", "value": "two"}, {"name": "E3", "value": "3"}],
            }
        ],
        **{"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]},
    )
    env = containers(smp(live_deployment(), patch))[0]["env"]
    assert env == [{"name": "E1", "value": "1"}, {"name": "E2", "value": "two"}, {"name": "E3", "value": "3"}]


def test_env_value_from_switch_is_a_null_and_a_map_below_an_open_type() -> None:
    patch = pod_spec(
        containers=[
            {
                "name": "a",
                "env": [
                    {"name": "E1", "value": None, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
                ],
            }
        ]
    )
    env = containers(smp(live_deployment(), patch))[0]["env"]
    assert env[0] == {"name": "E1", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}


def test_ports_merge_by_container_port() -> None:
    patch = pod_spec(
        containers=[
            {
                "name": "a",
                "$setElementOrder/ports": [
                    {"containerPort": 80},
                    {"containerPort": 443},
                    {"containerPort": 9090},
                ],
                "ports": [{"containerPort": 443, "name": "tls"}, {"containerPort": 9090, "name": "metrics"}],
            }
        ]
    )
    ports = containers(smp(live_deployment(), patch))[0]["ports"]
    assert ports == [
        {"containerPort": 80, "name": "http", "protocol": "TCP"},
        {"containerPort": 443, "name": "tls", "protocol": "TCP"},
        {"containerPort": 9090, "name": "metrics"},
    ]


def test_volume_mounts_merge_by_mount_path_and_delete_by_directive() -> None:
    patch = pod_spec(
        containers=[
            {
                "name": "a",
                "$setElementOrder/volumeMounts": [{"mountPath": "/etc/cfg"}],
                "volumeMounts": [
                    {"mountPath": "/etc/cfg", "readOnly": True},
                    {"mountPath": "/data", "$patch": "delete"},
                ],
            }
        ]
    )
    mounts = containers(smp(live_deployment(), patch))[0]["volumeMounts"]
    assert mounts == [{"name": "cfg", "mountPath": "/etc/cfg", "readOnly": True}]


def test_apply_removing_a_container() -> None:
    patch = pod_spec(
        **{"$setElementOrder/containers": [{"name": "a"}]},
        containers=[{"name": "b", "$patch": "delete"}],
    )
    assert [c["name"] for c in containers(smp(live_deployment(), patch))] == ["a"]


def test_apply_adding_a_container_follows_set_element_order() -> None:
    patch = pod_spec(
        **{"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]},
        containers=[
            {"name": "c", "image": "z", "env": [{"name": "X", "value": None}, {"name": "Y", "value": "y"}]}
        ],
    )
    result = containers(smp(live_deployment(), patch))
    assert [c["name"] for c in result] == ["a", "b", "c"]
    # New content is cleaned like everything else: no nulls, no directives.
    assert result[2] == {"name": "c", "image": "z", "env": [{"name": "X"}, {"name": "Y", "value": "y"}]}


def test_patch_adding_a_container_without_order_puts_it_first() -> None:
    # Upstream mergeSortedSlice: an element new to the list goes before the
    # live-only elements (the `kubectl patch` task page shows the same).
    result = containers(smp(live_deployment(), pod_spec(containers=[{"name": "c", "image": "z"}])))
    assert [c["name"] for c in result] == ["c", "a", "b"]


def test_retain_keys_on_a_volume_switching_source() -> None:
    patch = pod_spec(
        **{"$setElementOrder/volumes": [{"name": "cfg"}, {"name": "data"}]},
        volumes=[
            {
                "name": "cfg",
                "secret": {"secretName": "s"},
                "configMap": None,
                "$retainKeys": ["name", "secret"],
            }
        ],
    )
    volumes = smp(live_deployment(), patch)["spec"]["template"]["spec"]["volumes"]
    assert volumes == [{"name": "cfg", "secret": {"secretName": "s"}}, {"name": "data", "emptyDir": {}}]


def test_retain_keys_on_deployment_strategy() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}}}
    assert smp(live_deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}
    # Even when the client forgets the null, the field not retained goes.
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(live_deployment(), patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_null_deletes_a_label() -> None:
    result = smp(live_deployment(), {"metadata": {"labels": {"tier": None, "missing": None}}})
    assert result["metadata"]["labels"] == {"app": "web"}


def test_rollout_restart_adds_a_template_annotation() -> None:
    patch = {
        "spec": {
            "template": {
                "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"}}
            }
        }
    }
    result = smp(live_deployment(), patch)
    assert result["spec"]["template"]["metadata"] == {
        "labels": {"app": "web"},
        "annotations": {"kubectl.kubernetes.io/restartedAt": "2025-01-01T00:00:00Z"},
    }
    again = smp(
        result,
        {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "later"}}}}},
    )
    assert again["spec"]["template"]["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/restartedAt": "later"
    }


def test_scale_and_cordon_style_scalar_patches() -> None:
    result = smp(live_deployment(), {"spec": {"replicas": 5}})
    assert result["spec"]["replicas"] == 5
    assert containers(result) == containers(live_deployment())


def test_atomic_lists_are_replaced() -> None:
    patch = pod_spec(
        containers=[{"name": "a", "args": ["--three"]}],
        tolerations=[{"key": "k2", "operator": "Exists"}],
    )
    result = smp(live_deployment(), patch)
    assert containers(result)[0]["args"] == ["--three"]
    assert result["spec"]["template"]["spec"]["tolerations"] == [{"key": "k2", "operator": "Exists"}]


def test_finalizers_merge_as_a_set_and_delete_from_primitive_list() -> None:
    result = smp(live_deployment(), {"metadata": {"finalizers": ["b.example.com/f2", "c.example.com/f3"]}})
    assert result["metadata"]["finalizers"] == ["a.example.com/f1", "b.example.com/f2", "c.example.com/f3"]
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/f1", "nope"]}}
    assert smp(live_deployment(), patch)["metadata"]["finalizers"] == ["b.example.com/f2"]


def test_primitive_set_order_as_in_the_upstream_design() -> None:
    live = {"metadata": {"finalizers": ["b", "e", "a", "c", "d"]}}
    patch = {
        "metadata": {
            "$setElementOrder/finalizers": ["a", "b", "f"],
            "$deleteFromPrimitiveList/finalizers": ["c"],
            "finalizers": ["f"],
        }
    }
    # Live-only items are interleaved by their live position (mergeSortedSlice).
    assert smp(live, patch)["metadata"]["finalizers"] == ["e", "a", "b", "f", "d"]


def test_owner_references_merge_by_uid() -> None:
    patch = {
        "metadata": {
            "ownerReferences": [
                {"uid": "u-1", "name": "renamed"},
                {"apiVersion": "v1", "kind": "Y", "name": "other", "uid": "u-2"},
            ]
        }
    }
    refs = smp(live_deployment(), patch)["metadata"]["ownerReferences"]
    assert refs == [
        {"apiVersion": "v1", "kind": "X", "name": "renamed", "uid": "u-1"},
        {"apiVersion": "v1", "kind": "Y", "name": "other", "uid": "u-2"},
    ]


def test_service_ports_merge_by_port() -> None:
    live = {
        "spec": {
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "https", "port": 443}],
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/ports": [{"port": 80}, {"port": 443}],
            "ports": [{"port": 80, "targetPort": 9090}],
        }
    }
    result = smp(live, patch, root=CORE + "Service")
    assert result["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": 9090},
        {"name": "https", "port": 443},
    ]


def test_map_of_quantities_merges() -> None:
    patch = pod_spec(containers=[{"name": "a", "resources": {"limits": {"cpu": "2", "memory": None}}}])
    assert containers(smp(live_deployment(), patch))[0]["resources"] == {"limits": {"cpu": "2"}}


# --- strategic merge patch: directives and ordering -------------------------------------------


def test_replace_directive_in_a_map() -> None:
    patch = pod_spec(nodeSelector={"$patch": "replace", "gpu": "yes"})
    assert smp(live_deployment(), patch)["spec"]["template"]["spec"]["nodeSelector"] == {"gpu": "yes"}


def test_replace_directive_as_a_list_element() -> None:
    patch = pod_spec(containers=[{"$patch": "replace"}, {"name": "only", "image": "o"}])
    assert containers(smp(live_deployment(), patch)) == [{"name": "only", "image": "o"}]


def test_replace_directive_in_a_primitive_merge_list() -> None:
    patch = {"metadata": {"finalizers": [{"$patch": "replace"}, "z"]}}
    assert smp(live_deployment(), patch)["metadata"]["finalizers"] == ["z"]


def test_delete_directive_in_a_map_removes_it() -> None:
    result = smp(live_deployment(), pod_spec(nodeSelector={"$patch": "delete"}))
    assert "nodeSelector" not in result["spec"]["template"]["spec"]


def test_delete_directive_at_the_top_leaves_an_empty_object() -> None:
    assert smp(live_deployment(), {"$patch": "delete"}) == {}


def test_merge_directive_is_the_default() -> None:
    result = smp(live_deployment(), {"metadata": {"$patch": "merge", "labels": {"x": "1"}}})
    assert result["metadata"]["labels"] == {"app": "web", "tier": "front", "x": "1"}


def test_set_element_order_alone_reorders() -> None:
    patch = pod_spec(**{"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]})
    assert [c["name"] for c in containers(smp(live_deployment(), patch))] == ["b", "a"]


def test_set_element_order_ignores_names_not_in_the_list() -> None:
    patch = pod_spec(**{"$setElementOrder/containers": [{"name": "zzz"}, {"name": "a"}, {"name": "b"}]})
    assert [c["name"] for c in containers(smp(live_deployment(), patch))] == ["a", "b"]


def test_set_element_order_interleaves_server_only_items_by_live_position() -> None:
    live = pod_spec(containers=[{"name": n} for n in ["C", "B", "D", "A", "E"]])
    patch = pod_spec(
        **{"$setElementOrder/containers": [{"name": "A"}, {"name": "B"}]},
        containers=[{"name": "A", "image": "a"}, {"name": "B", "image": "b"}],
    )
    assert [c["name"] for c in containers(smp(live, patch))] == ["C", "D", "A", "B", "E"]


def test_set_element_order_on_a_list_the_live_object_lacks() -> None:
    live: dict[str, Any] = {"metadata": {"name": "n"}}
    patch = {
        "metadata": {
            "$setElementOrder/ownerReferences": [{"uid": "2"}, {"uid": "1"}],
            "ownerReferences": [{"uid": "2", "name": "two"}, {"uid": "1", "name": "one"}],
        }
    }
    assert smp(live, patch)["metadata"]["ownerReferences"] == [
        {"uid": "2", "name": "two"},
        {"uid": "1", "name": "one"},
    ]


def test_without_schema_maps_merge_lists_replace_and_directives_are_stripped() -> None:
    live = {"a": {"b": 1, "c": [1, 2]}, "keep": True, "m": {"x": 1, "y": 2}}
    patch = {
        "a": {"c": [3], "d": None},
        "m": {"$patch": "replace", "z": 3},
        "n": {"$retainKeys": ["q"], "q": 1},
    }
    expected = {"a": {"b": 1, "c": [3]}, "keep": True, "m": {"z": 3}, "n": {"q": 1}}
    assert smp(live, patch, root=None) == expected
    assert smp(live, patch, root="io.example.v1.Unknown") == expected


def test_open_types_fall_back_below_them() -> None:
    live = live_deployment()
    patch = {"status": {"conditions": [{"type": "Progressing", "status": "True"}], "replicas": None}}
    assert smp(live, patch)["status"] == {"conditions": [{"type": "Progressing", "status": "True"}]}


def test_unknown_fields_fall_back() -> None:
    live = {"spec": {"extra": {"list": [{"name": "a", "v": 1}]}}}
    patch = {"spec": {"extra": {"list": [{"name": "b"}]}}}
    assert smp(live, patch) == {"spec": {"extra": {"list": [{"name": "b"}]}}}


def test_result_shares_nothing_with_the_patch() -> None:
    patch = pod_spec(tolerations=[{"key": "k2", "operator": "Exists"}])
    result = apply_strategic_merge_patch(live_deployment(), patch, types=TYPES, root=DEPLOYMENT)
    result["spec"]["template"]["spec"]["tolerations"][0]["key"] = "changed"
    assert patch["spec"]["template"]["spec"]["tolerations"][0]["key"] == "k2"


# --- strategic merge patch: errors ------------------------------------------------------------


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (["not", "an", "object"], "JSON object"),
        (None, "JSON object"),
        ({"metadata": {"$patch": "bogus"}}, 'unknown \\$patch directive "bogus"'),
        (pod_spec(containers=[{"name": "a", "$patch": "bogus"}]), "containers\\[0\\]: unknown \\$patch"),
        (pod_spec(containers=[{"image": "no-name"}]), "merge key 'name'"),
        (pod_spec(containers=[{"$patch": "delete"}]), "merge key 'name'"),
        (pod_spec(containers=["a"]), "expected an object"),
        (pod_spec(tolerations=[{"key": "k1", "$patch": "delete"}]), "replaced as a whole"),
        ({"metadata": {"finalizers": [{"x": 1}]}}, "plain values"),
        ({"metadata": {"finalizers": [{"$patch": "delete"}]}}, "deleteFromPrimitiveList"),
        ({"spec": {"strategy": {"$retainKeys": "type"}}}, "list of field names"),
        ({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}, "'rollingUpdate'"),
        (pod_spec(**{"$setElementOrder/containers": {"name": "a"}}), "must be a list"),
        (pod_spec(**{"$setElementOrder": [{"name": "a"}]}), "must have the form"),
        (pod_spec(**{"$setElementOrder/containers": [{"image": "x"}]}), "merge key 'name'"),
        ({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}, "must be a list"),
        (
            pod_spec(
                **{"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]},
                containers=[{"name": "b", "image": "1"}, {"name": "a", "image": "2"}],
            ),
            "does not match",
        ),
    ],
)
def test_strategic_mistakes_are_patch_errors(patch: Any, message: str) -> None:
    with pytest.raises(PatchError, match=message):
        apply_strategic_merge_patch(live_deployment(), patch, types=TYPES, root=DEPLOYMENT)


def test_deeply_nested_patch_is_a_patch_error() -> None:
    patch: dict[str, Any] = {}
    for _ in range(5000):
        patch = {"a": patch}
    for apply in (apply_merge_patch, lambda o, p: apply_strategic_merge_patch(o, p, types=TYPES, root=None)):
        with pytest.raises(PatchError, match="nested too deeply"):
            apply({}, patch)


# --- properties -------------------------------------------------------------------------------

KEYS = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
SCALARS = st.one_of(st.booleans(), st.integers(-5, 5), st.text(alphabet="xyz", max_size=3))
JSON = st.recursive(
    st.one_of(st.none(), SCALARS),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
    max_leaves=15,
)
OBJECTS = st.dictionaries(KEYS, JSON, max_size=5)
# Patches with no nulls and no lists: only additions and changes.
PLAIN_PATCHES = st.recursive(
    SCALARS, lambda inner: st.dictionaries(KEYS, inner, min_size=1, max_size=3), max_leaves=10
).filter(lambda value: isinstance(value, dict))
# Merge patches whose lists hold no objects with nulls (where the two formats may differ).
MERGE_PATCHES = st.dictionaries(
    KEYS,
    st.recursive(
        st.one_of(st.none(), SCALARS),
        lambda inner: st.one_of(st.lists(SCALARS, max_size=3), st.dictionaries(KEYS, inner, max_size=3)),
        max_leaves=10,
    ),
    max_size=4,
)


def _leaves(value: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {}
    for key, child in value.items():
        if isinstance(child, dict):
            found.update(_leaves(child, (*prefix, key)))
        else:
            found[(*prefix, key)] = child
    return found


@given(obj=OBJECTS, patch=PLAIN_PATCHES)
def test_merge_patch_without_nulls_or_lists_only_touches_what_it_names(
    obj: dict[str, Any], patch: dict[str, Any]
) -> None:
    result = apply_merge_patch(obj, patch)
    for key, value in obj.items():
        if key not in patch:
            assert result[key] == value
    for path, value in _leaves(patch).items():
        node: Any = result
        for key in path:
            node = node[key]
        assert node == value


@given(obj=OBJECTS, root=st.sampled_from([None, DEPLOYMENT, "io.example.v1.Unknown"]))
def test_strategic_empty_patch_is_the_identity(obj: dict[str, Any], root: str | None) -> None:
    assert apply_strategic_merge_patch(obj, {}, types=TYPES, root=root) == obj


@given(obj=OBJECTS, patch=MERGE_PATCHES)
def test_strategic_without_schema_is_a_merge_patch(obj: dict[str, Any], patch: dict[str, Any]) -> None:
    assert smp(obj, patch, root=None) == apply_merge_patch(obj, patch)


@given(obj=OBJECTS, patch=JSON)
def test_no_format_mutates_its_inputs(obj: dict[str, Any], patch: Any) -> None:
    obj_before, patch_before = copy.deepcopy(obj), copy.deepcopy(patch)
    for apply in (
        apply_merge_patch,
        apply_json_patch,
        lambda o, p: apply_strategic_merge_patch(o, p, types=TYPES, root=DEPLOYMENT),
    ):
        try:
            apply(obj, patch)
        except PatchError:
            pass
        assert obj == obj_before and patch == patch_before


# Random patches built from the words kubectl patches are made of, directives included.
SMP_KEYS = st.sampled_from(
    [
        "metadata", "spec", "template", "containers", "name", "image", "env", "value", "ports",
        "containerPort", "finalizers", "labels", "volumes", "strategy", "type", "tolerations",
        "$patch", "$retainKeys", "$setElementOrder/containers", "$setElementOrder/env",
        "$setElementOrder/finalizers", "$deleteFromPrimitiveList/finalizers", "$setElementOrder",
    ]
)  # fmt: skip
SMP_VALUES = st.one_of(
    st.none(), st.sampled_from(["a", "b", "replace", "merge", "delete", "bogus", 80, True])
)
SMP_PATCHES = st.dictionaries(
    SMP_KEYS,
    st.recursive(
        SMP_VALUES,
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(SMP_KEYS, inner, max_size=4)),
        max_leaves=20,
    ),
    max_size=4,
)
POINTERS = st.sampled_from(
    ["", "/", "/a", "/a/0", "/a/-", "/list/1", "/list/-", "/~2", "/a~1b", "/x/y", "/list/01"]
)
JSON_PATCHES = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "nope", 3])},
        optional={"path": st.one_of(POINTERS, st.integers()), "from": POINTERS, "value": JSON},
    ),
    max_size=4,
)


@given(patch=SMP_PATCHES, root=st.sampled_from([None, DEPLOYMENT]))
def test_strategic_random_patches_only_raise_patch_errors(patch: dict[str, Any], root: str | None) -> None:
    try:
        smp(live_deployment(), patch, root=root)  # also checks: inputs untouched, no directive keys left
    except PatchError:
        pass


@given(patch=JSON_PATCHES)
def test_json_patch_random_operations_only_raise_patch_errors(patch: list[dict[str, Any]]) -> None:
    obj = {"a": {"b": 1}, "list": [1, 2]}
    try:
        assert isinstance(apply_json_patch(obj, patch), dict)
    except PatchError:
        pass
    assert obj == {"a": {"b": 1}, "list": [1, 2]}
