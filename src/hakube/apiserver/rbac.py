"""RBAC authorization over the watch cache.

Semantics are those of k/k `plugin/pkg/auth/authorizer/rbac/rbac.go` (RuleAllows)
and `pkg/registry/rbac/validation/rule.go` (VisitRulesFor, appliesToUser,
GetRoleReferenceRules): ClusterRoleBindings apply everywhere, RoleBindings in
their namespace (a RoleBinding to a ClusterRole grants that role's rules in the
binding's namespace only); subjects are Users, Groups and ServiceAccounts; a
rule matches on verb, API group, resource (`*`, `pods/status`, `*/scale`),
resource name and non-resource URL (`/apis/*`). Nothing denies: a request no
rule allows gets "no opinion", which the server turns into 403.

The policy is read from the API server's own watch cache: four cache watchers
(one per RBAC resource) say when something changed, and the index is rebuilt
on the next request — so a change is in force as soon as this server's cache
has seen it, and a request costs a dict lookup and a few rule checks.
ClusterRoles with an aggregationRule also get the rules of the ClusterRoles
their selectors match (the clusterrole-aggregation controller's result,
computed on read).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hakube.apiserver import status
from hakube.apiserver.auth import User
from hakube.apiserver.selectors import label_selector_from_dict
from hakube.apiserver.watchcache import WatchCache, Watcher

log = logging.getLogger(__name__)

Obj = dict[str, Any]

ROLES = "/registry/roles/"
ROLE_BINDINGS = "/registry/rolebindings/"
CLUSTER_ROLES = "/registry/clusterroles/"
CLUSTER_ROLE_BINDINGS = "/registry/clusterrolebindings/"
_PREFIXES = (ROLES, ROLE_BINDINGS, CLUSTER_ROLES, CLUSTER_ROLE_BINDINGS)
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
_MEMO_LIMIT = 4096


@dataclass(frozen=True)
class Attributes:
    """authorizer.Attributes: what a request asks to do."""

    user: User
    verb: str
    resource_request: bool
    path: str = ""
    namespace: str = ""
    group: str = ""
    version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


@dataclass(frozen=True)
class Rule:
    """A PolicyRule as sets (rbacv1helpers VerbMatches, APIGroupMatches, ...)."""

    verbs: frozenset[str]
    groups: frozenset[str]
    resources: frozenset[str]
    names: frozenset[str]
    urls: tuple[str, ...]
    source: Obj = field(compare=False, hash=False, repr=False)

    @classmethod
    def from_obj(cls, rule: Obj) -> Rule:
        return cls(frozenset(rule.get("verbs") or ()), frozenset(rule.get("apiGroups") or ()),
                   frozenset(rule.get("resources") or ()), frozenset(rule.get("resourceNames") or ()),
                   tuple(rule.get("nonResourceURLs") or ()), rule)

    def allows(self, attrs: Attributes) -> bool:
        if "*" not in self.verbs and attrs.verb not in self.verbs:
            return False
        if not attrs.resource_request:
            return any(u == "*" or u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1]))
                       for u in self.urls)
        if "*" not in self.groups and attrs.group not in self.groups:
            return False
        if not self._resource_matches(attrs):
            return False
        return not self.names or attrs.name in self.names

    def _resource_matches(self, attrs: Attributes) -> bool:
        if "*" in self.resources:
            return True
        sub = attrs.subresource
        combined = f"{attrs.resource}/{sub}" if sub else attrs.resource
        if combined in self.resources:
            return True
        # `*/scale` matches the scale subresource of every resource.
        return bool(sub) and f"*/{sub}" in self.resources


@dataclass(frozen=True)
class Grant:
    """Rules reached through one binding, and how to describe it ("RBAC: allowed by …")."""

    source: str
    rules: tuple[Rule, ...]


def _describe_subject(subject: Obj, binding_namespace: str) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{name}/{subject.get("namespace") or binding_namespace}"'
    return f'{kind} "{name}"'


def subject_applies(user: User, subject: Obj, namespace: str) -> bool:
    """appliesToUser."""
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(user.name == name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        sa_namespace = subject.get("namespace") or namespace
        return bool(sa_namespace) and user.name == f"{SERVICE_ACCOUNT_PREFIX}{sa_namespace}:{name}"
    return False


class PolicyIndex:
    """One consistent view of the RBAC objects, with per-user memos of what applies."""

    def __init__(self, roles: list[Obj], bindings: list[Obj], cluster_roles: list[Obj],
                 cluster_bindings: list[Obj]) -> None:
        self.roles = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]): r for r in roles}
        self.cluster_roles = {r["metadata"]["name"]: r for r in cluster_roles}
        self.cluster_bindings = cluster_bindings
        self.bindings: dict[str, list[Obj]] = {}
        for b in bindings:
            self.bindings.setdefault(b["metadata"].get("namespace", ""), []).append(b)
        self._cluster_role_rules: dict[str, tuple[Rule, ...]] = {}
        self._role_rules: dict[tuple[str, str], tuple[Rule, ...]] = {}
        self._memo: dict[tuple[str, tuple[str, ...], str], tuple[tuple[Grant, ...], tuple[str, ...]]] = {}

    # -- role resolution ------------------------------------------------------------

    def cluster_role_rules(self, name: str) -> tuple[Rule, ...] | None:
        """A ClusterRole's rules, aggregated ones included; None if it does not exist."""
        if name not in self.cluster_roles:
            return None
        cached = self._cluster_role_rules.get(name)
        if cached is None:
            cached = self._cluster_role_rules[name] = tuple(Rule.from_obj(r) for r in self._aggregate(name, set()))
        return cached

    def _aggregate(self, name: str, seen: set[str]) -> Iterator[Obj]:
        seen.add(name)
        role = self.cluster_roles[name]
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        if not selectors:
            yield from (r for r in role.get("rules") or [] if isinstance(r, dict))
            return
        # An aggregated role's rules are its selected roles' (the aggregation controller
        # overwrites whatever is stored), so a role leaving the selection takes its rules along.
        matchers = []
        for sel in selectors:
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                matchers.append(label_selector_from_dict(sel))
        for other_name in sorted(self.cluster_roles):
            if other_name in seen:
                continue
            labels = self.cluster_roles[other_name]["metadata"].get("labels") or {}
            if any(m.matches(labels) for m in matchers):
                yield from self._aggregate(other_name, seen)

    def aggregated_rules(self, name: str) -> list[Obj] | None:
        """What the clusterrole-aggregation controller stores as an aggregated role's rules:
        its selected roles' rules, deduplicated, in role-name order; None if not aggregated."""
        role = self.cluster_roles.get(name)
        if role is None or not (role.get("aggregationRule") or {}).get("clusterRoleSelectors"):
            return None
        rules: list[Obj] = []
        for rule in self._aggregate(name, set()):
            if rule not in rules:
                rules.append(rule)
        return rules

    def role_ref_rules(self, ref: Obj, namespace: str) -> tuple[tuple[Rule, ...] | None, str]:
        """GetRoleReferenceRules: (rules, "") or (None, why not)."""
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            rules = self.cluster_role_rules(name)
            if rules is None:
                return None, f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
            return rules, ""
        if kind == "Role":
            key = (namespace, name)
            role = self.roles.get(key)
            if role is None:
                return None, f'role.rbac.authorization.k8s.io "{name}" not found'
            cached = self._role_rules.get(key)
            if cached is None:
                cached = self._role_rules[key] = tuple(Rule.from_obj(r) for r in role.get("rules") or []
                                                       if isinstance(r, dict))
            return cached, ""
        return None, f'unsupported role reference kind: "{kind}"'

    # -- what applies to a user ------------------------------------------------------

    def grants(self, user: User, namespace: str) -> tuple[tuple[Grant, ...], tuple[str, ...]]:
        """VisitRulesFor, flattened: the grants in visiting order and the resolution errors."""
        key = (user.name, user.groups, namespace)
        memo = self._memo.get(key)
        if memo is not None:
            return memo
        grants: list[Grant] = []
        errors: list[str] = []
        for binding in self.cluster_bindings:
            subject = _first_applying(user, binding, "")
            if subject is None:
                continue
            rules, error = self.role_ref_rules(binding.get("roleRef") or {}, "")
            if rules is None:
                errors.append(error)
                continue
            ref = binding.get("roleRef") or {}
            grants.append(Grant(f'ClusterRoleBinding "{binding["metadata"]["name"]}" of {ref.get("kind")} '
                                f'"{ref.get("name")}" to {_describe_subject(subject, "")}', rules))
        if namespace:
            for binding in self.bindings.get(namespace, ()):
                subject = _first_applying(user, binding, namespace)
                if subject is None:
                    continue
                rules, error = self.role_ref_rules(binding.get("roleRef") or {}, namespace)
                if rules is None:
                    errors.append(error)
                    continue
                ref = binding.get("roleRef") or {}
                grants.append(Grant(f'RoleBinding "{binding["metadata"]["name"]}/{namespace}" of '
                                    f'{ref.get("kind")} "{ref.get("name")}" to '
                                    f"{_describe_subject(subject, namespace)}", rules))
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        memo = self._memo[key] = (tuple(grants), tuple(errors))
        return memo

    def authorize(self, attrs: Attributes) -> Decision:
        grants, errors = self.grants(attrs.user, attrs.namespace)
        for grant in grants:
            for rule in grant.rules:
                if rule.allows(attrs):
                    return Decision(True, f"RBAC: allowed by {grant.source}")
        if not errors:
            return Decision(False)
        # utilerrors.NewAggregate: one error as is, several in brackets.
        text = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        return Decision(False, f"RBAC: {text}")

    def rules_for(self, user: User, namespace: str) -> tuple[list[Obj], list[str]]:
        """RulesFor: every PolicyRule that applies (for SelfSubjectRulesReview), and errors."""
        grants, errors = self.grants(user, namespace)
        return [rule.source for grant in grants for rule in grant.rules], list(errors)


