"""The /openapi/v2 document: its Swagger 2.0 shape, its gnostic protobuf encoding, and how it is served.

The protobuf is read back with a decoder written here from gnostic's
`openapiv2/OpenAPIv2.proto` (not the server's own wire code), then checked the
way kubectl 1.27/1.28 read it: kube-openapi `proto.NewOpenAPIData` (every
`$ref` resolves, a `$ref` has no type or properties, an array has one item
schema), kubectl `GetConsumes(gvk, "PATCH")` and cli-runtime's v2
`supportsQueryParam(doc, gvk, "fieldValidation")`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import make_mocked_request

from hakube.apiserver.openapi_routes import V2_PROTOBUF, V2_PROTOBUF_DEPRECATED, OpenAPI, etag_matches, negotiate_v2
from hakube.apiserver.protobuf.gnostic import encode_document, yaml_text
from hakube.apiserver.resources import ResourceTable
from hakube.apiserver.schema.openapi_v2 import swagger_document

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
PREFIX = "#/definitions/"


@cache
def api() -> OpenAPI:
    return OpenAPI(ResourceTable())


@cache
def document() -> dict[str, Any]:
    return swagger_document(api().served)


@cache
def decoded() -> dict[str, Any]:
    return decode("Document", encode_document(document()))


# -- an independent reader of the gnostic messages ---------------------------------------------------


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def wire_fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    """(field number, value) of each field; fails on anything but varints and length-delimited values."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = read_varint(data, pos)
            yield number, value
        elif wire_type == 2:
            length, pos = read_varint(data, pos)
            assert pos + length <= len(data), "length runs past the end"
            yield number, data[pos:pos + length]
            pos += length
        else:
            raise AssertionError(f"unexpected wire type {wire_type} for field {number}")


