"""The RBAC objects and PriorityClasses every cluster starts with.

Roles and bindings are those of k/k `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`
(policy.go, testdata/cluster-roles.yaml at release-1.32) for what users and
tools expect: cluster-admin, admin/edit/view (aggregated from
system:aggregate-to-*), system:basic-user, system:discovery,
system:public-info-viewer, system:monitoring, system:node, system:kube-scheduler,
system:volume-scheduler, system:auth-delegator, system:node-proxier. Every one
carries the `kubernetes.io/bootstrapping: rbac-defaults` label and the
`rbac.authorization.kubernetes.io/autoupdate: "true"` annotation (set it to
"false" to keep your own edits from being reconciled).

Where hakube differs, on purpose:

- system:kube-controller-manager. Kube gives each controller its own service
  account and role (controller_policy.go, `system:controller:*`) and the
  controller-manager identity only enough to start them. Our controller-manager
  runs every controller under its one identity, so its role is the union of
  what ours need (deployment, replicaset, namespace, garbage collector,
  serviceaccount, endpoints, endpointslice, node lifecycle with taint eviction,
  and the `kubernetes` service): the garbage collector's and namespace
  controller's get/list/watch/update/patch/delete/deletecollection of every
  resource, plus create of exactly the kinds our controllers make (pods,
  replicasets, endpoints, endpointslices, serviceaccounts, services, events)
  and its leader-election Lease.
- system:node is bound to the group system:nodes. Kube leaves that binding
  empty and relies on the Node authorizer to confine a node to its own
  objects; hakube has no Node authorizer, so each node may do what the role
  allows for every node.
- system:cluster-autoscaler and system:addon-manager (users of the same names)
  have hakube's own least-privilege roles, described at their definitions.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]

RBAC_GROUP = "rbac.authorization.k8s.io"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = (*READ, *WRITE)

# Lease and ConfigMap names of our own components (their --leader-elect-resource-name defaults).
SCHEDULER_LEASE = "kube-scheduler"
CONTROLLER_MANAGER_LEASE = "kube-controller-manager"
AUTOSCALER_LEASE = "cluster-autoscaler"
AUTOSCALER_STATUS = "cluster-autoscaler-status"
ADDON_MANAGER_LEASE = "kube-addon-manager"


def rule(verbs: tuple[str, ...] | str, groups: tuple[str, ...] | str = (), resources: tuple[str, ...] | str = (),
         names: tuple[str, ...] | str = (), urls: tuple[str, ...] | str = ()) -> Obj:
    """rbacv1helpers.NewRule(...).Groups(...).Resources(...).Names(...).URLs(...)."""

    def seq(value: tuple[str, ...] | str) -> list[str]:
        return [value] if isinstance(value, str) else list(value)

    out: Obj = {"verbs": seq(verbs)}
    if urls:
        out["nonResourceURLs"] = seq(urls)
        return out
    out["apiGroups"] = seq(groups)
    out["resources"] = seq(resources)
    if names:
        out["resourceNames"] = seq(names)
    return out


def _meta(name: str, labels: dict[str, str] | None = None, namespace: str = "") -> Obj:
    meta: Obj = {"name": name, "labels": {**LABELS, **(labels or {})}, "annotations": {AUTOUPDATE: "true"}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _cluster_role(name: str, rules: list[Obj], *, labels: dict[str, str] | None = None,
                  aggregate: str = "") -> Obj:
    role: Obj = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": _meta(name, labels),
                 "rules": rules}
    if aggregate:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {f"rbac.authorization.k8s.io/aggregate-to-{aggregate}": "true"}}]}
    return role


def _subject(kind: str, name: str) -> Obj:
    if kind == "ServiceAccount":
        namespace, _, sa = name.partition("/")
        return {"kind": kind, "name": sa, "namespace": namespace}
    return {"kind": kind, "apiGroup": RBAC_GROUP, "name": name}


def _cluster_binding(name: str, *subjects: tuple[str, str], role: str = "") -> Obj:
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": _meta(name),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role or name},
            "subjects": [_subject(kind, who) for kind, who in subjects]}


def _events() -> Obj:
    return rule(("create", "update", "patch"), ("", "events.k8s.io"), "events")


def _aggregate_labels(*targets: str) -> dict[str, str]:
    return {f"rbac.authorization.k8s.io/aggregate-to-{t}": "true" for t in targets}


def _user_facing_roles() -> list[Obj]:
    view = [
        rule(READ, "", ("configmaps", "endpoints", "persistentvolumeclaims", "persistentvolumeclaims/status", "pods",
                        "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                        "services/status")),
        rule(READ, "", ("bindings", "limitranges", "namespaces/status", "pods/log", "pods/status",
                        "replicationcontrollers/status", "resourcequotas", "resourcequotas/status")),
        rule(READ, "", "namespaces"),
        rule(READ, ("", "events.k8s.io"), "events"),
        rule(READ, "discovery.k8s.io", "endpointslices"),
        rule(READ, "apps", ("controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
                            "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
                            "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status")),
        rule(READ, "autoscaling", ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
        rule(READ, "batch", ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
        rule(READ, "extensions", ("daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                                  "deployments/status", "ingresses", "ingresses/status", "networkpolicies",
                                  "replicasets", "replicasets/scale", "replicasets/status",
                                  "replicationcontrollers/scale")),
        rule(READ, "policy", ("poddisruptionbudgets", "poddisruptionbudgets/status")),
        rule(READ, "networking.k8s.io", ("ingresses", "ingresses/status", "networkpolicies")),
    ]
    edit = [
        rule(READ, "", ("pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy")),
        rule("impersonate", "", "serviceaccounts"),
        rule(WRITE, "", ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy")),
        rule("create", "", "pods/eviction"),
        rule(WRITE, "", ("configmaps", "persistentvolumeclaims", "replicationcontrollers",
                         "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy")),
        rule("create", "", "serviceaccounts/token"),
        rule(WRITE, ("", "events.k8s.io"), "events"),
        rule(WRITE, "apps", ("daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
                             "replicasets/scale", "statefulsets", "statefulsets/scale")),
        rule(WRITE, "autoscaling", "horizontalpodautoscalers"),
        rule(WRITE, "batch", ("cronjobs", "jobs")),
        rule(WRITE, "extensions", ("daemonsets", "deployments", "deployments/rollback", "deployments/scale",
                                   "ingresses", "networkpolicies", "replicasets", "replicasets/scale",
                                   "replicationcontrollers/scale")),
        rule(WRITE, "policy", "poddisruptionbudgets"),
        rule(WRITE, "networking.k8s.io", ("ingresses", "networkpolicies")),
        rule(READ_WRITE, "coordination.k8s.io", "leases"),
    ]
    admin = [
        rule("create", "authorization.k8s.io", "localsubjectaccessreviews"),
        rule(READ_WRITE, RBAC_GROUP, ("rolebindings", "roles")),
    ]
    return [
        _cluster_role("cluster-admin", [rule("*", "*", "*"), rule("*", urls="*")]),
        _cluster_role("admin", [], aggregate="admin"),
        _cluster_role("edit", [], labels=_aggregate_labels("admin"), aggregate="edit"),
        _cluster_role("view", [], labels=_aggregate_labels("edit"), aggregate="view"),
        _cluster_role("system:aggregate-to-admin", admin, labels=_aggregate_labels("admin")),
        _cluster_role("system:aggregate-to-edit", edit, labels=_aggregate_labels("edit")),
        _cluster_role("system:aggregate-to-view", view, labels=_aggregate_labels("view")),
        _cluster_role("system:basic-user", [
            rule("create", "authorization.k8s.io", ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
            rule("create", "authentication.k8s.io", "selfsubjectreviews"),
        ]),
        _cluster_role("system:discovery", [rule("get", urls=(
            "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz",
            "/version", "/version/"))]),
        _cluster_role("system:public-info-viewer", [rule("get", urls=(
            "/healthz", "/livez", "/readyz", "/version", "/version/"))]),
        _cluster_role("system:monitoring", [
            rule("get", urls=("/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics", "/metrics/slis",
                              "/readyz", "/readyz/*", "/statusz")),
            rule("get", "", "nodes/metrics"),
        ]),
        _cluster_role("system:auth-delegator", [
            rule("create", "authentication.k8s.io", "tokenreviews"),
            rule("create", "authorization.k8s.io", "subjectaccessreviews"),
        ]),
        _cluster_role("system:node-proxier", [
            rule(("list", "watch"), "", ("endpoints", "services")),
            rule(READ, "", "nodes"),
            _events(),
            rule(("list", "watch"), "discovery.k8s.io", "endpointslices"),
        ]),
        _cluster_role("system:volume-scheduler", [
            rule(("get", "list", "patch", "update", "watch"), "", "persistentvolumes"),
            rule(READ, "storage.k8s.io", "storageclasses"),
            rule(("get", "list", "patch", "update", "watch"), "", "persistentvolumeclaims"),
        ]),
    ]


def _component_roles() -> list[Obj]:
    node = [  # NodeRules(), release-1.32
        rule("create", "authentication.k8s.io", "tokenreviews"),
        rule("create", "authorization.k8s.io", ("localsubjectaccessreviews", "subjectaccessreviews")),
        rule(READ, "", "services"),
        rule(("create", "get", "list", "watch"), "", "nodes"),
        rule(("patch", "update"), "", "nodes/status"),
        rule(("patch", "update"), "", "nodes"),
        _events(),
        rule(READ, "", "pods"),
        rule(("create", "delete"), "", "pods"),
        rule(("patch", "update"), "", "pods/status"),
        rule("create", "", "pods/eviction"),
        rule(READ, "", ("configmaps", "secrets")),
        rule("get", "", ("persistentvolumeclaims", "persistentvolumes")),
        rule("get", "", "endpoints"),
        rule(("create", "get", "list", "watch"), "certificates.k8s.io", "certificatesigningrequests"),
        rule(("create", "delete", "get", "patch", "update"), "coordination.k8s.io", "leases"),
        rule("get", "storage.k8s.io", "volumeattachments"),
        rule("create", "", "serviceaccounts/token"),
        rule(("get", "patch", "update"), "", "persistentvolumeclaims/status"),
        rule(READ, "storage.k8s.io", "csidrivers"),
        rule(("create", "delete", "get", "patch", "update"), "storage.k8s.io", "csinodes"),
        rule(READ, "node.k8s.io", "runtimeclasses"),
        rule("get", "", "serviceaccounts"),
    ]
    scheduler = [  # release-1.32, without the DRA and CSI-capacity gated rules
        _events(),
        rule("create", "coordination.k8s.io", "leases"),
        rule(("get", "list", "update", "watch"), "coordination.k8s.io", "leases", names=SCHEDULER_LEASE),
        rule(READ, "", "nodes"),
        rule(("delete", "get", "list", "watch"), "", "pods"),
        rule("create", "", ("bindings", "pods/binding")),
        rule(("patch", "update"), "", "pods/status"),
        rule(READ, "", ("replicationcontrollers", "services")),
        rule(READ, ("apps", "extensions"), "replicasets"),
        rule(READ, "apps", "statefulsets"),
        rule(READ, "policy", "poddisruptionbudgets"),
        rule(READ, "", ("persistentvolumeclaims", "persistentvolumes")),
        rule("create", "authentication.k8s.io", "tokenreviews"),
        rule("create", "authorization.k8s.io", "subjectaccessreviews"),
        rule(READ, "storage.k8s.io", ("csinodes", "volumeattachments")),
        rule(READ, "", "namespaces"),
        rule(READ, "storage.k8s.io", ("csidrivers", "csistoragecapacities")),
        rule(READ, "scheduling.k8s.io", "priorityclasses"),
    ]
    controller_manager = [
        # Garbage collector (get/list/watch/patch/update/delete of everything) and namespace
        # controller (list/delete/deletecollection of everything in a namespace being deleted).
        rule(("get", "list", "watch", "update", "patch", "delete", "deletecollection"), "*", "*"),
        # What our controllers create: replicaset → pods, deployment → replicasets, endpoints and
        # endpointslice controllers, serviceaccount controller (`default`), the `kubernetes` service.
        rule("create", "", ("pods", "endpoints", "serviceaccounts", "services")),
        rule("create", "apps", "replicasets"),
        rule("create", "discovery.k8s.io", "endpointslices"),
        _events(),
        rule("create", "coordination.k8s.io", "leases"),
        rule("create", "", "serviceaccounts/token"),
        rule("create", "authentication.k8s.io", "tokenreviews"),
        rule("create", "authorization.k8s.io", "subjectaccessreviews"),
    ]
    # The cluster autoscaler: reads what decides scale-up/down (pods and what owns or protects
    # them), writes Nodes (registers and removes node objects), evicts pods off nodes it drains,
    # records events. Its status ConfigMap and Lease are granted in kube-system only (below).
    autoscaler = [
        _events(),
        rule(READ, "", ("pods", "services", "replicationcontrollers", "persistentvolumeclaims",
                        "persistentvolumes", "namespaces")),
        rule((*READ, "create", "update", "patch", "delete"), "", "nodes"),
        rule(("update", "patch"), "", "nodes/status"),
        rule("create", "", "pods/eviction"),
        rule(("update", "patch"), "", "pods/status"),
        rule(READ, "apps", ("daemonsets", "replicasets", "statefulsets")),
        rule(READ, "batch", ("jobs", "cronjobs")),
        rule(READ, "policy", "poddisruptionbudgets"),
        rule(READ, "scheduling.k8s.io", "priorityclasses"),
        rule(READ, "storage.k8s.io", ("storageclasses", "csinodes", "csidrivers", "csistoragecapacities")),
    ]
    # The add-on manager applies and prunes the add-on manifests (kube-addons.sh applies with
    # --prune over a whitelist of kinds): full access to the kinds add-ons are made of, RBAC
    # included with `bind` and `escalate` so it can install an add-on's own roles. Nothing else
    # (no nodes, no leases but its own, no tokens).
    addon_manager = [
        rule(READ_WRITE, "", ("configmaps", "endpoints", "limitranges", "namespaces", "persistentvolumeclaims",
                              "persistentvolumes", "pods", "replicationcontrollers", "resourcequotas", "secrets",
                              "serviceaccounts", "services")),
        rule(READ_WRITE, "apps", ("daemonsets", "deployments", "replicasets", "statefulsets")),
        rule(READ_WRITE, "batch", ("cronjobs", "jobs")),
        rule(READ_WRITE, "autoscaling", "horizontalpodautoscalers"),
        rule(READ_WRITE, "policy", "poddisruptionbudgets"),
        rule(READ_WRITE, "networking.k8s.io", ("ingresses", "ingressclasses", "networkpolicies")),
        rule(READ_WRITE, "scheduling.k8s.io", "priorityclasses"),
        rule((*READ_WRITE, "bind", "escalate"), RBAC_GROUP, ("clusterrolebindings", "clusterroles",
                                                              "rolebindings", "roles")),
        _events(),
    ]
    return [
        _cluster_role("system:node", node),
        _cluster_role("system:kube-scheduler", scheduler),
        _cluster_role("system:kube-controller-manager", controller_manager),
        _cluster_role("system:cluster-autoscaler", autoscaler),
        _cluster_role("system:addon-manager", addon_manager),
    ]


def cluster_roles() -> list[Obj]:
    return [*_user_facing_roles(), *_component_roles()]


def cluster_role_bindings() -> list[Obj]:
    return [
        _cluster_binding("cluster-admin", ("Group", "system:masters")),
        _cluster_binding("system:discovery", ("Group", "system:authenticated")),
        _cluster_binding("system:basic-user", ("Group", "system:authenticated")),
        _cluster_binding("system:public-info-viewer", ("Group", "system:authenticated"),
                         ("Group", "system:unauthenticated")),
        _cluster_binding("system:monitoring", ("Group", "system:monitoring")),
        _cluster_binding("system:node-proxier", ("User", "system:kube-proxy")),
        _cluster_binding("system:node", ("Group", "system:nodes")),
        _cluster_binding("system:kube-scheduler", ("User", "system:kube-scheduler")),
        _cluster_binding("system:volume-scheduler", ("User", "system:kube-scheduler")),
        _cluster_binding("system:kube-controller-manager", ("User", "system:kube-controller-manager")),
        _cluster_binding("system:cluster-autoscaler", ("User", "system:cluster-autoscaler")),
        _cluster_binding("system:addon-manager", ("User", "system:addon-manager")),
    ]


def namespaced_policy() -> list[Obj]:
    """Roles and RoleBindings in kube-system: the autoscaler's and add-on manager's own objects."""
    ns = "kube-system"
    roles = {
        "system:cluster-autoscaler": [
            rule("create", "coordination.k8s.io", "leases"),
            rule(("get", "list", "watch", "update", "patch"), "coordination.k8s.io", "leases",
                 names=AUTOSCALER_LEASE),
            rule("create", "", "configmaps"),
            rule(("get", "list", "watch", "update", "patch", "delete"), "", "configmaps",
                 names=AUTOSCALER_STATUS),
        ],
        "system:addon-manager": [
            rule("create", "coordination.k8s.io", "leases"),
            rule(("get", "list", "watch", "update", "patch"), "coordination.k8s.io", "leases",
                 names=ADDON_MANAGER_LEASE),
        ],
    }
    out: list[Obj] = []
    for name, rules in roles.items():
        out.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": "Role", "metadata": _meta(name, namespace=ns),
                    "rules": rules})
        out.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": "RoleBinding", "metadata": _meta(name, namespace=ns),
                    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": name},
                    "subjects": [_subject("User", name)]})
    return out


# k/k pkg/apis/scheduling: the two classes every cluster has (SystemPriorityClasses).
PRIORITY_CLASSES: tuple[Obj, ...] = (
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-node-critical"},
     "value": 2_000_001_000, "description": "Used for system critical pods that must not be moved from their "
     "current node."},
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "system-cluster-critical"},
     "value": 2_000_000_000, "description": "Used for system critical pods that must run in the cluster, but can "
     "be moved to another node if necessary."},
)
