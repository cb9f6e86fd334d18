"""Moving the external IP between the only API server and the load balancer, dropping no request.

With one replica its API server serves the external IP E:6443 itself; from
two replicas on, HAProxy does (DESIGN.md §1). GCE's kube-up moves the address
in ~20 minutes and drops what is in flight; here the move takes about a
second and drops nothing, because both sides share E:6443 with SO_REUSEPORT
and the side that leaves first steers new connections to the other and
empties its accept queue before closing (see `hakube.apiserver.reuseport`).

Creation (1 → 2 replicas), `take_over`:
1. the API server re-asserts E (steering every new connection to itself);
2. HAProxy starts and binds E too — it receives nothing yet;
3. every backend passes its /readyz check;
4. the API server steers new connections to HAProxy, accepts what was
   already on its way for a moment, closes E, and answers the connections it
   had accepted on E with `Connection: close` so they move over between
   requests. A failure before step 4 stops HAProxy again: nothing changed.

Removal (2 → 1), `give_back`:
1. the last API server listens on E again, steering every new connection to
   itself, and answers connections that come through HAProxy (their source
   is E) with `Connection: close`;
2. a moment later HAProxy stops listening — its queue is empty by then — and
   goes on serving its open sessions until the clients have moved (bounded);
3. HAProxy exits.

A replica leaving a load-balanced cluster is drained first (`drain_backend`):
no new sessions to it, its load-balanced clients asked to reconnect. So
`replica remove` runs: drain_backend → stop the replica → remove_backend →
(one replica left) give_back. `replica add` runs: start the replica → (two
replicas) take_over with both backends, or (more) `HAProxy.add_backend`.

Every API server runs with `--listeners-file` (its own file; the handoff
writes it and waits for the server to report it applied). Measured on a
2-core machine under load (bench/ha_lb.py): creation ~1 s, removal ~0.6 s,
0 failed requests; a plain close of the shared listener instead resets
every connection in its queue. net.ipv4.tcp_migrate_req=1 would also make a
plain close safe, but it is off by default and per network namespace, and
the steering does not need it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hakube.apiserver.listeners_file import read_spec, request_listeners
from hakube.apiserver.reuseport import listening_sockets
from hakube.lb.config import Backend
from hakube.lb.haproxy import HAProxy, LoadBalancerError
from hakube.lb.runtime import RuntimeAPIError

__all__ = ["HandoffReport", "ReplicaListeners", "drain_backend", "give_back", "take_over"]

_POLL = 0.02


@dataclass(frozen=True)
class ReplicaListeners:
    """How to reach one API server's extra listeners: its listeners file (and pid, if known)."""

    path: Path
    pid: int | None = None


@dataclass
class HandoffReport:
    """What a handoff did and when (seconds since it began)."""

    direction: str  # "to-load-balancer" or "to-apiserver"
    steps: list[tuple[float, str]] = field(default_factory=list)
    seconds: float = 0.0  # until the new owner alone listens on the external IP
    lb_exit_seconds: float | None = None  # give_back: until HAProxy had exited
    sessions_at_stop: int = 0  # give_back: sessions HAProxy still served when it stopped listening
    forced: bool = False  # give_back: sessions outlived the drain and HAProxy was stopped hard

    def record(self, start: float, what: str) -> None:
        self.steps.append((time.monotonic() - start, what))

    def summary(self) -> str:
        return f"{self.direction} in {self.seconds:.2f}s: " + "; ".join(f"{what} ({t:.2f}s)" for t, what in self.steps)


async def _wait_listeners(host: str, port: int, count: int, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / _POLL) + 1):
        if listening_sockets(host, port) == count:
            return
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(_POLL)
    raise LoadBalancerError(f"{host}:{port} still has {listening_sockets(host, port)} listeners, expected {count}")


