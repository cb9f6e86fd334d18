"""User impersonation: `kubectl --as=alice --as-group=devs` (apiserver `pkg/endpoints/filters/impersonation.go`).

A request carrying `Impersonate-User` (and optionally `Impersonate-Group`,
`Impersonate-Uid`, `Impersonate-Extra-<key>`) is served as that user when the
authenticated caller may `impersonate` each part: `users` (or the service
account's `serviceaccounts` object), `groups`, `uids` and `userextras/<key>`
of authentication.k8s.io. The impersonated user is in `system:authenticated`
(and, as a service account with no groups asked for, in the service account
groups), as kube makes it.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping

from multidict import CIMultiDictProxy

from hakube.apiserver import status
from hakube.apiserver.auth import User
from hakube.apiserver.rbac import Attributes, RBACAuthorizer, forbidden_details, forbidden_message

USER = "Impersonate-User"
GROUP = "Impersonate-Group"
UID = "Impersonate-Uid"
EXTRA_PREFIX = "Impersonate-Extra-"
SERVICE_ACCOUNT = "system:serviceaccount:"


def requested(headers: Mapping[str, str]) -> bool:
    return any(k.lower() in (USER.lower(), GROUP.lower(), UID.lower()) or k.lower().startswith(EXTRA_PREFIX.lower())
               for k in headers)


def impersonate(caller: User, headers: CIMultiDictProxy[str], authorizer: RBACAuthorizer) -> User:
    """The user to serve the request as, or 403 (not allowed) / 400 (no user named)."""
    name = headers.get(USER, "")
    groups = list(headers.getall(GROUP, []))
    uid = headers.get(UID, "")
    extra: dict[str, list[str]] = {}
    for key in set(headers.keys()):
        if key.lower().startswith(EXTRA_PREFIX.lower()):
            extra_key = urllib.parse.unquote(key[len(EXTRA_PREFIX):]).lower()
            extra[extra_key] = list(headers.getall(key, []))
    if not name:
        raise status.bad_request("requested impersonation without impersonating a user")

    def check(verb_resource: str, group: str, who: str, namespace: str = "") -> None:
        resource, _, sub = verb_resource.partition("/")
        attrs = Attributes(caller, "impersonate", True, namespace=namespace, group=group, resource=resource,
                           subresource=sub, name=who)
        decision = authorizer.authorize(attrs)
        if not decision.allowed:
            raise status.StatusError(403, "Forbidden", forbidden_message(attrs, decision.reason),
                                     details=forbidden_details(attrs))

    if name.startswith(SERVICE_ACCOUNT) and name.count(":") == 3:
        _, _, sa_namespace, sa_name = name.split(":")
        check("serviceaccounts", "", sa_name, sa_namespace)
        if not groups:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{sa_namespace}"]
    else:
        check("users", "", name)
    for group in groups:
        check("groups", "", group)
    if uid:
        check("uids", "authentication.k8s.io", uid)
    for key, values in extra.items():
        for value in values:
            check(f"userextras/{key}", "authentication.k8s.io", value)
    if name != "system:anonymous" and "system:authenticated" not in groups:
        groups.append("system:authenticated")
    return User(name, uid, tuple(groups), tuple(sorted((k, tuple(v)) for k, v in extra.items())))