def _first_applying(user: User, binding: Obj, namespace: str) -> Obj | None:
    for subject in binding.get("subjects") or ():
        if isinstance(subject, dict) and subject_applies(user, subject, namespace):
            return subject
    return None


class RBACAuthorizer:
    """The authorizer of one API server: system:masters, then RBAC from the watch cache."""

    def __init__(self, cache: WatchCache) -> None:
        self.cache = cache
        self._watchers: list[Watcher] = []
        self._index: PolicyIndex | None = None

    @property
    def ready(self) -> bool:
        return self.cache.ready.is_set()

    def index(self) -> PolicyIndex:
        """The current policy; rebuilt when any RBAC object changed since the last call."""
        if not self.ready:
            raise status.unavailable("the request has been made before all known HTTP paths have been "
                                     "installed, please try again", retry_after=1)
        if not self._watchers or any(w.closed for w in self._watchers):
            for w in self._watchers:
                self.cache.unwatch(w)
            # Registered and read in one step: no change can fall between the two.
            self._watchers = [self.cache.watch(prefix, None, since=None) for prefix in _PREFIXES]
            self._index = None
        for w in self._watchers:
            while not w.queue.empty():
                w.queue.get_nowait()
                self._index = None
        if self._index is None:
            self._index = PolicyIndex(self.cache.snapshot(ROLES), self.cache.snapshot(ROLE_BINDINGS),
                                      self.cache.snapshot(CLUSTER_ROLES), self.cache.snapshot(CLUSTER_ROLE_BINDINGS))
        return self._index

    def authorize(self, attrs: Attributes) -> Decision:
        # The privileged group authorizer runs first (authorizerfactory.NewPrivilegedGroups).
        if "system:masters" in attrs.user.groups:
            return Decision(True)
        return self.index().authorize(attrs)

    def close(self) -> None:
        for w in self._watchers:
            self.cache.unwatch(w)
        self._watchers = []


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """apiserver endpoints/handlers/responsewriters/errors.go forbiddenMessage + apierrors.NewForbidden."""
    user = attrs.user.name
    if not attrs.resource_request:
        msg = f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        where = (f' in the namespace "{attrs.namespace}"' if attrs.namespace else " at the cluster scope")
        msg = (f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.group}"'
               f"{where}")
    if reason:
        msg = f"{msg}: {reason}"
    if not attrs.resource_request or not attrs.resource:
        return f"forbidden: {msg}"
    qualified = f"{attrs.resource}.{attrs.group}" if attrs.group else attrs.resource
    if attrs.name:
        return f'{qualified} "{attrs.name}" is forbidden: {msg}'
    return f"{qualified} is forbidden: {msg}"


