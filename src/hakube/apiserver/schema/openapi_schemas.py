"""OpenAPI v3 `components.schemas` built from the schema tables.

kubectl reads these for `explain` (it finds a kind by the schema's
`x-kubernetes-group-version-kind`) and, when a GV document carries them, for the
strategic-merge behaviour of lists (`x-kubernetes-patch-strategy` /
`x-kubernetes-patch-merge-key`). The shapes follow what kube-openapi emits for
v3: Quantity, IntOrString, Time and MicroTime are named schemas referenced by
`$ref`, and a reference that needs siblings (a description or patch strategy)
is wrapped in `allOf`, because OpenAPI 3.0 ignores siblings of `$ref`.
Descriptions the table does not carry come from upstream's own prose
(`descriptions.py`, read from the official client's models at build time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hakube.apiserver.schema import descriptions
from hakube.apiserver.schema.model import Field, ObjectType
from hakube.apiserver.schema.registry import kinds_of, referenced

REF_PREFIX = "#/components/schemas/"

# Primitives that upstream publishes as named schemas.
NAMED_PRIMITIVES: dict[str, tuple[str, dict[str, Any]]] = {
    "quantity": (
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        {
            "description": "A fixed-point number, e.g. 100m or 1Gi, written as a string or a number.",
            "oneOf": [{"type": "string"}, {"type": "number"}],
        },
    ),
    "int-or-string": (
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        {
            "description": "An integer or a string, e.g. a port number or a port name.",
            "format": "int-or-string",
            "oneOf": [{"type": "integer"}, {"type": "string"}],
        },
    ),
    "time": (
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        {"description": "An RFC 3339 date and time, in seconds.", "format": "date-time", "type": "string"},
    ),
    "microtime": (
        "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
        {
            "description": "An RFC 3339 date and time with microseconds.",
            "format": "date-time",
            "type": "string",
        },
    ),
}

INLINE_PRIMITIVES: dict[str, dict[str, Any]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number", "format": "double"},
    "boolean": {"type": "boolean"},
    "bytes": {"type": "string", "format": "byte"},
    "any": {"x-kubernetes-preserve-unknown-fields": True},
}


def ref(type_name: str) -> dict[str, Any]:
    """A `$ref` to the component schema `type_name`."""
    return {"$ref": REF_PREFIX + type_name}


def component_schemas(types: Mapping[str, ObjectType], roots: Iterable[str]) -> dict[str, Any]:
    """Schemas for every type reachable from `roots`, plus the named primitives they use, sorted."""
    schemas: dict[str, Any] = {}
    used: set[str] = set()
    for name in sorted(referenced(types, sorted(roots))):
        schemas[name] = object_schema(types[name])
        used.update(fld.type for fld in types[name].fields.values() if fld.type in NAMED_PRIMITIVES)
    for primitive in used:
        name, schema = NAMED_PRIMITIVES[primitive]
        schemas[name] = dict(schema)
    return dict(sorted(schemas.items()))


def object_schema(obj: ObjectType) -> dict[str, Any]:
    """The schema of one object type."""
    schema: dict[str, Any] = {"type": "object"}
    description = obj.description or descriptions.type_description(obj.name)
    if description:
        schema["description"] = description
    if obj.fields:
        schema["properties"] = {
            name: field_schema(obj.fields[name], descriptions.field_description(obj.name, name))
            for name in sorted(obj.fields)
        }
    gvks = kinds_of(obj.name)
    if gvks:
        schema["x-kubernetes-group-version-kind"] = [
            {"group": g, "kind": k, "version": v} for g, v, k in gvks
        ]
    return schema


def field_schema(fld: Field, upstream_description: str = "") -> dict[str, Any]:
    """The schema of one property, with its list and patch extensions."""
    element = _element_schema(fld.type)
    extras: dict[str, Any] = {}
    description = fld.description or upstream_description
    if description:
        extras["description"] = description
    if fld.patch_strategy:
        extras["x-kubernetes-patch-strategy"] = fld.patch_strategy
    if fld.merge_key:
        extras["x-kubernetes-patch-merge-key"] = fld.merge_key
    if fld.list:
        schema: dict[str, Any] = {"type": "array", "items": element}
        if fld.list_type:
            schema["x-kubernetes-list-type"] = fld.list_type
        if fld.list_map_keys:
            schema["x-kubernetes-list-map-keys"] = list(fld.list_map_keys)
        return {**schema, **extras}
    if fld.map:
        return {"type": "object", "additionalProperties": element, **extras}
    if "$ref" in element and extras:
        return {"allOf": [element], **extras}
    return {**element, **extras}


def _element_schema(type_name: str) -> dict[str, Any]:
    if type_name in NAMED_PRIMITIVES:
        return ref(NAMED_PRIMITIVES[type_name][0])
    if type_name in INLINE_PRIMITIVES:
        return dict(INLINE_PRIMITIVES[type_name])
    return ref(type_name)
