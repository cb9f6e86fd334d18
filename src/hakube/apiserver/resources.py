"""The table of served resources: adding a resource is adding a line here.

Names, short names, categories and verbs are those kube-apiserver 1.32
advertises in discovery (API-COMPAT.md §1); etcd key prefixes follow
`SpecialDefaultResourcePrefixes` (API-COMPAT.md §6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hakube.apiserver.strategies.autoscaling import (
    HorizontalPodAutoscalerStrategy,
    HorizontalPodAutoscalerV1Strategy,
)
from hakube.apiserver.strategies.batch import CronJobStrategy
from hakube.apiserver.strategies.core import (
    NamespaceStrategy,
    PodStrategy,
    SecretStrategy,
    ServiceStrategy,
)
from hakube.apiserver.strategies.discovery import EndpointSliceStrategy
from hakube.apiserver.strategies.events import EventStrategy, EventsV1Strategy
from hakube.apiserver.strategies.policy import (
    IngressClassStrategy,
    IngressStrategy,
    LimitRangeStrategy,
    PodDisruptionBudgetStrategy,
    PriorityClassStrategy,
    ResourceQuotaStrategy,
)
from hakube.apiserver.strategies.rbac import RoleBindingStrategy, RoleStrategy
from hakube.apiserver.strategies.workloads import (
    DaemonSetStrategy,
    DeploymentStrategy,
    JobStrategy,
    StatefulSetStrategy,
    WorkloadStrategy,
)
from hakube.apiserver.strategy import Strategy

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUB_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str | None = None  # set when the subresource answers a kind of another group
    version: str | None = None


STATUS = "status"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    strategy: Strategy = field(default_factory=Strategy)
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    key_prefix: str = ""
    verbs: tuple[str, ...] = ALL_VERBS
    # Nothing is stored: a create is answered and forgotten (the access reviews).
    virtual: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> tuple[str, str]:
        return self.group, self.version

    @property
    def storage_prefix(self) -> str:
        return f"/registry/{self.key_prefix or self.plural}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix}{namespace}/{name}"
        return f"{self.storage_prefix}{name}"

    def collection_prefix(self, namespace: str | None) -> str:
        if self.namespaced and namespace:
            return f"{self.storage_prefix}{namespace}/"
        return self.storage_prefix

    def subresource(self, name: str) -> Subresource | None:
        for sub in self.subresources:
            if sub.name == name:
                return sub
        return None

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _status(kind: str) -> Subresource:
    return Subresource(STATUS, kind, SUB_VERBS)


# PUT creates a missing object for these (AllowCreateOnUpdate in their upstream strategies).
_CREATE_ON_UPDATE = {"create_on_update": True}
_SCALE = Subresource("scale", "Scale", SUB_VERBS, group="autoscaling", version="v1")
_POD_FIELDS = (
    "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
    "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
)

RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "namespace", "Namespace", False,
             NamespaceStrategy(has_status=True, name_is_label=True, extra_fields=("status.phase",)),
             short_names=("ns",),
             subresources=(_status("Namespace"), Subresource("finalize", "Namespace", ("update",)))),
    Resource("", "v1", "pods", "pod", "Pod", True,
             PodStrategy(has_status=True, extra_fields=_POD_FIELDS, extra={"return_deleted": True}),
             short_names=("po",), categories=("all",),
             subresources=(_status("Pod"), Subresource("binding", "Binding", ("create",)),
                           Subresource("eviction", "Eviction", ("create",), group="policy", version="v1"),
                           Subresource("log", "Pod", ("get",)))),
    Resource("", "v1", "nodes", "node", "Node", False,
             Strategy(has_status=True, extra_fields=("spec.unschedulable",)),
             short_names=("no",), subresources=(_status("Node"),), key_prefix="minions"),
    Resource("", "v1", "services", "service", "Service", True,
             ServiceStrategy(has_status=True, name_is_label=True, extra_fields=("spec.clusterIP", "spec.type")),
             short_names=("svc",), categories=("all",), subresources=(_status("Service"),),
             key_prefix="services/specs"),
    Resource("", "v1", "endpoints", "endpoints", "Endpoints", True, Strategy(extra=_CREATE_ON_UPDATE),
             short_names=("ep",), key_prefix="services/endpoints"),
    Resource("", "v1", "configmaps", "configmap", "ConfigMap", True, Strategy(), short_names=("cm",)),
    Resource("", "v1", "secrets", "secret", "Secret", True, SecretStrategy(extra_fields=("type",))),
    Resource("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", True, Strategy(),
             short_names=("sa",),
             subresources=(Subresource("token", "TokenRequest", ("create",), group="authentication.k8s.io",
                                       version="v1"),)),
    Resource("", "v1", "resourcequotas", "resourcequota", "ResourceQuota", True,
             ResourceQuotaStrategy(has_status=True), short_names=("quota",),
             subresources=(_status("ResourceQuota"),)),
    Resource("", "v1", "limitranges", "limitrange", "LimitRange", True, LimitRangeStrategy(),
             short_names=("limits",)),
    Resource("", "v1", "events", "event", "Event", True,
             EventStrategy(extra=_CREATE_ON_UPDATE),
             short_names=("ev",)),
    Resource("apps", "v1", "deployments", "deployment", "Deployment", True,
             DeploymentStrategy(has_status=True, tracks_generation=True),
             short_names=("deploy",), categories=("all",), subresources=(_SCALE, _status("Deployment"))),
    Resource("apps", "v1", "replicasets", "replicaset", "ReplicaSet", True,
             WorkloadStrategy(has_status=True, tracks_generation=True),
             short_names=("rs",), categories=("all",), subresources=(_SCALE, _status("ReplicaSet"))),
    Resource("apps", "v1", "statefulsets", "statefulset", "StatefulSet", True,
             StatefulSetStrategy(has_status=True, tracks_generation=True),
             short_names=("sts",), categories=("all",), subresources=(_SCALE, _status("StatefulSet"))),
    Resource("apps", "v1", "daemonsets", "daemonset", "DaemonSet", True,
             DaemonSetStrategy(has_status=True, tracks_generation=True),
             short_names=("ds",), categories=("all",), subresources=(_status("DaemonSet"),)),
    Resource("batch", "v1", "jobs", "job", "Job", True,
             JobStrategy(has_status=True, tracks_generation=True),
             categories=("all",), subresources=(_status("Job"),)),
    Resource("batch", "v1", "cronjobs", "cronjob", "CronJob", True,
             CronJobStrategy(has_status=True, tracks_generation=True),
             short_names=("cj",), categories=("all",), subresources=(_status("CronJob"),)),
    # Stored once, as autoscaling/v2 (the preferred version, listed first); v1 converts at the edge.
    Resource("autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler",
             "HorizontalPodAutoscaler", True, HorizontalPodAutoscalerStrategy(has_status=True),
             short_names=("hpa",), categories=("all",), subresources=(_status("HorizontalPodAutoscaler"),)),
    Resource("autoscaling", "v1", "horizontalpodautoscalers", "horizontalpodautoscaler",
             "HorizontalPodAutoscaler", True, HorizontalPodAutoscalerV1Strategy(has_status=True),
             short_names=("hpa",), categories=("all",), subresources=(_status("HorizontalPodAutoscaler"),)),
    Resource("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", True,
             PodDisruptionBudgetStrategy(has_status=True, tracks_generation=True),
             short_names=("pdb",), subresources=(_status("PodDisruptionBudget"),)),
    Resource("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", False,
             PriorityClassStrategy(), short_names=("pc",)),
    Resource("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", True,
             IngressStrategy(has_status=True, tracks_generation=True),
             short_names=("ing",), subresources=(_status("Ingress"),), key_prefix="ingress"),
    Resource("networking.k8s.io", "v1", "ingressclasses", "ingressclass", "IngressClass", False,
             IngressClassStrategy(tracks_generation=True)),
    Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding",
             "ClusterRoleBinding", False, RoleBindingStrategy(namespaced=False)),
    Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", False,
             RoleStrategy(namespaced=False)),
    Resource("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", True,
             RoleBindingStrategy()),
    Resource("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", True, RoleStrategy()),
    Resource("authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview",
             False, verbs=("create",), virtual=True),
    Resource("authorization.k8s.io", "v1", "localsubjectaccessreviews", "localsubjectaccessreview",
             "LocalSubjectAccessReview", True, verbs=("create",), virtual=True),
    Resource("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
             "SelfSubjectAccessReview", False, verbs=("create",), virtual=True),
    Resource("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview",
             "SelfSubjectRulesReview", False, verbs=("create",), virtual=True),
    Resource("authorization.k8s.io", "v1", "subjectaccessreviews", "subjectaccessreview",
             "SubjectAccessReview", False, verbs=("create",), virtual=True),
    Resource("coordination.k8s.io", "v1", "leases", "lease", "Lease", True, Strategy(extra=_CREATE_ON_UPDATE)),
    Resource("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice", True,
             EndpointSliceStrategy(tracks_generation=True), key_prefix="endpointslices"),
    # Stored with core/v1 Events, under the same keys and as core/v1 (kube-apiserver's
    # events.k8s.io storage is the core event store); converted at the edge.
    Resource("events.k8s.io", "v1", "events", "event", "Event", True,
             EventsV1Strategy(extra=_CREATE_ON_UPDATE), short_names=("ev",)),
)

# Namespaces that exist from the start and cannot be deleted (k/k
# pkg/registry/core/namespace: the system namespaces).
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class ResourceTable:
    """Lookups over RESOURCES by (group, version, plural) and by kind."""

    def __init__(self, resources: tuple[Resource, ...] = RESOURCES) -> None:
        self.resources = resources
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}

    def lookup(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_path.get((group, version, plural))

    def group_versions(self) -> list[tuple[str, str]]:
        seen: dict[tuple[str, str], None] = {}
        for r in self.resources:
            seen.setdefault(r.group_version, None)
        return list(seen)

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group_version == (group, version)]
