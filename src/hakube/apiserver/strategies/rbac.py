"""rbac.authorization.k8s.io/v1: roles, cluster roles and their bindings.

Defaults are rbac/v1 `SetDefaults_*` (a binding's roleRef.apiGroup, a User or
Group subject's apiGroup); validation is k/k `pkg/apis/rbac/validation`
(`ValidatePolicyRule`, `ValidateRoleBinding`, `ValidateRoleBindingSubject`),
with its messages. A binding's roleRef cannot change (delete and recreate it).
Names are path segments, not DNS names (`system:basic-user` is valid).

Writes are also checked for privilege escalation (rbac.escalation_error): a user
who is not in system:masters may only write roles whose rules they hold (or
`escalate` on the role), and bind only roles whose rules they hold (or `bind`
on the role), as kube's policybased RBAC storage does. Changes that touch only
what the garbage collector writes (ownerReferences, finalizers) are exempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hakube.apiserver import names, status
from hakube.apiserver.escalation import REQUESTER, Requester, escalation_error, verb_allowed
from hakube.apiserver.strategy import Cause, Obj, Strategy, cause, invalid_value, required

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def _not_supported(path: str, value: Any, supported: tuple[str, ...]) -> Cause:
    allowed = ", ".join(f'"{s}"' for s in supported)
    return cause(path, f'Unsupported value: "{value}": supported values: {allowed}', "FieldValueNotSupported")


def _go_strings(values: Any) -> str:
    """A []string as field.Invalid prints it (`[]string{"a", "b"}`)."""
    items = values if isinstance(values, list) else []
    return "[]string{" + ", ".join(f'"{v}"' for v in items) + "}"


def validate_rule(rule: Any, path: str, *, namespaced: bool) -> list[Cause]:
    if not isinstance(rule, dict):
        return [invalid_value(path, rule, "must be an object")]
    causes: list[Cause] = []
    if not rule.get("verbs"):
        causes.append(cause(f"{path}.verbs", "Required value: verbs must contain at least one value",
                            "FieldValueRequired"))
    urls = rule.get("nonResourceURLs") or []
    if urls:
        shown = _go_strings(urls)
        if namespaced:
            causes.append(cause(f"{path}.nonResourceURLs",
                                f"Invalid value: {shown}: namespaced rules cannot apply to non-resource URLs"))
        if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
            causes.append(cause(f"{path}.nonResourceURLs", f"Invalid value: {shown}: rules cannot apply to both "
                                "regular resources and non-resource URLs"))
        return causes
    if not rule.get("apiGroups"):
        causes.append(cause(f"{path}.apiGroups", "Required value: resource rules must supply at least one api "
                            "group", "FieldValueRequired"))
    if not rule.get("resources"):
        causes.append(cause(f"{path}.resources", "Required value: resource rules must supply at least one "
                            "resource", "FieldValueRequired"))
    return causes


def _validate_rules(obj: Obj, *, namespaced: bool) -> list[Cause]:
    rules = obj.get("rules") or []
    if not isinstance(rules, list):
        return [invalid_value("rules", rules, "must be a list")]
    causes: list[Cause] = []
    for i, rule in enumerate(rules):
        causes += validate_rule(rule, f"rules[{i}]", namespaced=namespaced)
    return causes


def _default_binding(obj: Obj) -> None:
    ref = obj.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for subject in obj.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = GROUP


def validate_subject(subject: Any, path: str, *, namespaced: bool) -> list[Cause]:
    if not isinstance(subject, dict):
        return [invalid_value(path, subject, "must be an object")]
    causes: list[Cause] = []
    name, kind, group = subject.get("name") or "", subject.get("kind") or "", subject.get("apiGroup") or ""
    if not name:
        causes.append(required(f"{path}.name"))
    if kind == "ServiceAccount":
        if name:
            causes += [invalid_value(f"{path}.name", name, msg) for msg in names.dns1123_subdomain_errors(name)]
        if group:
            causes.append(_not_supported(f"{path}.apiGroup", group, ("",)))
        if not namespaced and not subject.get("namespace"):
            causes.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            causes.append(_not_supported(f"{path}.apiGroup", group, (GROUP,)))
    else:
        causes.append(_not_supported(f"{path}.kind", kind, SUBJECT_KINDS))
    return causes


def _validate_binding(obj: Obj, *, namespaced: bool) -> list[Cause]:
    causes: list[Cause] = []
    ref = obj.get("roleRef")
    if not isinstance(ref, dict):
        ref = {}
    if ref.get("apiGroup") != GROUP:
        causes.append(_not_supported("roleRef.apiGroup", ref.get("apiGroup") or "", (GROUP,)))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("kind") not in kinds:
        causes.append(_not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    role_name = ref.get("name") or ""
    if not role_name:
        causes.append(required("roleRef.name"))
    else:
        causes += [invalid_value("roleRef.name", role_name, msg) for msg in names.path_segment_errors(role_name)]
    subjects = obj.get("subjects") or []
    if not isinstance(subjects, list):
        return [*causes, invalid_value("subjects", subjects, "must be a list")]
    for i, subject in enumerate(subjects):
        causes += validate_subject(subject, f"subjects[{i}]", namespaced=namespaced)
    return causes


def _role_ref_text(ref: Any) -> str:
    """The internal rbac.RoleRef as field.Invalid prints it (`%#v`)."""
    ref = ref if isinstance(ref, dict) else {}
    return (f'rbac.RoleRef{{APIGroup:"{ref.get("apiGroup", "")}", Kind:"{ref.get("kind", "")}", '
            f'Name:"{ref.get("name", "")}"}}')


_FULL_AUTHORITY = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                   {"verbs": ["*"], "nonResourceURLs": ["*"]}]
_GC_FIELDS = ("ownerReferences", "finalizers", "managedFields", "resourceVersion")


def _only_gc_fields_changed(new: Obj, old: Obj) -> bool:
    """IsOnlyMutatingGCFields."""
    def strip(obj: Obj) -> Obj:
        meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _GC_FIELDS}
        return {**obj, "metadata": meta}

    return strip(new) == strip(old)


def _requester(new: Obj, old: Obj | None) -> Requester | None:
    """Who to check, or None: no user (the server itself), system:masters, or a GC-only change."""
    requester = REQUESTER.get()
    if requester is None or requester.user.is_master:
        return None
    if old is not None and _only_gc_fields_changed(new, old):
        return None
    return requester


def _forbidden(resource: str, name: str, why: str) -> status.StatusError:
    return status.StatusError(403, "Forbidden", f'{resource}.{GROUP} "{name}" is forbidden: {why}',
                              details={"name": name, "group": GROUP, "kind": resource})


def check_role_escalation(obj: Obj, old: Obj | None, *, namespaced: bool) -> None:
    requester = _requester(obj, old)
    if requester is None:
        return
    resource = "roles" if namespaced else "clusterroles"
    name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace") or ""
    if verb_allowed(requester, "escalate", resource, name, namespace):
        return
    why = escalation_error(requester, obj.get("rules") or [], namespace)
    if why:
        raise _forbidden(resource, name, why)
    if not namespaced and obj.get("aggregationRule") and escalation_error(requester, _FULL_AUTHORITY, ""):
        # An aggregationRule can gather anything: it takes * on *.
        raise _forbidden(resource, name, "must have cluster-admin privileges to use the aggregationRule")


def check_binding_escalation(obj: Obj, old: Obj | None, *, namespaced: bool) -> None:
    requester = _requester(obj, old)
    if requester is None:
        return
    resource = "rolebindings" if namespaced else "clusterrolebindings"
    name, namespace = obj["metadata"]["name"], obj["metadata"].get("namespace") or ""
    ref = obj.get("roleRef") or {}
    role_resource = "roles" if ref.get("kind") == "Role" else "clusterroles"
    if verb_allowed(requester, "bind", role_resource, str(ref.get("name") or ""), namespace):
        return
    rules, _ = requester.authorizer.index().role_ref_rules(ref, namespace)
    if rules is None:
        raise _forbidden(resource, name, f'{role_resource}.{GROUP} "{ref.get("name")}" not found')
    why = escalation_error(requester, [r.source for r in rules], namespace)
    if why:
        raise _forbidden(resource, name, why)


@dataclass(frozen=True)
class _RBACNamed(Strategy):
    def name_errors(self, name: str) -> list[str]:
        return names.path_segment_errors(name)


@dataclass(frozen=True)
class RoleStrategy(_RBACNamed):
    namespaced: bool = True

    def validate(self, obj: Obj) -> list[Cause]:
        causes = self._causes(obj)
        if not causes:
            check_role_escalation(obj, None, namespaced=self.namespaced)
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self._causes(new)
        if not causes:
            check_role_escalation(new, old, namespaced=self.namespaced)
        return causes

    def _causes(self, obj: Obj) -> list[Cause]:
        causes = _validate_rules(obj, namespaced=self.namespaced)
        aggregation = obj.get("aggregationRule")
        if not self.namespaced and aggregation is not None:
            selectors = aggregation.get("clusterRoleSelectors") if isinstance(aggregation, dict) else None
            if not selectors:
                causes.append(cause("aggregationRule.clusterRoleSelectors", "Required value: at least one "
                                    "clusterRoleSelector required if aggregationRule is non-nil",
                                    "FieldValueRequired"))
        return causes


@dataclass(frozen=True)
class RoleBindingStrategy(_RBACNamed):
    namespaced: bool = True

    def prepare_for_create(self, obj: Obj) -> None:
        _default_binding(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _default_binding(new)

    def validate(self, obj: Obj) -> list[Cause]:
        causes = _validate_binding(obj, namespaced=self.namespaced)
        if not causes:
            check_binding_escalation(obj, None, namespaced=self.namespaced)
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = _validate_binding(new, namespaced=self.namespaced)
        if new.get("roleRef") != old.get("roleRef"):
            causes.append(cause("roleRef", f"Invalid value: {_role_ref_text(new.get('roleRef'))}: "
                                "cannot change roleRef"))
        if not causes:
            check_binding_escalation(new, old, namespaced=self.namespaced)
        return causes
