"""RBAC rule semantics, request attributes, escalation checks, default-policy reconciliation,
service account tokens and the HPA version conversion, without a server."""

from __future__ import annotations

import time
from typing import Any

import pytest
from multidict import MultiDict

from hakube.apiserver import bootstrappolicy, satoken
from hakube.apiserver.auth import User
from hakube.apiserver.bootstrap import reconcile
from hakube.apiserver.escalation import rule_covers
from hakube.apiserver.rbac import Attributes, PolicyIndex, Rule, forbidden_message, request_attributes
from hakube.apiserver.requestinfo import parse_resource_path
from hakube.apiserver.strategies.autoscaling import v1_to_v2, v2_to_v1
from hakube.cluster import pki

ALICE = User("alice", groups=("devs", "system:authenticated"))


def _attrs(verb: str, resource: str = "", *, group: str = "", sub: str = "", name: str = "", ns: str = "",
           path: str = "") -> Attributes:
    if path:
        return Attributes(ALICE, verb, False, path=path)
    return Attributes(ALICE, verb, True, namespace=ns, group=group, resource=resource, subresource=sub, name=name)


@pytest.mark.parametrize(("rule", "attrs", "allowed"), [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, _attrs("get", "pods"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, _attrs("list", "pods"), False),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, _attrs("delete", "widgets", group="x.io"), True),
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["deployments"]}, _attrs("get", "deployments"), False),
    # A resource does not match its subresources, and the reverse.
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, _attrs("get", "pods", sub="log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, _attrs("get", "pods", sub="log"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, _attrs("get", "pods"), False),
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]},
     _attrs("update", "deployments", group="apps", sub="scale"), True),
    ({"verbs": ["update"], "apiGroups": ["*"], "resources": ["*/scale"]}, _attrs("update", "deployments"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     _attrs("get", "configmaps", name="a"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     _attrs("get", "configmaps", name="b"), False),
    ({"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     _attrs("list", "configmaps"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, _attrs("get", path="/apis/apps/v1"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]}, _attrs("get", path="/apis"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, _attrs("get", path="/healthz"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, _attrs("get", "pods"), False),
])
def test_rule_allows(rule: dict[str, Any], attrs: Attributes, allowed: bool) -> None:
    assert Rule.from_obj(rule).allows(attrs) is allowed


def _obj(kind: str, name: str, ns: str = "", **rest: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, **({"namespace": ns} if ns else {})}
    if "labels" in rest:
        meta["labels"] = rest.pop("labels")
    return {"kind": kind, "metadata": meta, **rest}


def _index() -> PolicyIndex:
    read = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}
    secrets = {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}
    return PolicyIndex(
        roles=[_obj("Role", "pod-reader", "ns1", rules=[read])],
        bindings=[
            _obj("RoleBinding", "rb", "ns1", roleRef={"kind": "Role", "name": "pod-reader"},
                 subjects=[{"kind": "User", "name": "alice"}]),
            _obj("RoleBinding", "sa", "ns2", roleRef={"kind": "ClusterRole", "name": "agg"},
                 subjects=[{"kind": "ServiceAccount", "name": "bot"}]),
            _obj("RoleBinding", "ghost", "ns3", roleRef={"kind": "Role", "name": "missing"},
                 subjects=[{"kind": "Group", "name": "devs"}]),
        ],
        cluster_roles=[
            _obj("ClusterRole", "agg", aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"agg": "yes"}}]},
                 rules=[{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]),  # stale: not used
            _obj("ClusterRole", "secrets", labels={"agg": "yes"}, rules=[secrets]),
        ],
        cluster_bindings=[],
    )


def test_policy_index_bindings_subjects_and_aggregation() -> None:
    index = _index()
    allowed = index.authorize(_attrs("list", "pods", ns="ns1"))
    assert allowed.allowed and allowed.reason == ('RBAC: allowed by RoleBinding "rb/ns1" of Role "pod-reader" to '
                                                  'User "alice"')
    assert not index.authorize(_attrs("list", "pods", ns="ns2")).allowed
    bot = User("system:serviceaccount:ns2:bot", groups=("system:serviceaccounts",))
    assert index.authorize(Attributes(bot, "get", True, namespace="ns2", resource="secrets")).allowed
    # The aggregated role is its selection, not what it stores.
    assert not index.authorize(Attributes(bot, "delete", True, namespace="ns2", resource="pods")).allowed
    assert index.aggregated_rules("agg") == [{"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"]}]
    denied = index.authorize(_attrs("get", "pods", ns="ns3"))
    assert denied == denied.__class__(False, 'RBAC: role.rbac.authorization.k8s.io "missing" not found')


@pytest.mark.parametrize(("method", "path", "query", "verb", "name", "namespace"), [
    ("GET", "/api/v1/namespaces/d/pods", {}, "list", "", "d"),
    ("GET", "/api/v1/namespaces/d/pods", {"watch": "true"}, "watch", "", "d"),
    ("GET", "/api/v1/namespaces/d/pods", {"fieldSelector": "metadata.name=web"}, "list", "web", "d"),
    ("GET", "/api/v1/namespaces/d/pods/web", {}, "get", "web", "d"),
    ("DELETE", "/api/v1/namespaces/d/pods", {}, "deletecollection", "", "d"),
    ("DELETE", "/api/v1/namespaces/d/pods/web", {}, "delete", "web", "d"),
    ("POST", "/api/v1/namespaces/d/pods", {}, "create", "", "d"),
    ("PATCH", "/apis/apps/v1/namespaces/d/deployments/x/scale", {}, "patch", "x", "d"),
    ("GET", "/api/v1/namespaces/d", {}, "get", "d", "d"),  # a namespace is in its own scope
    ("GET", "/api/v1/nodes", {}, "list", "", ""),
])
def test_request_attributes(method: str, path: str, query: dict[str, str], verb: str, name: str,
                            namespace: str) -> None:
    attrs = request_attributes(ALICE, method, path, MultiDict(query), parse_resource_path(path))
    assert (attrs.verb, attrs.name, attrs.namespace) == (verb, name, namespace)
    assert attrs.resource_request


