"""events.k8s.io/v1 ↔ core/v1 Events: the pure conversion, field selection and validation by version.

Expectations follow k/k `pkg/apis/events/v1/conversion.go` (and its conversion_test.go),
`pkg/apis/events/selection.go` and `pkg/apis/core/validation/events.go`.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from hakube.apiserver.selectors import parse_field_selector
from hakube.apiserver.strategies import event_conversion as conv
from hakube.apiserver.strategies.events import EventStrategy, EventsV1Strategy

META = {"name": "web-1.17f", "namespace": "default", "uid": "u-1", "resourceVersion": "42",
        "creationTimestamp": "2024-05-01T10:00:00Z", "labels": {"a": "b"}}
REF = {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "p-1", "apiVersion": "v1",
       "resourceVersion": "7", "fieldPath": "spec.containers{app}"}


def _new_event(**extra: Any) -> dict[str, Any]:
    """An events.k8s.io/v1 Event as client-go's events library writes it."""
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": copy.deepcopy(META),
            "eventTime": "2024-05-01T10:00:00.123456Z", "reportingController": "example.com/scheduler",
            "reportingInstance": "scheduler-1", "action": "Binding", "reason": "Scheduled",
            "regarding": copy.deepcopy(REF), "note": "assigned default/web-1 to node-1", "type": "Normal",
            **extra}


def _old_event(**extra: Any) -> dict[str, Any]:
    """A core/v1 Event as client-go's (old) EventRecorder writes it."""
    return {"apiVersion": "v1", "kind": "Event", "metadata": copy.deepcopy(META),
            "involvedObject": copy.deepcopy(REF), "reason": "Pulled", "message": "image pulled",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2024-05-01T10:00:00Z", "lastTimestamp": "2024-05-01T10:05:00Z", "count": 3,
            "type": "Normal", "eventTime": None, "reportingComponent": "", "reportingInstance": "", **extra}


# -- conversion -------------------------------------------------------------------------------------------


def test_events_to_core_maps_every_field() -> None:
    related = {"kind": "Node", "name": "node-1"}
    series = {"count": 4, "lastObservedTime": "2024-05-01T10:09:00.000001Z"}
    new = _new_event(related=related, series=series, deprecatedSource={"component": "c", "host": "h"},
                     deprecatedFirstTimestamp="2024-05-01T09:00:00Z", deprecatedLastTimestamp="2024-05-01T09:30:00Z",
                     deprecatedCount=2)
    core = conv.to_core(new)
    assert core == {
        "apiVersion": "v1", "kind": "Event", "metadata": META,
        "eventTime": "2024-05-01T10:00:00.123456Z", "reportingComponent": "example.com/scheduler",
        "reportingInstance": "scheduler-1", "action": "Binding", "reason": "Scheduled", "involvedObject": REF,
        "message": "assigned default/web-1 to node-1", "type": "Normal", "related": related, "series": series,
        "source": {"component": "c", "host": "h"}, "firstTimestamp": "2024-05-01T09:00:00Z",
        "lastTimestamp": "2024-05-01T09:30:00Z", "count": 2,
    }


def test_core_to_events_maps_the_deprecated_fields() -> None:
    new = conv.from_core(_old_event())
    assert new["apiVersion"] == "events.k8s.io/v1" and new["kind"] == "Event"
    assert new["regarding"] == REF and new["note"] == "image pulled"
    assert new["deprecatedSource"] == {"component": "kubelet", "host": "node-1"}
    assert (new["deprecatedFirstTimestamp"], new["deprecatedLastTimestamp"], new["deprecatedCount"]) == (
        "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z", 3)
    assert new["reportingController"] == "" and new["eventTime"] is None
    for old_name in ("involvedObject", "message", "source", "firstTimestamp", "lastTimestamp", "count",
                     "reportingComponent"):
        assert old_name not in new


def test_upstream_conversion_test_cases() -> None:
    # k/k pkg/apis/events/v1/conversion_test.go, both directions.
    v1 = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "foo", "namespace": "default"},
          "regarding": {"kind": "Pod", "namespace": "default", "name": "foo"},
          "deprecatedSource": {"component": "controller-manager", "host": "master1"},
          "note": "convert v1 event to core event"}
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "foo", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "foo"},
            "source": {"component": "controller-manager", "host": "master1"},
            "message": "convert v1 event to core event"}
    assert conv.to_core(v1) == core
    assert conv.from_core(core) == v1


@pytest.mark.parametrize("event", [
    _new_event(),
    _new_event(series={"count": 2, "lastObservedTime": "2024-05-01T10:01:00.000000Z"},
               related={"kind": "Node", "name": "n"}),
    _new_event(deprecatedSource={}, deprecatedFirstTimestamp=None, deprecatedLastTimestamp=None),
    {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "bare"}},
])
def test_round_trip_from_events(event: dict[str, Any]) -> None:
    before = copy.deepcopy(event)
    assert conv.from_core(conv.to_core(event)) == event
    assert event == before  # the input is not changed


@pytest.mark.parametrize("event", [
    _old_event(),
    _old_event(series={"count": 5, "lastObservedTime": "2024-05-01T10:01:00.000000Z"}, action="Pulling",
               eventTime="2024-05-01T10:00:00.000001Z", reportingComponent="kubelet", reportingInstance="node-1"),
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "bare"}, "involvedObject": {}},
])
def test_round_trip_from_core(event: dict[str, Any]) -> None:
    before = copy.deepcopy(event)
    assert conv.to_core(conv.from_core(event)) == event
    assert event == before


