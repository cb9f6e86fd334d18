"""Schema tables, strict field validation and the OpenAPI v3 documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from hakube.apiserver.schema import (
    KINDS,
    TYPES,
    ServedResource,
    find_duplicate_fields,
    format_strict_errors,
    openapi_document,
    openapi_index,
    strict_error_message,
    strict_errors,
    type_for,
    unknown_fields,
)
from hakube.apiserver.schema.dsl import parse_types
from hakube.apiserver.schema.model import Field
from hakube.apiserver.schema.openapi import document_bytes, document_hash, gv_path
from hakube.apiserver.schema.registry import dangling_refs
from hakube.apiserver.schema.validate import MAX_ERRORS, cannot_handle_message, go_quote, prune_unknown

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
POD = CORE + "Pod"

REQUIRED_KINDS = [
    ("", "v1", "Namespace"),
    ("", "v1", "Pod"),
    ("", "v1", "Node"),
    ("", "v1", "Service"),
    ("", "v1", "Endpoints"),
    ("", "v1", "ConfigMap"),
    ("", "v1", "Secret"),
    ("", "v1", "ServiceAccount"),
    ("", "v1", "Event"),
    ("", "v1", "Binding"),
    ("", "v1", "PodTemplate"),
    ("", "v1", "Status"),
    ("", "v1", "DeleteOptions"),
    ("apps", "v1", "Deployment"),
    ("apps", "v1", "ReplicaSet"),
    ("apps", "v1", "DaemonSet"),
    ("apps", "v1", "StatefulSet"),
    ("autoscaling", "v1", "Scale"),
    ("coordination.k8s.io", "v1", "Lease"),
    ("events.k8s.io", "v1", "Event"),
    ("batch", "v1", "Job"),
    ("batch", "v1", "CronJob"),
    ("policy", "v1", "Eviction"),
]


# --- tables ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("gvk", REQUIRED_KINDS, ids=lambda gvk: "/".join(gvk))
def test_every_required_kind_has_a_type_with_type_meta(gvk: tuple[str, str, str]) -> None:
    name = type_for(*gvk)
    assert name is not None and name in TYPES
    fields = TYPES[name].fields
    assert fields["apiVersion"] == Field(type="string")
    assert fields["kind"] == Field(type="string")
    if gvk[2] not in ("DeleteOptions",):
        expected_meta = META + ("ListMeta" if gvk[2] == "Status" else "ObjectMeta")
        assert fields["metadata"].type == expected_meta


def test_type_names_are_upstream_definition_names() -> None:
    assert type_for("", "v1", "Pod") == "io.k8s.api.core.v1.Pod"
    assert type_for("events.k8s.io", "v1", "Event") == "io.k8s.api.events.v1.Event"
    assert type_for("", "v1", "PodList") == "io.k8s.api.core.v1.PodList"
    assert type_for("apps", "v1", "Nope") is None
    assert META + "ObjectMeta" in TYPES and META + "ManagedFieldsEntry" in TYPES
    assert set(KINDS.values()) <= set(TYPES)


def test_every_reference_resolves() -> None:
    assert dangling_refs(TYPES) == []


def test_open_types_are_only_the_free_form_ones() -> None:
    assert sorted(name for name, t in TYPES.items() if t.open) == [META + "FieldsV1", META + "Patch"]


@pytest.mark.parametrize(
    ("type_name", "field", "strategy", "key"),
    [
        (CORE + "PodSpec", "containers", "merge", "name"),
        (CORE + "PodSpec", "initContainers", "merge", "name"),
        (CORE + "PodSpec", "ephemeralContainers", "merge", "name"),
        (CORE + "PodSpec", "imagePullSecrets", "merge", "name"),
        (CORE + "PodSpec", "volumes", "merge,retainKeys", "name"),
        (CORE + "PodSpec", "hostAliases", "merge", "ip"),
        (CORE + "PodSpec", "topologySpreadConstraints", "merge", "topologyKey"),
        (CORE + "PodSpec", "tolerations", "", ""),
        (CORE + "Container", "env", "merge", "name"),
        (CORE + "Container", "ports", "merge", "containerPort"),
        (CORE + "Container", "volumeMounts", "merge", "mountPath"),
        (CORE + "Container", "volumeDevices", "merge", "devicePath"),
        (CORE + "Container", "args", "", ""),
        (CORE + "Container", "command", "", ""),
        (CORE + "PodStatus", "conditions", "merge", "type"),
        (CORE + "PodStatus", "podIPs", "merge", "ip"),
        (CORE + "PodStatus", "hostIPs", "merge", "ip"),
        (CORE + "NodeStatus", "addresses", "merge", "type"),
        (CORE + "NodeStatus", "conditions", "merge", "type"),
        (CORE + "ServiceSpec", "ports", "merge", "port"),
        (META + "ObjectMeta", "ownerReferences", "merge", "uid"),
        (META + "ObjectMeta", "finalizers", "merge", ""),
        (APPS + "DeploymentSpec", "strategy", "retainKeys", ""),
        (APPS + "DeploymentStatus", "conditions", "merge", "type"),
    ],
)
def test_strategic_merge_tags(type_name: str, field: str, strategy: str, key: str) -> None:
    fld = TYPES[type_name].fields[field]
    assert (fld.patch_strategy, fld.merge_key) == (strategy, key)


def test_list_types() -> None:
    spec = TYPES[CORE + "PodSpec"].fields
    assert spec["tolerations"].list_type == "atomic"
    assert TYPES[CORE + "Container"].fields["args"].list_type == "atomic"
    ports = TYPES[CORE + "Container"].fields["ports"]
    assert (ports.list_type, ports.list_map_keys) == ("map", ("containerPort", "protocol"))
    assert TYPES[META + "ObjectMeta"].fields["finalizers"].list_type == "set"
    labels = TYPES[META + "ObjectMeta"].fields["labels"]
    assert labels.map and labels.type == "string"


def _client_models() -> Any:
    return pytest.importorskip("kubernetes.client.models")


def _client_class(models: Any, type_name: str) -> Any:
    """The official client's model class for one of our types, if it has one."""
    package, short = type_name.rsplit(".", 1)
    group, version = package.split(".")[-2:]
    version = version.capitalize()
    candidates = [f"{version}{short}", f"{group.capitalize()}{version}{short}"]
    if group == "events":
        candidates.insert(0, f"EventsV1{short}")
    if group == "core":
        candidates.insert(0, f"CoreV1{short}")
    if group == "discovery":
        candidates.insert(0, f"DiscoveryV1{short}")
    for candidate in candidates:
        if hasattr(models, candidate):
            return getattr(models, candidate)
    return None


