"""managedFields bookkeeping for updates and applies.

kube-apiserver `pkg/endpoints/handlers/fieldmanager` over smd `merge/update.go`:
an Update (create, PUT, non-apply PATCH) gives its manager the fields it added
or changed and takes them from everyone else; an Apply replaces the manager's
set with the fields of its configuration, fails on fields another manager owns
whose value it would change (unless forced, which takes them), and prunes the
fields it applied before, no longer applies and nobody else owns.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hakube.apiserver import status, timefmt
from hakube.apiserver.fieldmanager import fieldpath, merge
from hakube.apiserver.fieldmanager.fieldpath import Path, type_shape
from hakube.apiserver.fieldmanager.versions import Changes, Versions, Views, add_back_owned
from hakube.apiserver.strategy import Obj

# Fields nobody owns (apiserver fieldmanager `internal/stripmeta.go`).
_IGNORED_META = ("name", "namespace", "creationTimestamp", "selfLink", "uid", "generation", "managedFields",
                 "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds")
_IGNORED: frozenset[Path] = frozenset(
    {(("f", "apiVersion"),), (("f", "kind"),)} | {(("f", "metadata"), ("f", m)) for m in _IGNORED_META})
_MAX_MANAGER = 128


@dataclass
class Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: set[Path]
    subresource: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.manager, self.operation, self.subresource)

    def to_json(self) -> Obj:
        out: Obj = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                    "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": fieldpath.encode(self.fields)}
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def default_manager(user_agent: str) -> str:
    """The manager of a write without `fieldManager`: the User-Agent up to its first `/`
    (apiserver handlers/rest.go prefixFromUserAgent)."""
    return (user_agent.split("/")[0].strip() or "unknown")[:_MAX_MANAGER]


def decode_entries(raw: Any) -> list[Entry]:
    """managedFields as entries; ValueError when malformed."""
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    entries: list[Entry] = []
    for item in raw:
        if not isinstance(item, dict) or item.get("operation") not in ("Apply", "Update"):
            raise ValueError("a managedFields entry needs an operation Apply or Update")
        if item.get("fieldsType", "FieldsV1") != "FieldsV1":
            raise ValueError(f"unsupported fieldsType {item.get('fieldsType')!r}")
        entries.append(Entry(manager=str(item.get("manager") or ""), operation=item["operation"],
                             api_version=str(item.get("apiVersion") or ""), time=str(item.get("time") or ""),
                             fields=fieldpath.decode(item.get("fieldsV1") or {}),
                             subresource=str(item.get("subresource") or "")))
    return entries


def _entries_of(obj: Obj | None) -> list[Entry]:
    try:
        return decode_entries(((obj or {}).get("metadata") or {}).get("managedFields") or [])
    except (ValueError, TypeError):
        return []  # a stored object with unreadable entries starts over


def _filter(paths: set[Path], *, subresource: str, has_status: bool) -> set[Path]:
    """Drop fields nobody owns, and those the endpoint resets (status on the main
    resource of a kind with /status; everything but status on /status)."""
    out = set()
    for p in paths:
        if not p or p[:1] in _IGNORED or p[:2] in _IGNORED:
            continue
        if subresource == "status" and p[0] != ("f", "status"):
            continue
        if subresource == "" and has_status and p[0] == ("f", "status"):
            continue
        out.add(p)
    return out


def _store(obj: Obj, entries: list[Entry]) -> None:
    kept = [e.to_json() for e in entries if e.fields]
    meta = obj.setdefault("metadata", {})
    if kept:
        meta["managedFields"] = kept
    else:
        meta.pop("managedFields", None)


def record_update(
    old: Obj | None, new: Obj, *, manager: str, incoming: Any, api_version: str, type_name: str | None,
    subresource: str = "", has_status: bool = False, versions: Versions | None = None, stored_version: str = "",
) -> None:
    """Set `new`'s managedFields after a create or update by `manager` (smd Updater.Update).

    `incoming` is the managedFields the request carried: an empty list resets
    them, valid entries replace the live ones (not on subresources, unless there
    is no `manager`: an apply computed them); an empty `manager` records nothing new.
    `old` and `new` are in `stored_version` (default: `api_version`), whose schema is
    `type_name`; the write is recorded as made in `api_version`, and with `versions`
    every manager loses the fields that changed as its own version names them."""
    if incoming == [] and not subresource:
        new["metadata"].pop("managedFields", None)
        return
    entries = _entries_of(old)
    if incoming and (not subresource or not manager):
        try:
            entries = decode_entries(incoming)
        except (ValueError, TypeError):
            pass
    if manager:
        changes = Changes(old, new, version=stored_version or api_version, type_name=type_name, versions=versions,
                          keep=lambda paths: _filter(paths, subresource=subresource, has_status=has_status))
        for e in entries:
            e_changed, e_removed = changes.at(e.api_version)
            e.fields -= e_changed | e_removed
        changed, _removed = changes.at(api_version)
        # An Update is identified with its version (apiserver managedfields internal/manager.go
        # BuildManagerIdentifier keeps APIVersion for everything but Apply): a manager writing
        # through two versions has an entry for each, whose fields are named in its version.
        mine = next((e for e in entries if e.key == (manager, "Update", subresource)
                     and e.api_version == api_version), None)
        if mine is None:
            mine = Entry(manager, "Update", api_version, "", set(), subresource)
            entries.append(mine)
        if changed:
            mine.fields |= changed
            mine.time = timefmt.now_time()
    _store(new, entries)


def apply(
    live: Obj | None, applied: Obj, *, manager: str, force: bool, api_version: str, type_name: str | None,
    subresource: str = "", has_status: bool = False, versions: Versions | None = None,
) -> Obj:
    """The object after `manager` applies `applied` to `live` (None: absent) (smd Updater.Apply).

    `live` and `applied` are in `api_version`; with `versions`, managers of other
    versions conflict and keep their fields as their versions name them.
    Raises a 409 naming the conflicting fields and managers unless `force`."""
    shape = type_shape(type_name)

    def keep(paths: set[Path]) -> set[Path]:
        return _filter(paths, subresource=subresource, has_status=has_status)

    applied = copy.deepcopy(applied)
    applied.setdefault("metadata", {}).pop("managedFields", None)
    if subresource == "" and has_status:
        applied.pop("status", None)
    base = live if live is not None else {"metadata": {}}
    entries = _entries_of(live)
    merged: Obj = merge.merge(base, applied, shape)
    changes = Changes(base, merged, version=api_version, type_name=type_name, versions=versions, keep=keep)
    applied_set = keep(fieldpath.to_field_set(applied, shape))
    key = (manager, "Apply", subresource)
    conflicts = [(e, sorted(e.fields & changes.at(e.api_version)[0])) for e in entries if e.key != key]
    conflicts = [(e, paths) for e, paths in conflicts if paths]
    if conflicts and not force:
        raise conflict_error(conflicts)
    for e, paths in conflicts:
        e.fields -= set(paths)
    mine = next((e for e in entries if e.key == key), None)
    if mine is None:
        mine = Entry(manager, "Apply", api_version, "", set(), subresource)
        entries.append(mine)
    last, last_version = mine.fields, mine.api_version
    mine.fields, mine.time, mine.api_version = applied_set, timefmt.now_time(), api_version
    if last:
        merged = _prune(merged, applied, last, last_version, entries, api_version=api_version, type_name=type_name,
                        versions=versions, keep=keep)
    _store(merged, entries)
    return merged


def _prune(merged: Obj, applied: Obj, last: set[Path], last_version: str, entries: list[Entry], *,
           api_version: str, type_name: str | None, versions: Versions | None,
           keep: Callable[[set[Path]], set[Path]]) -> Obj:
    """Remove what the applier applied last time, applies no more, and nobody else owns (smd Updater.prune).

    The prune happens in the version of the last applied set; managers of other
    versions then get their fields back (add_back_owned)."""
    version, target, config, shape = api_version, merged, applied, type_shape(type_name)
    if versions is not None and last_version != api_version:
        found = Views((merged, applied), version=api_version, type_name=type_name, versions=versions).converted(
            last_version)
        if found is not None:
            (converted, converted_config), shape = found
            assert converted is not None and converted_config is not None
            version, target, config = last_version, converted, converted_config
    owned_by: dict[str, set[Path]] = {}
    for e in entries:
        owned_by.setdefault(e.api_version if versions is not None else version, set()).update(e.fields)
    owned = owned_by.get(version, set())
    prefixes = {p[:n] for p in owned for n in range(1, len(p))}
    gone = {p for p in last - keep(fieldpath.to_field_set(config, shape)) if p not in owned and p not in prefixes}
    elsewhere = [(v, f) for v, f in owned_by.items() if v != version and f]
    if versions is None or (version == api_version and not elsewhere):
        merge.remove_paths(target, shape, gone)  # all fields named in one version: prune in place
        return target
    pruned = copy.deepcopy(target)
    merge.remove_paths(pruned, shape, gone)
    if version != api_version:
        pruned = versions.convert(pruned, version, api_version) or merged
    return add_back_owned(merged, pruned, version=api_version, type_name=type_name, versions=versions,
                          owned_elsewhere=elsewhere)


def _describe(e: Entry) -> str:
    """apiserver fieldmanager internal/conflict.go printManager (the identifier carries no time)."""
    text = f'"{e.manager}"'
    if e.subresource:
        text += f' with subresource "{e.subresource}"'
    if e.operation == "Update":
        text += f" using {e.api_version}"
    return text


def conflict_error(conflicts: list[tuple[Entry, list[Path]]]) -> status.StatusError:
    """409 with a FieldManagerConflict cause per field (apiserver internal/conflict.go NewConflictError)."""
    causes = [{"type": "FieldManagerConflict", "message": f"conflict with {_describe(e)}",
               "field": fieldpath.render(p)} for e, paths in conflicts for p in paths]
    if len(causes) == 1:
        message = f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}"
    else:
        lines = []
        for e, paths in sorted(conflicts, key=lambda c: _describe(c[0])):
            lines.append(f"conflicts with {_describe(e)}:")
            lines.extend(f"- {fieldpath.render(p)}" for p in paths)
        message = f"Apply failed with {len(causes)} conflicts: " + "\n".join(lines)
    return status.StatusError(409, "Conflict", message, details={"causes": causes})


def check_manager(name: str) -> None:
    if len(name) > _MAX_MANAGER:
        raise status.StatusError(422, "Invalid", f'PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                 f"Too long: may not be more than {_MAX_MANAGER} bytes")