async def take_over(lb: HAProxy, *, owner: ReplicaListeners, backends: Sequence[Backend],
                    timeout: float = 15.0) -> HandoffReport:
    """HAProxy takes the external IP over from the API server that serves it (1 → 2 replicas)."""
    settings = lb.settings
    external = settings.frontend_address
    report = HandoffReport("to-load-balancer")
    start = time.monotonic()
    # No drainPeers: the owner is about to be a backend, and HAProxy's clients are welcome.
    await request_listeners(owner.path, listen=[*read_spec(owner.path).listen, external], pid=owner.pid,
                            timeout=timeout)
    report.record(start, f"API server holds {external}")
    try:
        await lb.start(backends, timeout=timeout)
        report.record(start, "HAProxy listening")
        await lb.wait_backends_up([b.name for b in backends], timeout=timeout)
        report.record(start, f"backends UP: {', '.join(b.name for b in backends)}")
    except BaseException:
        await lb.stop(timeout=5)  # the API server still serves the address: nothing changed
        raise
    kept = [a for a in read_spec(owner.path).listen if a != external]
    await request_listeners(owner.path, listen=kept, pid=owner.pid, timeout=timeout)
    await _wait_listeners(settings.external_ip, settings.port, 1, timeout=timeout)
    report.record(start, "API server let go")
    report.seconds = time.monotonic() - start
    return report


async def give_back(lb: HAProxy, *, to: ReplicaListeners, timeout: float = 15.0, grace: float = 0.3,
                    drain_timeout: float = 10.0) -> HandoffReport:
    """The external IP returns to the last API server; HAProxy stops (2 → 1 replicas).

    The other backends should be gone (`drain_backend`, then
    `HAProxy.remove_backend`): `to` asks the clients HAProxy brings it to
    reconnect, and nobody else would. HAProxy serves its open sessions for up
    to `drain_timeout` seconds after it stops listening, then is stopped hard.
    """
    settings = lb.settings
    external = settings.frontend_address
    report = HandoffReport("to-apiserver")
    start = time.monotonic()
    listen = [*read_spec(to.path).listen, external]
    await request_listeners(to.path, listen=listen, drain_peers=[settings.external_ip], pid=to.pid,
                            timeout=timeout)
    report.record(start, f"API server listens on {external}")
    # Handshakes that reached HAProxy before the steering land in its queue and are accepted.
    await asyncio.sleep(grace)
    if lb.running:
        with contextlib.suppress(LoadBalancerError, RuntimeAPIError):  # only for the report
            report.sessions_at_stop = (await lb.stats(timeout=1.0)).frontend_sessions
    if await lb.soft_stop():
        await _wait_listeners(settings.external_ip, settings.port, 1, timeout=timeout)
        report.record(start, f"HAProxy stopped listening ({report.sessions_at_stop} sessions open)")
    report.seconds = time.monotonic() - start
    if not await lb.wait_exit(drain_timeout):
        # Sessions that outlived the drain (watches, or backends that were not drained) are cut.
        report.forced = True
        await lb.stop(timeout=0.1)
    report.lb_exit_seconds = time.monotonic() - start
    report.record(start, "HAProxy stopped hard after the drain" if report.forced else "HAProxy exited")
    await request_listeners(to.path, listen=listen, drain_peers=[], pid=to.pid, timeout=timeout)
    return report


async def drain_backend(lb: HAProxy, *, backend: Backend, listeners: ReplicaListeners | None,
                        timeout: float = 10.0) -> int:
    """Before `backend`'s replica leaves: no new sessions to it; its clients reconnect through the LB.

    Returns the sessions still open after `timeout` seconds (then the caller
    stops the replica and removes the server, which cuts them).
    """
    await lb.set_state(backend.name, "drain")
    if listeners is not None:
        await request_listeners(listeners.path, listen=read_spec(listeners.path).listen,
                                drain_peers=[lb.settings.external_ip], pid=listeners.pid, timeout=timeout)
    deadline = time.monotonic() + timeout
    remaining = 0
    for _ in range(int(timeout / _POLL) + 1):
        server = (await lb.stats()).server(backend.name)
        remaining = server.current_sessions if server is not None else 0
        if remaining == 0 or time.monotonic() >= deadline:
            break
        await asyncio.sleep(_POLL * 5)
    return remaining