def test_field_names_agree_with_the_official_client() -> None:
    """Our fields (release-1.32) must all exist in the newer official client's models."""
    models = _client_models()
    checked = 0
    for name, obj in TYPES.items():
        cls = _client_class(models, name)
        if cls is None or obj.open:
            continue
        ours = set(obj.fields)
        theirs = set(cls.attribute_map.values())
        assert ours <= theirs, f"{name}: not in the client: {sorted(ours - theirs)}"
        checked += 1
    assert checked > 200


def test_dsl_rejects_mistakes() -> None:
    with pytest.raises(ValueError, match="unknown modifier"):
        parse_types("core", "Foo\n    bar  []string  atomc\n")
    with pytest.raises(ValueError, match="non-list"):
        parse_types("core", "Foo\n    bar  string  atomic\n")
    with pytest.raises(ValueError, match="listed twice"):
        parse_types("core", "Foo\n    bar  string\n    bar  integer\n")
    parsed = parse_types("core", "Foo open\n    -- A foo.\n    bar  {}meta.Time\n")
    foo = parsed[CORE + "Foo"]
    assert foo.open and foo.description == "A foo."
    assert foo.fields["bar"] == Field(type=META + "Time", map=True)


# --- strict validation ----------------------------------------------------------------------------


def _pod(**container_extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web",
            "labels": {"anything.example.com/goes": "x", "app": "web"},
            "annotations": {"spec.foo": "not a field"},
            "managedFields": [{"manager": "m", "fieldsV1": {"f:spec": {"f:whatever": {}}}}],
        },
        "spec": {
            "containers": [
                {"name": "a", "image": "nginx"},
                {
                    "name": "b",
                    "image": "nginx",
                    "resources": {"limits": {"cpu": "1", "example.com/gpu": 1}},
                    **container_extra,
                },
            ],
            "nodeSelector": {"disk": "ssd"},
        },
    }