# message -> (shape, {field number: (JSON key, kind, repeated)}); kinds are "str", "bool" or a message.
# Shapes: "object" (a JSON object; `x` entries are vendor extensions merged into it), "map" (its
# repeated Named entries are the JSON object), "oneof" (the one field that is set), "list" (the
# repeated field 1 itself), "one" (the same, but one element stands for itself: `type`, `items`).
STR, BOOL = "str", "bool"
SPECS: dict[str, tuple[str, dict[int, tuple[str, str, bool]]]] = {
    "Document": ("object", {1: ("swagger", STR, False), 2: ("info", "Info", False), 8: ("paths", "Paths", False),
                            9: ("definitions", "SchemaMap", False), 12: ("security", "SecurityRequirement", True),
                            13: ("securityDefinitions", "SecurityDefinitions", False),
                            16: ("x", "NamedAny", True)}),
    "Info": ("object", {1: ("title", STR, False), 2: ("version", STR, False), 7: ("x", "NamedAny", True)}),
    "NamedAny": ("object", {1: ("name", STR, False), 2: ("value", "Any", False)}),
    "Any": ("object", {2: ("yaml", STR, False)}),
    "SchemaMap": ("map", {1: ("", "NamedSchema", True)}),
    "NamedSchema": ("object", {1: ("name", STR, False), 2: ("value", "Schema", False)}),
    "Schema": ("object", {1: ("$ref", STR, False), 2: ("format", STR, False), 4: ("description", STR, False),
                          16: ("uniqueItems", BOOL, False), 19: ("required", STR, True),
                          21: ("additionalProperties", "AdditionalPropertiesItem", False),
                          22: ("type", "TypeItem", False), 23: ("items", "ItemsItem", False),
                          25: ("properties", "SchemaMap", False), 31: ("x", "NamedAny", True)}),
    "AdditionalPropertiesItem": ("oneof", {1: ("", "Schema", False), 2: ("", BOOL, False)}),
    "TypeItem": ("one", {1: ("", STR, True)}),
    "ItemsItem": ("one", {1: ("", "Schema", True)}),
    "Paths": ("map", {1: ("x", "NamedAny", True), 2: ("", "NamedPathItem", True)}),
    "NamedPathItem": ("object", {1: ("name", STR, False), 2: ("value", "PathItem", False)}),
    "PathItem": ("object", {2: ("get", "Operation", False), 3: ("put", "Operation", False),
                            4: ("post", "Operation", False), 5: ("delete", "Operation", False),
                            8: ("patch", "Operation", False), 9: ("parameters", "ParametersItem", True),
                            10: ("x", "NamedAny", True)}),
    "Operation": ("object", {1: ("tags", STR, True), 3: ("description", STR, False),
                             5: ("operationId", STR, False), 6: ("produces", STR, True),
                             7: ("consumes", STR, True), 8: ("parameters", "ParametersItem", True),
                             9: ("responses", "Responses", False), 10: ("schemes", STR, True),
                             13: ("x", "NamedAny", True)}),
    "ParametersItem": ("oneof", {1: ("", "Parameter", False)}),
    "Parameter": ("oneof", {1: ("", "BodyParameter", False), 2: ("", "NonBodyParameter", False)}),
    "BodyParameter": ("object", {1: ("description", STR, False), 2: ("name", STR, False), 3: ("in", STR, False),
                                 4: ("required", BOOL, False), 5: ("schema", "Schema", False)}),
    "NonBodyParameter": ("oneof", {3: ("", "QueryParameterSubSchema", False),
                                   4: ("", "PathParameterSubSchema", False)}),
    "QueryParameterSubSchema": ("object", {1: ("required", BOOL, False), 2: ("in", STR, False),
                                           3: ("description", STR, False), 4: ("name", STR, False),
                                           6: ("type", STR, False), 20: ("uniqueItems", BOOL, False)}),
    "PathParameterSubSchema": ("object", {1: ("required", BOOL, False), 2: ("in", STR, False),
                                          3: ("description", STR, False), 4: ("name", STR, False),
                                          5: ("type", STR, False), 19: ("uniqueItems", BOOL, False)}),
    "Responses": ("map", {1: ("", "NamedResponseValue", True), 2: ("x", "NamedAny", True)}),
    "NamedResponseValue": ("object", {1: ("name", STR, False), 2: ("value", "ResponseValue", False)}),
    "ResponseValue": ("oneof", {1: ("", "Response", False)}),
    "Response": ("object", {1: ("description", STR, False), 2: ("schema", "SchemaItem", False)}),
    "SchemaItem": ("oneof", {1: ("", "Schema", False)}),
    "SecurityDefinitions": ("map", {1: ("", "NamedSecurityDefinitionsItem", True)}),
    "NamedSecurityDefinitionsItem": ("object", {1: ("name", STR, False),
                                                2: ("value", "SecurityDefinitionsItem", False)}),
    "SecurityDefinitionsItem": ("oneof", {2: ("", "ApiKeySecurity", False)}),
    "ApiKeySecurity": ("object", {1: ("type", STR, False), 2: ("name", STR, False), 3: ("in", STR, False),
                                  4: ("description", STR, False)}),
    "SecurityRequirement": ("map", {1: ("", "NamedStringArray", True)}),
    "NamedStringArray": ("object", {1: ("name", STR, False), 2: ("value", "StringArray", False)}),
    "StringArray": ("list", {1: ("", STR, True)}),
}


