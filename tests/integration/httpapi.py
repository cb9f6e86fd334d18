"""A small HTTPS client for the RBAC and resource tests: one request as an identity, its code and body.

Identities are client certificates issued by the test stack's CA (CN = user,
O = groups), bearer tokens, or the stack's admin certificate.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hakube.cluster import pki
from hakube.cluster.kubeconfig import render_kubeconfig
from hakube.testing import LocalStack


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def message(self) -> str:
        return str(self.body.get("message", "")) if isinstance(self.body, dict) else ""


@dataclass
class Identity:
    """Who a request is made as: a client certificate (with its kubeconfig) or a bearer token."""

    name: str
    ctx: ssl.SSLContext
    token: str | None = None
    kubeconfig: Path | None = None


class Api:
    def __init__(self, stack: LocalStack, home: Path) -> None:
        self.stack = stack
        self.base = stack.apiservers[0].url
        self.home = home
        self.admin = Identity("admin", stack.ssl_context())

    def user(self, name: str, groups: tuple[str, ...] = ()) -> Identity:
        """A client certificate for `name` in `groups`, and a kubeconfig that uses it."""
        cert = pki.issue_cert(self.stack.ca, common_name=name, organizations=list(groups), client=True)
        stem = self.home / f"{name.replace(':', '_')}-{uuid.uuid4().hex[:6]}"
        crt, key = stem.with_suffix(".crt"), stem.with_suffix(".key")
        pki.write_pem(crt, cert.cert_pem, private=False)
        pki.write_pem(key, cert.key_pem, private=True)
        ctx = ssl.create_default_context(cafile=str(self.stack.ca_file))
        ctx.load_cert_chain(crt, key)
        kubeconfig = stem.with_suffix(".kubeconfig")
        kubeconfig.write_text(render_kubeconfig(cluster_name="test", server=self.base, ca_pem=self.stack.ca.cert_pem,
                                                user=name, client=cert))
        return Identity(name, ctx, kubeconfig=kubeconfig)

    def admin_identity(self) -> Identity:
        """The stack's system:masters certificate, with its kubeconfig."""
        return Identity("admin", self.admin.ctx, kubeconfig=self.stack.kubeconfig(0))

    def bearer(self, token: str, name: str = "token") -> Identity:
        ctx = ssl.create_default_context(cafile=str(self.stack.ca_file))
        return Identity(name, ctx, token=token)

    def request(self, method: str, path: str, body: Any = None, *, who: Identity | None = None,
                content_type: str = "application/json", accept: str = "application/json") -> Reply:
        who = who or self.admin
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", content_type)
        req.add_header("Accept", accept)
        if who.token is not None:
            req.add_header("Authorization", f"Bearer {who.token}")
        try:
            with urllib.request.urlopen(req, context=who.ctx, timeout=15) as resp:
                raw = resp.read()
                return Reply(resp.status, json.loads(raw) if raw else None)
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return Reply(err.code, json.loads(raw))
            except ValueError:
                return Reply(err.code, raw.decode(errors="replace"))

    def ok(self, method: str, path: str, body: Any = None, *, who: Identity | None = None,
           expect: tuple[int, ...] = (200, 201)) -> Any:
        reply = self.request(method, path, body, who=who)
        assert reply.status in expect, (method, path, reply.status, reply.body)
        return reply.body

    def namespace(self, prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"
        self.ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        return name


def eventually(check: Callable[[], bool], *, timeout: float = 3.0, interval: float = 0.02) -> None:
    """Poll until `check()` holds (policy changes reach the authorizer through the watch cache)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
