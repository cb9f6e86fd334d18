"""Response negotiation: plain JSON, or a meta.k8s.io Table for `kubectl get`.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` for human
output (API-COMPAT.md §1.5); anything else acceptable gets JSON (protobuf is
asked for alongside JSON, and JSON is always acceptable to clients).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hakube.apiserver import printers, status
from hakube.apiserver.resources import Resource
from hakube.apiserver.strategy import Obj


@dataclass(frozen=True)
class Output:
    table: bool = False
    include_object: str = "Metadata"  # None | Metadata | Object


def _params(part: str) -> tuple[str, dict[str, str]]:
    pieces = [p.strip() for p in part.split(";")]
    params: dict[str, str] = {}
    for p in pieces[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip()
    return pieces[0].lower(), params


def choose_output(accept: str | None, include_object: str | None) -> Output:
    """Pick the response form from Accept, in the client's order of preference."""
    if not accept:
        return Output()
    acceptable = False
    for part in accept.split(","):
        mt, params = _params(part)
        if mt in ("application/json", "application/*", "*/*"):
            if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in (
                    "v1", "v1beta1"):
                return Output(table=True, include_object=include_object or "Metadata")
            if "as" not in params:
                return Output()
        if mt in ("application/vnd.kubernetes.protobuf", "application/yaml"):
            acceptable = True  # answered with JSON, which the client also accepts
    if acceptable:
        return Output()
    raise status.not_acceptable(["application/json", "application/yaml",
                                 "application/vnd.kubernetes.protobuf"])


def _partial(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def table_rows(resource: Resource, objs: list[Obj], include_object: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    rows = []
    for obj in objs:
        row: dict[str, Any] = {"cells": printers.row_for(resource.plural, obj, now=now)}
        if include_object == "Object":
            row["object"] = {"kind": resource.kind, "apiVersion": resource.api_version, **obj}
        elif include_object != "None":
            row["object"] = _partial(obj)
        rows.append(row)
    return rows


def to_table(resource: Resource, objs: list[Obj], list_meta: Obj, out: Output, *, headers: bool = True) -> Obj:
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta}
    if headers:
        table["columnDefinitions"] = printers.column_definitions(printers.columns_for(resource.plural))
    else:
        table["columnDefinitions"] = None
    table["rows"] = table_rows(resource, objs, out.include_object)
    return table