def test_non_resource_attributes_and_messages() -> None:
    attrs = request_attributes(ALICE, "GET", "/version", {}, None)
    assert (attrs.resource_request, attrs.verb) == (False, "get")
    assert forbidden_message(attrs) == 'forbidden: User "alice" cannot get path "/version"'
    sub = _attrs("create", "pods", sub="eviction", name="p", ns="d")
    assert forbidden_message(sub) == ('pods "p" is forbidden: User "alice" cannot create resource "pods/eviction" in '
                                      'API group "" in the namespace "d"')
    cluster = _attrs("list", "deployments", group="apps")
    assert forbidden_message(cluster, "RBAC: x") == (
        'deployments.apps is forbidden: User "alice" cannot list resource "deployments" in API group "apps" at the '
        "cluster scope: RBAC: x")


def test_rule_covers() -> None:
    owner = {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "*/scale"]}
    assert rule_covers(owner, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})
    assert rule_covers(owner, {"verbs": ["get"], "apiGroups": [""], "resources": ["deployments/scale"]})
    assert not rule_covers(owner, {"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]})
    assert not rule_covers(owner, {"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]})
    named = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}
    assert rule_covers(owner, named) and not rule_covers(named, {"verbs": ["get"], "apiGroups": [""],
                                                                  "resources": ["pods"]})
    assert rule_covers({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]},
                       {"verbs": ["get"], "nonResourceURLs": ["/apis/apps"]})


def test_default_policy_reconciliation() -> None:
    [desired] = [r for r in bootstrappolicy.cluster_roles() if r["metadata"]["name"] == "system:basic-user"]
    current = {**desired, "metadata": {**desired["metadata"], "labels": {"mine": "x"}}, "rules": [
        desired["rules"][0], {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}]}
    merged = reconcile(current, desired)
    assert merged is not None
    assert merged["rules"] == [*current["rules"], desired["rules"][1]]  # added, nothing removed
    assert merged["metadata"]["labels"] == {"kubernetes.io/bootstrapping": "rbac-defaults", "mine": "x"}
    assert reconcile(merged, desired) is None
    frozen = {**current, "metadata": {**current["metadata"], "annotations": {bootstrappolicy.AUTOUPDATE: "false"}}}
    assert reconcile(frozen, desired) is None


def test_service_account_tokens(tmp_path: Any) -> None:
    key_file = tmp_path / "sa.key"
    pki.write_pem(key_file, pki.create_service_account_key(), private=True)
    signer = satoken.TokenSigner(satoken.load_private_key(key_file))
    verifier = satoken.TokenVerifier(satoken.load_public_keys(key_file))
    token, expires = signer.sign(namespace="ns", name="bot", uid="u1", audiences=[satoken.DEFAULT_ISSUER],
                                 expiration_seconds=600,
                                 bound=satoken.BoundRef("Pod", "web", "pod-uid"))
    claims = verifier.verify(token)
    assert (claims.username, claims.uid, claims.bound) == ("system:serviceaccount:ns:bot", "u1",
                                                           satoken.BoundRef("Pod", "web", "pod-uid"))
    assert expires - time.time() == pytest.approx(600, abs=2)
    with pytest.raises(satoken.TokenError, match="expired"):
        verifier.verify(token, now=expires + satoken.LEEWAY + 1)
    with pytest.raises(satoken.TokenError, match="audiences"):
        satoken.TokenVerifier(verifier.keys, audiences=("vault",)).verify(token)
    head, body, sig = token.split(".")
    with pytest.raises(satoken.TokenError, match="signature"):
        verifier.verify(f"{head}.{body}.{sig[:-4]}AAAA")
    ec_key = tmp_path / "ec.key"
    pki.write_pem(ec_key, pki.create_ca("x").key_pem, private=True)  # a P-256 key: ES256
    es = satoken.TokenSigner(satoken.load_private_key(ec_key))
    es_token, _ = es.sign(namespace="ns", name="bot", uid="u1", audiences=[satoken.DEFAULT_ISSUER],
                          expiration_seconds=600)
    assert satoken.TokenVerifier(satoken.load_public_keys(ec_key)).verify(es_token).name == "bot"


def test_hpa_v1_v2_round_trip() -> None:
    v2 = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
          "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 1, "maxReplicas": 4,
                   "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {
                       "type": "Utilization", "averageUtilization": 50}}},
                       {"type": "Pods", "pods": {"metric": {"name": "qps"}, "target": {"type": "AverageValue",
                                                                                     "averageValue": "1"}}}],
                   "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
          "status": {"currentReplicas": 2, "desiredReplicas": 3, "currentMetrics": [
              {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 40}}}]}}
    v1 = v2_to_v1(v2)
    assert v1["spec"] == {"scaleTargetRef": {"kind": "Deployment", "name": "d"}, "minReplicas": 1,
                          "maxReplicas": 4, "targetCPUUtilizationPercentage": 50}
    assert v1["status"] == {"currentReplicas": 2, "desiredReplicas": 3, "currentCPUUtilizationPercentage": 40}
    back = v1_to_v2(v1)
    assert back["spec"]["behavior"] == v2["spec"]["behavior"]
    assert back["spec"]["metrics"] == [v2["spec"]["metrics"][1], v2["spec"]["metrics"][0]]
    assert "annotations" not in back["metadata"]