def decode(message: str, data: bytes) -> Any:
    """A gnostic message as the JSON value it was made from."""
    shape, spec = SPECS[message]
    values: dict[str, Any] = {}
    last = 0
    for number, raw in wire_fields(data):
        assert number >= last, f"{message}: field {number} after {last} (Go writes fields in number order)"
        last = number
        assert number in spec, f"{message} has no field {number}"
        key, kind, repeated = spec[number]
        if kind == STR:
            assert isinstance(raw, bytes)
            value: Any = raw.decode()
        elif kind == BOOL:
            assert raw in (0, 1)
            value = bool(raw)
        else:
            assert isinstance(raw, bytes)
            value = decode(kind, raw)
        if repeated:
            values.setdefault(key, []).append(value)
        else:
            assert key not in values, f"{message}: singular field {number} twice"
            values[key] = value
    extensions = {e["name"]: yaml.safe_load(e["value"]["yaml"]) for e in values.pop("x", [])}
    if shape == "object":
        if {"name", "value"} == values.keys() and message.startswith("Named"):
            return values
        return {**values, **extensions}
    if shape == "map":
        return {**{e["name"]: e["value"] for e in values.get("", [])}, **extensions}
    if shape == "oneof":
        assert len(values) == 1, f"{message}: {len(values)} members of a oneof set"
        return values[""]
    if shape == "list":
        return values.get("", [])
    assert shape == "one"
    elements = values.get("", [])
    return elements[0] if len(elements) == 1 else elements


def without_defaults(value: Any) -> Any:
    """A JSON value as proto3 keeps it: empty strings and false are not written."""
    if isinstance(value, dict):
        return {k: (v if k.startswith("x-") else without_defaults(v)) for k, v in value.items()
                if v not in ("", False) or k.startswith("x-")}
    if isinstance(value, list):
        return [without_defaults(v) for v in value]
    return value


# -- the protobuf -----------------------------------------------------------------------------------


def test_protobuf_decodes_to_the_json_document() -> None:
    assert decoded() == without_defaults(document())


def test_wire_bytes_of_small_documents() -> None:
    # Document.swagger = 1, a string.
    assert encode_document({"swagger": "2.0"}) == b"\x0a\x032.0"
    # Document.definitions = 9 -> Definitions.additional_properties = 1 -> NamedSchema{name 1, value 2}.
    # An empty `properties` is still written (Schema field 25, length 0): it makes a Kind, not a Map.
    assert encode_document({"definitions": {"A": {"properties": {}}}}) == (
        b"\x4a\x0a" + b"\x0a\x08" + b"\x0a\x01A" + b"\x12\x03" + b"\xca\x01\x00")
    # additionalProperties: false is a oneof member (boolean = 2), written although false.
    assert encode_document({"definitions": {"A": {"additionalProperties": False}}}) == (
        b"\x4a\x0c" + b"\x0a\x0a" + b"\x0a\x01A" + b"\x12\x05" + b"\xaa\x01\x02\x10\x00")
    # `type` is a TypeItem (22) holding a repeated string; vendor extensions are NamedAny (31) with YAML.
    doc = decode("Document", encode_document({"definitions": {"A": {"type": "object", "x-k": ["a"]}}}))
    assert doc == {"definitions": {"A": {"type": "object", "x-k": ["a"]}}}


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="Schema has no field for 'nullable'"):
        encode_document({"definitions": {"A": {"nullable": True}}})


@pytest.mark.parametrize("value", [
    [{"group": "", "kind": "Pod", "version": "v1"}],
    {"group": "apps", "kind": "Deployment", "version": "v1"},
    "merge,retainKeys", "name", True, ["name", "protocol"], "1", "yes", "", "a: b", "é", {"a": {"b": [1, {}]}},
])
def test_extension_yaml_reads_back(value: Any) -> None:
    assert yaml.safe_load(yaml_text(value)) == value


def test_gvk_extension_yaml_is_what_gnostic_writes() -> None:
    assert yaml_text([{"group": "", "kind": "Pod", "version": "v1"}]) == '- group: ""\n  kind: Pod\n  version: v1\n'


# -- the document, read as kubectl 1.27 reads it -------------------------------------------------------


def schemas(value: Any) -> Iterator[dict[str, Any]]:
    """Every schema in a definition, nested ones included."""
    yield value
    for sub in value.get("properties", {}).values():
        yield from schemas(sub)
    for key in ("items", "additionalProperties"):
        if isinstance(value.get(key), dict):
            yield from schemas(value[key])