def test_valid_pod_has_no_unknown_fields() -> None:
    assert unknown_fields(TYPES, POD, _pod()) == []


def test_bogus_container_field_is_reported_at_its_path() -> None:
    assert unknown_fields(TYPES, POD, _pod(bogus=1)) == ["spec.containers[1].bogus"]


def test_unknown_fields_at_several_levels_in_document_order() -> None:
    pod = _pod()
    pod["metadata"]["labelz"] = {"a": "b"}
    pod["spec"]["foo"] = {"bar": {"baz": 1}}  # not looked into: reported once
    pod["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"port": 80, "paht": "/"}}
    assert unknown_fields(TYPES, POD, pod) == [
        "metadata.labelz",
        "spec.containers[0].livenessProbe.httpGet.paht",
        "spec.foo",
    ]


def test_prune_unknown_drops_exactly_the_unknown_fields() -> None:
    pod = _pod()
    pod["metadata"]["labelz"] = {"a": "b"}
    pod["spec"]["foo"] = {"bar": 1}
    pod["spec"]["containers"][0]["livenessProbe"] = {"httpGet": {"port": 80, "paht": "/"}}
    prune_unknown(TYPES, POD, pod)
    assert unknown_fields(TYPES, POD, pod) == []
    assert pod == {**_pod(), "spec": {**_pod()["spec"], "containers": [
        {**_pod()["spec"]["containers"][0], "livenessProbe": {"httpGet": {"port": 80}}},
        _pod()["spec"]["containers"][1]]}}
    # Open values (resource quantities under limits, label maps) keep every key.
    assert pod["spec"]["containers"][1]["resources"]["limits"] == {"cpu": "1", "example.com/gpu": 1}


def test_deployment_template_paths() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "d"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "x": 1}]},
            },
            "replica": 3,
        },
    }
    assert unknown_fields(TYPES, APPS + "Deployment", deployment) == [
        "spec.template.spec.containers[0].x",
        "spec.replica",
    ]


def test_wrong_json_types_are_not_strict_errors() -> None:
    pod = _pod()
    pod["spec"]["containers"] = "oops"
    pod["metadata"] = None
    assert unknown_fields(TYPES, POD, pod) == []
    assert unknown_fields(TYPES, POD, ["not", "an", "object"]) == []


def test_case_matters() -> None:
    assert unknown_fields(TYPES, POD, {"metadata": {"Name": "x"}}) == ["metadata.Name"]


def test_find_duplicate_fields() -> None:
    raw = (
        b'{"metadata": {"name": "a", "labels": {"x": "1", "x": "2"}, "name": "b"},'
        b' "spec": {"l": [{"k": 1, "k": 2}]}}'
    )
    assert find_duplicate_fields(raw) == ["metadata.labels.x", "metadata.name", "spec.l[0].k"]
    assert find_duplicate_fields(b'{"a": 1, "a": 2, "a": 3}') == ["a"]
    assert find_duplicate_fields(b"[1, 2]") == []


