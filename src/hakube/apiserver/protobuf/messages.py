"""Every message the decoder knows, and which message each API kind's body holds.

The tables follow k8s.io/api and apimachinery at release-1.32, the version the
server reports. Kinds listed here decode whether or not their resource is
served yet: the decoder does not care, the URL decides.
"""

from __future__ import annotations

from hakube.apiserver.protobuf.table import Message, qualified
from hakube.apiserver.protobuf.tables import (
    access,
    core,
    core_container,
    core_pod,
    core_volume,
    groups,
    meta,
    workloads,
)

# (group, version) -> (short package name in the tables, kinds accepted as protobuf).
_KINDS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("", "v1"): ("core", ("Binding", "ConfigMap", "Endpoints", "Event", "LimitRange", "Namespace", "Node",
                          "Pod", "PodTemplate", "ResourceQuota", "Secret", "Service", "ServiceAccount")),
    ("apps", "v1"): ("apps", ("DaemonSet", "Deployment", "ReplicaSet", "StatefulSet")),
    ("batch", "v1"): ("batch", ("CronJob", "Job")),
    ("rbac.authorization.k8s.io", "v1"): ("rbac", ("ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")),
    ("policy", "v1"): ("policy", ("Eviction", "PodDisruptionBudget")),
    ("scheduling.k8s.io", "v1"): ("scheduling", ("PriorityClass",)),
    ("networking.k8s.io", "v1"): ("networking", ("Ingress", "IngressClass")),
    ("autoscaling", "v1"): ("autoscaling", ("HorizontalPodAutoscaler", "Scale")),
    ("autoscaling", "v2"): ("autoscalingv2", ("HorizontalPodAutoscaler",)),
    ("authentication.k8s.io", "v1"): ("authentication", ("SelfSubjectReview", "TokenRequest", "TokenReview")),
    ("authorization.k8s.io", "v1"): ("authorization", ("LocalSubjectAccessReview", "SelfSubjectAccessReview",
                                                       "SelfSubjectRulesReview", "SubjectAccessReview")),
    ("coordination.k8s.io", "v1"): ("coordination", ("Lease",)),
    ("events.k8s.io", "v1"): ("events", ("Event",)),
    ("discovery.k8s.io", "v1"): ("discovery", ("EndpointSlice",)),
}


def _build() -> tuple[dict[str, Message], dict[tuple[str, str, str], str]]:
    messages: dict[str, Message] = {}
    for table in (meta, core, core_pod, core_container, core_volume, workloads, access, groups):
        twice = messages.keys() & table.MESSAGES.keys()
        if twice:
            raise ValueError(f"messages defined in two tables: {sorted(twice)}")
        messages.update(table.MESSAGES)
    kinds: dict[tuple[str, str, str], str] = {}
    for (group, version), (package, names) in _KINDS.items():
        for kind in names:
            kinds[(group, version, kind)] = qualified(package, kind)
        # DeleteOptions is registered in every group version (meta/v1 AddToGroupVersion).
        kinds[(group, version, "DeleteOptions")] = qualified("meta", "DeleteOptions")
    kinds[("meta.k8s.io", "v1", "DeleteOptions")] = qualified("meta", "DeleteOptions")
    missing = sorted(name for name in kinds.values() if name not in messages)
    if missing:
        raise ValueError(f"kinds without a message: {missing}")
    return messages, kinds


MESSAGES, KINDS = _build()


def message_for(group: str, version: str, kind: str) -> Message | None:
    """The message a (group, version, kind) body holds, or None if protobuf is not accepted for it."""
    name = KINDS.get((group, version, kind))
    return MESSAGES[name] if name else None


def dangling_refs() -> list[str]:
    """`Message.field -> Missing` for every field naming a message that is not in MESSAGES."""
    return sorted(
        f"{msg.name}.{fld.name} -> {fld.type}"
        for msg in MESSAGES.values()
        for fld in msg.fields.values()
        if not fld.is_scalar and fld.type not in MESSAGES
    )
