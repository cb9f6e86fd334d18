"""What hollow kubelets write: addresses, node conditions, pod statuses."""

from __future__ import annotations

import pytest

from hakube.nodes.objects import (
    IpAllocator,
    NodeShape,
    conditions_current,
    is_running,
    node_conditions,
    node_indices,
    node_object,
    pod_cidr,
    region_of,
    running_status,
)


def test_region_follows_gce_zone_names() -> None:
    assert region_of("europe-west1-b") == "europe-west1"
    assert region_of("local-a") == "local"
    assert region_of("solo") == "solo"


def test_node_numbers_come_from_names_or_positions() -> None:
    assert node_indices(["hollow-local-a-7", "hollow-local-b-12"]) == {"hollow-local-a-7": 7, "hollow-local-b-12": 12}
    assert node_indices(["alpha", "beta"]) == {"alpha": 1, "beta": 2}
    assert node_indices(["x-1", "y-1"]) == {"x-1": 1, "y-1": 2}  # duplicates fall back to positions


def test_pod_cidrs_are_one_slash24_per_node() -> None:
    assert pod_cidr("10.244", 5) == "10.244.5.0/24"
    assert pod_cidr("10.244", 300) == "10.245.44.0/24"
    with pytest.raises(ValueError):
        pod_cidr("10.244", 12 * 256)


def test_ip_allocator_hands_out_reuses_and_adopts() -> None:
    ips = IpAllocator("10.244.1.0/24")
    assert ips.allocate("a") == "10.244.1.2" and ips.allocate("a") == "10.244.1.2"
    assert ips.allocate("b") == "10.244.1.3"
    assert ips.allocate("c", preferred="10.244.1.9") == "10.244.1.9"  # a running pod keeps its IP
    assert ips.allocate("d", preferred="10.244.1.9") == "10.244.1.4"  # taken: a fresh one
    assert ips.allocate("e", preferred="10.9.9.9") == "10.244.1.5"  # not ours
    ips.release("a")
    assert ips.get("a") is None and len(ips) == 4
    for n in range(249):
        ips.allocate(f"x{n}")
    assert ips.allocate("full") is None


def test_node_object_and_conditions() -> None:
    node = node_object("n-3", index=3, cidr="10.244.3.0/24", shape=NodeShape(zone="z-a", region="z"), now="T0")
    assert node["spec"]["podCIDR"] == "10.244.3.0/24"
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "10.128.0.4"}
    assert conditions_current(node)
    previous = [{**c, "status": "Unknown"} if c["type"] == "Ready" else c for c in node["status"]["conditions"]]
    assert not conditions_current({"status": {"conditions": previous}})
    again = {c["type"]: c for c in node_conditions(previous, "T1")}
    assert again["Ready"]["status"] == "True" and again["Ready"]["lastTransitionTime"] == "T1"
    assert again["DiskPressure"]["lastTransitionTime"] == "T0" and again["DiskPressure"]["lastHeartbeatTime"] == "T1"


def _pod(**status: object) -> dict[str, object]:
    return {"metadata": {"name": "p", "namespace": "d", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "nginx:1"}], "initContainers": [{"name": "i",
                                                                                         "image": "busybox"}]},
            "status": {"phase": "Pending", "qosClass": "Burstable", **status}}


def test_running_status_keeps_times_and_counts_image_changes_as_restarts() -> None:
    pod = _pod(conditions=[{"type": "PodScheduled", "status": "True", "lastTransitionTime": "T0"},
                           {"type": "DisruptionTarget", "status": "True", "lastTransitionTime": "T0"}])
    assert not is_running(pod, host_ip="10.128.0.2", pod_ip="10.244.1.2")
    status = running_status(pod, host_ip="10.128.0.2", pod_ip="10.244.1.2", now="T1")
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["PodScheduled"]["lastTransitionTime"] == "T0"
    assert conditions["Ready"]["lastTransitionTime"] == "T1"
    assert conditions["DisruptionTarget"]["status"] == "True"  # not ours: kept
    assert status["qosClass"] == "Burstable" and status["startTime"] == "T1"
    assert status["initContainerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    running = {**pod, "status": status}
    assert is_running(running, host_ip="10.128.0.2", pod_ip="10.244.1.2")
    assert not is_running(running, host_ip="10.128.0.2", pod_ip="10.244.1.3")

    changed = {**running, "spec": {**running["spec"], "containers": [{"name": "c", "image": "nginx:2"}]}}
    assert not is_running(changed, host_ip="10.128.0.2", pod_ip="10.244.1.2")
    [container] = running_status(changed, host_ip="10.128.0.2", pod_ip="10.244.1.2", now="T2")["containerStatuses"]
    assert container["restartCount"] == 1 and container["image"] == "nginx:2"
    assert container["state"]["running"]["startedAt"] == "T2"
    assert container["lastState"]["terminated"]["startedAt"] == "T1"
