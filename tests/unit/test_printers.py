"""Server-side table rows, checked against what kube-apiserver 1.32 prints for the same objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hakube.apiserver import printers
from hakube.apiserver.timefmt import format_microtime, format_time

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def ago(**kw: float) -> str:
    return format_time(NOW - timedelta(**kw))


def meta(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "namespace": "default", "creationTimestamp": ago(hours=5), **extra}


def row(resource: str, obj: dict[str, Any]) -> list[Any]:
    cells = printers.row_for(resource, obj, now=NOW)
    assert len(cells) == len(printers.columns_for(resource))
    return cells


def running(name: str, *, ready: bool = True, restarts: int = 0,
            finished: str | None = None) -> dict[str, Any]:
    cs: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts,
                          "state": {"running": {"startedAt": ago(hours=1)}}}
    if finished:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": finished}}
    return cs


def pod(statuses: list[dict[str, Any]], *, phase: str = "Running", spec: dict[str, Any] | None = None,
        status: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta("web-1", **metadata),
        "spec": spec or {"containers": [{"name": c["name"], "image": "nginx"} for c in statuses] or
                         [{"name": "app", "image": "nginx"}], "nodeName": "node-1"},
        "status": {"phase": phase, "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}],
                   "containerStatuses": statuses, **(status or {})},
    }


# --- pods -----------------------------------------------------------------------------------------


def test_pod_columns() -> None:
    cols = printers.columns_for("pods")
    assert [c.name for c in cols] == ["Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                                      "Nominated Node", "Readiness Gates"]
    assert [c.priority for c in cols] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert cols[0].format == "name" and cols[3].type == "string"


def test_running_pod_half_ready_with_restarts() -> None:
    obj = pod([running("app", restarts=3, finished=ago(minutes=5)), running("sidecar", ready=False)])
    assert row("pods", obj) == ["web-1", "1/2", "Running", "3 (5m ago)", "5h",
                                "10.0.0.7", "node-1", "<none>", "<none>"]


def test_restarts_without_termination_time_have_no_suffix() -> None:
    assert row("pods", pod([running("app", restarts=2)]))[3] == "2"


def test_crash_loop() -> None:
    cs = {"name": "app", "ready": False, "restartCount": 7,
          "state": {"waiting": {"reason": "CrashLoopBackOff"}},
          "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(seconds=40)}}}
    assert row("pods", pod([cs]))[1:4] == ["0/1", "CrashLoopBackOff", "7 (40s ago)"]


def test_terminated_without_reason() -> None:
    signalled = {"name": "app", "state": {"terminated": {"exitCode": 137, "signal": 9}}}
    assert row("pods", pod([signalled], phase="Failed"))[2] == "Signal:9"
    exited = {"name": "app", "state": {"terminated": {"exitCode": 3}}}
    assert row("pods", pod([exited], phase="Failed"))[2] == "ExitCode:3"


def test_completed_pod_and_row_conditions() -> None:
    done = {"name": "app", "ready": False, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    obj = pod([done], phase="Succeeded")
    assert row("pods", obj)[1:3] == ["0/1", "Completed"]
    assert printers.row_conditions("pods", obj) == [
        {"type": "Completed", "status": "True", "reason": "Succeeded",
         "message": "The pod has completed successfully."}]
    assert printers.row_conditions("pods", pod([])) is None
    assert printers.row_conditions("nodes", obj) is None


def test_completed_container_next_to_a_running_one() -> None:
    done = {"name": "job", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    ready_cond = {"conditions": [{"type": "Ready", "status": "True"}]}
    # Containers are walked last to first, so the first container's state wins the reason.
    assert row("pods", pod([done, running("app")], status=ready_cond))[1:3] == ["1/2", "Running"]
    assert row("pods", pod([done, running("app")]))[2] == "NotReady"


def test_pending_and_scheduling_gated() -> None:
    spec = {"containers": [{"name": "app", "image": "nginx"}]}
    pending = pod([], phase="Pending", spec=spec, status={"podIP": "", "podIPs": []})
    assert row("pods", pending) == ["web-1", "0/1", "Pending", "0", "5h", "<none>", "<none>", "<none>",
                                    "<none>"]
    gated = pod([], phase="Pending", spec=spec, status={
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]})
    assert row("pods", gated)[2] == "SchedulingGated"
    evicted = pod([], phase="Failed", spec=spec, status={"reason": "Evicted"})
    assert row("pods", evicted)[2] == "Evicted"


def test_init_containers() -> None:
    spec = {"initContainers": [{"name": "migrate"}, {"name": "seed"}],
            "containers": [{"name": "app", "image": "nginx"}]}
    first_done = {"name": "migrate", "restartCount": 1, "state": {"terminated": {"exitCode": 0}}}
    waiting = {"name": "seed", "state": {"waiting": {"reason": "PodInitializing"}}}
    statuses = {"initContainerStatuses": [first_done, waiting]}
    obj = pod([], phase="Pending", spec=spec, status=statuses)
    # Init restarts count while the pod is initializing.
    assert row("pods", obj)[1:4] == ["0/1", "Init:1/2", "1"]
    crash = {"name": "migrate", "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
    obj = pod([], phase="Pending", spec=spec, status={"initContainerStatuses": [crash]})
    assert row("pods", obj)[2:4] == ["Init:CrashLoopBackOff", "4"]
    failed = {"name": "migrate", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}
    obj = pod([], phase="Failed", spec=spec, status={"initContainerStatuses": [failed]})
    assert row("pods", obj)[2] == "Init:Error"
    failed = {"name": "migrate", "state": {"terminated": {"exitCode": 2}}}
    obj = pod([], phase="Failed", spec=spec, status={"initContainerStatuses": [failed]})
    assert row("pods", obj)[2] == "Init:ExitCode:2"


def test_sidecar_counts_as_a_container() -> None:
    spec = {"initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
            "containers": [{"name": "app", "image": "nginx"}]}
    proxy = {"name": "proxy", "started": True, "ready": True, "restartCount": 2,
             "lastState": {"terminated": {"exitCode": 1, "finishedAt": ago(minutes=30)}},
             "state": {"running": {}}}
    obj = pod([running("app", restarts=1, finished=ago(hours=1))], spec=spec,
              status={"initContainerStatuses": [proxy],
                      "conditions": [{"type": "Initialized", "status": "True"}]})
    # Sidecar restarts are kept; the most recent restart time wins.
    assert row("pods", obj)[1:4] == ["2/2", "Running", "3 (30m ago)"]


def test_terminating_and_node_lost() -> None:
    obj = pod([running("app")], deletionTimestamp=ago(seconds=10))
    assert row("pods", obj)[2] == "Terminating"
    done = {"name": "app", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    assert row("pods", pod([done], phase="Succeeded", deletionTimestamp=ago(seconds=10)))[2] == "Completed"
    lost = pod([running("app")], status={"reason": "NodeLost"}, deletionTimestamp=ago(seconds=10))
    assert row("pods", lost)[2] == "Unknown"


def test_pod_wide_cells() -> None:
    spec = {"containers": [{"name": "app"}], "nodeName": "node-2",
            "readinessGates": [{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}]}
    status = {"podIP": "", "podIPs": [{"ip": "fd00::7"}], "nominatedNodeName": "node-3",
              "conditions": [{"type": "example.com/lb", "status": "True"},
                             {"type": "example.com/dns", "status": "False"}]}
    assert row("pods", pod([running("app")], spec=spec, status=status))[5:] == [
        "fd00::7", "node-2", "node-3", "1/2"]


# --- workloads ------------------------------------------------------------------------------------

TEMPLATE = {"metadata": {"labels": {"app": "d1"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                    {"name": "log", "image": "busybox"}]}}


def test_deployment() -> None:
    obj = {"metadata": meta("d1"),
           "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "d1"}}, "template": TEMPLATE},
           "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}}
    assert [c.name for c in printers.columns_for("deployments")] == [
        "Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images", "Selector"]
    assert row("deployments", obj) == ["d1", "2/3", 3, 2, "5h", "web,log", "nginx:1.27,busybox", "app=d1"]
    assert printers.row_for("deployments.apps", obj, now=NOW) == row("deployments", obj)
    fresh = {"metadata": meta("d2"), "spec": {"template": TEMPLATE, "selector": {}}}
    assert row("deployments", fresh)[1:4] == ["0/1", 0, 0]
    assert row("deployments", fresh)[7] == ""


def test_replicaset_daemonset_statefulset() -> None:
    selector = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["d1"]}]}
    rs = {"metadata": meta("d1-5d8f"), "spec": {"replicas": 3, "selector": selector, "template": TEMPLATE},
          "status": {"replicas": 3, "readyReplicas": 1}}
    assert row("replicasets", rs) == ["d1-5d8f", 3, 3, 1, "5h", "web,log", "nginx:1.27,busybox",
                                      "app in (d1)"]
    ds_template = {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                            "containers": [{"name": "agent", "image": "agent:1"}]}}
    ds = {"metadata": meta("agent"), "spec": {"selector": {"matchLabels": {"app": "agent"}},
                                              "template": ds_template},
          "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                     "updatedNumberScheduled": 3, "numberAvailable": 2}}
    assert row("daemonsets", ds) == ["agent", 3, 3, 2, 3, 2, "kubernetes.io/os=linux", "5h", "agent",
                                     "agent:1", "app=agent"]
    sts = {"metadata": meta("db"), "spec": {"replicas": 3, "template": TEMPLATE},
           "status": {"readyReplicas": 3}}
    assert row("statefulsets", sts) == ["db", "3/3", "5h", "web,log", "nginx:1.27,busybox"]


def test_jobs() -> None:
    assert [c.name for c in printers.columns_for("jobs")][:5] == [
        "Name", "Status", "Completions", "Duration", "Age"]
    done = {"metadata": meta("pi"), "spec": {"completions": 1, "template": TEMPLATE,
                                             "selector": {"matchLabels": {"job-name": "pi"}}},
            "status": {"succeeded": 1, "startTime": ago(minutes=10), "completionTime": ago(minutes=7),
                       "conditions": [{"type": "Complete", "status": "True"}]}}
    assert row("jobs", done)[:5] == ["pi", "Complete", "1/1", "3m", "5h"]
    assert row("jobs", done)[7] == "job-name=pi"
    busy = {"metadata": meta("work"), "spec": {"parallelism": 3, "template": TEMPLATE},
            "status": {"startTime": ago(seconds=95), "active": 3}}
    assert row("jobs", busy)[1:4] == ["Running", "0/1 of 3", "95s"]
    failed = {"metadata": meta("bad"), "spec": {"completions": 2, "template": TEMPLATE},
              "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True"}]}}
    assert row("jobs", failed)[1:4] == ["Failed", "0/2", ""]
    suspended = {"metadata": meta("later"), "spec": {"template": TEMPLATE},
                 "status": {"conditions": [{"type": "Suspended", "status": "True"}]}}
    assert row("jobs", suspended)[1] == "Suspended"


# --- nodes, namespaces, services ------------------------------------------------------------------


def node(labels: dict[str, str], *, conditions: list[dict[str, str]], unschedulable: bool = False) -> Any:
    return {"metadata": {"name": "cp-1", "labels": labels, "creationTimestamp": ago(days=3, hours=4)},
            "spec": {"unschedulable": unschedulable} if unschedulable else {},
            "status": {"conditions": conditions,
                       "addresses": [{"type": "Hostname", "address": "cp-1"},
                                     {"type": "InternalIP", "address": "192.168.1.10"}],
                       "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.1.0-18-amd64",
                                    "containerRuntimeVersion": "containerd://1.7.13"}}}


def test_node_ready_control_plane_unschedulable() -> None:
    obj = node({"node-role.kubernetes.io/control-plane": "", "kubernetes.io/hostname": "cp-1"},
               conditions=[{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": "True"}],
               unschedulable=True)
    assert row("nodes", obj) == [
        "cp-1", "Ready,SchedulingDisabled", "control-plane", "3d4h", "v1.32.4", "192.168.1.10", "<none>",
        "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "containerd://1.7.13"]


def test_node_status_and_roles() -> None:
    not_ready = node({}, conditions=[{"type": "Ready", "status": "Unknown"}])
    assert row("nodes", not_ready)[1:3] == ["NotReady", "<none>"]
    unknown = node({"kubernetes.io/role": "worker", "node-role.kubernetes.io/infra": "",
                    "node-role.kubernetes.io/": ""}, conditions=[])
    assert row("nodes", unknown)[1:3] == ["Unknown", "infra,worker"]
    bare = {"metadata": {"name": "n"}, "status": {}}
    assert row("nodes", bare)[1:] == ["Unknown", "<none>", "<unknown>", "", "<none>", "<none>",
                                      "<unknown>", "<unknown>", "<unknown>"]


def test_namespace() -> None:
    obj = {"metadata": {"name": "kube-system", "creationTimestamp": ago(days=400)},
           "status": {"phase": "Active"}}
    assert row("namespaces", obj) == ["kube-system", "Active", "400d"]


def test_services() -> None:
    cluster = {"metadata": meta("kubernetes"),
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "clusterIPs": ["10.96.0.1"],
                        "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}}
    assert [c.name for c in printers.columns_for("services")] == [
        "Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"]
    assert row("services", cluster) == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "5h",
                                        "<none>"]
    node_port = {"metadata": meta("web"),
                 "spec": {"type": "NodePort", "clusterIP": "10.96.3.4", "selector": {"app": "web"},
                          "externalIPs": ["203.0.113.9"],
                          "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"},
                                    {"port": 53, "protocol": "UDP"}]}}
    assert row("services", node_port)[1:] == ["NodePort", "10.96.3.4", "203.0.113.9", "80:30080/TCP,53/UDP",
                                              "5h", "app=web"]
    lb = {"metadata": meta("lb"), "spec": {"type": "LoadBalancer", "clusterIP": "10.96.9.9"}}
    assert row("services", lb)[3:5] == ["<pending>", "<none>"]
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "198.51.100.2"}, {"hostname": "a.example.com"}]}}
    assert row("services", lb)[3] == "198.51.100.2,a.example.com"
    headless = {"metadata": meta("db"), "spec": {"type": "ClusterIP", "clusterIP": "None"}}
    assert row("services", headless)[2] == "None"
    external = {"metadata": meta("ext"), "spec": {"type": "ExternalName", "externalName": "db.example.com"}}
    assert row("services", external)[2:4] == ["<none>", "db.example.com"]


def test_endpoints() -> None:
    assert row("endpoints", {"metadata": meta("none")})[1] == "<none>"
    obj = {"metadata": meta("web"), "subsets": [
        {"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
         "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443}]},
        {"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 8080}]},
    ]}
    assert row("endpoints", obj) == ["web", "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 2 more...", "5h"]
    headless = {"metadata": meta("db"), "subsets": [{"addresses": [{"ip": "fd00::1"}]}]}
    assert row("endpoints", headless)[1] == "fd00::1"
    v6 = {"metadata": meta("v6"), "subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]}
    assert row("endpoints", v6)[1] == "[fd00::1]:80"


# --- config and coordination ------------------------------------------------------------------------


def test_configmap_secret_serviceaccount_lease() -> None:
    cm = {"metadata": meta("cfg"), "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}
    assert row("configmaps", cm) == ["cfg", 3, "5h"]
    assert row("configmaps", {"metadata": meta("empty")}) == ["empty", 0, "5h"]
    secret = {"metadata": meta("tls"), "type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""},
              "stringData": {"ca.crt": "x", "tls.crt": "y"}}
    assert row("secrets", secret) == ["tls", "kubernetes.io/tls", 3, "5h"]
    sa = {"metadata": meta("default"), "secrets": [{"name": "default-token"}]}
    assert row("serviceaccounts", sa) == ["default", 1, "5h"]
    lease = {"metadata": meta("kube-scheduler"),
             "spec": {"holderIdentity": "cp-1_2c6f", "leaseDurationSeconds": 15}}
    assert row("leases", lease) == ["kube-scheduler", "cp-1_2c6f", "5h"]
    assert row("leases.coordination.k8s.io", {"metadata": meta("free"), "spec": {}})[1] == ""


# --- events -------------------------------------------------------------------------------------------


def test_core_event() -> None:
    assert [c.name for c in printers.columns_for("events")] == [
        "Last Seen", "Type", "Reason", "Object", "Subobject", "Source", "Message", "First Seen", "Count",
        "Name"]
    ev = {"metadata": meta("web-1.17f2"), "type": "Warning", "reason": "BackOff",
          "involvedObject": {"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{app}"},
          "source": {"component": "kubelet", "host": "node-1"},
          "message": "Back-off restarting failed container\n", "count": 12,
          "firstTimestamp": ago(minutes=30), "lastTimestamp": ago(seconds=20)}
    assert row("events", ev) == ["20s", "Warning", "BackOff", "pod/web-1", "spec.containers{app}",
                                 "kubelet, node-1", "Back-off restarting failed container", "30m", 12,
                                 "web-1.17f2"]


def test_new_style_event_through_core_and_events_api() -> None:
    # Written by an events.k8s.io client but read through core/v1: eventTime, series, no count.
    core = {"metadata": meta("x.1"), "type": "Normal", "reason": "Scheduled",
            "involvedObject": {"kind": "Pod", "name": "web-1"}, "message": "assigned",
            "eventTime": format_microtime(NOW - timedelta(minutes=4, microseconds=5)),
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-cp-1"}
    assert row("events", core)[0:9] == ["4m", "Normal", "Scheduled", "pod/web-1", "",
                                        "default-scheduler, default-scheduler-cp-1", "assigned", "4m", 1]
    v1 = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta("x.2"), "type": "Normal",
          "reason": "Pulled", "regarding": {"kind": "Node", "name": ""}, "note": " done ",
          "eventTime": ago(hours=1), "reportingController": "kubelet",
          "series": {"count": 5, "lastObservedTime": ago(seconds=7)}}
    assert row("events.events.k8s.io", v1)[0:9] == ["7s", "Normal", "Pulled", "node", "", "kubelet",
                                                    "done", "60m", 5]
    blank = {"metadata": {"name": "e"}, "involvedObject": {}}
    assert row("events", blank)[0] == "<unknown>"


# --- defaults and definitions ---------------------------------------------------------------------


def test_default_table_for_unknown_resources() -> None:
    cols = printers.columns_for("widgets.example.com")
    assert [(c.name, c.type, c.format) for c in cols] == [
        ("Name", "string", "name"), ("Created At", "date", "")]
    obj = {"metadata": {"name": "w", "creationTimestamp": "2025-01-01T00:00:00Z"}}
    assert printers.row_for("widgets.example.com", obj) == ["w", "2025-01-01T00:00:00Z"]
    assert printers.row_for("widgets", {"metadata": {"name": "w"}}) == ["w", "0001-01-01T00:00:00Z"]


def test_column_definitions_json() -> None:
    defs = printers.column_definitions(printers.columns_for("leases"))
    assert defs[0]["name"] == "Name" and defs[0]["format"] == "name"
    assert defs[0]["description"].startswith("Name must be unique within a namespace.")
    assert defs[1] == {
        "name": "Holder", "type": "string", "format": "", "priority": 0,
        "description": "holderIdentity contains the identity of the holder of a current lease. If "
                       "Coordinated Leader Election is used, the holder identity must be equal to the "
                       "elected LeaseCandidate.metadata.name field."}
    assert defs[2]["description"].startswith("CreationTimestamp is a timestamp")


@pytest.mark.parametrize("resource", sorted(printers._COLUMNS))
def test_every_printer_tolerates_a_bare_object(resource: str) -> None:
    cells = printers.row_for(resource, {"metadata": {"name": "x"}}, now=NOW)
    assert len(cells) == len(printers.columns_for(resource))
