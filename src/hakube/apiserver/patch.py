"""Apply the three PATCH body formats that kubectl and client libraries send.

A PATCH carries a JSON patch (RFC 6902), a JSON merge patch (RFC 7386) or a
strategic merge patch: Kubernetes' merge patch in which some lists merge
element by element (by a merge key, or as a set) instead of being replaced,
steered by `$`-directives. The registry reads the live object, applies the
patch here, then validates and writes the result with a compare-and-set; this
module is only the pure middle step: a live dict and a decoded patch in, a new
dict out, the inputs untouched, and every mistake a client can make reported
as a `PatchError` whose message can go straight into a Status body.

The strategic merge patch mirrors the server side of apimachinery
`util/strategicpatch/patch.go` (`StrategicMergeMapPatch`, i.e. `mergeMap`
with `MergeParallelList` and `IgnoreUnmatchedNulls`), reading list strategies
and merge keys from the schema table instead of Go struct tags.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import json
from collections.abc import Callable, Hashable, Mapping
from typing import Any, Final, TypeAlias

import jsonpatch
import jsonpointer

from hakube.apiserver.schema.model import Field, ObjectType

_DIRECTIVE: Final = "$patch"
_RETAIN_KEYS: Final = "$retainKeys"
_SET_ORDER: Final = "$setElementOrder"
_DELETE_FROM: Final = "$deleteFromPrimitiveList"
_DIRECTIVES: Final = ("replace", "merge", "delete")


class PatchError(Exception):
    """A patch the client got wrong; the message is meant for a 400/422 Status."""


def apply_json_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply an RFC 6902 JSON patch (`application/json-patch+json`)."""
    if not isinstance(patch, list):
        raise PatchError("a JSON patch must be a JSON array of operations")
    for index, operation in enumerate(patch):
        if not isinstance(operation, dict):
            raise PatchError(f"JSON patch operation {index} is not a JSON object")
    try:
        # Copies on both sides: the result must share nothing with the live
        # object or with the patch's values.
        result = jsonpatch.apply_patch(copy.deepcopy(obj), copy.deepcopy(patch), in_place=True)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise PatchError(f"JSON patch test operation failed: {exc}") from exc
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise PatchError(f"invalid JSON patch: {exc}") from exc
    except RecursionError as exc:
        raise PatchError("the JSON patch is nested too deeply") from exc
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        # The library reports some malformed operations this way.
        raise PatchError(f"invalid JSON patch: {exc}") from exc
    if not isinstance(result, dict):
        raise PatchError("the JSON patch does not leave a JSON object")
    return result


