"""Authentication: x509 client certificates, static bearer tokens, service account tokens.

x509: user = CN, groups = every O (apiserver `authentication/request/x509`);
static tokens: the token file (`token,user,uid,"g1,g2"`); service account tokens:
JWTs this cluster signed (satoken), valid while their service account — and the
object they are bound to — still exist with the uid the token names (k/k
`pkg/serviceaccount/claims.go` Validate). Every authenticated user is also in
`system:authenticated`. Anonymous requests are refused with 401 except on the
health and version endpoints (`system:public-info-viewer`). What an
authenticated user may do is the authorizer's business (rbac).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from hakube.apiserver import satoken
from hakube.cluster.kubeconfig import TokenRow, read_token_file

log = logging.getLogger(__name__)

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")

# Extra keys kube sets for service account tokens (k/k pkg/serviceaccount/util.go).
CREDENTIAL_ID = "authentication.kubernetes.io/credential-id"
POD_NAME = "authentication.kubernetes.io/pod-name"
POD_UID = "authentication.kubernetes.io/pod-uid"


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def is_master(self) -> bool:
        return "system:masters" in self.groups


# Distinct client certificates whose subject is remembered; a small number in practice.
_SUBJECT_CACHE_SIZE = 1024
# Verified service account tokens, remembered briefly (kube caches token reviews for 10 s).
_TOKEN_CACHE_SIZE = 4096
_TOKEN_CACHE_SECONDS = 10.0

# Looks up a stored object by its etcd key; None when it does not exist.
Lookup = Callable[[str], Awaitable[dict[str, Any] | None]]


class Authenticator:
    def __init__(self, token_file: Path | None, *, service_accounts: satoken.TokenVerifier | None = None,
                 lookup: Lookup | None = None) -> None:
        self.tokens: dict[str, TokenRow] = read_token_file(token_file) if token_file else {}
        self.service_accounts = service_accounts
        self.lookup = lookup
        # DER bytes → (CN, O...). Decoding the peer certificate into a dict on every
        # request costs more than the rest of authentication; the DER is cheap to get.
        self._subjects: dict[bytes, tuple[str, list[str]]] = {}
        self._verified: dict[str, tuple[float, satoken.Claims]] = {}

    def authenticate(self, request: web.Request) -> User | None:
        """Certificates and static tokens (everything that needs no lookup)."""
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

    async def authenticate_request(self, request: web.Request) -> User | None:
        """`authenticate`, plus service account tokens."""
        header = request.headers.get("Authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
            if token not in self.tokens and self.service_accounts is not None and satoken.looks_like_jwt(token):
                return await self._service_account(token)
        return self.authenticate(request)

    async def _service_account(self, token: str) -> User | None:
        now = time.monotonic()
        cached = self._verified.get(token)
        claims: satoken.Claims | None
        if cached is not None and now - cached[0] < _TOKEN_CACHE_SECONDS:
            claims = cached[1]
            if claims.expires + satoken.LEEWAY < time.time():
                claims = None
        else:
            assert self.service_accounts is not None
            try:
                claims = self.service_accounts.verify(token)
            except satoken.TokenError as err:
                log.info("service account token rejected: %s", err)
                return None
            if len(self._verified) >= _TOKEN_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = (now, claims)
        if claims is None or not await self._still_valid(claims):
            return None
        extra: list[tuple[str, tuple[str, ...]]] = [(CREDENTIAL_ID, (f"JTI={claims.token_id}",))]
        if claims.bound is not None and claims.bound.kind == "Pod":
            extra += [(POD_NAME, (claims.bound.name,)), (POD_UID, (claims.bound.uid,))]
        return User(claims.username, claims.uid,
                    ("system:serviceaccounts", f"system:serviceaccounts:{claims.namespace}", "system:authenticated"),
                    tuple(sorted(extra)))

    async def _still_valid(self, claims: satoken.Claims) -> bool:
        """The service account, and the object the token is bound to, exist with the token's uids."""
        if self.lookup is None:
            return False
        sa = await self.lookup(f"/registry/serviceaccounts/{claims.namespace}/{claims.name}")
        if sa is None or sa["metadata"].get("uid") != claims.uid:
            log.info("service account token rejected: service account %s/%s is gone", claims.namespace,
                     claims.name)
            return False
        bound = claims.bound
        if bound is not None:
            key = {"Pod": f"/registry/pods/{claims.namespace}/{bound.name}",
                   "Secret": f"/registry/secrets/{claims.namespace}/{bound.name}",
                   "Node": f"/registry/minions/{bound.name}"}.get(bound.kind)
            obj = await self.lookup(key) if key else None
            if obj is None or obj["metadata"].get("uid") != bound.uid:
                log.info("service account token rejected: its %s %s is gone", bound.kind.lower(), bound.name)
                return False
        return True

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
