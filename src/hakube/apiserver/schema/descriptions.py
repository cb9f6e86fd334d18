"""Field and type descriptions for the OpenAPI documents, as upstream writes them.

`kubectl explain` prints the `description` of each schema and property. Our
schema tables carry names, types and list semantics but no prose, and typing
Kubernetes' API documentation by hand would be both slow and wrong. The prose
comes instead from the official `kubernetes` Python client: its generated model
classes (`kubernetes.client.models.V1Container` …) carry every field's upstream
description (`Field(description=…)`) and every type's in its docstring, and
the project is well kept (released for each Kubernetes minor).

We read them **at build time**, not at server start: `python -m
hakube.apiserver.schema.descriptions` writes `descriptions.json` beside this
module, and the server loads that file once, lazily, when it first builds an
OpenAPI document. Reasons: the client is a large test-only dependency (it pulls
in an HTTP stack and importing its ~1000 models takes seconds); upstream
descriptions change only with a Kubernetes minor; and a file keeps the served
documents — and so their hashes, which clients cache by — the same on every
machine whatever happens to be installed. `kubernetes-validate` (the other
candidate) ships JSON schemas, but without the per-kind layout our table uses and
with a much larger footprint per Kubernetes version.

Only types and fields our schema table knows are kept; where the client lacks a
description (fields that reference another type lose theirs in the generated
models) the property simply has none.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("descriptions.json")
TYPE_KEY = ""  # the key under which a type's own description is stored


@functools.cache
def load() -> dict[str, dict[str, str]]:
    """{type name: {field name: description, "": type description}}; empty if the file is missing."""
    try:
        data: dict[str, dict[str, str]] = json.loads(DATA.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return data


def field_description(type_name: str, field_name: str) -> str:
    return load().get(type_name, {}).get(field_name, "")


def type_description(type_name: str) -> str:
    return load().get(type_name, {}).get(TYPE_KEY, "")


def _class_names(type_name: str) -> list[str]:
    """Candidate client class names: io.k8s.api.rbac.v1.Subject -> RbacV1Subject, V1Subject."""
    parts = type_name.split(".")
    version, kind = parts[-2], parts[-1]
    names = [f"{version.capitalize()}{kind}"]
    if type_name.startswith("io.k8s.api."):
        group = parts[3]
        names.insert(0, f"{group.capitalize()}{version.capitalize()}{kind}")
    return names


def _docstring(cls: Any) -> str:
    doc = (cls.__doc__ or "").split("Attributes:")[0]
    text = " ".join(doc.split())
    return "" if text.startswith("No description provided") else text


def build(type_fields: dict[str, list[str]]) -> dict[str, dict[str, str]]:
    """Descriptions for the given types and fields, read from the kubernetes client's models."""
    import kubernetes.client.models as models

    out: dict[str, dict[str, str]] = {}
    for type_name, fields in sorted(type_fields.items()):
        for class_name in _class_names(type_name):
            cls = getattr(models, class_name, None)
            if cls is None:
                continue
            by_json = {json_name: py for py, json_name in getattr(cls, "attribute_map", {}).items()}
            if fields and not set(fields) & set(by_json):
                continue  # a class of the same name for another type
            entry: dict[str, str] = {}
            if text := _docstring(cls):
                entry[TYPE_KEY] = text
            model_fields = getattr(cls, "model_fields", {})
            for name in fields:
                info = model_fields.get(by_json.get(name, ""))
                description = getattr(info, "description", None)
                if description:
                    entry[name] = re.sub(r"\s+\Z", "", description)
            if entry:
                out[type_name] = entry
            break
    return out


def main() -> None:
    from hakube.apiserver.schema.registry import TYPES

    data = build({name: sorted(obj.fields) for name, obj in TYPES.items()})
    DATA.write_text(json.dumps(data, indent=0, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    fields = sum(len(v) for v in data.values())
    print(f"wrote {len(data)} types, {fields} descriptions to {DATA.name}", file=sys.stderr)


if __name__ == "__main__":
    main()
