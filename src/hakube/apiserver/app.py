"""The aiohttp application of one API server: routes, middleware, lifetimes.

An API server holds no state but its etcd connection and its watch cache, so
any number of them may serve the same etcd at once (DESIGN.md §1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from hakube import KUBE_VERSION
from hakube.apiserver import (
    codec,
    discovery,
    escalation,
    health,
    impersonation,
    lbagent,
    openapi_routes,
    rbac,
    satoken,
    status,
)
from hakube.apiserver.auth import PUBLIC_PATHS, Authenticator, User
from hakube.apiserver.bootstrap import Compactor, DefaultObjects, ensure_system_namespaces
from hakube.apiserver.handlers import ResourceHandler, json_response
from hakube.apiserver.identity import FEATURE_GATE as IDENTITY_GATE
from hakube.apiserver.identity import IdentityLease, IdentitySettings
from hakube.apiserver.metrics import Metrics
from hakube.apiserver.registry import Registry
from hakube.apiserver.requestinfo import parse_resource_path
from hakube.apiserver.resources import ResourceTable
from hakube.apiserver.reviews import Reviews
from hakube.apiserver.watchcache import WatchCache
from hakube.store.errors import Indeterminate, KeyNotFound, StoreError
from hakube.store.storage import Storage, TLSFiles

log = logging.getLogger(__name__)

# etcd readiness: probed every ETCD_PROBE_INTERVAL s; /readyz fails after ETCD_READY_GRACE s without an answer.
ETCD_PROBE_INTERVAL = 0.25
ETCD_PROBE_TIMEOUT = 2.0
# The load balancer's agent hears "down" first (lbagent), so the load balancer ejects us
# before /readyz answers anyone with a 500.
ETCD_READY_GRACE = lbagent.DOWN_AFTER + lbagent.DOWN_LEAD

_VERB_BY_METHOD = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class ServerConfig:
    etcd_endpoint: str
    advertise_address: str = "127.0.0.1:6443"
    etcd_tls: TLSFiles | None = None
    quorum_reads: bool = True
    token_file: Path | None = None
    compaction_interval: float = 300.0
    watch_history: int = 20_000
    shutdown_delay: float = 0.0
    # Service account tokens: the key TokenRequest signs with, the keys tokens verify with
    # (the signing key's public half is always one), the issuer, and the audiences the API
    # server accepts (default: the issuer), as kube-apiserver's --service-account-* flags.
    service_account_signing_key_file: Path | None = None
    service_account_key_files: tuple[Path, ...] = ()
    service_account_issuer: str = satoken.DEFAULT_ISSUER
    api_audiences: tuple[str, ...] = ()
    # --feature-gates, as given (NAME -> enabled); the gates we know are read with `gate`.
    feature_gates: tuple[tuple[str, bool], ...] = ()
    identity: IdentitySettings = field(default_factory=IdentitySettings)

    def gate(self, name: str) -> bool:
        return dict(self.feature_gates).get(name, False)


def version_info() -> dict[str, str]:
    major, minor, _ = KUBE_VERSION.lstrip("v").split(".")
    return {"major": major, "minor": minor, "gitVersion": KUBE_VERSION,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2026-11-21T00:00:00Z", "goVersion": "python", "compiler": "hakube",
            "platform": "linux/amd64"}


class ApiServer:
    """Wires storage, cache, registries and HTTP handlers together."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.metrics = Metrics()
        self.table = ResourceTable()
        self.storage = Storage(config.etcd_endpoint, quorum_reads=config.quorum_reads, tls=config.etcd_tls,
                               observe=self.metrics.observe_etcd)
        self.cache = WatchCache(self.storage, history=config.watch_history,
                                on_watchers=self.metrics.set_watchers)
        self.registries = {(r.group, r.version, r.plural): Registry(r, self.storage, self.cache)
                           for r in self.table.resources if not r.virtual}
        signer, verifier = _service_account_keys(config)
        self.authenticator = Authenticator(config.token_file, service_accounts=verifier, lookup=self.lookup)
        self.authorizer = rbac.RBACAuthorizer(self.cache)
        self.defaults = DefaultObjects(self.registries, policy=self.authorizer.index)
        self.reviews = Reviews(self.authorizer, self.registries, signer,
                               config.api_audiences or (config.service_account_issuer,))
        self.identity: IdentityLease | None = None
        if config.gate(IDENTITY_GATE):
            self.identity = IdentityLease(self.registries[("coordination.k8s.io", "v1", "leases")],
                                          config.identity)
        self.shutting_down = False
        self._etcd_last_ok: float | None = None  # monotonic time of the last answered etcd probe

    # -- lifetimes ------------------------------------------------------------

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        await self.storage.connect()
        await self.cache.start()
        tasks = [
            asyncio.create_task(self._guard(ensure_system_namespaces(self.registries), "system-namespaces"),
                                name="system-namespaces"),
            asyncio.create_task(self._guard(Compactor(self.storage, self.config.compaction_interval).run(),
                                            "compactor"), name="compactor"),
            asyncio.create_task(self._guard(self._probe_etcd(), "etcd-probe"), name="etcd-probe"),
            asyncio.create_task(self._guard(self.defaults.run(), "default-objects"), name="default-objects"),
            asyncio.create_task(self._guard(self.defaults.run_aggregation(), "clusterrole-aggregation"),
                                name="clusterrole-aggregation"),
        ]
        if self.identity is not None:
            log.info("API server identity: %s", self.identity.identity)
            tasks += [
                asyncio.create_task(self._guard(self.identity.run_heartbeat(), "identity-lease"),
                                    name="identity-lease"),
                asyncio.create_task(self._guard(self.identity.run_gc(), "identity-lease-gc"),
                                    name="identity-lease-gc"),
            ]
        yield
        self.shutting_down = True
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.identity is not None:
            # Graceful stop: peers need not wait a lease duration to forget us.
            log.info("%s", await self.identity.release())
        self.authorizer.close()
        await self.cache.stop()
        await self.storage.close()

    @staticmethod
    async def _guard(coro: Awaitable[None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task %s failed", name)

    # -- health -----------------------------------------------------------------

    async def _probe_etcd(self) -> None:
        """Probe etcd in the background, so /readyz answers at once whatever etcd does.

        A load balancer checks /readyz with a short timeout (400 ms); a probe that
        waits on etcd would make a slow etcd look like a dead API server.
        """
        while True:
            # The member's view of its leader first: a local call, answered even mid-election.
            with contextlib.suppress(StoreError):
                _member, leader = await self.storage.member_status()
                self.storage.note_leader(leader)
            if await self.storage.healthy(timeout=ETCD_PROBE_TIMEOUT):
                self._etcd_last_ok = time.monotonic()
            await asyncio.sleep(ETCD_PROBE_INTERVAL)

    async def etcd_healthy(self) -> bool:
        # Ready while etcd answered within the grace period. An etcd leader election
        # (about a second here) makes every member refuse quorum reads for a moment;
        # failing /readyz then would get every API server ejected by the load balancer
        # at once — a full outage out of a blip (kube-apiserver likewise gives its etcd
        # readiness check a timeout rather than failing on the first refused read).
        silent = self.etcd_silent_for()
        return silent is not None and silent < ETCD_READY_GRACE

    def etcd_silent_for(self) -> float | None:
        """Seconds since etcd last answered the readiness probe; None if it never has."""
        last = self._etcd_last_ok
        return None if last is None else time.monotonic() - last

    def lb_agent_answer(self) -> str:
        """What the load balancer's agent check is told (lbagent): less, then no traffic while etcd is silent."""
        return lbagent.answer(etcd_silent_for=self.etcd_silent_for(), shutting_down=self.shutting_down)

    def checks(self, endpoint: str) -> list[health.HealthCheck]:
        checks = [health.ping(), health.HealthCheck("log", _true)]
        if endpoint != "livez":
            checks.append(health.HealthCheck("etcd", self.etcd_healthy))
        if endpoint == "readyz":
            checks.append(health.HealthCheck("informer-sync", self._cache_ready))
            # Until the default policy exists, our own components would be refused.
            checks.append(health.HealthCheck("poststarthook/rbac/bootstrap-roles", self._defaults_done))
            checks.append(health.HealthCheck("poststarthook/scheduling/bootstrap-system-priority-classes",
                                             self._defaults_done))
            checks.append(health.HealthCheck("shutdown", self._not_shutting_down))
        return checks

    async def _cache_ready(self) -> bool:
        return self.cache.ready.is_set()

    async def _not_shutting_down(self) -> bool:
        return not self.shutting_down

    async def _defaults_done(self) -> bool:
        return self.defaults.done.is_set()

    async def lookup(self, key: str) -> dict[str, Any] | None:
        """An object by its etcd key: from the watch cache once it is ready, else from etcd."""
        if self.cache.ready.is_set():
            return self.cache.get(key)
        try:
            kv = await self.storage.get(key)
        except KeyNotFound:
            return None
        return codec.decode_from_storage(kv.value, kv.mod_revision)

    # -- middleware --------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        start = time.perf_counter()
        info = parse_resource_path(request.path)
        request["info"] = info
        verb = _VERB_BY_METHOD.get(request.method, request.method.lower())
        if info is not None and request.method == "GET":
            verb = "watch" if request.query.get("watch") in ("1", "true", "True") else (
                "get" if info.name else "list")
        resource = info.resource if info else ""
        code = 500
        requester = None
        try:
            if not request.path.startswith(PUBLIC_PATHS) and request.path != "/metrics":
                user = await self.authenticator.authenticate_request(request)
                if user is None:
                    raise status.unauthorized()
                if impersonation.requested(request.headers):
                    user = impersonation.impersonate(user, request.headers, self.authorizer)
                request["user"] = user
                self.authorize(user, request, info)
                # Who writes, for the RBAC strategies' escalation checks (the request context upstream).
                requester = escalation.REQUESTER.set(escalation.Requester(user, self.authorizer))
            response = await handler(request)
            code = response.status
            return response
        except (status.StatusError, StoreError) as raised:
            # A storage error that escaped a handler is etcd being unreachable or
            # leaderless: 503 with Retry-After, which client-go retries on its own.
            if isinstance(raised, status.StatusError):
                err = raised
            elif isinstance(raised, Indeterminate):
                err = status.timeout(f"Timeout: {raised}")  # kube answers etcd timeouts with 504
            else:
                err = status.unavailable(f"etcd is unavailable: {raised}", retry_after=1)
            code = err.code
            resp = json_response(err.to_status(), code=err.code)
            resp.headers.update(err.headers)
            return resp
        except web.HTTPException as err:
            code = err.status
            raise
        except Exception as err:  # the last line of defence: a 500 Status, logged
            log.exception("internal error serving %s %s", request.method, request.path)
            code = 500
            return json_response(status.internal(type(err).__name__).to_status(), code=500)
        finally:
            if requester is not None:
                escalation.REQUESTER.reset(requester)
            labels = (verb.upper() if verb != "watch" else "WATCH", info.group if info else "",
                      resource, info.subresource if info else "")
            self.metrics.observe_request(labels, code,
                                         None if verb == "watch" else time.perf_counter() - start)

    def authorize(self, user: User, request: web.Request, info: Any) -> None:
        """403 unless RBAC allows the request (system:masters always may)."""
        if user.is_master:
            return
        attrs = rbac.request_attributes(user, request.method, request.path, request.query, info)
        decision = self.authorizer.authorize(attrs)
        if not decision.allowed:
            raise status.StatusError(403, "Forbidden", rbac.forbidden_message(attrs, decision.reason),
                                     details=rbac.forbidden_details(attrs))

    # -- routes --------------------------------------------------------------------

    async def resource(self, request: web.Request) -> web.StreamResponse:
        info = request.get("info") or parse_resource_path(request.path)
        if info is None:
            raise status.StatusError(404, "NotFound", "the server could not find the requested resource",
                                     details={})
        resource = self.table.lookup(info.group, info.version, info.resource)
        if resource is not None and resource.virtual:
            if resource.namespaced != (info.namespace is not None):
                raise status.StatusError(404, "NotFound", "the server could not find the requested resource",
                                         details={})
            return await self.reviews.handle(resource, info, request)
        reg = self.registries.get((info.group, info.version, info.resource))
        if reg is None:
            raise status.StatusError(404, "NotFound", "the server could not find the requested resource",
                                     details={})
        if reg.resource.namespaced and info.name == "" and request.method == "POST" and info.namespace is None:
            raise status.StatusError(404, "NotFound", "the server could not find the requested resource",
                                     details={})
        if not reg.resource.namespaced and info.namespace is not None:
            raise status.StatusError(404, "NotFound", "the server could not find the requested resource",
                                     details={})
        if not self.cache.ready.is_set():
            raise status.unavailable("the request has been made before all known HTTP paths have been "
                                     "installed, please try again", retry_after=1)
        if info.subresource == "token" and reg.resource.plural == "serviceaccounts" and info.name:
            return await self.reviews.token(reg, info, request)
        return await ResourceHandler(reg, info).handle(request)

    async def api(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept")):
            return _aggregated(discovery.aggregated(self.table, core=True))
        return json_response(discovery.api_versions(self.config.advertise_address))

    async def apis(self, request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept")):
            return _aggregated(discovery.aggregated(self.table, core=False))
        return json_response(discovery.api_group_list(self.table))

    async def group_or_version(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.strip("/").split("/") if p]
        body: dict[str, Any] | None = None
        if parts[0] == "api" and len(parts) == 2:
            body = discovery.resource_list(self.table, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 2:
            body = discovery.api_group(self.table, parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            body = discovery.resource_list(self.table, parts[1], parts[2])
        else:
            return await self.resource(request)
        if body is None:
            return web.Response(text="404 page not found\n", status=404, content_type="text/plain")
        return json_response(body)

    async def version(self, request: web.Request) -> web.Response:
        return json_response(version_info())

    async def metrics_endpoint(self, request: web.Request) -> web.Response:
        user = await self.authenticator.authenticate_request(request)
        if user is None:
            raise status.unauthorized()
        self.authorize(user, request, None)  # system:monitoring, or cluster-admin
        return web.Response(body=self.metrics.render(), content_type="text/plain", charset="utf-8")

    def health_route(self, endpoint: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return await health.run_checks(request, endpoint, self.checks(endpoint),
                                           only=request.match_info.get("check"))
        return handler

    def build(self) -> web.Application:
        app = web.Application(middlewares=[self.middleware], client_max_size=4 * 1024 * 1024)
        app.cleanup_ctx.append(self.lifetime)
        app.router.add_get("/version", self.version)
        app.router.add_get("/version/", self.version)  # go-restful answers both; kr8s asks for this one
        app.router.add_get("/metrics", self.metrics_endpoint)
        for endpoint in ("healthz", "livez", "readyz"):
            app.router.add_get(f"/{endpoint}", self.health_route(endpoint))
            app.router.add_get(f"/{endpoint}/{{check}}", self.health_route(endpoint))
        app.router.add_get("/api", self.api)
        app.router.add_get("/apis", self.apis)
        openapi_routes.add_routes(app, self.table)
        app.router.add_route("*", "/api/{tail:.*}", self.group_or_version)
        app.router.add_route("*", "/apis/{tail:.*}", self.group_or_version)
        return app


def _service_account_keys(config: ServerConfig) -> tuple[satoken.TokenSigner | None, satoken.TokenVerifier | None]:
    """The TokenRequest signer and the token verifier the flags describe (either may be absent)."""
    signer = None
    keys: list[satoken.PublicKey] = []
    if config.service_account_signing_key_file is not None:
        private = satoken.load_private_key(config.service_account_signing_key_file)
        signer = satoken.TokenSigner(private, issuer=config.service_account_issuer)
        keys.append(private.public_key())
    for path in config.service_account_key_files:
        keys += satoken.load_public_keys(path)
    if not keys:
        return signer, None
    audiences = config.api_audiences or (config.service_account_issuer,)
    return signer, satoken.TokenVerifier(keys, issuer=config.service_account_issuer, audiences=audiences)


def _aggregated(body: dict[str, Any]) -> web.Response:
    from hakube.apiserver import codec

    return web.Response(body=codec.dumps(body), headers={"Content-Type": discovery.AGGREGATED_CONTENT_TYPE})


async def _true() -> bool:
    return True


__all__ = ["ApiServer", "ServerConfig", "User", "version_info"]