def test_conversion_copies_nested_values() -> None:
    core = _old_event()
    new = conv.from_core(core)
    new["regarding"]["name"] = "changed"
    new["metadata"]["labels"]["a"] = "changed"
    assert core["involvedObject"]["name"] == "web-1" and core["metadata"]["labels"] == {"a": "b"}


def test_source_component_is_not_copied_into_reporting_controller() -> None:
    # No defaulting on the way (events.k8s.io/v1 registers no defaulters): the component stays in
    # deprecatedSource, and reportingController is what core's reportingComponent was.
    core = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "source": {"component": "kubelet"}}
    new = conv.from_core(core)
    assert new["deprecatedSource"] == {"component": "kubelet"} and "reportingController" not in new


# -- field selection ------------------------------------------------------------------------------------------


def _matches(strategy: EventStrategy, selector: str, stored: dict[str, Any]) -> bool:
    sel = parse_field_selector(selector)
    assert sel.fields() <= strategy.allowed_fields(), sel.fields() - strategy.allowed_fields()
    return sel.matches(strategy.selectable_fields(stored))


def test_core_field_selectors_on_stored_events() -> None:
    core = EventStrategy()
    stored = _old_event()
    assert _matches(core, "involvedObject.name=web-1,involvedObject.namespace=default,involvedObject.kind=Pod,"
                          "involvedObject.uid=p-1", stored)
    assert _matches(core, "source=kubelet,reason=Pulled,type=Normal", stored)
    assert not _matches(core, "involvedObject.name=web-2", stored)
    # One written through events.k8s.io: `source` falls back to the reporting controller.
    written_new = conv.to_core(_new_event())
    assert _matches(core, "source=example.com/scheduler,reportingComponent=example.com/scheduler", written_new)


def test_events_field_selectors_select_on_the_core_fields() -> None:
    new = EventsV1Strategy()
    stored = _old_event()
    assert _matches(new, "regarding.name=web-1,regarding.kind=Pod,regarding.namespace=default,"
                         "regarding.uid=p-1,regarding.fieldPath=spec.containers{app}", stored)
    assert _matches(new, "reason=Pulled,type=Normal,source=kubelet,metadata.name=web-1.17f", stored)
    assert _matches(new, "reportingController=example.com/scheduler", conv.to_core(_new_event()))
    assert not _matches(new, "regarding.name=other", stored)
    assert "involvedObject.name" not in new.allowed_fields()
    assert "regarding.name" not in EventStrategy().allowed_fields()


# -- validation by request version ----------------------------------------------------------------------------


def _messages(causes: list[dict[str, str]]) -> list[str]:
    return [f"{c['field']}: {c['message']}" for c in causes]


def test_core_requests_get_only_the_legacy_rules() -> None:
    core = EventStrategy()
    assert core.validate(_old_event()) == []
    assert core.validate({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"}}) == []
    moved = _old_event()
    moved["metadata"]["namespace"] = "other"
    assert _messages(core.validate(moved)) == [
        'involvedObject.namespace: Invalid value: "default": does not match event.namespace']
    # With eventTime set, the reporter must be named (as core/v1 spells the field).
    assert _messages(core.validate(_old_event(eventTime="2024-05-01T10:00:00.000000Z"))) == [
        "reportingComponent: Required value",
        'reportingComponent: Invalid value: "": name part must be non-empty',
        'reportingComponent: Invalid value: "": name part must consist of alphanumeric characters, \'-\', \'_\' '
        "or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
        "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
        "reportingInstance: Required value", "action: Required value"]


def test_events_requests_are_validated_strictly() -> None:
    new = EventsV1Strategy()
    assert new.validate(conv.to_core(_new_event())) == []
    bad = conv.to_core(_new_event(deprecatedSource={"component": "kubelet"}, deprecatedCount=2,
                                  deprecatedFirstTimestamp="2024-05-01T10:00:00Z", type="Info",
                                  series={"count": 1}))
    del bad["eventTime"]
    assert _messages(new.validate(bad)) == [
        'series.count: Invalid value: "": should be at least 2', "series.lastObservedTime: Required value",
        "eventTime: Required value", 'type: Invalid value: "": has invalid value: Info',
        'firstTimestamp: Invalid value: "": needs to be unset', 'count: Invalid value: "": needs to be unset',
        'source: Invalid value: "": needs to be unset']
    missing = conv.to_core(_new_event(reportingController=""))
    assert _messages(new.validate(missing))[0] == "reportingController: Required value"


def test_events_updates_may_only_change_the_series() -> None:
    new = EventsV1Strategy()
    old = conv.to_core(_new_event())
    series = copy.deepcopy(old)
    series["series"] = {"count": 2, "lastObservedTime": "2024-05-01T10:01:00.000000Z"}
    assert new.validate_update(series, old) == []
    changed = copy.deepcopy(series)
    changed["message"] = "other"
    changed["reportingComponent"] = "other"
    assert _messages(new.validate_update(changed, old)) == [
        'message: Invalid value: "other": field is immutable',
        'reportingController: Invalid value: "other": field is immutable']
    # Through core/v1 anything goes (legacy rules only).
    assert EventStrategy().validate_update(changed, old) == []
