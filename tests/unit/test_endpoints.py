"""Endpoints subsets, slice endpoints and ports, the GC finalizers of a delete, and slice printing."""

from __future__ import annotations

from typing import Any

import pytest

from hakube.apiserver import printers
from hakube.apiserver.registry import gc_finalizers
from hakube.controllers.endpoints import desired_subsets
from hakube.controllers.endpointslice import _endpoint, _ports
from hakube.controllers.endpointsutil import WrittenVersions, find_port, should_be_in_endpoints

Obj = dict[str, Any]


def pod(name: str, ip: str, *, ready: bool, ports: list[Obj] | None = None, **meta: Any) -> Obj:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", **meta},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "ports": ports or []}]},
        "status": {"phase": "Running", "podIP": ip,
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


SERVICE = {"metadata": {"name": "web", "namespace": "ns", "uid": "svc"},
           "spec": {"selector": {"app": "web"}, "ports": [
               {"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"},
               {"name": "metrics", "port": 9090, "targetPort": 9090, "protocol": "TCP"}]}}
WEB = [{"name": "web", "containerPort": 8080, "protocol": "TCP"}]


def test_find_port_resolves_names_by_protocol_and_passes_numbers() -> None:
    p = pod("a", "10.0.0.1", ready=True, ports=WEB)
    assert find_port(p, {"targetPort": "web", "protocol": "TCP"}) == 8080
    assert find_port(p, {"targetPort": "web", "protocol": "UDP"}) is None
    assert find_port(p, {"targetPort": 9090}) == 9090
    assert find_port(p, {"port": 80}) == 80


def test_subsets_pack_addresses_by_the_ports_they_offer() -> None:
    pods = [pod("a", "10.0.0.2", ready=True, ports=WEB), pod("b", "10.0.0.1", ready=False, ports=WEB)]
    [subset] = desired_subsets(SERVICE, pods)  # both offer both ports: one subset
    assert [p["name"] for p in subset["ports"]] == ["http", "metrics"]
    assert subset["ports"][0] == {"name": "http", "port": 8080, "protocol": "TCP"}
    assert subset["addresses"] == [{"ip": "10.0.0.2", "nodeName": "node-1", "targetRef": {
        "kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"}}]
    assert [a["ip"] for a in subset["notReadyAddresses"]] == ["10.0.0.1"]
    # A pod without the named port offers only the numeric one: the ports no longer share addresses.
    subsets = desired_subsets(SERVICE, [*pods, pod("c", "10.0.0.3", ready=True)])
    by_ports = {tuple(p["name"] for p in s["ports"]): s for s in subsets}
    assert set(by_ports) == {("http",), ("metrics",)}
    assert [a["ip"] for a in by_ports[("metrics",)]["addresses"]] == ["10.0.0.2", "10.0.0.3"]
    assert [a["ip"] for a in by_ports[("http",)]["addresses"]] == ["10.0.0.2"]
    # publishNotReadyAddresses: everything is an address.
    tolerant = {**SERVICE, "spec": {**SERVICE["spec"], "publishNotReadyAddresses": True}}
    assert all("notReadyAddresses" not in s for s in desired_subsets(tolerant, pods))


def test_terminating_and_finished_pods() -> None:
    gone = pod("t", "10.0.0.9", ready=True, deletionTimestamp="2025-01-01T00:00:00Z")
    assert not should_be_in_endpoints(gone, include_terminating=False)
    assert should_be_in_endpoints(gone, include_terminating=True)
    done = pod("d", "10.0.0.8", ready=False)
    done["status"]["phase"] = "Succeeded"
    assert not should_be_in_endpoints(done, include_terminating=True)
    endpoint = _endpoint(gone, {"metadata": {"labels": {"topology.kubernetes.io/zone": "z1"}}}, SERVICE, "IPv4")
    assert endpoint["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert endpoint["zone"] == "z1" and endpoint["nodeName"] == "node-1"
    assert _ports(SERVICE, pod("x", "10.0.0.7", ready=True, ports=WEB)) == [
        {"name": "http", "protocol": "TCP", "port": 8080}, {"name": "metrics", "protocol": "TCP", "port": 9090}]


def test_written_versions_detect_a_stale_cache() -> None:
    w = WrittenVersions()
    w.wrote("ns/web", {"metadata": {"uid": "u1", "resourceVersion": "10"}})
    assert w.stale("ns/web", [])  # created, not yet in the cache
    assert w.stale("ns/web", [{"metadata": {"uid": "u1", "resourceVersion": "9"}}])
    assert not w.stale("ns/web", [{"metadata": {"uid": "u1", "resourceVersion": "10"}}])
    w.deleted("ns/web", "u1")
    assert w.stale("ns/web", [{"metadata": {"uid": "u1", "resourceVersion": "10"}}])
    w.forget("ns/web", "u1")
    assert not w.stale("ns/web", [])


@pytest.mark.parametrize(("current", "options", "expected"), [
    ([], {"propagationPolicy": "Foreground"}, ["foregroundDeletion"]),
    ([], {"propagationPolicy": "Orphan"}, ["orphan"]),
    ([], {"orphanDependents": True}, ["orphan"]),
    (["x", "foregroundDeletion"], {"propagationPolicy": "Background"}, ["x"]),
    (["orphan"], {"propagationPolicy": "Foreground"}, ["foregroundDeletion"]),
    (["foregroundDeletion"], {}, ["foregroundDeletion"]),
    (["orphan"], {"orphanDependents": False}, []),
    (["x"], {}, ["x"]),
])
def test_gc_finalizers_of_a_delete(current: list[str], options: Obj, expected: list[str]) -> None:
    assert gc_finalizers(current, options) == expected


def test_endpointslice_rows() -> None:
    obj = {"metadata": {"name": "web-abc"}, "addressType": "IPv4",
           "ports": [{"port": 80}, {"name": "named"}, {}, {"port": 1}],
           "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]}
    row = printers.row_for("endpointslices", obj)
    assert row[:4] == ["web-abc", "IPv4", "80,named,* + 1 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."]
    assert printers.row_for("endpointslices", {"metadata": {"name": "empty"}, "addressType": "IPv4",
                                               "ports": [], "endpoints": []})[2:4] == ["<unset>", "<unset>"]
    assert [c.name for c in printers.columns_for("endpointslices.discovery.k8s.io")] == [
        "Name", "AddressType", "Ports", "Endpoints", "Age"]