def test_definitions_parse_as_proto_new_openapi_data() -> None:
    definitions = decoded()["definitions"]
    for name, definition in definitions.items():
        for schema in schemas(definition):
            assert not {"allOf", "oneOf", "anyOf", "nullable"} & schema.keys(), name
            if "$ref" in schema:
                assert schema["$ref"].startswith(PREFIX), name
                assert schema["$ref"].removeprefix(PREFIX) in definitions, (name, schema["$ref"])
                assert "type" not in schema and "properties" not in schema, name
            elif schema.get("type") == "array":
                assert isinstance(schema["items"], dict), name
            else:
                assert schema.get("type") in (None, "object", "string", "integer", "number", "boolean"), name


def gvk_models(definitions: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """kubectl's `resources` map: (group, version, kind) -> definition name."""
    out = {}
    for name, definition in definitions.items():
        for gvk in definition.get("x-kubernetes-group-version-kind", []):
            out[gvk["group"], gvk["version"], gvk["kind"]] = name
    return out


def test_kinds_map_to_their_definitions() -> None:
    models = gvk_models(decoded()["definitions"])
    assert models["", "v1", "Pod"] == CORE + "Pod"
    assert models["apps", "v1", "Deployment"] == APPS + "Deployment"
    assert models["autoscaling", "v1", "Scale"] == "io.k8s.api.autoscaling.v1.Scale"
    served = {(r.group, r.version, r.kind) for r in api().served}
    assert served <= models.keys()


def test_pod_definitions() -> None:
    definitions = decoded()["definitions"]
    pod = definitions[CORE + "Pod"]
    assert pod["type"] == "object"
    assert pod["properties"]["spec"]["$ref"] == PREFIX + CORE + "PodSpec"
    containers = definitions[CORE + "PodSpec"]["properties"]["containers"]
    assert containers["type"] == "array"
    assert containers["items"] == {"$ref": PREFIX + CORE + "Container"}
    assert containers["x-kubernetes-patch-strategy"] == "merge"
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    image = definitions[CORE + "Container"]["properties"]["image"]
    assert image["type"] == "string" and image["description"].startswith("Container image name")
    labels = definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["labels"]
    assert labels["type"] == "object" and labels["additionalProperties"] == {"type": "string"}


def test_reference_siblings_stay_beside_the_ref() -> None:
    # v3 wraps these in allOf; v2 (and kubectl's patch metadata lookup) wants them next to $ref.
    strategy = decoded()["definitions"][APPS + "DeploymentSpec"]["properties"]["strategy"]
    assert strategy == {"$ref": PREFIX + APPS + "DeploymentStrategy", "x-kubernetes-patch-strategy": "retainKeys"}


def test_quantity_and_int_or_string_are_v2_strings() -> None:
    definitions = decoded()["definitions"]
    quantity = definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    assert quantity["type"] == "string" and "oneOf" not in quantity
    int_or_string = definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert (int_or_string["type"], int_or_string["format"]) == ("string", "int-or-string")


def consumes(doc: dict[str, Any], gvk: dict[str, str]) -> list[str] | None:
    """kubectl pkg/util/openapi `GetConsumes(gvk, "PATCH")`: the first path whose PATCH is for gvk."""
    for item in doc["paths"].values():
        if item.get("patch", {}).get("x-kubernetes-group-version-kind") == gvk:
            return list(item["patch"]["consumes"])
    return None


def supports_field_validation(doc: dict[str, Any], gvk: dict[str, str]) -> bool | None:
    """cli-runtime `supportsQueryParam` on v2: None when no PATCH operation is for gvk."""
    for item in doc["paths"].values():
        if item.get("patch", {}).get("x-kubernetes-group-version-kind") == gvk:
            return any(p.get("in") == "query" and p["name"] == "fieldValidation" for p in item["patch"]["parameters"])
    return None


def test_patch_operations_for_client_side_apply_and_validation() -> None:
    doc = decoded()
    for res in api().served:
        if "patch" not in res.verbs:
            continue
        gvk = {"group": res.group, "kind": res.kind, "version": res.version}
        assert "application/strategic-merge-patch+json" in (consumes(doc, gvk) or []), gvk
        assert supports_field_validation(doc, gvk) is True, gvk
    assert supports_field_validation(doc, {"group": "", "kind": "Namespace", "version": "v1"}) is True


def test_pod_patch_operation() -> None:
    item = decoded()["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    patch = item["patch"]
    assert patch["operationId"] == "patchCoreV1NamespacedPod"
    assert patch["parameters"][0] == {"in": "body", "name": "body", "required": True,
                                      "schema": {"$ref": PREFIX + "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}}
    assert patch["responses"]["200"]["schema"] == {"$ref": PREFIX + CORE + "Pod"}
    assert patch["responses"]["401"] == {"description": "Unauthorized"}
    assert patch["schemes"] == ["https"] and patch["produces"] == ["application/json", "application/yaml"]
    assert {"in": "path", "name": "name", "required": True, "type": "string", "uniqueItems": True,
            "description": "The object name."} in item["parameters"]
    assert item["get"]["consumes"] == ["*/*"]


def test_document_is_deterministic() -> None:
    again = swagger_document(OpenAPI(ResourceTable()).served)
    assert json.dumps(again) == json.dumps(document())
    assert encode_document(again) == encode_document(document())


# -- serving ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("accept", "answer"), [
    (V2_PROTOBUF_DEPRECATED, V2_PROTOBUF),  # what client-go sends
    (V2_PROTOBUF, V2_PROTOBUF),
    ("application/json", "application/json"),
    ("application/json, */*", "application/json"),
    ("", "application/json"),
    ("*/*", "application/json"),
    (f"application/json;q=0.5, {V2_PROTOBUF_DEPRECATED}", V2_PROTOBUF),
    (f"{V2_PROTOBUF};q=0, application/json;q=0.1", "application/json"),
    ("text/html", None),
    ("application/vnd.kubernetes.protobuf", None),
])
def test_negotiation(accept: str, answer: str | None) -> None:
    assert negotiate_v2(accept) == answer


def test_etag_matching() -> None:
    assert etag_matches('"A"', '"A"') and etag_matches('W/"A"', '"A"') and etag_matches('"B", "A"', '"A"')
    assert etag_matches("*", '"A"')
    assert not etag_matches("", '"A"') and not etag_matches('"B"', '"A"')


async def test_serves_protobuf_and_json_with_one_etag() -> None:
    handler = api().document_v2
    proto = await handler(make_mocked_request("GET", "/openapi/v2", headers={"Accept": V2_PROTOBUF_DEPRECATED}))
    assert proto.status == 200 and proto.content_type == V2_PROTOBUF
    assert isinstance(proto.body, bytes) and decode("Document", proto.body) == decoded()
    plain = await handler(make_mocked_request("GET", "/openapi/v2", headers={"Accept": "application/json"}))
    assert plain.content_type == "application/json" and isinstance(plain.body, bytes)
    assert json.loads(plain.body) == document()
    etag = '"' + hashlib.sha512(plain.body).hexdigest().upper() + '"'
    assert proto.headers["ETag"] == plain.headers["ETag"] == etag
    assert proto.headers["Vary"] == "Accept"


async def test_if_none_match_is_not_modified() -> None:
    handler = api().document_v2
    etag = api().v2_etag
    headers = {"Accept": V2_PROTOBUF_DEPRECATED, "If-None-Match": etag}
    response = await handler(make_mocked_request("GET", "/openapi/v2", headers=headers))
    assert response.status == 304 and response.headers["ETag"] == etag and not response.body
    stale = await handler(make_mocked_request("GET", "/openapi/v2", headers={**headers, "If-None-Match": '"old"'}))
    assert stale.status == 200


async def test_unacceptable_is_406() -> None:
    response = await api().document_v2(make_mocked_request("GET", "/openapi/v2", headers={"Accept": "text/html"}))
    assert response.status == 406
