"""RBAC on a real API server: who is denied, what a binding grants, and nothing more.

Identities are client certificates the test issues from the stack's CA (CN =
user, O = groups) and service account tokens from the TokenRequest API. Every
403 is checked word for word against kube-apiserver's wording
(`responsewriters.forbiddenMessage` + `apierrors.NewForbidden`). Policy changes
reach the authorizer through the watch cache, so grants are polled for briefly.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpapi import Api, Identity, eventually

from hakube.apiserver import satoken
from hakube.testing import LocalStack

RBAC = "/apis/rbac.authorization.k8s.io/v1"
AUTHZ = "/apis/authorization.k8s.io/v1"
AUTHN = "/apis/authentication.k8s.io/v1"


@pytest.fixture(scope="module")
def api(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> Api:
    return Api(stack, tmp_path_factory.mktemp("rbac"))


@pytest.fixture(scope="module")
def ns(api: Api) -> str:
    return api.namespace("rbac")


@pytest.fixture(scope="module")
def other_ns(api: Api) -> str:
    return api.namespace("rbac-other")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _role(name: str, rules: list[dict[str, Any]], *, cluster: bool = False,
          labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole" if cluster else "Role",
            "metadata": meta, "rules": rules}


def _binding(name: str, role_kind: str, role: str, subjects: list[dict[str, Any]], *,
             cluster: bool = False) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding" if cluster else "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": subjects}


def _user(name: str) -> dict[str, Any]:
    return {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": name}


def _configmap(api: Api, ns: str, name: str) -> None:
    api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps",
           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}})


def _forbidden(reply: Any, message: str, details: dict[str, str]) -> None:
    assert reply.status == 403, reply.body
    body = reply.body
    assert body["kind"] == "Status" and body["reason"] == "Forbidden" and body["code"] == 403
    assert body["message"] == message
    assert body["details"] == details


# -- a user with no groups, a Role and a RoleBinding ------------------------------------------------


def test_user_without_groups_is_denied_until_a_rolebinding_grants_exactly_that(
        api: Api, ns: str, other_ns: str) -> None:
    name = _unique("carol")
    carol = api.user(name)
    _configmap(api, ns, "cm-a")
    _configmap(api, ns, "cm-b")
    _configmap(api, other_ns, "cm-a")

    _forbidden(api.request("GET", f"/api/v1/namespaces/{ns}/configmaps", who=carol),
               f'configmaps is forbidden: User "{name}" cannot list resource "configmaps" in API group "" '
               f'in the namespace "{ns}"', {"kind": "configmaps"})
    _forbidden(api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/cm-a", who=carol),
               f'configmaps "cm-a" is forbidden: User "{name}" cannot get resource "configmaps" in API group "" '
               f'in the namespace "{ns}"', {"name": "cm-a", "kind": "configmaps"})

    api.ok("POST", f"{RBAC}/namespaces/{ns}/roles", _role("cm-reader", [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["update"], "resourceNames": ["cm-a"]},
    ]))
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings",
           _binding("carol-reads", "Role", "cm-reader", [_user(name)]))
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}/configmaps", who=carol).status == 200)

    # Exactly what the Role says: get and list; update of cm-a only; nothing else.
    assert api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/cm-b", who=carol).status == 200
    cm_a = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/cm-a", who=carol)
    cm_a["data"] = {"k": "by-carol"}
    assert api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/cm-a", cm_a, who=carol).status == 200
    cm_b = api.ok("GET", f"/api/v1/namespaces/{ns}/configmaps/cm-b", who=carol)
    _forbidden(api.request("PUT", f"/api/v1/namespaces/{ns}/configmaps/cm-b", cm_b, who=carol),
               f'configmaps "cm-b" is forbidden: User "{name}" cannot update resource "configmaps" in API group "" '
               f'in the namespace "{ns}"', {"name": "cm-b", "kind": "configmaps"})
    _forbidden(api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?watch=true", who=carol),
               f'configmaps is forbidden: User "{name}" cannot watch resource "configmaps" in API group "" '
               f'in the namespace "{ns}"', {"kind": "configmaps"})
    _forbidden(api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps", who=carol),
               f'configmaps is forbidden: User "{name}" cannot deletecollection resource "configmaps" in API '
               f'group "" in the namespace "{ns}"', {"kind": "configmaps"})
    denied = api.request("POST", f"/api/v1/namespaces/{ns}/configmaps",
                         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "by-carol"}}, who=carol)
    assert denied.status == 403 and 'cannot create resource "configmaps"' in denied.message
    assert api.request("GET", f"/api/v1/namespaces/{ns}/configmaps/by-carol").status == 404
    _forbidden(api.request("GET", f"/api/v1/namespaces/{ns}/secrets", who=carol),
               f'secrets is forbidden: User "{name}" cannot list resource "secrets" in API group "" in the '
               f'namespace "{ns}"', {"kind": "secrets"})
    # Another namespace is still closed.
    _forbidden(api.request("GET", f"/api/v1/namespaces/{other_ns}/configmaps/cm-a", who=carol),
               f'configmaps "cm-a" is forbidden: User "{name}" cannot get resource "configmaps" in API group "" '
               f'in the namespace "{other_ns}"', {"name": "cm-a", "kind": "configmaps"})
    # A list by metadata.name is a request for that name (requestinfo.go), so resourceNames apply.
    assert api.request("GET", f"/api/v1/namespaces/{ns}/configmaps?fieldSelector=metadata.name%3Dcm-a",
                       who=carol).status == 200

    api.ok("DELETE", f"{RBAC}/namespaces/{ns}/rolebindings/carol-reads")
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}/configmaps", who=carol).status == 403)


def test_subresource_non_resource_and_cluster_scope_wording(api: Api, ns: str) -> None:
    name = _unique("erin")
    erin = api.user(name)
    _forbidden(api.request("GET", f"/api/v1/namespaces/{ns}/pods/web/log", who=erin),
               f'pods "web" is forbidden: User "{name}" cannot get resource "pods/log" in API group "" in the '
               f'namespace "{ns}"', {"name": "web", "kind": "pods"})
    _forbidden(api.request("GET", "/apis/apps/v1/deployments", who=erin),
               f'deployments.apps is forbidden: User "{name}" cannot list resource "deployments" in API group '
               f'"apps" at the cluster scope', {"group": "apps", "kind": "deployments"})
    _forbidden(api.request("GET", "/api/v1/nodes/n1", who=erin),
               f'nodes "n1" is forbidden: User "{name}" cannot get resource "nodes" in API group "" at the '
               f'cluster scope', {"name": "n1", "kind": "nodes"})
    _forbidden(api.request("GET", "/foo", who=erin), f'forbidden: User "{name}" cannot get path "/foo"', {})
    # Discovery, OpenAPI and version are open to every authenticated user (system:discovery).
    for path in ("/api", "/api/v1", "/apis", "/apis/apps/v1", "/openapi/v3", "/version"):
        assert api.request("GET", path, who=erin).status == 200, path
    # /metrics needs system:monitoring (or cluster-admin).
    assert api.request("GET", "/metrics", who=erin).status == 403


def test_cluster_role_binding_to_view(api: Api, ns: str, other_ns: str) -> None:
    name = _unique("dave")
    dave = api.user(name, ("auditors",))
    api.ok("POST", f"{RBAC}/clusterrolebindings",
           _binding(f"{name}-view", "ClusterRole", "view",
                    [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "auditors"}], cluster=True))
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}/pods", who=dave).status == 200)
    for path in (f"/api/v1/namespaces/{other_ns}/configmaps", "/api/v1/pods", "/apis/apps/v1/deployments",
                 f"/apis/batch/v1/namespaces/{ns}/cronjobs", "/api/v1/namespaces"):
        assert api.request("GET", path, who=dave).status == 200, path
    # view reads no secrets, writes nothing, and says nothing about cluster-scoped nodes.
    _forbidden(api.request("GET", f"/api/v1/namespaces/{ns}/secrets", who=dave),
               f'secrets is forbidden: User "{name}" cannot list resource "secrets" in API group "" in the '
               f'namespace "{ns}"', {"kind": "secrets"})
    assert api.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/x", who=dave).status == 403
    _forbidden(api.request("GET", "/api/v1/nodes", who=dave),
               f'nodes is forbidden: User "{name}" cannot list resource "nodes" in API group "" at the '
               'cluster scope', {"kind": "nodes"})


def test_rolebinding_to_a_cluster_role_grants_it_in_that_namespace_only(api: Api, ns: str, other_ns: str) -> None:
    name = _unique("frank")
    frank = api.user(name)
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings", _binding(f"{name}-edit", "ClusterRole", "edit",
                                                                    [_user(name)]))
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}/secrets", who=frank).status == 200)
    api.ok("POST", f"/api/v1/namespaces/{ns}/configmaps",
           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-cm"}}, who=frank)
    assert api.request("GET", f"/api/v1/namespaces/{other_ns}/secrets", who=frank).status == 403
    assert api.request("GET", "/api/v1/secrets", who=frank).status == 403  # all namespaces is cluster scope


def test_binding_to_a_missing_role_says_so(api: Api, ns: str) -> None:
    name = _unique("gina")
    gina = api.user(name)
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings", _binding(f"{name}-ghost", "Role", "no-such-role",
                                                                    [_user(name)]))

    def says_missing() -> bool:
        reply = api.request("GET", f"/api/v1/namespaces/{ns}/pods", who=gina)
        return reply.status == 403 and reply.message.endswith(
            ': RBAC: role.rbac.authorization.k8s.io "no-such-role" not found')

    eventually(says_missing)


def test_aggregated_cluster_roles_pick_up_labelled_roles(api: Api, ns: str) -> None:
    name = _unique("hank")
    role = _unique("widgets-view")
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
              "spec": {"user": name, "resourceAttributes": {"namespace": ns, "verb": "list", "group": "example.com",
                                                             "resource": "widgets"}}}
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings", _binding(f"{name}-view", "ClusterRole", "view",
                                                                    [_user(name)]))
    eventually(lambda: api.ok("POST", f"{AUTHZ}/subjectaccessreviews", {
        **review, "spec": {**review["spec"], "resourceAttributes": {"namespace": ns, "verb": "list",
                                                                     "resource": "pods"}}})["status"]["allowed"])
    assert api.ok("POST", f"{AUTHZ}/subjectaccessreviews", review)["status"]["allowed"] is False
    api.ok("POST", f"{RBAC}/clusterroles", _role(role, [
        {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}],
        cluster=True, labels={"rbac.authorization.k8s.io/aggregate-to-view": "true"}))
    # view aggregates it, and edit and admin aggregate view.
    eventually(lambda: api.ok("POST", f"{AUTHZ}/subjectaccessreviews", review)["status"]["allowed"] is True)
    allowed = api.ok("POST", f"{AUTHZ}/subjectaccessreviews", review)["status"]
    assert allowed["reason"] == (f'RBAC: allowed by RoleBinding "{name}-view/{ns}" of ClusterRole "view" to User '
                                 f'"{name}"')
    widgets = {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get", "list", "watch"]}

    def stored(role_name: str) -> list[Any]:
        return list(api.ok("GET", f"{RBAC}/clusterroles/{role_name}").get("rules") or [])

    # The stored rules follow too (the clusterrole-aggregation controller's job), through edit up to admin.
    eventually(lambda: widgets in stored("view") and widgets in stored("admin"))
    # A role that leaves the selection takes its rules along.
    api.ok("DELETE", f"{RBAC}/clusterroles/{role}")
    eventually(lambda: api.ok("POST", f"{AUTHZ}/subjectaccessreviews", review)["status"]["allowed"] is False)
    eventually(lambda: widgets not in stored("view"))


def test_no_privilege_escalation_through_roles_and_bindings(api: Api, ns: str) -> None:
    """A namespace admin may write roles and bindings, but grant only what they hold (or may `bind`)."""
    name = _unique("mona")
    mona = api.user(name)
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings", _binding(f"{name}-admin", "ClusterRole", "admin",
                                                                    [_user(name)]))
    roles = f"{RBAC}/namespaces/{ns}/roles"
    eventually(lambda: api.request("GET", roles, who=mona).status == 200)
    held = _role(f"{name}-pods", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}])
    assert api.request("POST", roles, held, who=mona).status == 201
    more = _role(f"{name}-nodes", [{"apiGroups": [""], "resources": ["nodes", "pods"], "verbs": ["get", "delete"]}])
    _forbidden(api.request("POST", roles, more, who=mona),
               f'roles.rbac.authorization.k8s.io "{name}-nodes" is forbidden: user "{name}" '
               '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n'
               '{APIGroups:[""], Resources:["nodes"], Verbs:["get" "delete"]}',
               {"name": f"{name}-nodes", "group": "rbac.authorization.k8s.io", "kind": "roles"})
    assert api.request("GET", f"{roles}/{name}-nodes").status == 404
    # Widening a role she wrote is the same check.
    widened = api.ok("GET", f"{roles}/{name}-pods", who=mona)
    widened["rules"].append({"apiGroups": [""], "resources": ["nodes"], "verbs": ["list"]})
    assert api.request("PUT", f"{roles}/{name}-pods", widened, who=mona).status == 403

    bindings = f"{RBAC}/namespaces/{ns}/rolebindings"
    to_view = _binding(f"{name}-view", "ClusterRole", "view", [_user("someone")])
    assert api.request("POST", bindings, to_view, who=mona).status == 201
    to_admin = _binding(f"{name}-root", "ClusterRole", "cluster-admin", [_user("someone")])
    denied = api.request("POST", bindings, to_admin, who=mona)
    assert denied.status == 403 and "is attempting to grant RBAC permissions not currently held" in denied.message
    # `bind` on that one ClusterRole lets her bind it without holding it.
    api.ok("POST", roles, _role(f"{name}-binder", [{"apiGroups": ["rbac.authorization.k8s.io"],
                                                    "resources": ["clusterroles"], "verbs": ["bind"],
                                                    "resourceNames": ["cluster-admin"]}]))
    api.ok("POST", bindings, _binding(f"{name}-binder", "Role", f"{name}-binder", [_user(name)]))
    eventually(lambda: api.request("POST", bindings, to_admin, who=mona).status == 201)


def test_impersonation(api: Api, ns: str, kubectl_home: Path) -> None:
    """`kubectl --as`: allowed to whoever may `impersonate` users/groups, evaluated as the impersonated user."""
    name = _unique("nora")
    nora = api.user(name)
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings", _binding(f"{name}-view", "ClusterRole", "view",
                                                                    [_user(name)]))
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}/pods", who=nora).status == 200)
    as_nora = _kubectl(api.admin_identity(), kubectl_home, "get", "pods", "-n", ns, f"--as={name}")
    assert as_nora.returncode == 0, as_nora.stderr
    denied = _kubectl(api.admin_identity(), kubectl_home, "get", "secrets", "-n", ns, f"--as={name}")
    assert denied.returncode == 1
    assert (f'secrets is forbidden: User "{name}" cannot list resource "secrets" in API group "" in the namespace '
            f'"{ns}"') in denied.stderr
    whoami = _kubectl(api.admin_identity(), kubectl_home, "auth", "whoami", "-o", "json", f"--as={name}",
                      "--as-group=devs")
    assert json.loads(whoami.stdout)["status"]["userInfo"]["groups"] == ["devs", "system:authenticated"]
    # Nora herself may not impersonate anyone.
    refused = _kubectl(nora, kubectl_home, "get", "pods", "-n", ns, "--as=someone-else")
    assert refused.returncode == 1
    assert (f'users "someone-else" is forbidden: User "{name}" cannot impersonate resource "users" in API group "" '
            "at the cluster scope") in refused.stderr


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cluster", [False, True], ids=["Role", "ClusterRole"])
def test_rule_with_empty_verbs_is_422_and_nothing_written(api: Api, ns: str, cluster: bool) -> None:
    name = _unique("no-verbs")
    path = f"{RBAC}/clusterroles" if cluster else f"{RBAC}/namespaces/{ns}/roles"
    reply = api.request("POST", path, _role(name, [{"apiGroups": [""], "resources": ["pods"], "verbs": []}],
                                          cluster=cluster))
    assert reply.status == 422, reply.body
    kind = "ClusterRole" if cluster else "Role"
    assert reply.body["reason"] == "Invalid"
    assert reply.body["message"] == (f'{kind}.rbac.authorization.k8s.io "{name}" is invalid: rules[0].verbs: '
                                     "Required value: verbs must contain at least one value")
    assert reply.body["details"]["causes"] == [{"reason": "FieldValueRequired", "field": "rules[0].verbs",
                                                "message": "Required value: verbs must contain at least one value"}]
    assert api.request("GET", f"{path}/{name}").status == 404


def test_role_ref_is_immutable_and_subjects_are_checked(api: Api, ns: str) -> None:
    name = _unique("rb")
    created = api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings",
                     _binding(name, "ClusterRole", "view", [{"kind": "User", "name": "ivy"}]))
    assert created["subjects"][0]["apiGroup"] == "rbac.authorization.k8s.io"  # defaulted
    created["roleRef"]["name"] = "edit"
    reply = api.request("PUT", f"{RBAC}/namespaces/{ns}/rolebindings/{name}", created)
    assert reply.status == 422
    assert reply.body["message"] == (
        f'RoleBinding.rbac.authorization.k8s.io "{name}" is invalid: roleRef: Invalid value: '
        'rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef')
    bad = api.request("POST", f"{RBAC}/clusterrolebindings",
                      _binding(_unique("crb"), "ClusterRole", "view", [{"kind": "ServiceAccount", "name": "x"},
                                                                       {"kind": "Robot", "name": "y"}],
                               cluster=True))
    assert bad.status == 422
    assert [c["field"] for c in bad.body["details"]["causes"]] == ["subjects[0].namespace", "subjects[1].kind"]


# -- access reviews -------------------------------------------------------------------------------


def test_access_reviews_json(api: Api, ns: str) -> None:
    name = _unique("jill")
    jill = api.user(name)
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings", _binding(f"{name}-view", "ClusterRole", "view",
                                                                    [_user(name)]))

    def can(verb: str, resource: str, namespace: str = ns, who: Identity = jill) -> Any:
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}}}
        reply = api.request("POST", f"{AUTHZ}/selfsubjectaccessreviews", body, who=who)
        assert reply.status == 201, reply.body
        assert reply.body["kind"] == "SelfSubjectAccessReview"
        return reply.body["status"]

    eventually(lambda: can("list", "pods")["allowed"] is True)
    assert can("list", "pods")["reason"].startswith(f'RBAC: allowed by RoleBinding "{name}-view/{ns}"')
    assert can("delete", "pods") == {"allowed": False}
    assert can("list", "secrets") == {"allowed": False}
    assert can("create", "anything", who=api.admin) == {"allowed": True}  # system:masters

    non_resource = api.ok("POST", f"{AUTHZ}/selfsubjectaccessreviews", {
        "spec": {"nonResourceAttributes": {"path": "/apis/apps", "verb": "get"}}}, who=jill)
    assert non_resource["status"]["allowed"] is True
    invalid = api.request("POST", f"{AUTHZ}/selfsubjectaccessreviews", {"spec": {}}, who=jill)
    assert invalid.status == 422 and "exactly one of nonResourceAttributes or resourceAttributes" in invalid.message

    # SubjectAccessReview asks about someone else; jill may not, an admin may.
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": name, "resourceAttributes": {"namespace": ns, "verb": "get", "resource": "configmaps"}}}
    _forbidden(api.request("POST", f"{AUTHZ}/subjectaccessreviews", sar, who=jill),
               f'subjectaccessreviews.authorization.k8s.io is forbidden: User "{name}" cannot create resource '
               '"subjectaccessreviews" in API group "authorization.k8s.io" at the cluster scope',
               {"group": "authorization.k8s.io", "kind": "subjectaccessreviews"})
    assert api.ok("POST", f"{AUTHZ}/subjectaccessreviews", sar)["status"]["allowed"] is True
    no_user = api.request("POST", f"{AUTHZ}/subjectaccessreviews", {"spec": {"resourceAttributes": {"verb": "get"}}})
    assert no_user.status == 422 and "at least one of user or group must be specified" in no_user.message

    local = {"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
             "spec": {"user": name, "resourceAttributes": {"namespace": "elsewhere", "verb": "get",
                                                           "resource": "pods"}}}
    mismatch = api.request("POST", f"{AUTHZ}/namespaces/{ns}/localsubjectaccessreviews", local)
    assert mismatch.status == 422 and "must match metadata.namespace" in mismatch.message
    local["spec"]["resourceAttributes"]["namespace"] = ns
    assert api.ok("POST", f"{AUTHZ}/namespaces/{ns}/localsubjectaccessreviews", local)["status"]["allowed"]

    rules = api.ok("POST", f"{AUTHZ}/selfsubjectrulesreviews", {"spec": {"namespace": ns}}, who=jill)["status"]
    assert rules["incomplete"] is False
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]} in rules[
        "resourceRules"]
    assert any("/apis/*" in r["nonResourceURLs"] for r in rules["nonResourceRules"])

    whoami = api.ok("POST", f"{AUTHN}/selfsubjectreviews", {"apiVersion": "authentication.k8s.io/v1",
                                                            "kind": "SelfSubjectReview"}, who=jill)
    assert whoami["status"]["userInfo"] == {"username": name, "groups": ["system:authenticated"]}
    # Discovery lists the reviews as create-only.
    found = api.ok("GET", "/apis/authorization.k8s.io/v1")
    assert {r["name"]: r["verbs"] for r in found["resources"]}["selfsubjectaccessreviews"] == ["create"]


# -- service accounts and TokenRequest ---------------------------------------------------------------


def _token_request(api: Api, ns: str, sa: str, spec: dict[str, Any] | None = None) -> Any:
    return api.request("POST", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}})


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_token_request_issues_a_token_the_server_accepts(api: Api, ns: str) -> None:
    sa = _unique("bot")
    sa_obj = api.ok("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}})
    reply = _token_request(api, ns, sa, {"expirationSeconds": 1200})
    assert reply.status == 201, reply.body
    assert reply.body["kind"] == "TokenRequest" and reply.body["apiVersion"] == "authentication.k8s.io/v1"
    token = reply.body["status"]["token"]
    claims = _claims(token)
    assert claims["exp"] - claims["iat"] == 1200
    assert claims["sub"] == f"system:serviceaccount:{ns}:{sa}"
    assert claims["kubernetes.io"]["serviceaccount"] == {"name": sa, "uid": sa_obj["metadata"]["uid"]}
    assert reply.body["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    assert _token_request(api, ns, sa).status == 201  # default 3600 s
    assert _claims(_token_request(api, ns, sa).body["status"]["token"])["exp"] - time.time() > 3500

    bot = api.bearer(token)
    whoami = api.ok("POST", f"{AUTHN}/selfsubjectreviews", {}, who=bot)["status"]["userInfo"]
    user = f"system:serviceaccount:{ns}:{sa}"
    assert whoami["username"] == user and whoami["uid"] == sa_obj["metadata"]["uid"]
    assert whoami["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"]
    _forbidden(api.request("GET", f"/api/v1/namespaces/{ns}/pods", who=bot),
               f'pods is forbidden: User "{user}" cannot list resource "pods" in API group "" in the namespace '
               f'"{ns}"', {"kind": "pods"})
    # A ServiceAccount subject without a namespace means the binding's namespace.
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings",
           _binding(f"{sa}-view", "ClusterRole", "view", [{"kind": "ServiceAccount", "name": sa}]))
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}/pods", who=bot).status == 200)

    # A token for another audience is not for the API server.
    vault = _token_request(api, ns, sa, {"audiences": ["vault"]}).body["status"]["token"]
    assert api.request("GET", f"/api/v1/namespaces/{ns}/pods", who=api.bearer(vault)).status == 401
    # Once the service account is gone (even if recreated: new uid), its tokens are refused.
    api.ok("DELETE", f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}")
    eventually(lambda: api.request("GET", f"/api/v1/namespaces/{ns}/pods", who=bot).status == 401, timeout=15)
    api.ok("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
           {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}})
    time.sleep(0.2)
    assert api.request("GET", f"/api/v1/namespaces/{ns}/pods", who=bot).status == 401


def test_expired_and_forged_tokens_are_refused(api: Api, stack: LocalStack, ns: str) -> None:
    sa = _unique("old")
    sa_obj = api.ok("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}})
    signer = satoken.TokenSigner(satoken.load_private_key(stack.sa_key_file))
    common = {"namespace": ns, "name": sa, "uid": sa_obj["metadata"]["uid"],
              "audiences": [satoken.DEFAULT_ISSUER], "expiration_seconds": 600}
    fresh, _ = signer.sign(**common)  # type: ignore[arg-type]
    assert api.request("POST", f"{AUTHN}/selfsubjectreviews", {}, who=api.bearer(fresh)).status == 201
    # Expired two minutes ago: past go-jose's one-minute leeway.
    expired, _ = signer.sign(**common, now=time.time() - 720)  # type: ignore[arg-type]
    reply = api.request("POST", f"{AUTHN}/selfsubjectreviews", {}, who=api.bearer(expired))
    assert reply.status == 401 and reply.body["reason"] == "Unauthorized"
    other = satoken.TokenSigner(satoken.load_private_key(_other_key(stack)))
    forged, _ = other.sign(**common)  # type: ignore[arg-type]
    assert api.request("POST", f"{AUTHN}/selfsubjectreviews", {}, who=api.bearer(forged)).status == 401


def _other_key(stack: LocalStack) -> Path:
    from hakube.cluster import pki

    path = stack.root / "other-sa.key"
    if not path.exists():
        pki.write_pem(path, pki.create_service_account_key(), private=True)
    return path


def test_token_request_bad_input(api: Api, ns: str) -> None:
    missing = _token_request(api, ns, "no-such-sa")
    assert missing.status == 404
    assert missing.body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": 'serviceaccounts "no-such-sa" not found', "reason": "NotFound",
                            "details": {"name": "no-such-sa", "kind": "serviceaccounts"}, "code": 404}
    sa = _unique("short")
    api.ok("POST", f"/api/v1/namespaces/{ns}/serviceaccounts",
           {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}})
    short = _token_request(api, ns, sa, {"expirationSeconds": 60})
    assert short.status == 422
    assert short.body["message"] == (f'TokenRequest.authentication.k8s.io "{sa}" is invalid: spec.expirationSeconds: '
                                     "Invalid value: 60: may not specify a duration less than 10 minutes")
    pod_bound = _token_request(api, ns, sa, {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "nope"}})
    assert pod_bound.status == 404 and pod_bound.body["message"] == 'pods "nope" not found'
    wrong_kind = _token_request(api, ns, sa, {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1",
                                                                 "name": "x"}})
    assert wrong_kind.status == 400


# -- our components' identities -------------------------------------------------------------------


@pytest.mark.parametrize(("user", "groups", "verb", "group", "resource", "namespace", "name", "allowed"), [
    ("system:kube-scheduler", (), "create", "", "pods/binding", "default", "p", True),
    ("system:kube-scheduler", (), "patch", "", "pods/status", "default", "p", True),
    ("system:kube-scheduler", (), "update", "coordination.k8s.io", "leases", "kube-system", "kube-scheduler", True),
    ("system:kube-scheduler", (), "update", "coordination.k8s.io", "leases", "kube-system",
     "kube-controller-manager", False),
    ("system:kube-scheduler", (), "delete", "", "nodes", "", "n1", False),
    ("system:kube-scheduler", (), "get", "", "secrets", "default", "s", False),
    ("system:kube-controller-manager", (), "create", "", "pods", "default", "", True),
    ("system:kube-controller-manager", (), "update", "apps", "deployments/status", "default", "d", True),
    ("system:kube-controller-manager", (), "deletecollection", "apps", "replicasets", "ns1", "", True),
    ("system:kube-controller-manager", (), "update", "", "namespaces/finalize", "", "ns1", True),
    ("system:kube-controller-manager", (), "create", "", "secrets", "default", "", False),
    ("system:kube-controller-manager", (), "create", "rbac.authorization.k8s.io", "clusterrolebindings", "", "",
     False),
    ("system:node:n1", ("system:nodes",), "create", "", "nodes", "", "", True),
    ("system:node:n1", ("system:nodes",), "patch", "", "nodes/status", "", "n1", True),
    ("system:node:n1", ("system:nodes",), "update", "coordination.k8s.io", "leases", "kube-node-lease", "n1", True),
    ("system:node:n1", ("system:nodes",), "delete", "", "pods", "default", "p", True),
    ("system:node:n1", ("system:nodes",), "delete", "", "namespaces", "", "default", False),
    ("system:cluster-autoscaler", (), "list", "policy", "poddisruptionbudgets", "", "", True),
    ("system:cluster-autoscaler", (), "delete", "", "nodes", "", "n1", True),
    ("system:cluster-autoscaler", (), "update", "", "configmaps", "kube-system", "cluster-autoscaler-status", True),
    ("system:cluster-autoscaler", (), "update", "", "configmaps", "kube-system", "other", False),
    ("system:cluster-autoscaler", (), "get", "", "secrets", "default", "s", False),
    ("system:addon-manager", (), "create", "apps", "deployments", "kube-system", "", True),
    ("system:addon-manager", (), "bind", "rbac.authorization.k8s.io", "clusterroles", "", "view", True),
    ("system:addon-manager", (), "update", "", "nodes", "", "n1", False),
])
def test_component_roles_are_least_privilege(api: Api, user: str, groups: tuple[str, ...], verb: str,
                                             group: str, resource: str, namespace: str, name: str,
                                             allowed: bool) -> None:
    res, _, sub = resource.partition("/")
    review = {"spec": {"user": user, "groups": [*groups, "system:authenticated"],
                       "resourceAttributes": {"verb": verb, "group": group, "resource": res, "subresource": sub,
                                              "namespace": namespace, "name": name}}}
    answer = api.ok("POST", f"{AUTHZ}/subjectaccessreviews", review)["status"]
    assert answer["allowed"] is allowed, answer


# -- the real kubectl ------------------------------------------------------------------------------


def _kubectl(who: Identity, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("kubectl")
    if binary is None:
        pytest.skip("kubectl is not installed")
    env = {**os.environ, "KUBECONFIG": str(who.kubeconfig), "HOME": str(home)}
    return subprocess.run([binary, *args], capture_output=True, text=True, env=env, timeout=60)


def _skip_if_protobuf_refused(proc: subprocess.CompletedProcess[str]) -> None:
    # kubectl's typed clients send protobuf bodies (API-COMPAT.md §0); without decoding them the
    # server answers 415 and there is nothing to check here yet (the JSON tests above cover it).
    if "unknown format" in proc.stderr or "UnsupportedMediaType" in proc.stderr or "415" in proc.stderr:
        pytest.skip("the server does not decode protobuf request bodies yet (415)")


@pytest.fixture(scope="module")
def kubectl_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("kubectl-rbac-home")


def test_kubectl_auth_can_i(api: Api, ns: str, kubectl_home: Path) -> None:
    name = _unique("kate")
    kate = api.user(name)
    api.ok("POST", f"{RBAC}/namespaces/{ns}/rolebindings", _binding(f"{name}-view", "ClusterRole", "view",
                                                                    [_user(name)]))
    yes = _kubectl(kate, kubectl_home, "auth", "can-i", "list", "pods", "-n", ns)
    _skip_if_protobuf_refused(yes)
    if yes.stdout.strip() != "yes":  # the binding may need a moment to reach the authorizer
        time.sleep(0.5)
        yes = _kubectl(kate, kubectl_home, "auth", "can-i", "list", "pods", "-n", ns)
    assert (yes.returncode, yes.stdout.strip()) == (0, "yes"), yes.stderr
    no = _kubectl(kate, kubectl_home, "auth", "can-i", "delete", "pods", "-n", ns)
    assert (no.returncode, no.stdout.strip()) == (1, "no"), no.stderr
    other = _kubectl(kate, kubectl_home, "auth", "can-i", "get", "secrets", "-n", ns)
    assert other.stdout.strip() == "no"
    listed = _kubectl(kate, kubectl_home, "auth", "can-i", "--list", "-n", ns)
    assert listed.returncode == 0, listed.stderr
    assert "selfsubjectaccessreviews.authorization.k8s.io" in listed.stdout


def test_kubectl_auth_whoami(api: Api, kubectl_home: Path) -> None:
    name = _unique("liam")
    liam = api.user(name, ("team-a",))
    proc = _kubectl(liam, kubectl_home, "auth", "whoami", "-o", "json")
    _skip_if_protobuf_refused(proc)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)["status"]["userInfo"]
    assert info == {"username": name, "groups": ["team-a", "system:authenticated"]}
    table = _kubectl(liam, kubectl_home, "auth", "whoami")
    assert "Username" in table.stdout and name in table.stdout
