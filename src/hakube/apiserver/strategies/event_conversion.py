"""Events in two versions: core/v1 (stored) and events.k8s.io/v1 (converted at the edge).

kube-apiserver keeps one storage for both APIs (`/registry/events/<ns>/<name>`,
encoded as core/v1) and converts every request and response through the
internal `core.Event` (k/k `pkg/registry/events/rest/storage_events.go` hands
events.k8s.io the core event store). The mapping is k/k
`pkg/apis/events/v1/conversion.go` (Convert_v1_Event_To_core_Event and back)
on top of the generated `autoConvert_*` in `zz_generated.conversion.go`:

    events.k8s.io/v1            core/v1
    regarding                   involvedObject
    note                        message
    reportingController         reportingComponent   (core's JSON name for ReportingController)
    deprecatedSource            source
    deprecatedFirstTimestamp    firstTimestamp
    deprecatedLastTimestamp     lastTimestamp
    deprecatedCount             count
    eventTime, series, reportingInstance, action, reason, related, type: same name, copied

Nothing is defaulted on the way (events.k8s.io/v1 registers no defaulters,
`zz_generated.defaults.go`): an Event written through core/v1 with only
`source.component` reads back through events.k8s.io with `deprecatedSource.component`
set and no `reportingController`; only the `source` field selector falls back
from one to the other (see events.py).

Every field exists in both versions, so the conversion is a renaming of
top-level keys: a key is kept when present (null included) and left out when
absent, which makes the two functions exact inverses.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from hakube.apiserver.strategy import Obj

CORE_API_VERSION = "v1"
EVENTS_API_VERSION = "events.k8s.io/v1"

# events.k8s.io/v1 field → core/v1 field; the fields not listed have the same name in both.
_TO_CORE: Mapping[str, str] = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_FROM_CORE: Mapping[str, str] = {core: events for events, core in _TO_CORE.items()}

# events.k8s.io/v1 field labels → the core field labels they select on (k/k
# pkg/apis/events/v1/conversion.go AddFieldLabelConversionsForEvent): selection
# always happens on the stored (core) Event, as kube matches on the internal object.
FIELD_LABELS: Mapping[str, str] = {
    "metadata.name": "metadata.name",
    "metadata.namespace": "metadata.namespace",
    "reason": "reason",
    "regarding.kind": "involvedObject.kind",
    "regarding.namespace": "involvedObject.namespace",
    "regarding.name": "involvedObject.name",
    "regarding.uid": "involvedObject.uid",
    "regarding.apiVersion": "involvedObject.apiVersion",
    "regarding.resourceVersion": "involvedObject.resourceVersion",
    "regarding.fieldPath": "involvedObject.fieldPath",
    "reportingController": "reportingComponent",
    # Upstream keeps it ("Do we still need to support selection by source?").
    "source": "source",
    "type": "type",
}


def _renamed(obj: Mapping[str, Any], names: Mapping[str, str], api_version: str) -> Obj:
    out: Obj = {}
    for key, value in obj.items():
        out[names.get(key, key)] = copy.deepcopy(value)
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def to_core(event: Mapping[str, Any]) -> Obj:
    """An events.k8s.io/v1 Event as core/v1 (a new object; Convert_v1_Event_To_core_Event)."""
    return _renamed(event, _TO_CORE, CORE_API_VERSION)


def from_core(event: Mapping[str, Any]) -> Obj:
    """A core/v1 Event as events.k8s.io/v1 (a new object; Convert_core_Event_To_v1_Event)."""
    return _renamed(event, _FROM_CORE, EVENTS_API_VERSION)

