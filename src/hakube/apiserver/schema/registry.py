"""Every type hakube knows, and which type each API kind decodes into.

The table modules describe the types; this module joins them, adds the `XList`
type of every listable kind (upstream registers one per kind), and maps
(group, version, kind) to a type name for strict decoding and OpenAPI.

The field lists follow k8s.io/api and apimachinery at release-1.32, the version
the server reports.

Open types (their fields are not enumerated and never reported as unknown):
  io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1 -- managedFields' field set, free-form JSON
  io.k8s.apimachinery.pkg.apis.meta.v1.Patch -- a PATCH body, shaped by its content type
"""

from __future__ import annotations

from collections.abc import Mapping

from hakube.apiserver.schema import access, apps, cluster, core, core_container, core_pod, core_volume, meta, misc
from hakube.apiserver.schema.dsl import PACKAGES, qualified
from hakube.apiserver.schema.model import Field, ObjectType

# API group -> short package name in the tables (group "" is core/v1).
GROUP_PACKAGES = {
    "": "core",
    "apps": "apps",
    "authentication.k8s.io": "authentication",
    "authorization.k8s.io": "authorization",
    "autoscaling": "autoscaling",
    "batch": "batch",
    "coordination.k8s.io": "coordination",
    "discovery.k8s.io": "discovery",
    "events.k8s.io": "events",
    "networking.k8s.io": "networking",
    "policy": "policy",
    "rbac.authorization.k8s.io": "rbac",
    "scheduling.k8s.io": "scheduling",
}
# Group versions whose types live apart from the group's first version.
VERSION_PACKAGES = {("autoscaling", "v2"): "autoscalingv2"}


def package_of(group: str, version: str) -> str:
    """The short package name of a group version's types."""
    return VERSION_PACKAGES.get((group, version), GROUP_PACKAGES[group])


# Kinds that are stored and listed (so they also have an `XList` kind), by group/version.
LISTABLE_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "v1"): (
        "ConfigMap",
        "Endpoints",
        "Event",
        "LimitRange",
        "Namespace",
        "Node",
        "Pod",
        "PodTemplate",
        "ResourceQuota",
        "Secret",
        "Service",
        "ServiceAccount",
    ),
    ("apps", "v1"): ("DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"),
    ("autoscaling", "v1"): ("HorizontalPodAutoscaler",),
    ("autoscaling", "v2"): ("HorizontalPodAutoscaler",),
    ("batch", "v1"): ("CronJob", "Job"),
    ("coordination.k8s.io", "v1"): ("Lease",),
    ("discovery.k8s.io", "v1"): ("EndpointSlice",),
    ("events.k8s.io", "v1"): ("Event",),
    ("networking.k8s.io", "v1"): ("Ingress", "IngressClass"),
    ("policy", "v1"): ("PodDisruptionBudget",),
    ("rbac.authorization.k8s.io", "v1"): ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"),
    ("scheduling.k8s.io", "v1"): ("PriorityClass",),
}

# Kinds only ever sent to or returned by a subresource or a create-only
# resource such as the access reviews (no list).
SUBRESOURCE_KINDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "v1"): ("Binding",),
    ("authentication.k8s.io", "v1"): ("SelfSubjectReview", "TokenRequest"),
    ("authorization.k8s.io", "v1"): ("LocalSubjectAccessReview", "SelfSubjectAccessReview",
                                     "SelfSubjectRulesReview", "SubjectAccessReview"),
    ("autoscaling", "v1"): ("Scale",),
    ("policy", "v1"): ("Eviction",),
}

STATUS = qualified("meta", "Status")
DELETE_OPTIONS = qualified("meta", "DeleteOptions")
LIST_META = qualified("meta", "ListMeta")


def _list_type(item_type: str) -> ObjectType:
    return ObjectType(
        name=f"{item_type}List",
        fields={
            "apiVersion": Field(type="string"),
            "kind": Field(type="string"),
            "metadata": Field(type=LIST_META),
            "items": Field(type=item_type, list=True),
        },
        description=f"A list of {item_type.rsplit('.', 1)[1]} objects.",
    )


def _build() -> tuple[dict[str, ObjectType], dict[tuple[str, str, str], str]]:
    types: dict[str, ObjectType] = {}
    for table in (meta, core, core_pod, core_container, core_volume, apps, misc, access, cluster):
        twice = types.keys() & table.TYPES.keys()
        if twice:
            raise ValueError(f"types defined in two tables: {sorted(twice)}")
        types.update(table.TYPES)
    kinds: dict[tuple[str, str, str], str] = {}
    for (group, version), names in LISTABLE_KINDS.items():
        package = package_of(group, version)
        for kind in names:
            item = qualified(package, kind)
            types[f"{item}List"] = _list_type(item)
            kinds[(group, version, kind)] = item
            kinds[(group, version, f"{kind}List")] = f"{item}List"
    for (group, version), names in SUBRESOURCE_KINDS.items():
        for kind in names:
            kinds[(group, version, kind)] = qualified(package_of(group, version), kind)
    # Status is registered once, as an unversioned core kind; DeleteOptions in
    # every group version (apimachinery meta/v1 register.go AddToGroupVersion).
    kinds[("", "v1", "Status")] = STATUS
    for group in sorted({*GROUP_PACKAGES, "meta.k8s.io"}):
        kinds[(group, "v1", "DeleteOptions")] = DELETE_OPTIONS
    kinds[("autoscaling", "v2", "DeleteOptions")] = DELETE_OPTIONS
    return types, kinds


TYPES, KINDS = _build()


def type_for(group: str, version: str, kind: str) -> str | None:
    """The type name a (group, version, kind) decodes into, or None if unknown."""
    return KINDS.get((group, version, kind))


def kinds_of(type_name: str) -> list[tuple[str, str, str]]:
    """All (group, version, kind) that decode into `type_name`, sorted."""
    return sorted(gvk for gvk, name in KINDS.items() if name == type_name)


def referenced(types: Mapping[str, ObjectType], roots: list[str]) -> set[str]:
    """Names of the object types reachable from `roots` (the roots included)."""
    seen: set[str] = set()
    stack = [name for name in roots if name in types]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        for fld in types[name].fields.values():
            if not fld.is_primitive and fld.type in types and fld.type not in seen:
                stack.append(fld.type)
    return seen


def dangling_refs(types: Mapping[str, ObjectType]) -> list[str]:
    """`Type.field -> Missing` for every field naming a type that is not in `types`."""
    return sorted(
        f"{name}.{json_name} -> {fld.type}"
        for name, obj in types.items()
        for json_name, fld in obj.fields.items()
        if not fld.is_primitive and fld.type not in types
    )


__all__ = [
    "GROUP_PACKAGES",
    "KINDS",
    "PACKAGES",
    "TYPES",
    "dangling_refs",
    "kinds_of",
    "package_of",
    "referenced",
    "type_for",
]
