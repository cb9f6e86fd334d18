"""The Swagger 2.0 document kube-apiserver serves at /openapi/v2.

kubectl 1.27 and 1.28 fetch it before `explain` and before validating a file
(`apply`, `create -f`, `replace`, `edit`): `Factory.OpenAPISchema()` parses it
with kube-openapi's `proto.NewOpenAPIData`, which refuses a `$ref` to a missing
definition, and then uses it for

* `kind -> definition`, by each definition's `x-kubernetes-group-version-kind`
  (kubectl `pkg/util/openapi/openapi.go`);
* client-side validation of kinds whose v3 PATCH operation has no
  `fieldValidation` parameter (cli-runtime `query_param_verifier.go` looks for
  it on the v2 PATCH operation of the kind);
* the patch type and strategic-merge metadata of a client-side `apply`
  (`GetConsumes(gvk, "PATCH")`, then the `x-kubernetes-patch-*` extensions of
  the definitions; kubectl `pkg/cmd/apply/patcher.go`).

The document is derived from the per group-version v3 documents, so both come
from the same schema table and operations: paths are merged, component schemas
become `definitions`, and v3-only shapes are rewritten the way kube-openapi
writes them for v2 (`$ref` siblings instead of `allOf`, body and query
parameters instead of `requestBody` and parameter schemas, `consumes` and
`produces` instead of `content`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hakube.apiserver.schema.openapi import BEARER_TOKEN, ServedResource, openapi_document
from hakube.apiserver.schema.openapi_schemas import NAMED_PRIMITIVES, REF_PREFIX

DEFINITIONS_PREFIX = "#/definitions/"
# What v2 says instead of a v3 `oneOf`: apimachinery publishes Quantity and
# IntOrString as plain strings to v2 (`OpenAPISchemaType` / `OpenAPISchemaFormat`
# in api/resource/quantity.go and util/intstr/intstr.go) and the `oneOf` only to v3
# (`OpenAPIV3OneOfTypes`). kubectl's v2 validator accepts numbers for a string.
V2_PRIMITIVES: dict[str, dict[str, Any]] = {
    NAMED_PRIMITIVES["quantity"][0]: {"type": "string"},
    NAMED_PRIMITIVES["int-or-string"][0]: {"format": "int-or-string", "type": "string"},
}
# Every operation kube-apiserver publishes is served over https only.
SCHEMES = ["https"]


def swagger_document(resources: Sequence[ServedResource]) -> dict[str, Any]:
    """The /openapi/v2 document: every served group version in one Swagger 2.0 document."""
    group_versions = sorted({(r.group, r.version) for r in resources})
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    info: dict[str, Any] = {}
    for group, version in group_versions:
        doc = openapi_document(resources, group, version)
        info = doc["info"]
        paths.update(doc["paths"])
        schemas.update(doc["components"]["schemas"])
    return {
        "swagger": "2.0",
        "info": dict(info),
        "paths": {path: path_item(item) for path, item in sorted(paths.items())},
        "definitions": {name: definition(name, schema) for name, schema in sorted(schemas.items())},
        "securityDefinitions": {"BearerToken": BEARER_TOKEN},
        "security": [{"BearerToken": []}],
    }


def definition(name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """One v3 component schema as a v2 definition."""
    if name in V2_PRIMITIVES:
        out = {k: v for k, v in schema.items() if k != "oneOf"}
        return {**out, **V2_PRIMITIVES[name]}
    return schema_v2(schema)


def schema_v2(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A v3 schema rewritten for v2: references into `definitions`, `allOf` wrappers removed."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            out[key] = _ref(value)
        elif key == "allOf":
            # v3 wraps a `$ref` that has siblings (description, patch strategy) in
            # allOf because OpenAPI 3.0 ignores siblings of `$ref`; v2 as
            # kube-openapi writes it keeps them beside the `$ref`, and
            # proto.NewOpenAPIData reads the extensions from there.
            if len(value) != 1:
                raise ValueError(f"allOf with {len(value)} schemas has no v2 form")
            out.update(schema_v2(value[0]))
        elif key == "oneOf":
            raise ValueError("oneOf has no v2 form outside the named primitives")
        elif key == "properties":
            out[key] = {name: schema_v2(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, Mapping):
            out[key] = schema_v2(value)
        else:
            out[key] = value
    return out


def _ref(v3_ref: str) -> str:
    if not v3_ref.startswith(REF_PREFIX):
        raise ValueError(f"reference outside the component schemas: {v3_ref}")
    return DEFINITIONS_PREFIX + v3_ref.removeprefix(REF_PREFIX)


def path_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """One v3 path item (operations by method, plus shared parameters) as v2."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "parameters":
            out[key] = [parameter(p) for p in value]
        else:
            out[key] = operation(value)
    return out


def operation(op: Mapping[str, Any]) -> dict[str, Any]:
    """One v3 operation as v2, in the shape kube-openapi's v2 builder gives it."""
    body = op.get("requestBody")
    consumes = list(body["content"]) if body else ["*/*"]
    produces = _unique(t for r in op["responses"].values() for t in r.get("content", {}))
    params = [parameter(p) for p in op.get("parameters", ())]
    if body:
        body_schema = next(iter(body["content"].values()))["schema"]
        params.insert(0, {"in": "body", "name": "body", "required": True, "schema": schema_v2(body_schema)})
    out: dict[str, Any] = {
        "consumes": consumes,
        "description": op["description"],
        "operationId": op["operationId"],
    }
    if params:
        out["parameters"] = params
    out["produces"] = produces or ["*/*"]
    out["responses"] = {code: response(r) for code, r in op["responses"].items()}
    out["schemes"] = list(SCHEMES)
    out.update((k, v) for k, v in op.items() if k == "tags" or k.startswith("x-"))
    return out


def parameter(param: Mapping[str, Any]) -> dict[str, Any]:
    """A v3 path or query parameter: v2 carries the schema's type inline."""
    out = {k: v for k, v in param.items() if k != "schema"}
    out.update(param.get("schema", {}))
    return dict(sorted(out.items()))


def response(resp: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"description": resp["description"]}
    content = resp.get("content")
    if content:
        out["schema"] = schema_v2(next(iter(content.values()))["schema"])
    return out


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