def apply_merge_patch(obj: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply an RFC 7386 JSON merge patch (`application/merge-patch+json`)."""
    if not isinstance(patch, dict):
        raise PatchError("a JSON merge patch must be a JSON object")
    try:
        return _merge_patch_into(copy.deepcopy(obj), patch)
    except RecursionError as exc:
        raise PatchError("the merge patch is nested too deeply") from exc


def _merge_patch_into(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    # RFC 7386 section 2: objects merge, null deletes, anything else replaces.
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict):
            current = target.get(key)
            target[key] = _merge_patch_into(current if isinstance(current, dict) else {}, value)
        else:
            target[key] = copy.deepcopy(value)
    return target


def apply_strategic_merge_patch(
    obj: dict[str, Any],
    patch: Any,
    *,
    types: Mapping[str, ObjectType],
    root: str | None,
) -> dict[str, Any]:
    """Apply a strategic merge patch (`application/strategic-merge-patch+json`).

    `root` names the object's type in `types`; without it (or below a field
    the schema leaves open) maps merge, lists are replaced and null deletes,
    while the `$patch` directives are still honoured and stripped.
    """
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    merger = _StrategicMerge(types)
    shape = merger.object_type(root) if root is not None else None
    try:
        merged = merger.merge_map(copy.deepcopy(obj), patch, shape, "")
    except RecursionError as exc:
        raise PatchError("the strategic merge patch is nested too deeply") from exc
    # `$patch: delete` at the top leaves an empty object, as upstream does.
    return merged if isinstance(merged, dict) else {}


class _Mark(enum.Enum):
    MISSING = enum.auto()  # the live object has no value here
    DELETED = enum.auto()  # the patch removes the value


# What the schema says about a JSON object: its ObjectType, a map-valued Field
# (every key holds the field's element type), or None for "no schema here".
_Shape: TypeAlias = ObjectType | Field | None


class _StrategicMerge:
    """One strategic merge: walks the live copy and the patch with the schema.

    The live copy is ours (deep-copied once) and is updated in place; the
    patch is only read, and every value taken from it is rebuilt.
    """

    def __init__(self, types: Mapping[str, ObjectType]) -> None:
        self._types = types

    def object_type(self, name: str) -> ObjectType | None:
        found = self._types.get(name)
        return None if found is None or found.open else found

    def _field(self, shape: _Shape, key: str) -> Field | None:
        if isinstance(shape, ObjectType):
            return shape.fields.get(key)
        if isinstance(shape, Field):  # a map: every key holds the element type
            return dataclasses.replace(shape, map=False)
        return None

    def _shape(self, field: Field | None) -> _Shape:
        if field is None or (field.list and not field.map):
            return None
        if field.map:
            return field
        return self.object_type(field.type)

    def merge_map(
        self, live: dict[str, Any], patch: Mapping[str, Any], shape: _Shape, path: str
    ) -> dict[str, Any] | _Mark:
        # patch.go handleDirectiveInMergeMap: `$patch` acts on the whole map.
        if _DIRECTIVE in patch:
            directive = patch[_DIRECTIVE]
            if directive == "delete":
                return _Mark.DELETED
            if directive == "replace":
                live = {}
            elif directive != "merge":
                raise PatchError(f"{_where(path)}: {_bad_directive(directive)}")
        if _RETAIN_KEYS in patch:
            _retain_keys(live, patch, path)

        orders: dict[str, list[Any]] = {}
        deletions: dict[str, list[Any]] = {}
        for key, value in patch.items():
            if key.startswith(_SET_ORDER):
                orders[_parallel_list_name(key, _SET_ORDER, value, path)] = value
            elif key.startswith(_DELETE_FROM):
                deletions[_parallel_list_name(key, _DELETE_FROM, value, path)] = value
        # Where the lists to reorder stood before the merge (patch.go
        # mergePatchIntoOriginal passes the live list as the "server order").
        server_order = {
            name: _positions(live.get(name), _identity(field))
            for name in orders
            if (field := self._field(shape, name)) is not None and _merges(field)
        }

        for key, value in patch.items():
            if _is_directive_key(key):
                continue
            merged = self.merge_value(
                live.get(key, _Mark.MISSING), value, self._field(shape, key), _at(path, key)
            )
            if merged is _Mark.DELETED:
                live.pop(key, None)
            else:
                live[key] = merged

        for name, positions in server_order.items():
            field = self._field(shape, name)
            current = live.get(name)
            if field is not None and isinstance(current, list):
                live[name] = _set_element_order(
                    current,
                    orders[name],
                    patch.get(name),
                    positions,
                    field,
                    _at(path, f"{_SET_ORDER}/{name}"),
                )
        # The parallel deletion list for primitive merge lists (patch.go
        # deleteFromSlice); applied after the merge, as upstream does when the
        # list also has a $setElementOrder.
        for name, values in deletions.items():
            current = live.get(name)
            if isinstance(current, list):
                drop = {_ident(value) for value in values}
                live[name] = [item for item in current if _ident(item) not in drop]
        return live

    def merge_value(self, live: Any, patch: Any, field: Field | None, path: str) -> Any:
        if patch is None:
            return _Mark.DELETED
        if isinstance(patch, dict):
            # A "replace" patch strategy on a struct field replaces it whole.
            replaced = field is not None and "replace" in _strategies(field)
            base = live if isinstance(live, dict) and not replaced else {}
            return self.merge_map(base, patch, self._shape(field), path)
        if isinstance(patch, list):
            if field is not None and _merges(field):
                return self.merge_list(live if isinstance(live, list) else [], patch, field, path)
            return self.replace_list(patch, field, path)
        return patch

    def replace_list(self, patch: list[Any], field: Field | None, path: str) -> list[Any]:
        # Atomic lists (and lists with no schema) take the patch's list as it
        # is; only its directives are honoured and stripped.
        element = Field(type=field.type) if field is not None and field.list and not field.map else None
        result: list[Any] = []
        for index, item in enumerate(patch):
            if item is None:
                result.append(None)
                continue
            if isinstance(item, dict) and _DIRECTIVE in item:
                directive = item[_DIRECTIVE]
                if directive == "delete":
                    raise PatchError(
                        f"{_where(path)}[{index}]: $patch: delete needs a list merged by key; this list is"
                        " replaced as a whole"
                    )
                if len(item) == 1 and directive in ("replace", "merge"):
                    continue
            result.append(self.merge_value(_Mark.MISSING, item, element, f"{path}[{index}]"))
        return result

    def merge_list(self, live: list[Any], patch: list[Any], field: Field, path: str) -> list[Any]:
        if field.merge_key:
            return self._merge_by_key(live, patch, field, path)
        return _merge_as_set(live, patch, path)

    def _merge_by_key(self, live: list[Any], patch: list[Any], field: Field, path: str) -> list[Any]:
        key = field.merge_key
        element = self.object_type(field.type)
        ident = _identity(field)
        # patch.go mergeSliceWithSpecialElements: deletions and `replace` first.
        replace = False
        kept = live
        updates: list[dict[str, Any]] = []
        for index, item in enumerate(patch):
            where = f"{_where(path)}[{index}]"
            if not isinstance(item, dict):
                raise PatchError(f"{where}: expected an object in a list merged by {key!r}")
            directive = item.get(_DIRECTIVE, "merge")
            if directive == "delete":
                if key not in item:
                    raise PatchError(f"{where}: $patch: delete does not contain declared merge key {key!r}")
                gone = _ident(item[key])
                kept = [entry for entry in kept if ident(entry) != gone]
            elif directive == "replace":
                # Upstream replaces the whole list and drops this element.
                replace = True
            elif directive != "merge":
                raise PatchError(f"{where}: {_bad_directive(directive)}")
            elif key not in item:
                raise PatchError(f"{where}: does not contain declared merge key {key!r}")
            else:
                updates.append(item)
        if replace:
            return [self._new_element(item, element, path) for item in updates]

        # patch.go mergeSliceWithoutSpecialElements: merge into the first live
        # element with the same key, or add the element.
        server = _positions(kept, ident)
        result = list(kept)
        where_is = {ident(entry): i for i, entry in reversed(list(enumerate(result)))}
        wanted: list[Hashable] = []
        for item in updates:
            item_id = _ident(item[key])
            wanted.append(item_id)
            at = where_is.get(item_id)
            if at is None:
                where_is[item_id] = len(result)
                result.append(self._new_element(item, element, path))
            else:
                merged = self.merge_map(result[at], item, element, path)
                result[at] = merged if isinstance(merged, dict) else {}
        return _normalize_order(result, ident, wanted, server)

    def _new_element(self, item: dict[str, Any], element: ObjectType | None, path: str) -> dict[str, Any]:
        merged = self.merge_map({}, item, element, path)
        return merged if isinstance(merged, dict) else {}


def _merge_as_set(live: list[Any], patch: list[Any], path: str) -> list[Any]:
    # patch.go mergeSlice for scalars: union without duplicates (finalizers).
    replace = False
    values: list[Any] = []
    for index, item in enumerate(patch):
        if isinstance(item, dict) and _DIRECTIVE in item:
            directive = item[_DIRECTIVE]
            if directive == "replace":
                replace = True
                continue
            if directive == "merge":
                continue
            raise PatchError(
                f"{_where(path)}[{index}]: {_bad_directive(directive)} (remove values from this list"
                f" with {_DELETE_FROM}/<field>)"
            )
        if isinstance(item, dict | list):
            raise PatchError(
                f"{_where(path)}[{index}]: this list merges as a set and takes only plain values"
            )
        values.append(item)
    if replace:
        return values
    merged: list[Any] = []
    seen: set[Hashable] = set()
    for item in [*live, *values]:
        if (item_id := _ident(item)) not in seen:
            seen.add(item_id)
            merged.append(item)
    return _normalize_order(merged, _ident, [_ident(value) for value in values], _positions(live, _ident))


def _set_element_order(
    current: list[Any],
    order: list[Any],
    patch_list: Any,
    server: Mapping[Hashable, int],
    field: Field,
    path: str,
) -> list[Any]:
    """Impose a `$setElementOrder/<field>` list (patch.go mergePatchIntoOriginal)."""
    where = _where(path)
    key = field.merge_key
    wanted: list[Hashable] = []
    for index, entry in enumerate(order):
        if key and not (isinstance(entry, dict) and key in entry):
            raise PatchError(f"{where}[{index}]: does not contain declared merge key {key!r}")
        if not key and isinstance(entry, dict | list):
            raise PatchError(f"{where}[{index}]: expected a plain value")
        wanted.append(_ident(entry[key] if key else entry))
    if isinstance(patch_list, list) and wanted:
        # patch.go validatePatchWithSetOrderList: the patch list must follow
        # the order list (entries carrying a $patch directive are skipped;
        # an empty order list checks nothing).
        ident = _identity(field)
        cursor = 0
        for item in patch_list:
            if isinstance(item, dict) and _DIRECTIVE in item:
                continue
            item_id = ident(item)
            while cursor < len(wanted) and wanted[cursor] != item_id:
                cursor += 1
            if cursor == len(wanted):
                raise PatchError(
                    f"{where}: the order of the patch list does not match the $setElementOrder list"
                )
            cursor += 1
    return _normalize_order(current, _identity(field), wanted, server)


def _normalize_order(
    items: list[Any],
    ident: Callable[[Any], Hashable | None],
    wanted: list[Hashable],
    server: Mapping[Hashable, int],
) -> list[Any]:
    """Order a merged list as patch.go normalizeElementOrder does.

    Items named by the patch (`wanted`) take the patch's order; the others
    keep their live order; the two runs are then interleaved by live position
    (mergeSortedSlice): a live-only item goes before the next patch item only
    when both have a live position and its own is earlier. So an item that is
    new to the list comes before the live-only items still waiting, which is
    why a plain `kubectl patch` adding a container puts it first.
    """
    rank: dict[Hashable, int] = {}
    for index, item_id in enumerate(wanted):
        rank.setdefault(item_id, index)
    chosen = sorted((item for item in items if ident(item) in rank), key=lambda item: rank[ident(item)])
    others = [item for item in items if ident(item) not in rank]
    result: list[Any] = []
    i = j = 0
    while i < len(others) and j < len(chosen):
        left, right = server.get(ident(others[i])), server.get(ident(chosen[j]))
        if left is not None and right is not None and left < right:
            result.append(others[i])
            i += 1
        else:
            result.append(chosen[j])
            j += 1
    return [*result, *others[i:], *chosen[j:]]


def _retain_keys(live: dict[str, Any], patch: Mapping[str, Any], path: str) -> None:
    # patch.go applyRetainKeysDirective: every field the patch sets must be
    # listed, and live fields not listed are cleared (volumes, Deployment
    # spec.strategy: switching a union member drops the old one).
    keys = patch[_RETAIN_KEYS]
    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        raise PatchError(f"{_where(path)}: {_RETAIN_KEYS} must be a list of field names")
    keep = set(keys)
    for key, value in patch.items():
        if value is not None and not _is_directive_key(key) and key not in keep:
            raise PatchError(
                f"{_where(path)}: field {key!r} is set by the patch but missing from {_RETAIN_KEYS}"
            )
    for key in [key for key in live if key not in keep]:
        del live[key]


def _parallel_list_name(key: str, prefix: str, value: Any, path: str) -> str:
    name = key[len(prefix) + 1 :] if key.startswith(prefix + "/") else ""
    if not name:
        raise PatchError(f"{_where(path)}: {key!r} must have the form {prefix}/<field>")
    if not isinstance(value, list):
        raise PatchError(f"{_where(path)}: {key} must be a list")
    return name


def _is_directive_key(key: str) -> bool:
    return key in (_DIRECTIVE, _RETAIN_KEYS) or key.startswith((_SET_ORDER, _DELETE_FROM))


def _bad_directive(directive: Any) -> str:
    expected = ", ".join(f'"{name}"' for name in _DIRECTIVES)
    return f"unknown {_DIRECTIVE} directive {json.dumps(directive)}; expected one of {expected}"


def _strategies(field: Field) -> set[str]:
    return {part.strip() for part in field.patch_strategy.split(",") if part.strip()}


def _merges(field: Field) -> bool:
    """A list field that merges (by key or as a set) rather than being replaced."""
    return field.list and not field.map and "merge" in _strategies(field)


def _identity(field: Field) -> Callable[[Any], Hashable | None]:
    """How list elements are told apart: their merge key's value, or themselves."""
    key = field.merge_key
    if not key:
        return _ident

    def by_key(item: Any) -> Hashable | None:
        return _ident(item[key]) if isinstance(item, dict) and key in item else None

    return by_key


def _positions(items: Any, ident: Callable[[Any], Hashable | None]) -> dict[Hashable, int]:
    positions: dict[Hashable, int] = {}
    if isinstance(items, list):
        for index, item in enumerate(items):
            if (item_id := ident(item)) is not None:
                positions.setdefault(item_id, index)
    return positions


def _ident(value: Any) -> Hashable:
    """A hashable stand-in with JSON equality (1 == 1.0, but True != 1)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer():
            return ("number", int(value))
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null",)
    return ("json", json.dumps(value, sort_keys=True, default=str))


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _where(path: str) -> str:
    return path or "patch"
