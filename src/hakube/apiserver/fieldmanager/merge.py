"""Merging an applied configuration into a live object, and pruning fields.

smd `typed/merge.go`: maps and structs merge key by key, `map` lists merge
element by element on their keys, `set` lists merge as sets, atomic lists and
scalars take the applied value. The result keeps the live order and appends
what is new in the applied order.
"""

from __future__ import annotations

import copy
from typing import Any

from hakube.apiserver.fieldmanager.fieldpath import Path, Shape, element_id


def merge(live: Any, applied: Any, shape: Shape) -> Any:
    """`live` with `applied` merged in (neither is changed)."""
    if shape.kind in ("struct", "map") and isinstance(live, dict) and isinstance(applied, dict):
        out = dict(live)
        for key, value in applied.items():
            out[key] = merge(live[key], value, shape.child(key)) if key in live else copy.deepcopy(value)
        return out
    if (shape.kind == "list" and shape.list_type != "atomic" and isinstance(live, list)
            and isinstance(applied, list)):
        assert shape.elem is not None
        merged = list(live)
        index = {element_id(item, shape, i): i for i, item in enumerate(live)}
        for i, item in enumerate(applied):
            pe = element_id(item, shape, i)
            if pe[0] == "i":
                return copy.deepcopy(applied)  # no identity: the list is atomic after all
            if pe in index:
                merged[index[pe]] = merge(live[index[pe]], item, shape.elem)
            else:
                index[pe] = len(merged)
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(applied)


def remove_paths(obj: Any, shape: Shape, paths: set[Path]) -> None:
    """Delete every path in `paths` from `obj` in place; a path under another one
    goes with it (removing its key fields first would lose the element's identity)."""
    for path in paths:
        if not any(path[:n] in paths for n in range(1, len(path))):
            _remove(obj, shape, path)


def _remove(obj: Any, shape: Shape, path: Path) -> None:
    node, sh = obj, shape
    for depth, pe in enumerate(path):
        last = depth == len(path) - 1
        if pe[0] == "f":
            if not isinstance(node, dict) or pe[1] not in node:
                return
            if last:
                del node[pe[1]]
                return
            node, sh = node[pe[1]], sh.child(pe[1])
            continue
        if not isinstance(node, list) or sh.elem is None:
            return
        found = next((i for i, item in enumerate(node) if element_id(item, sh, i) == pe), None)
        if found is None:
            return
        if last:
            del node[found]
            return
        node, sh = node[found], sh.elem
