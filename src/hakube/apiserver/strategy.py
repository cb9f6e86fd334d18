"""What differs per resource, and nothing else (Kubernetes' RESTCreateStrategy & co).

The generic registry does create/get/list/update/patch/delete/watch for every
resource; a Strategy supplies defaults, validation, the spec/status split,
selectable fields and graceful-deletion rules (k/k `pkg/registry/*/strategy.go`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hakube.apiserver import names

Obj = dict[str, Any]
Cause = dict[str, str]


def cause(path: str, message: str, reason: str = "FieldValueInvalid") -> Cause:
    return {"reason": reason, "message": message, "field": path}


def required(path: str) -> Cause:
    return cause(path, "Required value", "FieldValueRequired")


def invalid_value(path: str, value: Any, detail: str) -> Cause:
    """field.Invalid as rendered by apimachinery: `Invalid value: "x": detail`."""
    shown = f'"{value}"' if isinstance(value, str) else str(value)
    return cause(path, f"Invalid value: {shown}: {detail}")


def _without(obj: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in keys}


@dataclass(frozen=True)
class Strategy:
    """Default behaviour; resources override what they need."""

    # The resource has a /status subresource: the main endpoint ignores .status
    # changes and /status ignores everything else (API-COMPAT.md §5).
    has_status: bool = False
    # Names must be DNS-1123 labels (namespaces, services) rather than subdomains.
    name_is_label: bool = False
    # Field selectors beyond metadata.name / metadata.namespace.
    extra_fields: tuple[str, ...] = ()
    # PUT without resourceVersion is an unconditional update (AllowUnconditionalUpdate).
    allow_unconditional_update: bool = True
    # Resources with a spec bump generation when it changes; others never do.
    tracks_generation: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # "group/version" the objects are stored in when this resource is served in
    # another version (autoscaling/v1 HPAs are stored as autoscaling/v2); the two
    # methods below convert at the edge, as kube converts through its internal version.
    storage_version: str = ""

    # -- versions ---------------------------------------------------------

    def to_storage_version(self, obj: Obj) -> Obj:
        """A request body in the served version, as stored (a new object)."""
        return obj

    def from_storage_version(self, obj: Obj) -> Obj:
        """A stored object in the served version (a new object; the input is shared)."""
        return obj

    # -- create / update --------------------------------------------------

    def prepare_for_create(self, obj: Obj) -> None:
        """Server-set defaults on create (status reset, defaults)."""

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Keep what the main endpoint may not change (status when it has its own endpoint)."""
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """/status writes: everything but .status comes from the stored object."""
        status = new.get("status")
        new.clear()
        new.update(_without(old, "status"))
        new["metadata"] = dict(old["metadata"])
        if status is not None:
            new["status"] = status

    def validate(self, obj: Obj) -> list[Cause]:
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        return self.validate(new)

    def spec_changed(self, new: Obj, old: Obj) -> bool:
        """Whether `generation` moves: any change outside metadata and status."""
        return _without(new, "metadata", "status") != _without(old, "metadata", "status")

    # -- reads ------------------------------------------------------------

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """The field labels of the served version, valued from `obj` as stored (kube converts a
        selector's labels to the internal version's and matches the internal object)."""
        meta = obj.get("metadata", {})
        fields = {"metadata.name": meta.get("name", "")}
        if "namespace" in meta:
            fields["metadata.namespace"] = meta.get("namespace", "")
        for path in self.extra_fields:
            fields[path] = _field_value(obj, path)
        return fields

    def allowed_fields(self) -> set[str]:
        return {"metadata.name", "metadata.namespace", *self.extra_fields}

    # -- delete -----------------------------------------------------------

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds of graceful deletion; 0 deletes at once (CheckGracefulDelete)."""
        return 0

    def name_errors(self, name: str) -> list[str]:
        if self.name_is_label:
            return names.dns1123_label_errors(name)
        return names.dns1123_subdomain_errors(name)


def _field_value(obj: Mapping[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)
