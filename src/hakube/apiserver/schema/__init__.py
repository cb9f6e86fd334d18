"""A compact table of the Kubernetes object schemas hakube serves.

One table serves three needs: strict field validation (unknown fields),
strategic merge patch (list strategies and merge keys), and the OpenAPI v3
documents kubectl validates against. Field names, list strategies and merge
keys are the published facts of the upstream API types (k8s.io/api
`types.go` struct tags); the table itself is our own compact form.
"""

from hakube.apiserver.schema.model import Field, ObjectType
from hakube.apiserver.schema.openapi import ServedResource, openapi_document, openapi_index
from hakube.apiserver.schema.registry import KINDS, TYPES, type_for
from hakube.apiserver.schema.validate import (
    StrictError,
    find_duplicate_fields,
    format_strict_errors,
    strict_error_message,
    strict_errors,
    unknown_fields,
)

__all__ = [
    "KINDS",
    "TYPES",
    "Field",
    "ObjectType",
    "ServedResource",
    "StrictError",
    "find_duplicate_fields",
    "format_strict_errors",
    "openapi_document",
    "openapi_index",
    "strict_error_message",
    "strict_errors",
    "type_for",
    "unknown_fields",
]
