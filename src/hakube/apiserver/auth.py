"""Authentication (x509 client certificates, static bearer tokens) and the authorizer seam.

x509: user = CN, groups = every O (apiserver `authentication/request/x509`);
tokens: the static token file (`token,user,uid,"g1,g2"`). Every authenticated
user is also in `system:authenticated`. Anonymous requests are refused with 401
except on the health endpoints (`system:public-info-viewer`). Authorization
proper (RBAC) comes later; until then `system:masters` may do everything and
other users only read discovery and version information.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from hakube.apiserver import status
from hakube.cluster.kubeconfig import TokenRow, read_token_file

# Until RBAC arrives (the compatibility issue), the component identities kube's
# bootstrap policy grants rights to may act on every resource; RBAC narrows them
# to least privilege. Anyone else needs system:masters.
COMPONENT_USERS = frozenset({"system:kube-controller-manager", "system:kube-scheduler",
                             "system:cluster-autoscaler", "system:addon-manager"})

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")
DISCOVERY_PREFIXES = ("/api", "/apis", "/openapi", "/version", "/healthz", "/livez", "/readyz")


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()

    @property
    def is_master(self) -> bool:
        return "system:masters" in self.groups

    @property
    def is_component(self) -> bool:
        """Our own control-plane components and nodes (see `authorize`)."""
        return self.name in COMPONENT_USERS or "system:nodes" in self.groups


# Distinct client certificates whose subject is remembered; a small number in practice.
_SUBJECT_CACHE_SIZE = 1024


class Authenticator:
    def __init__(self, token_file: Path | None) -> None:
        self.tokens: dict[str, TokenRow] = read_token_file(token_file) if token_file else {}
        # DER bytes → (CN, O...). Decoding the peer certificate into a dict on every
        # request costs more than the rest of authentication; the DER is cheap to get.
        self._subjects: dict[bytes, tuple[str, list[str]]] = {}

    def authenticate(self, request: web.Request) -> User | None:
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            row = self.tokens.get(header[7:].strip())
            if row is None:
                return None  # a bad token is a failed login, not anonymous
            return User(row.user, row.uid, (*row.groups, "system:authenticated"))
        subject = self._peer_subject(request)
        if subject is not None:
            cn, orgs = subject
            if cn:
                return User(cn, "", (*orgs, "system:authenticated"))
        return None

    def _peer_subject(self, request: web.Request) -> tuple[str, list[str]] | None:
        transport = request.transport
        if transport is None:
            return None
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return None
        der = ssl_object.getpeercert(binary_form=True)
        if not der:
            return None
        subject = self._subjects.get(der)
        if subject is None:
            cert = ssl_object.getpeercert()
            if not cert:
                return None
            if len(self._subjects) >= _SUBJECT_CACHE_SIZE:
                self._subjects.clear()
            subject = self._subjects[der] = _subject(cert)
        return subject


def _subject(cert: dict[str, Any]) -> tuple[str, list[str]]:
    cn, orgs = "", []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                cn = value
            elif key == "organizationName":
                orgs.append(value)
    return cn, orgs


def authorize(user: User, request: web.Request, *, verb: str, resource: str, group: str,
              namespace: str | None) -> None:
    """Raise 403 unless `user` may do this (system:masters and our components, until RBAC)."""
    if user.is_master or user.is_component:
        return
    if request.method == "GET" and request.path.startswith(DISCOVERY_PREFIXES) and not resource:
        return
    if resource:
        where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        raise status.forbidden(f'{resource} is forbidden: User "{user.name}" cannot {verb} resource '
                               f'"{resource}" in API group "{group}"{where}')
    raise status.forbidden(f'forbidden: User "{user.name}" cannot {verb.lower()} path "{request.path}"')
