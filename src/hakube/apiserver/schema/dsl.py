"""The small text format the schema tables are written in.

About 230 upstream types with some 1,300 fields read and review far better as
one line per field than as nested constructor calls, so each table module holds
blocks like this and turns them into `ObjectType`s at import:

    Container
        -- A single application container that you want to run within a pod.
        name      string
        command   []string          atomic
        ports     []ContainerPort   merge:containerPort map(containerPort,protocol)
        env       []EnvVar          merge:name map(name)
        resources ResourceRequirements

A block starts with a type name at column 0 (optionally followed by `open` for a
type whose fields are deliberately not enumerated). `--` lines are the type's
description. Each field line is `jsonName type [modifiers]`:

* type: a primitive from `model.PRIMITIVES`, a type of the same package
  (`PodSpec`), or a type of another package (`meta.ObjectMeta`, see PACKAGES);
  `[]T` is a list of T, `{}T` a map from string to T.
* modifiers: the strategic-merge-patch tags as `strategy[:mergeKey]`
  (`merge:name`, `merge,retainKeys:name`, `retainKeys`, `merge`, `replace`), and
  the list type as `atomic`, `set` or `map(key1,key2)`.

Lines starting with `#` are comments; a long field line may be continued with a
backslash (the Python string literal joins the two lines).
"""

from __future__ import annotations

from hakube.apiserver.schema.model import PRIMITIVES, Field, ObjectType

# Short package names used in the tables -> upstream OpenAPI definition prefixes.
PACKAGES = {
    "meta": "io.k8s.apimachinery.pkg.apis.meta.v1",
    "core": "io.k8s.api.core.v1",
    "apps": "io.k8s.api.apps.v1",
    "autoscaling": "io.k8s.api.autoscaling.v1",
    "autoscalingv2": "io.k8s.api.autoscaling.v2",
    "authentication": "io.k8s.api.authentication.v1",
    "authorization": "io.k8s.api.authorization.v1",
    "batch": "io.k8s.api.batch.v1",
    "coordination": "io.k8s.api.coordination.v1",
    "discovery": "io.k8s.api.discovery.v1",
    "events": "io.k8s.api.events.v1",
    "networking": "io.k8s.api.networking.v1",
    "policy": "io.k8s.api.policy.v1",
    "rbac": "io.k8s.api.rbac.v1",
    "scheduling": "io.k8s.api.scheduling.v1",
}

_STRATEGIES = frozenset({"merge", "retainKeys", "merge,retainKeys", "replace"})
_LIST_TYPES = frozenset({"atomic", "set"})


def qualified(package: str, name: str) -> str:
    """The full definition name of `name` in the short-named `package`."""
    return f"{PACKAGES[package]}.{name}"


def parse_types(package: str, text: str) -> dict[str, ObjectType]:
    """Parse the blocks in `text`; unqualified type names belong to `package`."""
    types: dict[str, ObjectType] = {}
    for block in _blocks(text):
        header, *body = block
        name, _, flag = header.partition(" ")
        if flag.strip() not in ("", "open"):
            raise ValueError(f"bad type header: {header!r}")
        description = " ".join(line[2:].strip() for line in body if line.startswith("--"))
        fields: dict[str, Field] = {}
        for line in body:
            if line.startswith("--"):
                continue
            json_name, fld = _parse_field(package, line)
            if json_name in fields:
                raise ValueError(f"{name}: field {json_name} listed twice")
            fields[json_name] = fld
        full = qualified(package, name)
        if full in types:
            raise ValueError(f"type {full} defined twice")
        is_open = flag.strip() == "open"
        types[full] = ObjectType(name=full, fields=fields, open=is_open, description=description)
    return types


def _blocks(text: str) -> list[list[str]]:
    blocks: list[list[str]] = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if raw[0].isspace():
            if not blocks:
                raise ValueError(f"field line before any type: {raw!r}")
            blocks[-1].append(stripped)
        else:
            blocks.append([stripped])
    return blocks


def _parse_field(package: str, line: str) -> tuple[str, Field]:
    json_name, type_text, *modifiers = line.split()
    is_list = type_text.startswith("[]")
    is_map = type_text.startswith("{}")
    elem = type_text[2:] if is_list or is_map else type_text
    if elem.startswith(("[]", "{}")):
        raise ValueError(f"nested collections are not supported: {line!r}")
    if elem not in PRIMITIVES:
        alias, dot, short = elem.rpartition(".")
        elem = qualified(alias, short) if dot else qualified(package, elem)
    patch_strategy = merge_key = list_type = ""
    map_keys: tuple[str, ...] = ()
    for mod in modifiers:
        if mod in _LIST_TYPES:
            list_type = mod
        elif mod.startswith("map(") and mod.endswith(")"):
            list_type, map_keys = "map", tuple(mod[4:-1].split(","))
        else:
            strategy, _, merge_key = mod.partition(":")
            if strategy not in _STRATEGIES:
                raise ValueError(f"unknown modifier {mod!r} in {line!r}")
            patch_strategy = strategy
    if list_type and not is_list:
        raise ValueError(f"list type on a non-list field: {line!r}")
    return json_name, Field(
        type=elem,
        list=is_list,
        map=is_map,
        patch_strategy=patch_strategy,
        merge_key=merge_key,
        list_type=list_type,
        list_map_keys=map_keys,
    )