def forbidden_details(attrs: Attributes) -> dict[str, str]:
    details: dict[str, str] = {}
    if attrs.resource_request and attrs.resource:
        if attrs.name:
            details["name"] = attrs.name
        if attrs.group:
            details["group"] = attrs.group
        details["kind"] = attrs.resource
    return details


_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_WATCH_OFF = ("false", "0")


def request_attributes(user: User, method: str, path: str, query: Any, info: Any) -> Attributes:
    """apiserver `pkg/endpoints/request/requestinfo.go` NewRequestInfo, as authorizer attributes.

    `info` is the parsed resource path (requestinfo.RequestInfo) or None for a
    non-resource path, whose verb is the lower-case method.
    """
    from hakube.apiserver.selectors import parse_field_selector

    if info is None:
        return Attributes(user, method.lower(), False, path=path)
    verb = _VERBS.get(method, method.lower())
    name = info.name
    if not name and verb == "get":
        watch = query.get("watch")
        verb = "watch" if watch is not None and watch.lower() not in _WATCH_OFF else "list"
        selector = query.get("fieldSelector")
        if selector:
            with contextlib.suppress(Exception):
                exact = parse_field_selector(selector).requires_exact_match("metadata.name")
                if exact and "/" not in exact and "%" not in exact and exact not in (".", ".."):
                    name = exact
    if not name and verb == "delete":
        verb = "deletecollection"
    namespace = info.namespace or ""
    if info.group == "" and info.resource == "namespaces" and info.name:
        namespace = info.name  # /api/v1/namespaces/<ns>: the namespace's own scope
    return Attributes(user, verb, True, path=path, namespace=namespace, group=info.group, version=info.version,
                      resource=info.resource, subresource=info.subresource, name=name)
