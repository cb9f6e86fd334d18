"""A thin async Kubernetes API client: what our components use to talk to the API.

Controllers, the scheduler, hollow nodes, the add-on manager and the leader
elector are clients of the API, never of etcd (STYLE.md). This client speaks
JSON over HTTPS with a client certificate or a bearer token, turns error
responses into `ApiError` carrying the server's Status, and streams watches
line by line.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import yaml

Obj = dict[str, Any]


class ApiError(Exception):
    """An error answer of the API server (or no answer at all: code 0)."""

    def __init__(self, code: int, reason: str, message: str, status: Obj | None = None) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.status = status or {}

    @property
    def not_found(self) -> bool:
        return self.code == 404

    @property
    def conflict(self) -> bool:
        return self.code == 409

    @property
    def gone(self) -> bool:
        return self.code == 410


@dataclass(frozen=True)
class ResourceRef:
    """Where a resource lives: `("apps", "v1", "deployments", namespaced=True)`."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str = "", subresource: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name:
            base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
        return base


# The resources our components use, named once.
PODS = ResourceRef("", "v1", "pods")
NODES = ResourceRef("", "v1", "nodes", namespaced=False)
NAMESPACES = ResourceRef("", "v1", "namespaces", namespaced=False)
SERVICES = ResourceRef("", "v1", "services")
ENDPOINTS = ResourceRef("", "v1", "endpoints")
EVENTS = ResourceRef("", "v1", "events")
CONFIGMAPS = ResourceRef("", "v1", "configmaps")
SECRETS = ResourceRef("", "v1", "secrets")
SERVICEACCOUNTS = ResourceRef("", "v1", "serviceaccounts")
DEPLOYMENTS = ResourceRef("apps", "v1", "deployments")
REPLICASETS = ResourceRef("apps", "v1", "replicasets")
STATEFULSETS = ResourceRef("apps", "v1", "statefulsets")
DAEMONSETS = ResourceRef("apps", "v1", "daemonsets")
JOBS = ResourceRef("batch", "v1", "jobs")
LEASES = ResourceRef("coordination.k8s.io", "v1", "leases")
ENDPOINTSLICES = ResourceRef("discovery.k8s.io", "v1", "endpointslices")


@dataclass(frozen=True)
class Credentials:
    server: str
    ca_pem: bytes
    cert_pem: bytes | None = None
    key_pem: bytes | None = None
    token: str | None = None

    @classmethod
    def from_kubeconfig(cls, path: Path, *, context: str | None = None) -> Credentials:
        """Read the current (or named) context of a kubeconfig with inline data."""
        config = yaml.safe_load(path.read_text())
        ctx_name = context or config.get("current-context")
        ctx = next(c["context"] for c in config["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == ctx["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == ctx["user"])

        def data(section: Mapping[str, Any], key: str) -> bytes | None:
            if f"{key}-data" in section:
                return base64.b64decode(section[f"{key}-data"])
            if key in section:
                return Path(section[key]).read_bytes()
            return None

        return cls(server=cluster["server"], ca_pem=data(cluster, "certificate-authority") or b"",
                   cert_pem=data(user, "client-certificate"), key_pem=data(user, "client-key"),
                   token=user.get("token"))

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cadata=self.ca_pem.decode())
        if self.cert_pem and self.key_pem:
            # The ssl module loads a key pair from files only; keep them private and brief.
            with tempfile.NamedTemporaryFile() as cert, tempfile.NamedTemporaryFile() as key:
                cert.write(self.cert_pem)
                key.write(self.key_pem)
                cert.flush()
                key.flush()
                ctx.load_cert_chain(cert.name, key.name)
        return ctx


def _error_from(code: int, body: bytes) -> ApiError:
    try:
        status = orjson.loads(body)
    except orjson.JSONDecodeError:
        status = None
    if isinstance(status, dict) and status.get("kind") == "Status":
        return ApiError(code, str(status.get("reason", "")), str(status.get("message", "")), status)
    return ApiError(code, "Unknown", body[:200].decode(errors="replace"))


