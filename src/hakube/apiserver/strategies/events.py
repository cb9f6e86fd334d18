"""Events, served as core/v1 and as events.k8s.io/v1 from one storage.

Both resources use kube's one event strategy (k/k `pkg/registry/core/event/strategy.go`):
no defaults, create-on-update, validation by the version of the request
(`pkg/apis/core/validation/events.go`) and field selection on the stored core
Event. The events.k8s.io strategy only adds the conversion (event_conversion.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hakube.apiserver.names import qualified_name_errors
from hakube.apiserver.strategies import event_conversion as conv
from hakube.apiserver.strategy import Cause, Obj, Strategy, cause, invalid_value, required

# pkg/apis/core/validation/events.go
REPORTING_INSTANCE_LENGTH_LIMIT = 128
ACTION_LENGTH_LIMIT = 128
REASON_LENGTH_LIMIT = 128
NOTE_LENGTH_LIMIT = 1024

# The field labels of core/v1 Events (k/k pkg/apis/core/v1/conversion.go AddFieldLabelConversionsForEvent).
CORE_FIELD_LABELS = (
    "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
    "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
    "reason", "reportingComponent", "source", "type",
)
_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")


def _str(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def selectable_fields(event: Obj) -> dict[str, str]:
    """The field set of a stored (core/v1) Event (k/k pkg/apis/events/selection.go EventToSelectableFields)."""
    meta = _dict(event.get("metadata"))
    involved = _dict(event.get("involvedObject"))
    # `source` is the old API's component, else the new API's controller, so that one
    # selector finds events of both kinds of recorder.
    source = _str(_dict(event.get("source")).get("component")) or _str(event.get("reportingComponent"))
    fields = {f"involvedObject.{key}": _str(involved.get(key)) for key in _INVOLVED}
    fields.update({
        "metadata.name": _str(meta.get("name")), "metadata.namespace": _str(meta.get("namespace")),
        "reason": _str(event.get("reason")), "reportingComponent": _str(event.get("reportingComponent")),
        "source": source, "type": _str(event.get("type")),
    })
    return fields


# -- validation (pkg/apis/core/validation/events.go), on the stored core/v1 form ----------------------------


def _unset_time(value: Any) -> bool:
    return value is None or value == ""


def _too_long(path: str, value: Any, limit: int) -> list[Cause]:
    if len(_str(value)) > limit:
        return [invalid_value(path, "", f"can have at most {limit} characters")]
    return []


def legacy_validate(event: Obj, *, core_request: bool) -> list[Cause]:
    """legacyValidateEvent: what every Event must satisfy, whichever API wrote it."""
    causes: list[Cause] = []
    namespace = _str(_dict(event.get("metadata")).get("namespace"))
    involved_ns = _str(_dict(event.get("involvedObject")).get("namespace"))
    mismatch = invalid_value("involvedObject.namespace", involved_ns, "does not match event.namespace")
    if _unset_time(event.get("eventTime")):
        # An old-style Event: its namespace is the involved object's ("default" for cluster objects).
        if not involved_ns:
            if namespace not in ("", "default"):
                causes.append(mismatch)
        elif namespace != involved_ns:
            causes.append(mismatch)
        return causes
    # A new-style Event (eventTime set) names its reporter and what it did; the message names
    # the field as the request's version spells it.
    controller_field = "reportingComponent" if core_request else "reportingController"
    if not involved_ns and namespace not in ("default", "kube-system"):
        causes.append(mismatch)
    controller = _str(event.get("reportingComponent"))
    if not controller:
        causes.append(required(controller_field))
    causes.extend(invalid_value(controller_field, controller, msg) for msg in qualified_name_errors(controller))
    for path, limit in (("reportingInstance", REPORTING_INSTANCE_LENGTH_LIMIT), ("action", ACTION_LENGTH_LIMIT),
                        ("reason", REASON_LENGTH_LIMIT)):
        if not _str(event.get(path)):
            causes.append(required(path))
        causes.extend(_too_long(path, event.get(path), limit))
    causes.extend(_too_long("message", event.get("message"), NOTE_LENGTH_LIMIT))
    return causes


def _validate_series(event: Obj) -> list[Cause]:
    series = event.get("series")
    if not isinstance(series, dict):
        return []
    causes: list[Cause] = []
    count = series.get("count")
    if not isinstance(count, int) or count < 2:
        causes.append(invalid_value("series.count", "", "should be at least 2"))
    if _unset_time(series.get("lastObservedTime")):
        causes.append(required("series.lastObservedTime"))
    return causes


def strict_validate_create(event: Obj) -> list[Cause]:
    """ValidateEventCreate beyond the legacy rules: events.k8s.io/v1 creates only."""
    causes = _validate_series(event)
    if _unset_time(event.get("eventTime")):
        causes.append(required("eventTime"))
    kind = _str(event.get("type"))
    if kind not in ("Normal", "Warning"):
        causes.append(invalid_value("type", "", f"has invalid value: {kind}"))
    # The old API's fields stay unset in the new one (paths are the internal type's).
    for path in ("firstTimestamp", "lastTimestamp"):
        if not _unset_time(event.get(path)):
            causes.append(invalid_value(path, "", "needs to be unset"))
    if event.get("count"):
        causes.append(invalid_value("count", "", "needs to be unset"))
    source = _dict(event.get("source"))
    if source.get("component") or source.get("host"):
        causes.append(invalid_value("source", "", "needs to be unset"))
    return causes


def _zero(value: Any) -> Any:
    """Go's zero values compare equal to an absent field (the validation works on typed objects)."""
    if isinstance(value, dict):
        return {k: _zero(v) for k, v in value.items() if _zero(v) not in (None, "", 0, {}, False)}
    return None if value in ("", 0, {}, False) else value