def test_strict_errors_follow_document_order_like_upstream() -> None:
    raw = json.dumps(_pod()).encode()
    assert strict_errors(TYPES, POD, raw) == []
    raw = (
        b'{"apiVersion": "v1", "kind": "Pod",'
        b' "metadata": {"name": "a", "name": "b", "labelz": {"x": 1, "x": 2}},'
        b' "spec": {"containers": [{"name": "c", "bogus": 1, "bogus": 2}], "foo": 1}, "kind": "Pod"}'
    )
    assert format_strict_errors(strict_errors(TYPES, POD, raw)) == (
        'strict decoding error: duplicate field "metadata.name", unknown field "metadata.labelz", '
        'unknown field "spec.containers[0].bogus", unknown field "spec.foo", duplicate field "kind"'
    )


def test_strict_errors_skip_open_and_primitive_values() -> None:
    raw = (
        b'{"metadata": {"managedFields": [{"fieldsV1": {"f:a": {}, "f:a": {}}}],'
        b' "labels": {"a": "1"}}, "spec": {"overhead": {"cpu": "1"}}}'
    )
    assert strict_errors(TYPES, POD, raw) == []


def test_strict_errors_are_capped() -> None:
    body = {"spec": {f"f{i}": 1 for i in range(MAX_ERRORS + 20)}}
    assert len(strict_errors(TYPES, POD, json.dumps(body))) == MAX_ERRORS


def test_strict_error_message() -> None:
    assert strict_error_message(["spec.foo"], []) == 'strict decoding error: unknown field "spec.foo"'
    assert strict_error_message(["spec.foo", "spec.bar"], ["metadata.name"]) == (
        'strict decoding error: unknown field "spec.foo", unknown field "spec.bar", '
        'duplicate field "metadata.name"'
    )
    assert cannot_handle_message(kind="Pod", version="v1", into_kind="Pod", detail="x") == (
        'Pod in version "v1" cannot be handled as a Pod: x'
    )


def test_go_quote() -> None:
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'


# --- OpenAPI --------------------------------------------------------------------------------------

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
RESOURCES = [
    ServedResource(
        "", "v1", "Pod", "pods", True, ALL_VERBS, ("binding", "eviction", "exec", "log", "status")
    ),
    ServedResource("", "v1", "Namespace", "namespaces", False, ALL_VERBS, ("status",)),
    ServedResource("", "v1", "Node", "nodes", False, ALL_VERBS, ("status",)),
    ServedResource("", "v1", "ConfigMap", "configmaps", True, ALL_VERBS, ()),
    ServedResource("apps", "v1", "Deployment", "deployments", True, ALL_VERBS, ("scale", "status")),
    ServedResource("coordination.k8s.io", "v1", "Lease", "leases", True, ALL_VERBS, ()),
]


def _param_names(op: dict[str, Any]) -> set[str]:
    return {p["name"] for p in op.get("parameters", ()) if p["in"] == "query"}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_index_lists_each_group_version_with_its_hash() -> None:
    index = openapi_index(RESOURCES, {"api/v1": "ABC", "apis/apps/v1": "DEF"})
    assert index == {
        "paths": {
            "api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=ABC"},
            "apis/apps/v1": {"serverRelativeURL": "/openapi/v3/apis/apps/v1?hash=DEF"},
            "apis/coordination.k8s.io/v1": {"serverRelativeURL": "/openapi/v3/apis/coordination.k8s.io/v1"},
        }
    }
    assert gv_path("", "v1") == "api/v1"


