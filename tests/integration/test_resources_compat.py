"""The resources kubectl's everyday commands need, beyond the workloads: create, read,
update, list and delete each through JSON, and read it back as the real kubectl
prints it (server-side Table columns as kube-apiserver 1.32 names them).

RBAC kinds, PodDisruptionBudgets, PriorityClasses (with the two system classes
present from the start), ResourceQuotas, LimitRanges, Ingresses and
IngressClasses, HorizontalPodAutoscalers (stored as autoscaling/v2, served as v1
too) and CronJobs.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from httpapi import Api, eventually

from hakube.testing import Kubectl, LocalStack


@pytest.fixture(scope="module")
def api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Api:
    return Api(stack, tmp_path_factory.mktemp("resources"))


@pytest.fixture(scope="module")
def ns(api: Api) -> str:
    return api.namespace("res")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _header(kubectl: Kubectl, *args: str) -> list[str]:
    out = kubectl.run("get", *args).stdout
    return re.split(r"\s{2,}", out.splitlines()[0].strip())


def _row(kubectl: Kubectl, *args: str) -> list[str]:
    out = kubectl.run("get", *args).stdout
    return re.split(r"\s{2,}", out.splitlines()[1].strip())


def _crud(api: Api, collection: str, body: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """Create, get, list, merge-patch (`change`), replace (unchanged), and return the object."""
    name = body["metadata"]["name"]
    created = api.ok("POST", collection, body, expect=(201,))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    got = api.ok("GET", f"{collection}/{name}")
    assert got["metadata"]["uid"] == created["metadata"]["uid"]
    listed = api.ok("GET", collection)
    assert listed["kind"] == f"{body['kind']}List"
    assert name in [i["metadata"]["name"] for i in listed["items"]]
    patched = api.request("PATCH", f"{collection}/{name}", change, content_type="application/merge-patch+json")
    assert patched.status == 200, patched.body
    assert int(patched.body["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    replaced = api.ok("PUT", f"{collection}/{name}", patched.body)
    assert replaced["metadata"]["resourceVersion"] == patched.body["metadata"]["resourceVersion"]  # no-op update
    return dict(replaced)


def _delete(api: Api, path: str) -> None:
    api.ok("DELETE", path)
    assert api.request("GET", path).status == 404


# -- RBAC -------------------------------------------------------------------------------------------


def test_roles_and_bindings(api: Api, ns: str, kubectl: Kubectl) -> None:
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    role = _unique("pod-reader")
    _crud(api, f"{rbac}/namespaces/{ns}/roles",
          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": role},
           "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]},
          {"rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list"]}]})
    binding = _unique("read-pods")
    _crud(api, f"{rbac}/namespaces/{ns}/rolebindings",
          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": binding},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
           "subjects": [{"kind": "User", "name": "jane"}, {"kind": "ServiceAccount", "name": "bot",
                                                            "namespace": ns}]},
          {"metadata": {"labels": {"team": "a"}}})
    assert _header(kubectl, "roles", "-n", ns) == ["NAME", "CREATED AT"]
    assert _header(kubectl, "rolebindings", "-n", ns) == ["NAME", "ROLE", "AGE"]
    wide = _row(kubectl, "rolebinding", binding, "-n", ns, "-o", "wide")
    assert wide[:2] == [binding, f"Role/{role}"] and wide[3:] == ["jane", f"{ns}/bot"]

    cluster_role = _unique("node-reader")
    _crud(api, f"{rbac}/clusterroles",
          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": cluster_role},
           "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]},
                     {"nonResourceURLs": ["/healthz/*"], "verbs": ["get"]}]},
          {"metadata": {"annotations": {"note": "x"}}})
    cluster_binding = _unique("read-nodes")
    _crud(api, f"{rbac}/clusterrolebindings",
          {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": cluster_binding},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": cluster_role},
           "subjects": [{"kind": "Group", "name": "ops"}]},
          {"metadata": {"labels": {"team": "ops"}}})
    assert _row(kubectl, "clusterrolebinding", cluster_binding)[:2] == [cluster_binding,
                                                                        f"ClusterRole/{cluster_role}"]
    # A namespaced Role cannot name URLs; a ClusterRoleBinding only binds ClusterRoles.
    bad = api.request("POST", f"{rbac}/namespaces/{ns}/roles", {
        "metadata": {"name": "urls"}, "rules": [{"nonResourceURLs": ["/x"], "verbs": ["get"]}]})
    assert bad.status == 422 and "namespaced rules cannot apply to non-resource URLs" in bad.message
    bad = api.request("POST", f"{rbac}/clusterrolebindings", {
        "metadata": {"name": "to-role"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                     "name": "x"}})
    assert bad.status == 422 and 'roleRef.kind: Unsupported value: "Role"' in bad.message
    for path in (f"{rbac}/namespaces/{ns}/rolebindings/{binding}", f"{rbac}/namespaces/{ns}/roles/{role}",
                 f"{rbac}/clusterrolebindings/{cluster_binding}", f"{rbac}/clusterroles/{cluster_role}"):
        _delete(api, path)


def test_default_cluster_roles(api: Api, kubectl: Kubectl) -> None:
    listed = api.ok("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles")["items"]
    roles = {r["metadata"]["name"]: r for r in listed}
    for name in ("cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
                 "system:public-info-viewer", "system:kube-scheduler", "system:kube-controller-manager",
                 "system:node", "system:cluster-autoscaler", "system:addon-manager"):
        assert roles[name]["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults", name
        assert roles[name]["metadata"]["annotations"]["rbac.authorization.kubernetes.io/autoupdate"] == "true"
    assert roles["view"]["aggregationRule"] == {"clusterRoleSelectors": [
        {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]}
    assert roles["view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    # Aggregated from system:aggregate-to-view (and, for edit, from view as well), soon after start.
    def aggregated() -> bool:
        view, edit = (api.ok("GET", f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{n}") for n in ("view", "edit"))
        namespaces = {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]}
        return namespaces in (view.get("rules") or []) and all(r in edit.get("rules") or [] for r in view["rules"])

    eventually(aggregated)
    assert roles["cluster-admin"]["rules"] == [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                                               {"verbs": ["*"], "nonResourceURLs": ["*"]}]
    bindings = api.ok("GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin")
    assert bindings["subjects"] == [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io",
                                     "name": "system:masters"}]
    assert "system:basic-user" in kubectl.run("get", "clusterroles").stdout


# -- policy/v1 PodDisruptionBudget ------------------------------------------------------------------


def test_pod_disruption_budget(api: Api, ns: str, kubectl: Kubectl) -> None:
    name = _unique("pdb")
    path = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets"
    obj = _crud(api, path, {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": name},
                            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}}},
                {"spec": {"minAvailable": "50%"}})
    assert obj["spec"]["minAvailable"] == "50%"
    assert obj["status"] == {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}
    assert obj["metadata"]["generation"] == 2
    status = api.ok("PUT", f"{path}/{name}/status", {**obj, "status": {**obj["status"], "disruptionsAllowed": 2}})
    assert status["status"]["disruptionsAllowed"] == 2 and status["metadata"]["generation"] == 2
    assert _header(kubectl, "pdb", "-n", ns) == ["NAME", "MIN AVAILABLE", "MAX UNAVAILABLE", "ALLOWED DISRUPTIONS",
                                                 "AGE"]
    assert _row(kubectl, "pdb", name, "-n", ns)[:4] == [name, "50%", "N/A", "2"]
    both = api.request("POST", path, {"metadata": {"name": "both"}, "spec": {"minAvailable": 1,
                                                                             "maxUnavailable": 1}})
    assert both.status == 422 and "minAvailable and maxUnavailable cannot be both set" in both.message
    _delete(api, f"{path}/{name}")


# -- scheduling.k8s.io/v1 PriorityClass -------------------------------------------------------------


def test_priority_classes(api: Api, kubectl: Kubectl) -> None:
    path = "/apis/scheduling.k8s.io/v1/priorityclasses"
    system = {i["metadata"]["name"]: i["value"] for i in api.ok("GET", path)["items"]}
    assert system["system-node-critical"] == 2000001000
    assert system["system-cluster-critical"] == 2000000000
    name = _unique("high")
    obj = _crud(api, path, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                            "metadata": {"name": name}, "value": 1000, "description": "important"},
                {"description": "very important"})
    assert obj["preemptionPolicy"] == "PreemptLowerPriority"
    assert _header(kubectl, "pc") == ["NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]
    row = _row(kubectl, "priorityclass", name)
    assert row[:3] == [name, "1000", "false"] and row[-1] == "PreemptLowerPriority"
    changed = api.request("PUT", f"{path}/{name}", {**obj, "value": 5})
    assert changed.status == 422 and "value: Forbidden: may not be changed in an update." in changed.message
    reserved = api.request("POST", path, {"metadata": {"name": "system-mine"}, "value": 1})
    assert reserved.status == 422 and "reserved for system use only" in reserved.message
    too_high = api.request("POST", path, {"metadata": {"name": "too-high"}, "value": 2000000000})
    assert too_high.status == 422 and "maximum allowed value of a user defined priority is 1000000000" in (
        too_high.message)
    _delete(api, f"{path}/{name}")


# -- core/v1 ResourceQuota and LimitRange ------------------------------------------------------------


def test_resource_quota_and_limit_range(api: Api, ns: str, kubectl: Kubectl) -> None:
    name = _unique("quota")
    path = f"/api/v1/namespaces/{ns}/resourcequotas"
    obj = _crud(api, path, {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
                            "spec": {"hard": {"pods": "10", "limits.cpu": "4", "requests.memory": "1Gi"}}},
                {"spec": {"hard": {"pods": "20"}}})
    assert obj["spec"]["hard"]["pods"] == "20"
    api.ok("PUT", f"{path}/{name}/status", {**obj, "status": {"hard": obj["spec"]["hard"], "used": {"pods": "3"}}})
    assert _header(kubectl, "quota", "-n", ns) == ["NAME", "AGE", "REQUEST", "LIMIT"]
    row = _row(kubectl, "resourcequota", name, "-n", ns)
    assert row[2:] == ["pods: 3/20, requests.memory: 0/1Gi", "limits.cpu: 0/4"]
    _delete(api, f"{path}/{name}")

    limits = _unique("limits")
    lpath = f"/api/v1/namespaces/{ns}/limitranges"
    _crud(api, lpath, {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": limits},
                       "spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}}]}},
          {"spec": {"limits": [{"type": "Container", "default": {"cpu": "1"}}]}})
    assert _header(kubectl, "limits", "-n", ns) == ["NAME", "CREATED AT"]
    bad = api.request("POST", lpath, {"metadata": {"name": "bad"}, "spec": {"limits": [{"type": "Cluster"}]}})
    assert bad.status == 422 and 'spec.limits[0].type: Unsupported value: "Cluster"' in bad.message
    _delete(api, f"{lpath}/{limits}")


# -- networking.k8s.io/v1 Ingress and IngressClass ---------------------------------------------------


def test_ingress_and_ingress_class(api: Api, ns: str, kubectl: Kubectl) -> None:
    klass = _unique("nginx")
    cpath = "/apis/networking.k8s.io/v1/ingressclasses"
    _crud(api, cpath, {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": klass},
                       "spec": {"controller": "example.com/ingress"}}, {"metadata": {"labels": {"a": "b"}}})
    assert _row(kubectl, "ingressclass", klass)[:3] == [klass, "example.com/ingress", "<none>"]
    name = _unique("web")
    path = f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses"
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    obj = _crud(api, path, {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name},
                            "spec": {"ingressClassName": klass, "rules": [{"host": "a.example.com", "http": {
                                "paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}]}},
                {"spec": {"tls": [{"hosts": ["a.example.com"], "secretName": "tls"}]}})
    api.ok("PUT", f"{path}/{name}/status", {**obj, "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.9"}]}}})
    assert _header(kubectl, "ingress", "-n", ns) == ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]
    assert _row(kubectl, "ing", name, "-n", ns)[:5] == [name, klass, "a.example.com", "10.0.0.9", "80, 443"]
    no_type = api.request("POST", path, {"metadata": {"name": "no-type"}, "spec": {"rules": [{"http": {
        "paths": [{"path": "/", "backend": backend}]}}]}})
    assert no_type.status == 422 and "pathType: Required value: pathType must be specified" in no_type.message
    _delete(api, f"{path}/{name}")
    _delete(api, f"{cpath}/{klass}")


# -- autoscaling HorizontalPodAutoscaler (v2 stored, v1 converted) ------------------------------------


def test_horizontal_pod_autoscaler_v2_and_v1(api: Api, ns: str, kubectl: Kubectl) -> None:
    name = _unique("hpa")
    v2 = f"/apis/autoscaling/v2/namespaces/{ns}/horizontalpodautoscalers"
    v1 = f"/apis/autoscaling/v1/namespaces/{ns}/horizontalpodautoscalers"
    target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}
    obj = _crud(api, v2, {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
                          "metadata": {"name": name},
                          "spec": {"scaleTargetRef": target, "maxReplicas": 5, "metrics": [
                              {"type": "Resource", "resource": {"name": "cpu", "target": {
                                  "type": "Utilization", "averageUtilization": 60}}},
                              {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {
                                  "type": "AverageValue", "averageValue": "10"}}}]}},
                {"spec": {"maxReplicas": 7}})
    assert obj["spec"]["minReplicas"] == 1  # defaulted
    as_v1 = api.ok("GET", f"{v1}/{name}")
    assert as_v1["apiVersion"] == "autoscaling/v1"
    assert as_v1["spec"] == {"scaleTargetRef": target, "minReplicas": 1, "maxReplicas": 7,
                             "targetCPUUtilizationPercentage": 60}
    assert json.loads(as_v1["metadata"]["annotations"]["autoscaling.alpha.kubernetes.io/metrics"])[0]["type"] == "Pods"
    # A v1 write keeps what v1 cannot say (it travels in the annotation) and changes the rest.
    as_v1["spec"]["targetCPUUtilizationPercentage"] = 75
    api.ok("PUT", f"{v1}/{name}", as_v1)
    back = api.ok("GET", f"{v2}/{name}")
    assert [m["type"] for m in back["spec"]["metrics"]] == ["Pods", "Resource"]
    assert back["spec"]["metrics"][1]["resource"]["target"]["averageUtilization"] == 75
    assert "annotations" not in back["metadata"]
    assert name in [i["metadata"]["name"] for i in api.ok("GET", v1)["items"]]

    created_v1 = _unique("hpa-v1")
    made = api.ok("POST", v1, {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
                               "metadata": {"name": created_v1},
                               "spec": {"scaleTargetRef": target, "maxReplicas": 3}})
    assert made["apiVersion"] == "autoscaling/v1" and made["spec"]["targetCPUUtilizationPercentage"] == 80
    assert api.ok("GET", f"{v2}/{created_v1}")["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization", "averageUtilization": 80}

    assert _header(kubectl, "hpa", "-n", ns) == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS",
                                                 "AGE"]
    row = _row(kubectl, "hpa", name, "-n", ns)
    assert row[:2] == [name, "Deployment/web"] and row[3:6] == ["1", "7", "0"]
    assert row[2] == "qps: <unknown>/10, cpu: <unknown>/75%"
    bad = api.request("POST", v2, {"metadata": {"name": "bad"}, "spec": {"scaleTargetRef": target,
                                                                         "minReplicas": 3, "maxReplicas": 2}})
    assert bad.status == 422 and "must be greater than or equal to `minReplicas`" in bad.message
    _delete(api, f"{v1}/{name}")
    assert api.request("GET", f"{v2}/{name}").status == 404
    _delete(api, f"{v2}/{created_v1}")


# -- batch/v1 CronJob ------------------------------------------------------------------------------


def test_cronjob(api: Api, ns: str, kubectl: Kubectl) -> None:
    name = _unique("nightly")
    path = f"/apis/batch/v1/namespaces/{ns}/cronjobs"
    template = {"spec": {"template": {"spec": {"restartPolicy": "OnFailure",
                                                "containers": [{"name": "c", "image": "busybox"}]}}}}
    obj = _crud(api, path, {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name},
                            "spec": {"schedule": "0 3 * * *", "jobTemplate": template}},
                {"spec": {"schedule": "30 3 * * *"}})
    assert obj["spec"]["concurrencyPolicy"] == "Allow" and obj["spec"]["successfulJobsHistoryLimit"] == 3
    assert obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert obj["metadata"]["generation"] == 2
    assert _header(kubectl, "cronjobs", "-n", ns) == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE",
                                                      "LAST SCHEDULE", "AGE"]
    assert _row(kubectl, "cj", name, "-n", ns)[:6] == [name, "30 3 * * *", "<none>", "False", "0", "<none>"]
    bad = api.request("POST", path, {"metadata": {"name": "bad"}, "spec": {"schedule": "every day",
                                                                           "jobTemplate": template}})
    assert bad.status == 422 and bad.message.endswith(
        'spec.schedule: Invalid value: "every day": expected exactly 5 fields, found 2: [every day]')
    _delete(api, f"{path}/{name}")


# -- discovery ---------------------------------------------------------------------------------------


def test_discovery_lists_the_new_resources(api: Api, kubectl: Kubectl) -> None:
    autoscaling = api.ok("GET", "/apis/autoscaling")
    assert autoscaling["preferredVersion"]["version"] == "v2"
    assert [v["version"] for v in autoscaling["versions"]] == ["v2", "v1"]
    core = {r["name"]: r for r in api.ok("GET", "/api/v1")["resources"]}
    assert core["serviceaccounts/token"]["verbs"] == ["create"]
    assert core["serviceaccounts/token"]["kind"] == "TokenRequest"
    assert core["resourcequotas"]["shortNames"] == ["quota"]
    authz = {r["name"]: r for r in api.ok("GET", "/apis/authorization.k8s.io/v1")["resources"]}
    assert authz["subjectaccessreviews"]["verbs"] == ["create"] and not authz["subjectaccessreviews"]["namespaced"]
    assert authz["localsubjectaccessreviews"]["namespaced"]
    resources = kubectl.run("api-resources", "-o", "name").stdout.split()
    for expected in ("roles.rbac.authorization.k8s.io", "poddisruptionbudgets.policy",
                     "priorityclasses.scheduling.k8s.io", "resourcequotas", "limitranges",
                     "ingresses.networking.k8s.io", "horizontalpodautoscalers.autoscaling", "cronjobs.batch",
                     "selfsubjectreviews.authentication.k8s.io", "selfsubjectaccessreviews.authorization.k8s.io"):
        assert expected in resources, expected