class ApiClient:
    """One HTTP connection pool to the API server; use as an async context manager."""

    def __init__(self, creds: Credentials, *, user_agent: str = "hakube", timeout: float = 30.0) -> None:
        self.creds = creds
        self._user_agent = user_agent
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def open(self) -> None:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if self.creds.token:
            headers["Authorization"] = f"Bearer {self.creds.token}"
        connector = aiohttp.TCPConnector(ssl=self.creds.ssl_context(), limit=100)
        self._session = aiohttp.ClientSession(base_url=self.creds.server, headers=headers, connector=connector)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("ApiClient is not open")
        return self._session

    async def request(self, method: str, path: str, *, body: Any = None, params: Mapping[str, str] | None = None,
                      content_type: str = "application/json", timeout: float | None = None) -> Obj:
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else None
        try:
            async with self.session.request(
                    method, path, data=data, params=params, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=timeout or self._timeout)) as resp:
                raw = await resp.read()
                if resp.status >= 400:
                    raise _error_from(resp.status, raw)
                result: Obj = orjson.loads(raw) if raw else {}
                return result
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise ApiError(0, "Unavailable", f"{method} {path}: {err or type(err).__name__}") from None

    # -- verbs -----------------------------------------------------------------

    async def get(self, ref: ResourceRef, name: str, namespace: str | None = None, *,
                  subresource: str = "") -> Obj:
        return await self.request("GET", ref.path(namespace, name, subresource))

    async def list(self, ref: ResourceRef, namespace: str | None = None, *, label_selector: str = "",
                   field_selector: str = "", resource_version: str = "", limit: int = 0) -> Obj:
        params = _params(labelSelector=label_selector, fieldSelector=field_selector,
                         resourceVersion=resource_version, limit=str(limit) if limit else "")
        return await self.request("GET", ref.path(namespace), params=params)

    async def create(self, ref: ResourceRef, obj: Obj, namespace: str | None = None, *,
                     subresource: str = "", name: str = "") -> Obj:
        ns = namespace or obj.get("metadata", {}).get("namespace")
        return await self.request("POST", ref.path(ns, name, subresource), body=obj)

    async def replace(self, ref: ResourceRef, obj: Obj, *, subresource: str = "") -> Obj:
        meta = obj["metadata"]
        return await self.request("PUT", ref.path(meta.get("namespace"), meta["name"], subresource), body=obj)

    async def patch(self, ref: ResourceRef, name: str, patch: Any, namespace: str | None = None, *,
                    patch_type: str = "application/merge-patch+json", subresource: str = "",
                    field_manager: str = "") -> Obj:
        params = _params(fieldManager=field_manager)
        return await self.request("PATCH", ref.path(namespace, name, subresource), body=patch,
                                  params=params, content_type=patch_type)

    async def delete(self, ref: ResourceRef, name: str, namespace: str | None = None, *,
                     preconditions: Obj | None = None, grace_period: int | None = None,
                     propagation: str | None = None) -> Obj:
        options: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if preconditions:
            options["preconditions"] = preconditions
        if grace_period is not None:
            options["gracePeriodSeconds"] = grace_period
        if propagation:
            options["propagationPolicy"] = propagation
        return await self.request("DELETE", ref.path(namespace, name), body=options)

    async def watch(self, ref: ResourceRef, namespace: str | None = None, *, resource_version: str,
                    label_selector: str = "", field_selector: str = "", timeout_seconds: int = 300,
                    bookmarks: bool = True) -> AsyncIterator[tuple[str, Obj]]:
        """Yield (type, object) events; raises ApiError (410 Gone included) on an ERROR event."""
        params = _params(watch="true", resourceVersion=resource_version, labelSelector=label_selector,
                         fieldSelector=field_selector, timeoutSeconds=str(timeout_seconds),
                         allowWatchBookmarks="true" if bookmarks else "")
        try:
            async with self.session.get(ref.path(namespace), params=params,
                                        timeout=aiohttp.ClientTimeout(total=timeout_seconds + 30,
                                                                      sock_read=timeout_seconds + 30)) as resp:
                if resp.status >= 400:
                    raise _error_from(resp.status, await resp.read())
                async for line in resp.content:
                    if not line.strip():
                        continue
                    event = orjson.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise ApiError(int(status.get("code", 500)), str(status.get("reason", "")),
                                       str(status.get("message", "")), status)
                    yield event["type"], event["object"]
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            raise ApiError(0, "Unavailable", f"watch {ref.plural}: {err or type(err).__name__}") from None


def _params(**values: str) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}
