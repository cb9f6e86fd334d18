"""events.k8s.io/v1 and core/v1 Events are one storage, converted per request (as kube-apiserver does).

An Event written through either API is read, listed, selected, watched and
deleted through the other, with the same uid and resourceVersion; each API
answers in its own field names (k/k pkg/apis/events/v1/conversion.go) and
validates by the version of the request (pkg/apis/core/validation/events.go).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from httpapi import Api

from hakube.testing import Kubectl, LocalStack

CORE = "/api/v1"
NEW = "/apis/events.k8s.io/v1"


@pytest.fixture(scope="module")
def api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Api:
    return Api(stack, tmp_path_factory.mktemp("events"))


@pytest.fixture(scope="module")
def ns(api: Api) -> str:
    return api.namespace("ev")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _now(micro: bool = False) -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _new_event(ns: str, name: str, about: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": name},
            "eventTime": _now(micro=True), "reportingController": "example.com/ev-test",
            "reportingInstance": "ev-test-1", "action": "Binding", "reason": "Scheduled", "type": "Normal",
            "regarding": {"kind": "Pod", "namespace": ns, "name": about, "uid": f"uid-{about}", "apiVersion": "v1"},
            "note": f"about {about}", **extra}


def _core_event(ns: str, name: str, about: str, **extra: Any) -> dict[str, Any]:
    now = _now()
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": "ConfigMap", "namespace": ns, "name": about, "uid": f"uid-{about}",
                               "apiVersion": "v1"},
            "reason": "Changed", "message": f"about {about}", "type": "Warning",
            "source": {"component": "ev-recorder", "host": "node-1"}, "firstTimestamp": now,
            "lastTimestamp": now, "count": 2, **extra}


def _names(body: dict[str, Any]) -> list[str]:
    return [i["metadata"]["name"] for i in body["items"]]


def _select(api: Api, path: str, selector: str, extra: str = "") -> list[str]:
    return sorted(_names(api.ok("GET", f"{path}?fieldSelector={urllib.parse.quote(selector)}{extra}")))


def _watch(api: Api, path: str, *, timeout: int) -> list[dict[str, Any]]:
    """The events of a watch that ends after `timeout` seconds."""
    req = urllib.request.Request(f"{api.base}{path}&timeoutSeconds={timeout}")
    with urllib.request.urlopen(req, context=api.admin.ctx, timeout=timeout + 10) as resp:
        return [json.loads(line) for line in resp.read().split(b"\n") if line.strip()]


def test_created_through_events_api_read_through_core(api: Api, ns: str) -> None:
    name, about = _unique("sched"), _unique("web")
    created = api.ok("POST", f"{NEW}/namespaces/{ns}/events", _new_event(ns, name, about), expect=(201,))
    assert created["apiVersion"] == "events.k8s.io/v1" and created["note"] == f"about {about}"
    core = api.ok("GET", f"{CORE}/namespaces/{ns}/events/{name}")
    assert core["apiVersion"] == "v1" and core["kind"] == "Event"
    assert core["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert core["metadata"]["uid"] == created["metadata"]["uid"]
    assert core["involvedObject"] == created["regarding"]
    assert core["message"] == created["note"] and core["reportingComponent"] == "example.com/ev-test"
    assert core["eventTime"] == created["eventTime"] and core["action"] == "Binding"
    for new_name in ("regarding", "note", "reportingController", "deprecatedSource"):
        assert new_name not in core
    listed = api.ok("GET", f"{CORE}/namespaces/{ns}/events")
    item = next(i for i in listed["items"] if i["metadata"]["name"] == name)
    assert item["apiVersion"] == "v1" and item["involvedObject"]["name"] == about
    assert item["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    # Read back through its own API: unchanged.
    again = api.ok("GET", f"{NEW}/namespaces/{ns}/events/{name}")
    assert {k: v for k, v in again.items() if k != "metadata"} == {
        k: v for k, v in created.items() if k != "metadata"}


def test_created_through_core_read_through_events_api(api: Api, ns: str) -> None:
    name, about = _unique("cm-event"), _unique("cfg")
    created = api.ok("POST", f"{CORE}/namespaces/{ns}/events", _core_event(ns, name, about), expect=(201,))
    new = api.ok("GET", f"{NEW}/namespaces/{ns}/events/{name}")
    assert new["apiVersion"] == "events.k8s.io/v1"
    assert new["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert new["regarding"] == created["involvedObject"] and new["note"] == f"about {about}"
    assert new["deprecatedSource"] == {"component": "ev-recorder", "host": "node-1"}
    assert new["deprecatedCount"] == 2
    assert new["deprecatedFirstTimestamp"] == created["firstTimestamp"]
    assert new["deprecatedLastTimestamp"] == created["lastTimestamp"]
    # Nothing is defaulted on the way: the component stays in deprecatedSource.
    assert "reportingController" not in new and "source" not in new and "message" not in new
    # An update through the new API (the series a recorder keeps) is seen through core, one revision on.
    series = {"count": 2, "lastObservedTime": _now(micro=True)}
    patched = api.request("PATCH", f"{NEW}/namespaces/{ns}/events/{name}", {"series": series},
                          content_type="application/merge-patch+json")
    assert patched.status == 200, patched.body
    core = api.ok("GET", f"{CORE}/namespaces/{ns}/events/{name}")
    assert core["series"]["count"] == 2 and core["message"] == f"about {about}"
    assert core["metadata"]["resourceVersion"] == patched.body["metadata"]["resourceVersion"]
    assert int(core["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    # ... but the new API keeps everything else immutable, core does not.
    changed = api.request("PATCH", f"{NEW}/namespaces/{ns}/events/{name}", {"note": "rewritten"},
                          content_type="application/merge-patch+json")
    assert changed.status == 422 and "message: Invalid value" in changed.message, changed.body
    assert api.request("PATCH", f"{CORE}/namespaces/{ns}/events/{name}", {"message": "rewritten"},
                       content_type="application/merge-patch+json").status == 200
    assert api.ok("GET", f"{NEW}/namespaces/{ns}/events/{name}")["note"] == "rewritten"


def test_field_selectors_on_both_apis(api: Api, ns: str) -> None:
    about = _unique("sel")
    new_name, core_name, other = _unique("by-new"), _unique("by-core"), _unique("unrelated")
    api.ok("POST", f"{NEW}/namespaces/{ns}/events", _new_event(ns, new_name, about), expect=(201,))
    core_body = _core_event(ns, core_name, about)
    core_body["involvedObject"]["kind"] = "Pod"
    core_body["involvedObject"]["uid"] = f"uid-{about}"
    api.ok("POST", f"{CORE}/namespaces/{ns}/events", core_body, expect=(201,))
    api.ok("POST", f"{CORE}/namespaces/{ns}/events", _core_event(ns, other, _unique("else")), expect=(201,))
    both = sorted([new_name, core_name])
    # kubectl describe's selector, on core/v1.
    describe = (f"involvedObject.name={about},involvedObject.namespace={ns},involvedObject.kind=Pod,"
                f"involvedObject.uid=uid-{about}")
    core_path, new_path = f"{CORE}/namespaces/{ns}/events", f"{NEW}/namespaces/{ns}/events"
    for extra in ("", "&resourceVersion=0", "&limit=50"):  # consistent, cached and paginated (etcd) reads
        assert _select(api, core_path, describe, extra) == both, extra
        assert _select(api, new_path, f"regarding.name={about},regarding.kind=Pod,regarding.namespace={ns}",
                       extra) == both, extra
        assert _select(api, new_path, f"regarding.name={about},reason=Scheduled", extra) == [new_name]
        assert _select(api, core_path, f"involvedObject.name={about},reason=Changed", extra) == [core_name]
    # `source` is the old component, or else the new API's controller; reportingController maps over.
    assert _select(api, core_path, "source=example.com/ev-test") == _select(
        api, new_path, "reportingController=example.com/ev-test")
    assert new_name in _select(api, core_path, "source=example.com/ev-test")
    assert other in _select(api, new_path, "source=ev-recorder,type=Warning")
    # Each API takes its own labels only.
    bad = api.request("GET", f"{new_path}?fieldSelector=involvedObject.name%3Dx")
    assert bad.status == 400 and "field label not supported: involvedObject.name" in bad.message
    bad = api.request("GET", f"{core_path}?fieldSelector=regarding.name%3Dx")
    assert bad.status == 400 and "field label not supported: regarding.name" in bad.message


def test_watch_of_one_api_sees_writes_through_the_other(api: Api, ns: str) -> None:
    start = api.ok("GET", f"{CORE}/namespaces/{ns}/events")["metadata"]["resourceVersion"]
    new_name, core_name = _unique("w-new"), _unique("w-core")
    seen: dict[str, list[dict[str, Any]]] = {}

    def watch(key: str, path: str) -> None:
        seen[key] = _watch(api, f"{path}/namespaces/{ns}/events?watch=1&resourceVersion={start}", timeout=4)

    threads = [threading.Thread(target=watch, args=("core", CORE)), threading.Thread(target=watch, args=("new", NEW))]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the watches are open: what follows arrives live
    made = api.ok("POST", f"{NEW}/namespaces/{ns}/events", _new_event(ns, new_name, "watched"), expect=(201,))
    api.ok("POST", f"{CORE}/namespaces/{ns}/events", _core_event(ns, core_name, "watched"), expect=(201,))
    api.ok("DELETE", f"{CORE}/namespaces/{ns}/events/{new_name}")
    for t in threads:
        t.join(timeout=20)
    core_events = [(e["type"], e["object"]["metadata"]["name"]) for e in seen["core"]]
    new_events = [(e["type"], e["object"]["metadata"]["name"]) for e in seen["new"]]
    expected = [("ADDED", new_name), ("ADDED", core_name), ("DELETED", new_name)]
    assert core_events == expected and new_events == expected
    # Each watcher gets its own version's object, at the same resourceVersion.
    core_added, new_added = seen["core"][0]["object"], seen["new"][0]["object"]
    assert core_added["apiVersion"] == "v1" and core_added["involvedObject"]["name"] == "watched"
    assert new_added["apiVersion"] == "events.k8s.io/v1" and new_added["regarding"]["name"] == "watched"
    assert core_added["metadata"]["resourceVersion"] == new_added["metadata"]["resourceVersion"] == (
        made["metadata"]["resourceVersion"])
    assert seen["new"][1]["object"]["note"] == "about watched" and "message" not in seen["new"][1]["object"]
    assert seen["new"][2]["object"]["regarding"]["name"] == "watched"
    # Resuming from history (the watch cache's replay) converts as well.
    replay = _watch(api, f"{NEW}/namespaces/{ns}/events?watch=1&resourceVersion={start}"
                         f"&fieldSelector=regarding.name%3Dwatched", timeout=1)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in replay] == expected
    assert all(e["object"]["apiVersion"] == "events.k8s.io/v1" for e in replay)


def test_delete_through_one_api_is_gone_from_the_other(api: Api, ns: str) -> None:
    one, two = _unique("del-new"), _unique("del-core")
    api.ok("POST", f"{NEW}/namespaces/{ns}/events", _new_event(ns, one, "gone"), expect=(201,))
    api.ok("POST", f"{CORE}/namespaces/{ns}/events", _core_event(ns, two, "gone"), expect=(201,))
    api.ok("DELETE", f"{CORE}/namespaces/{ns}/events/{one}")
    assert api.request("GET", f"{NEW}/namespaces/{ns}/events/{one}").status == 404
    deleted = api.ok("DELETE", f"{NEW}/namespaces/{ns}/events/{two}")
    assert deleted["status"] == "Success" and deleted["details"]["group"] == "events.k8s.io"
    assert api.request("GET", f"{CORE}/namespaces/{ns}/events/{two}").status == 404
    names = _names(api.ok("GET", f"{CORE}/namespaces/{ns}/events")) + _names(
        api.ok("GET", f"{NEW}/namespaces/{ns}/events"))
    assert one not in names and two not in names


def test_validation_follows_the_version_of_the_request(api: Api, ns: str) -> None:
    # The new API rejects the old fields and wants eventTime (ValidateEventCreate); core takes them.
    body = _new_event(ns, _unique("strict"), "v", deprecatedSource={"component": "x"}, deprecatedCount=3)
    del body["eventTime"]
    bad = api.request("POST", f"{NEW}/namespaces/{ns}/events", body)
    assert bad.status == 422, bad.body
    messages = [c["message"] for c in bad.body["details"]["causes"]]
    assert "Required value" in messages and 'Invalid value: "": needs to be unset' in messages
    assert {c["field"] for c in bad.body["details"]["causes"]} == {"eventTime", "count", "source"}
    moved = _core_event(ns, _unique("moved"), "v")
    moved["involvedObject"]["namespace"] = "elsewhere"
    bad = api.request("POST", f"{CORE}/namespaces/{ns}/events", moved)
    assert bad.status == 422 and "does not match event.namespace" in bad.message


def test_server_side_apply_through_the_events_api(api: Api, ns: str) -> None:
    name = _unique("applied")
    cfg = _new_event(ns, name, "applied")
    reply = api.request("PATCH", f"{NEW}/namespaces/{ns}/events/{name}?fieldManager=ev-applier", cfg,
                        content_type="application/apply-patch+yaml")
    assert reply.status == 201, reply.body
    entries = reply.body["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"], e["apiVersion"]) for e in entries] == [
        ("ev-applier", "Apply", "events.k8s.io/v1")]
    assert "f:note" in entries[0]["fieldsV1"] and "f:regarding" in entries[0]["fieldsV1"]
    core = api.ok("GET", f"{CORE}/namespaces/{ns}/events/{name}")
    assert core["metadata"]["managedFields"] == entries  # stored once, as written
    # A core/v1 writer changing the same field conflicts with the applier, named in its version.
    reapply = dict(cfg, note="changed")
    edit = api.request("PATCH", f"{CORE}/namespaces/{ns}/events/{name}?fieldManager=ev-editor",
                       {"message": "edited"}, content_type="application/merge-patch+json")
    assert edit.status == 200, edit.body
    owners = {(e["manager"], e["apiVersion"]): e["fieldsV1"] for e in edit.body["metadata"]["managedFields"]}
    assert "f:message" in owners[("ev-editor", "v1")]
    assert "f:note" not in owners[("ev-applier", "events.k8s.io/v1")]  # taken over through the other version
    conflict = api.request("PATCH", f"{NEW}/namespaces/{ns}/events/{name}?fieldManager=other-applier", reapply,
                           content_type="application/apply-patch+yaml")
    assert conflict.status == 409 and 'conflict with "ev-editor" using v1: .message' in conflict.message


def test_kubectl_reads_both(api: Api, ns: str, kubectl: Kubectl) -> None:
    name = _unique("kubectl")
    api.ok("POST", f"{NEW}/namespaces/{ns}/events", _new_event(ns, name, "shown"), expect=(201,))
    core = kubectl.run("get", "events", "-n", ns, "--field-selector", "involvedObject.name=shown").stdout
    new = kubectl.run("get", "events.v1.events.k8s.io", "-n", ns, "--field-selector", "regarding.name=shown").stdout
    for out in (core, new):
        assert "Scheduled" in out and "pod/shown" in out and "about shown" in out, out
