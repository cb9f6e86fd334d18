"""RBAC privilege-escalation prevention.

A user may create or change a Role only with rules they hold themselves (or with the
`escalate` verb on it), and bind a role only if they hold its rules (or have `bind` on
it): k/k `pkg/registry/rbac/{role,clusterrole,rolebinding,clusterrolebinding}/policybased`
and `pkg/registry/rbac/validation` ConfirmNoEscalation, with the rule comparison of
component-helpers `auth/rbac/validation/policy_comparator.go` (Covers). system:masters
may always. The requesting user reaches the RBAC strategies through a context variable,
as kube's storage reads it from the request context.
"""

from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from hakube.apiserver.auth import User
from hakube.apiserver.rbac import Attributes, Obj, RBACAuthorizer


@dataclass(frozen=True)
class Requester:
    user: User
    authorizer: RBACAuthorizer


REQUESTER: ContextVar[Requester | None] = ContextVar("rbac_requester", default=None)


def _breakdown(rule: Obj) -> list[Obj]:
    """BreakdownRule: one verb, group, resource and name per rule."""
    out: list[Obj] = []
    verbs = list(rule.get("verbs") or [])
    for group in rule.get("apiGroups") or []:
        for resource in rule.get("resources") or []:
            for verb in verbs:
                names = rule.get("resourceNames") or []
                if names:
                    out += [{"apiGroups": [group], "resources": [resource], "verbs": [verb], "resourceNames": [n]}
                            for n in names]
                else:
                    out.append({"apiGroups": [group], "resources": [resource], "verbs": [verb]})
    for url in rule.get("nonResourceURLs") or []:
        out += [{"nonResourceURLs": [url], "verbs": [verb]} for verb in verbs]
    return out


def _resource_covers_all(owner: list[str], wanted: list[str]) -> bool:
    if "*" in owner or all(w in owner for w in wanted):
        return True
    for path in wanted:
        if path in owner:
            continue
        if "/" not in path or f"*/{path.split('/', 1)[1]}" not in owner:
            return False
    return True


def _url_covers(owner: str, path: str) -> bool:
    return owner == path or (owner.endswith("*") and path.startswith(owner.rstrip("*")))


def rule_covers(owner: Obj, sub: Obj) -> bool:
    """ruleCovers: `owner` (any rule) covers `sub` (one broken-down rule)."""
    def has_all(field: str) -> bool:
        have = owner.get(field) or []
        return "*" in have or all(x in have for x in sub.get(field) or [])

    owner_names, sub_names = owner.get("resourceNames") or [], sub.get("resourceNames") or []
    names = not owner_names if not sub_names else (not owner_names or all(n in owner_names for n in sub_names))
    urls = all(any(_url_covers(o, u) for o in owner.get("nonResourceURLs") or [])
               for u in sub.get("nonResourceURLs") or [])
    return (has_all("verbs") and has_all("apiGroups") and names and urls
            and _resource_covers_all(list(owner.get("resources") or []), list(sub.get("resources") or [])))


def _compact(missing: list[Obj]) -> list[str]:
    """CompactRules + CompactString: one line per group/resource/name, verbs merged; sorted."""
    merged: dict[tuple[Any, ...], Obj] = {}
    for rule in missing:
        key = (tuple(rule.get("apiGroups") or ()), tuple(rule.get("resources") or ()),
               tuple(rule.get("resourceNames") or ()), tuple(rule.get("nonResourceURLs") or ()))
        if key in merged and not rule.get("nonResourceURLs"):
            merged[key]["verbs"] = [*merged[key]["verbs"], *rule["verbs"]]
        else:
            merged[key] = {**rule, "verbs": list(rule["verbs"])}
    lines = set()
    for rule in merged.values():
        parts = [f"{label}:{_go_quoted(rule[field])}" for label, field in (
            ("APIGroups", "apiGroups"), ("Resources", "resources"), ("NonResourceURLs", "nonResourceURLs"),
            ("ResourceNames", "resourceNames"), ("Verbs", "verbs")) if rule.get(field)]
        lines.add("{" + ", ".join(parts) + "}")
    return sorted(lines)


def _go_quoted(values: list[str]) -> str:
    """fmt %q of a []string: `["a" "b"]`."""
    return "[" + " ".join(json.dumps(v) for v in values) + "]"


def escalation_error(requester: Requester, rules: list[Any], namespace: str) -> str:
    """ConfirmNoEscalation: why granting `rules` in `namespace` would escalate, or ""."""
    held, errors = requester.authorizer.index().rules_for(requester.user, namespace)
    missing = [sub for rule in rules if isinstance(rule, dict) for sub in _breakdown(rule)
               if not any(rule_covers(owner, sub) for owner in held)]
    if not missing:
        return ""
    user = requester.user
    msg = (f'user "{user.name}" (groups={_go_quoted(list(user.groups))}) is attempting to grant RBAC permissions '
           "not currently held:\n" + "\n".join(_compact(missing)))
    if errors:
        msg += f"; resolution errors: [{', '.join(errors)}]"
    return msg


def verb_allowed(requester: Requester, verb: str, resource: str, name: str, namespace: str) -> bool:
    """RoleEscalationAuthorized / BindingAuthorized: `escalate` or `bind` on one role."""
    attrs = Attributes(requester.user, verb, True, namespace=namespace, group="rbac.authorization.k8s.io",
                       resource=resource, name=name)
    return requester.authorizer.authorize(attrs).allowed
