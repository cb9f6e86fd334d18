"""managedFields of an object served in two versions (core/v1 and events.k8s.io/v1 Events).

smd `merge/update.go` compares objects in each manager's version: ownership,
conflicts and pruning agree whichever API a manager writes through.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hakube.apiserver import status
from hakube.apiserver.fieldmanager import manager
from hakube.apiserver.resources import ResourceTable
from hakube.apiserver.schema.registry import type_for
from hakube.apiserver.strategies import event_conversion as conv
from hakube.apiserver.versions import StorageVersions, storage_versions

CORE, EVENTS = "v1", "events.k8s.io/v1"
CORE_TYPE, EVENTS_TYPE = type_for("", "v1", "Event"), type_for("events.k8s.io", "v1", "Event")


def _versions() -> StorageVersions:
    resource = ResourceTable().lookup("events.k8s.io", "v1", "events")
    assert resource is not None
    found = storage_versions(resource)
    assert found is not None and set(found.served) == {CORE, EVENTS} and found.storage == CORE
    return found


def _core(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": CORE, "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Pulled", **fields}


def _entries(obj: dict[str, Any]) -> dict[tuple[str, str, str], set[str]]:
    """(manager, operation, apiVersion) → top-level fields owned (but metadata)."""
    return {(e.manager, e.operation, e.api_version): {p[0][1] for p in e.fields} - {"metadata"}
            for e in manager.decode_entries(obj["metadata"].get("managedFields") or [])}


def _update(old: dict[str, Any] | None, new: dict[str, Any], who: str, api_version: str) -> dict[str, Any]:
    """A write through `api_version`, recorded on the stored (core) objects as the registry does."""
    new = copy.deepcopy(new)
    manager.record_update(old, new, manager=who, incoming=None, api_version=api_version, type_name=CORE_TYPE,
                          versions=_versions(), stored_version=CORE)
    return new


def _apply(live_core: dict[str, Any] | None, cfg: dict[str, Any], who: str, *, force: bool = False) -> dict[str, Any]:
    """An apply through the version `cfg` names; returns the stored (core) result."""
    version = cfg["apiVersion"]
    live = live_core if live_core is None or version == CORE else conv.from_core(live_core)
    merged = manager.apply(live, cfg, manager=who, force=force, api_version=version,
                           type_name=CORE_TYPE if version == CORE else EVENTS_TYPE, versions=_versions())
    return merged if version == CORE else conv.to_core(merged)


def test_updates_are_recorded_in_the_version_of_the_request() -> None:
    created = _update(None, _core(message="one"), "recorder", EVENTS)
    assert _entries(created) == {("recorder", "Update", EVENTS): {"regarding", "reason", "note"}}
    # The same manager through core/v1 gets a second entry, named in core's fields.
    changed = _update(created, {**created, "message": "two"}, "recorder", CORE)
    assert _entries(changed) == {("recorder", "Update", EVENTS): {"regarding", "reason"},
                                 ("recorder", "Update", CORE): {"message"}}


def test_a_change_through_one_version_takes_the_field_from_managers_of_the_other() -> None:
    created = _update(None, _core(message="one", type="Normal"), "new-api", EVENTS)
    edited = _update(created, {**created, "message": "two"}, "kubectl", CORE)
    assert _entries(edited)[("new-api", "Update", EVENTS)] == {"regarding", "reason", "type"}
    assert _entries(edited)[("kubectl", "Update", CORE)] == {"message"}


def test_apply_conflicts_with_a_manager_of_the_other_version() -> None:
    created = _update(None, _core(message="one"), "core-writer", CORE)
    cfg = {"apiVersion": EVENTS, "kind": "Event", "metadata": {"name": "e", "namespace": "default"}, "note": "two"}
    with pytest.raises(status.StatusError) as err:
        _apply(created, cfg, "applier")
    assert err.value.code == 409
    assert 'conflict with "core-writer" using v1: .message' in str(err.value.message)
    forced = _apply(created, cfg, "applier", force=True)
    assert forced["message"] == "two"
    assert _entries(forced) == {("core-writer", "Update", CORE): {"involvedObject", "reason"},
                                ("applier", "Apply", EVENTS): {"note"}}


def test_a_prune_keeps_what_a_manager_of_the_other_version_owns() -> None:
    base = {"kind": "Event", "metadata": {"name": "e", "namespace": "default"}, "reason": "Pulled"}
    first = _apply(None, {**base, "apiVersion": EVENTS, "note": "shared"}, "new-api")
    both = _apply(first, {**base, "apiVersion": CORE, "message": "shared"}, "old-api")
    assert _entries(both)[("old-api", "Apply", CORE)] == {"message", "reason"}
    # new-api stops applying its note; old-api still applies the same field as `message`.
    kept = _apply(both, {**base, "apiVersion": EVENTS}, "new-api")
    assert kept["message"] == "shared"
    # Once nobody applies it, it goes.
    gone = _apply(kept, {**base, "apiVersion": CORE}, "old-api")
    assert "message" not in gone


def test_an_applier_switching_versions_prunes_what_it_applied_before() -> None:
    base = {"kind": "Event", "metadata": {"name": "e", "namespace": "default"}, "reason": "Pulled"}
    first = _apply(None, {**base, "apiVersion": CORE, "message": "m", "type": "Normal"}, "applier")
    # The same manager (an Apply is identified without its version) drops `note` (core's message).
    second = _apply(first, {**base, "apiVersion": EVENTS, "type": "Normal"}, "applier")
    assert "message" not in second and second["type"] == "Normal"
    assert _entries(second) == {("applier", "Apply", EVENTS): {"reason", "type"}}
