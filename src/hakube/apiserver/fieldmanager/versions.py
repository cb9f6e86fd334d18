"""Field ownership across API versions of one stored object.

Each managedFields entry names the API version its field set is written in
(core/v1 `f:message` and events.k8s.io/v1 `f:note` are one field). smd's
Updater (`merge/update.go`) therefore converts the old and new objects to every
manager's version before comparing, so that a change made through one version
takes ownership away from managers of another, conflicts with them on apply,
and a prune in one version keeps what a manager of another version still owns
(`addBackOwnedItems`). This module is that conversion-aware comparison;
without a `Versions` (a resource served in one version only) everything is
compared in the objects' own version, as before.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from hakube.apiserver.fieldmanager import fieldpath, merge
from hakube.apiserver.fieldmanager.fieldpath import Path, Shape, type_shape

Obj = dict[str, Any]
Filter = Callable[[set[Path]], set[Path]]


class Versions(Protocol):
    """The versions an object is served in, and conversion between them."""

    def convert(self, obj: Obj, source: str, target: str) -> Obj | None:
        """`obj` (in `source`) in version `target` (a new object), or None when it cannot be converted."""

    def type_name(self, api_version: str) -> str | None:
        """The schema type of the object in `api_version`."""


class Views:
    """Objects seen in each API version, converted once per version."""

    def __init__(self, objects: tuple[Obj | None, ...], *, version: str, type_name: str | None,
                 versions: Versions | None) -> None:
        self.version = version
        self.versions = versions
        self._own = (objects, type_shape(type_name))
        self._cache: dict[str, tuple[tuple[Obj | None, ...], Shape] | None] = {version: self._own}

    def converted(self, api_version: str) -> tuple[tuple[Obj | None, ...], Shape] | None:
        """The objects in `api_version` with its shape, or None when they cannot be converted."""
        if api_version not in self._cache:
            found = None
            if self.versions is not None and api_version:
                own = self._own[0]
                converted = tuple(None if o is None else self.versions.convert(o, self.version, api_version)
                                  for o in own)
                if all(c is not None or o is None for c, o in zip(converted, own, strict=True)):
                    found = (converted, type_shape(self.versions.type_name(api_version)))
            self._cache[api_version] = found
        return self._cache[api_version]

    def at(self, api_version: str) -> tuple[tuple[Obj | None, ...], Shape]:
        """The objects in `api_version`, or in their own version when that one is unknown."""
        return self.converted(api_version) or self._own


class Changes:
    """What changed from `old` to `new`, in whichever version a manager's fields are written."""

    def __init__(self, old: Obj | None, new: Obj, *, version: str, type_name: str | None,
                 versions: Versions | None, keep: Filter) -> None:
        self._views = Views((old, new), version=version, type_name=type_name, versions=versions)
        self._keep = keep
        self._seen: dict[str, tuple[set[Path], set[Path]]] = {}

    def at(self, api_version: str) -> tuple[set[Path], set[Path]]:
        """(added or modified, removed) field paths, as `api_version` names them."""
        if api_version not in self._seen:
            (old, new), shape = self._views.at(api_version)
            added, modified, removed = fieldpath.compare(old or {}, new, shape)
            self._seen[api_version] = (self._keep(added | modified), self._keep(removed))
        return self._seen[api_version]


def add_back_owned(merged: Obj, pruned: Obj, *, version: str, type_name: str | None, versions: Versions | None,
                   owned_elsewhere: Iterable[tuple[str, set[Path]]]) -> Obj:
    """`pruned` with what managers of other versions own restored from `merged` (smd addBackOwnedItems):
    a prune is computed in one version, and may remove a field that another version names and a
    manager of that version owns. Both objects are in `version`; `owned_elsewhere` lists
    (version, owned fields) for every version but the one the prune was computed in."""
    if versions is None:
        return pruned
    for api_version, owned in owned_elsewhere:
        if not owned:
            continue
        found = Views((merged, pruned), version=version, type_name=type_name, versions=versions).converted(
            api_version)
        if found is None:
            continue  # not convertible: nothing known to restore
        (m_view, p_view), shape = found
        lost = fieldpath.to_field_set(m_view, shape) - fieldpath.to_field_set(p_view, shape)
        prefixes = {p[:n] for p in owned for n in range(1, len(p))}
        if not any(p in owned or p in prefixes for p in lost):
            continue
        assert m_view is not None
        restored = copy.deepcopy(m_view)
        merge.remove_paths(restored, shape, {p for p in lost if p not in owned and p not in prefixes})
        back = versions.convert(restored, api_version, version)
        if back is not None:
            pruned = back
    return pruned