# ValidateEventUpdate: everything but series (and metadata) is immutable through events.k8s.io.
_IMMUTABLE = ("involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count",
              "type", "eventTime", "action", "related", "reportingComponent", "reportingInstance")
# The internal field names ValidateEventUpdate reports (ReportingController is the internal name).
_UPDATE_PATHS = {"reportingComponent": "reportingController"}


def strict_validate_update(new: Obj, old: Obj) -> list[Cause]:
    """ValidateEventUpdate beyond the legacy rules: events.k8s.io/v1 updates only."""
    causes = _validate_series(new) if _zero(new.get("series")) != _zero(old.get("series")) else []
    for key in _IMMUTABLE:
        if _zero(new.get(key)) != _zero(old.get(key)):
            path = _UPDATE_PATHS.get(key, key)
            value = new.get(key)
            causes.append(cause(path, f"Invalid value: {_render(value)}: field is immutable"))
    return causes


def _render(value: Any) -> str:
    # Go prints the typed value (`core.ObjectReference{...}`); JSON is the closest untyped rendering.
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


# -- strategies -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventStrategy(Strategy):
    """core/v1 Events: only the legacy validation, for backwards compatibility."""

    extra_fields: tuple[str, ...] = CORE_FIELD_LABELS

    def validate(self, obj: Obj) -> list[Cause]:
        return legacy_validate(obj, core_request=True)

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        return legacy_validate(new, core_request=True)

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        return selectable_fields(obj)


@dataclass(frozen=True)
class EventsV1Strategy(EventStrategy):
    """events.k8s.io/v1 Events: the core storage, converted at the edge, validated strictly."""

    storage_version: str = conv.CORE_API_VERSION
    extra_fields: tuple[str, ...] = tuple(k for k in conv.FIELD_LABELS if not k.startswith("metadata."))

    def to_storage_version(self, obj: Obj) -> Obj:
        return conv.to_core(obj)

    def from_storage_version(self, obj: Obj) -> Obj:
        return conv.from_core(obj)

    def validate(self, obj: Obj) -> list[Cause]:
        return legacy_validate(obj, core_request=False) + strict_validate_create(obj)

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        return legacy_validate(new, core_request=False) + strict_validate_update(new, old)

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        # The labels of this version, valued from the stored core Event (field label conversion).
        core = selectable_fields(obj)
        return {label: core[target] for label, target in conv.FIELD_LABELS.items()}
