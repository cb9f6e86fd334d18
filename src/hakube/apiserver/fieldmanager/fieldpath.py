"""Field paths and field sets, typed by our schema tables.

A path is a tuple of path elements as structured-merge-diff `fieldpath`
defines them: `("f", name)` for a struct field or a map key, `("k", keys)` for
an element of a `map` list (keys as sorted (name, value) pairs), `("v", value)`
for an element of a `set` list and `("i", n)` for a list element without
identity. A field set is a Python set of paths; FieldsV1 is its JSON
serialisation (`f:`, `k:`, `v:`, `i:` keys, `.` for a path that is itself a
member and has children) — smd `fieldpath/serialize.go`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hakube.apiserver.schema.model import Field
from hakube.apiserver.schema.registry import TYPES

Element = tuple[str, Any]
Path = tuple[Element, ...]

# Key fields that are defaulted when absent, so an applied element without them
# names the same element as the defaulted live one (kube-openapi list-map-key defaults).
_KEY_DEFAULTS = {"protocol": "TCP"}


@dataclass(frozen=True)
class Shape:
    """How a value is merged and tracked: a struct, a map, a list of some type, or a leaf."""

    kind: str  # "struct" | "map" | "list" | "leaf"
    type_name: str = ""
    elem: Shape | None = None
    list_type: str = "atomic"
    keys: tuple[str, ...] = ()

    def child(self, key: str) -> Shape:
        """The shape of a struct field or a map value."""
        if self.kind == "map":
            return self.elem or LEAF
        if self.kind == "struct":
            return field_shape(TYPES[self.type_name].fields.get(key))
        return LEAF


LEAF = Shape("leaf")


def type_shape(name: str | None) -> Shape:
    obj_type = TYPES.get(name or "")
    if obj_type is None or obj_type.open:
        return LEAF
    return Shape("struct", type_name=obj_type.name)


def field_shape(fld: Field | None) -> Shape:
    """A schema field's shape; list types follow kube-openapi schemaconv: an explicit
    x-kubernetes-list-type, else patchStrategy merge (keyed by patchMergeKey, or a set), else atomic."""
    if fld is None:
        return LEAF
    elem = type_shape(fld.type)
    if fld.map:
        return Shape("map", elem=elem)
    if not fld.list:
        return elem
    strategies = set(fld.patch_strategy.split(","))
    list_type = fld.list_type or ("map" if fld.merge_key else "set") if "merge" in strategies else fld.list_type
    list_type = list_type or "atomic"
    keys = fld.list_map_keys or ((fld.merge_key,) if fld.merge_key else ())
    if list_type == "map" and (not keys or elem.kind != "struct"):
        list_type = "atomic"
    if list_type == "set" and elem.kind != "leaf":
        list_type = "atomic"
    return Shape("list", elem=elem, list_type=list_type, keys=keys)


def element_id(item: Any, shape: Shape, index: int) -> Element:
    """The path element naming a list element (smd `listItemToPathElement`)."""
    if shape.list_type == "map" and isinstance(item, dict):
        pairs = []
        for key in shape.keys:
            if key in item:
                pairs.append((key, item[key]))
            elif key in _KEY_DEFAULTS:
                pairs.append((key, _KEY_DEFAULTS[key]))
        if pairs:
            return ("k", tuple(sorted(pairs)))
    if shape.list_type == "set":
        return ("v", _freeze(item))
    return ("i", index)


def _freeze(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


# -- field sets from objects ---------------------------------------------------------


def to_field_set(value: Any, shape: Shape, prefix: Path = ()) -> set[Path]:
    """Every leaf of `value`, and every element of an associative list (smd `ToFieldSet`)."""
    out: set[Path] = set()
    _walk(value, shape, prefix, out)
    return out


def _walk(value: Any, shape: Shape, path: Path, out: set[Path]) -> None:
    if shape.kind in ("struct", "map") and isinstance(value, dict):
        if not value and path:
            out.add(path)
        for key, child in value.items():
            _walk(child, shape.child(key), (*path, ("f", key)), out)
    elif shape.kind == "list" and shape.list_type != "atomic" and isinstance(value, list):
        assert shape.elem is not None
        for i, item in enumerate(value):
            sub = (*path, element_id(item, shape, i))
            out.add(sub)
            _walk(item, shape.elem, sub, out)
    elif path:
        out.add(path)


def children(value: Any, shape: Shape) -> Iterator[tuple[Element, Any, Shape]]:
    """The (path element, value, shape) of each child of a container value."""
    if shape.kind in ("struct", "map") and isinstance(value, dict):
        for key, child in value.items():
            yield ("f", key), child, shape.child(key)
    elif shape.kind == "list" and shape.list_type != "atomic" and isinstance(value, list):
        assert shape.elem is not None
        for i, item in enumerate(value):
            yield element_id(item, shape, i), item, shape.elem


def compare(old: Any, new: Any, shape: Shape, path: Path = ()) -> tuple[set[Path], set[Path], set[Path]]:
    """(added, modified, removed) paths from `old` to `new` (smd `typed.Compare`)."""
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()

    def walk(a: Any, b: Any, sh: Shape, p: Path) -> None:
        a_kids = dict((pe, (v, s)) for pe, v, s in children(a, sh))
        b_kids = dict((pe, (v, s)) for pe, v, s in children(b, sh))
        container = bool(a_kids or b_kids) or (isinstance(a, (dict, list)) and isinstance(b, (dict, list))
                                                and sh.kind != "leaf" and sh.list_type != "atomic")
        if not container:
            if a != b and p:
                modified.add(p)
            return
        for pe, (v, s) in b_kids.items():
            sub = (*p, pe)
            if pe not in a_kids:
                added.update(to_field_set(v, s, sub) | {sub})
            else:
                walk(a_kids[pe][0], v, s, sub)
        for pe, (v, s) in a_kids.items():
            if pe not in b_kids:
                sub = (*p, pe)
                removed.update(to_field_set(v, s, sub) | {sub})

    walk(old, new, shape, path)
    return added, modified, removed


# -- FieldsV1 ----------------------------------------------------------------------------


def _element_key(pe: Element) -> str:
    kind, value = pe
    if kind == "f":
        return f"f:{value}"
    if kind == "k":
        return "k:" + json.dumps(dict(value), separators=(",", ":"))
    if kind == "v":
        raw = json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value
        return "v:" + json.dumps(raw, separators=(",", ":"))
    return f"i:{value}"


def _parse_element(key: str) -> Element:
    kind, sep, rest = key.partition(":")
    if not sep or kind not in ("f", "k", "v", "i"):
        raise ValueError(f"unknown path element {key!r}")
    if kind == "f":
        return ("f", rest)
    if kind == "i":
        return ("i", int(rest))
    value = json.loads(rest)
    if kind == "k":
        if not isinstance(value, dict):
            raise ValueError(f"bad key element {key!r}")
        return ("k", tuple(sorted(value.items())))
    return ("v", _freeze(value))


def encode(paths: set[Path]) -> dict[str, Any]:
    """A field set as FieldsV1 JSON."""
    root: dict[str, Any] = {}
    for path in sorted(paths, key=len):
        node = root
        for pe in path:
            node = node.setdefault(_element_key(pe), {})
    for path in paths:
        node = root
        for pe in path:
            node = node[_element_key(pe)]
        if node:
            node["."] = {}
    return _sorted(root)


def _sorted(node: dict[str, Any]) -> dict[str, Any]:
    return {k: _sorted(node[k]) for k in sorted(node)}


def decode(fields: Any, prefix: Path = ()) -> set[Path]:
    """FieldsV1 JSON as a field set; ValueError when it is malformed."""
    if not isinstance(fields, dict):
        raise ValueError("FieldsV1 must be an object")
    out: set[Path] = set()
    for key, child in fields.items():
        if key == ".":
            out.add(prefix)
            continue
        sub = (*prefix, _parse_element(key))
        if child:
            out |= decode(child, sub)
        else:
            out.add(sub)
    return out


def render(path: Path) -> str:
    """A path as kube prints it in conflict messages: `.spec.containers[name="c"].image`."""
    parts = []
    for kind, value in path:
        if kind == "f":
            parts.append(f".{value}")
        elif kind == "k":
            parts.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in value) + "]")
        elif kind == "v":
            parts.append(f"[={value if isinstance(value, str) and value[:1] in '[{' else json.dumps(value)}]")
        else:
            parts.append(f"[{value}]")
    return "".join(parts)