def test_core_document_has_pod_patch_with_field_validation() -> None:
    doc = openapi_document(RESOURCES, "", "v1")
    assert doc["openapi"].startswith("3.")
    item = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert {"get", "put", "patch", "delete"} <= item.keys()
    patch = item["patch"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= _param_names(patch)
    assert "application/strategic-merge-patch+json" in patch["requestBody"]["content"]
    assert "fieldValidation" in _param_names(item["put"])
    collection = doc["paths"]["/api/v1/namespaces/{namespace}/pods"]
    assert "fieldValidation" in _param_names(collection["post"])
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert "/api/v1/pods" in doc["paths"]
    assert "/api/v1/nodes/{name}" in doc["paths"]  # cluster-scoped: no namespace
    assert "/apis/apps/v1/namespaces/{namespace}/deployments" not in doc["paths"]


def test_core_document_schemas() -> None:
    schemas = openapi_document(RESOURCES, "", "v1")["components"]["schemas"]
    pod = schemas[POD]
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert pod["properties"]["spec"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}
    containers = schemas[CORE + "PodSpec"]["properties"]["containers"]
    assert containers["type"] == "array"
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-list-type"] == "map"
    assert containers["x-kubernetes-list-map-keys"] == ["name"]
    labels = schemas[META + "ObjectMeta"]["properties"]["labels"]
    assert {k: v for k, v in labels.items() if k != "description"} == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    # Upstream's prose, from the official client's models (schema/descriptions.py).
    assert labels["description"].startswith("Map of string keys and values")
    image = schemas[CORE + "Container"]["properties"]["image"]
    assert image["description"].startswith("Container image name.")
    assert schemas[CORE + "Container"]["description"].startswith("A single application container")
    assert "oneOf" in schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    fields_v1 = schemas[META + "FieldsV1"]
    assert fields_v1["type"] == "object" and "properties" not in fields_v1
    delete_gvks = schemas[META + "DeleteOptions"]["x-kubernetes-group-version-kind"]
    assert {"group": "", "kind": "DeleteOptions", "version": "v1"} in delete_gvks


@pytest.mark.parametrize(("group", "version"), [("", "v1"), ("apps", "v1"), ("coordination.k8s.io", "v1")])
def test_every_ref_resolves(group: str, version: str) -> None:
    doc = openapi_document(RESOURCES, group, version)
    schemas = doc["components"]["schemas"]
    prefix = "#/components/schemas/"
    refs = set(_refs(doc))
    assert refs
    assert all(r.startswith(prefix) for r in refs)
    assert {r[len(prefix) :] for r in refs} <= schemas.keys()


def test_apps_document_reaches_into_core_and_scale() -> None:
    doc = openapi_document(RESOURCES, "apps", "v1")
    schemas = doc["components"]["schemas"]
    assert CORE + "PodTemplateSpec" in schemas and "io.k8s.api.autoscaling.v1.Scale" in schemas
    strategy = schemas[APPS + "DeploymentSpec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"}]
    scale = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
    assert scale["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling",
        "kind": "Scale",
        "version": "v1",
    }
    operation_ids = [
        op["operationId"] for path in doc["paths"].values() for op in path.values() if isinstance(op, dict)
    ]
    assert "patchAppsV1NamespacedDeployment" in operation_ids
    assert "deleteAppsV1CollectionNamespacedDeployment" in operation_ids
    assert len(operation_ids) == len(set(operation_ids))


def test_output_is_deterministic() -> None:
    one = openapi_document(RESOURCES, "", "v1")
    two = openapi_document(list(reversed(RESOURCES)), "", "v1")
    assert document_bytes(one) == document_bytes(two)
    assert document_hash(one) == document_hash(two)
    assert len(document_hash(one)) == 128


def test_descriptions_file_matches_the_client_models() -> None:
    """descriptions.json is what `python -m hakube.apiserver.schema.descriptions` writes today."""
    pytest.importorskip("kubernetes")
    from hakube.apiserver.schema import descriptions
    from hakube.apiserver.schema.registry import TYPES

    built = descriptions.build({name: sorted(obj.fields) for name, obj in TYPES.items()})
    if built != descriptions.load():
        pytest.skip("the installed kubernetes client's descriptions differ: regenerate descriptions.json")
    assert len(built) > 300
