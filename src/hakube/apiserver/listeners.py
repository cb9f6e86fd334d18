"""The API server's extra listeners (the external IP), applied from the listeners file at runtime.

See `listeners_file` for the file and `reuseport` for how an address is
shared and left without resetting a connection. In short, with the external
IP E:
- *listen E*: a SO_REUSEPORT socket joins E's group and steers every new
  connection to itself — on a restart while alone, and when taking E back from
  a load balancer that is about to stop;
- every reconcile re-asserts that steering (the load balancer binding E next
  then receives nothing until we let go);
- *stop listening on E*: steer new connections to the other socket in the
  group, keep accepting for `grace` seconds so handshakes already aimed at us
  land, then close an empty queue. Connections accepted on E are answered
  with `Connection: close` from then on, so keep-alive clients reconnect —
  to the new owner — between requests, never during one.
- *drain peers*: the same `Connection: close` for clients at given IPs (the
  load balancer's source address), so a load balancer being removed, or a
  backend being taken out of one, runs out of sessions without cutting one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from hakube.apiserver import reuseport
from hakube.apiserver.listeners_file import (
    ListenerError,
    ListenerSpec,
    ListenerStatus,
    format_address,
    parse_address,
    read_spec,
    write_status,
)

__all__ = ["ExtraListeners"]

log = logging.getLogger(__name__)


@dataclass
class _Listener:
    host: str
    port: int
    sock: socket.socket
    site: web.SockSite
    index: int  # this socket's place in the address's reuseport group


class ExtraListeners:
    """Listeners beyond --bind-address, reconciled from a listeners file.

    Call `install(app)` before the runner is set up (it adds the
    `Connection: close` hook), then `reconcile()` once the runner is ready,
    `run()` as a background task, `wake()` from SIGHUP and `close()` before
    the runner is cleaned up.
    """

    def __init__(self, runner: web.BaseRunner, *, path: Path, ssl_context: ssl.SSLContext | None,
                 main_address: tuple[str, int] | None = None, grace: float = 0.5, backlog: int = 1024,
                 poll_interval: float = 1.0) -> None:
        self._runner = runner
        self._path = path
        self._ssl = ssl_context
        self._main = main_address
        self._grace = grace
        self._backlog = backlog
        self._poll = poll_interval
        self._listeners: dict[tuple[str, int], _Listener] = {}
        self._left: set[tuple[str, int]] = set()  # addresses we stopped listening on
        self._drain_peers: frozenset[str] = frozenset()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._seen: tuple[int, int] | None = None  # (mtime, size) of the file last applied

    # -- connection draining -------------------------------------------------------

    def install(self, app: web.Application) -> None:
        app.on_response_prepare.append(self._on_response_prepare)

    async def _on_response_prepare(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        if not (self._left or self._drain_peers):
            return
        local = request.get_extra_info("sockname")
        peer = request.get_extra_info("peername")
        leaving = local is not None and (_norm(local[0]), local[1]) in self._left
        if leaving or (peer is not None and _norm(peer[0]) in self._drain_peers):
            # The headers are already prepared; the hook may still add one. The
            # client reconnects before its next request instead of during it.
            response.force_close()
            response.headers["Connection"] = "close"

    # -- reconciling -------------------------------------------------------------------

    def wake(self) -> None:
        """Re-read the file now (the SIGHUP handler)."""
        self._wake.set()

    async def run(self) -> None:
        """Reconcile on wake() and whenever the file changes (checked every poll interval)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll)
            woken = self._wake.is_set()
            self._wake.clear()
            if woken or self._stamp() != self._seen:
                try:
                    log.info("listeners: %s", await self.reconcile())
                except Exception:  # keep serving; the status file says what failed
                    log.exception("listeners: reconcile failed")

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    async def reconcile(self) -> str:
        """Apply the file; write the status file; return what was done in a sentence."""
        async with self._lock:
            stamp = self._stamp()
            errors: list[str] = []
            try:
                spec = read_spec(self._path)
            except ListenerError as err:
                spec, errors = None, [str(err)]
            done: list[str] = []
            if spec is not None:
                done = await self._apply(spec, errors)
                self._seen = stamp
            generation = spec.generation if spec is not None else -1
            write_status(self._path, ListenerStatus(
                observed_generation=generation,
                listening=tuple(format_address(h, p) for h, p in self._listeners),
                drain_peers=tuple(sorted(self._drain_peers)), errors=tuple(errors), pid=os.getpid()))
            return (", ".join(done) or "no change") + f" (generation {generation})" + (
                f"; errors: {'; '.join(errors)}" if errors else "")

    async def _apply(self, spec: ListenerSpec, errors: list[str]) -> list[str]:
        wanted = [parse_address(a) for a in spec.listen]
        wanted = [a for a in dict.fromkeys(wanted) if a != self._main]
        done: list[str] = []
        for address in wanted:
            if address in self._listeners:
                self._claim(self._listeners[address])
                continue
            try:
                await self._open(*address)
            except OSError as err:
                errors.append(f"cannot listen on {format_address(*address)}: {err.strerror or err}")
            else:
                done.append(f"listening on {format_address(*address)}")
        leaving = [self._listeners.pop(a) for a in list(self._listeners) if a not in wanted]
        if leaving:
            done += await asyncio.gather(*(self._leave(listener) for listener in leaving))
        peers = frozenset(_norm(p) for p in spec.drain_peers)
        if peers != self._drain_peers:
            done.append(f"draining clients from {', '.join(sorted(peers)) or 'no one'}")
            self._drain_peers = peers
        return done

    async def _open(self, host: str, port: int) -> None:
        others = reuseport.listening_sockets(host, port)
        sock = reuseport.reuseport_listener(host, port, backlog=self._backlog)
        try:
            listener = _Listener(host, port, sock, web.SockSite(self._runner, sock, ssl_context=self._ssl,
                                                               backlog=self._backlog), index=others)
            self._claim(listener)
            await listener.site.start()
        except BaseException:
            sock.close()
            raise
        self._listeners[(host, port)] = listener
        self._left.discard((host, port))

    @staticmethod
    def _claim(listener: _Listener) -> None:
        """Steer every new connection on the address to us."""
        if reuseport.listening_sockets(listener.host, listener.port) <= 1:
            listener.index = 0  # alone: whoever was before us has left
        reuseport.steer(listener.sock, listener.index)

    async def _leave(self, listener: _Listener) -> str:
        where = format_address(listener.host, listener.port)
        members = reuseport.listening_sockets(listener.host, listener.port)
        if members > 1:
            reuseport.steer(listener.sock, 1 if listener.index == 0 else 0)
            # Handshakes already aimed at us complete into our queue and are accepted meanwhile.
            await asyncio.sleep(self._grace)
        elif not reuseport.migrate_req_enabled():
            log.warning("listeners: nobody else listens on %s; new connections there will be refused", where)
        self._left.add((listener.host, listener.port))
        await listener.site.stop()
        listener.sock.close()
        return f"stopped listening on {where}" + ("" if members > 1 else " (no one else listens there)")

    async def close(self) -> None:
        """Stop every extra listener (at shutdown; the load balancer has drained us by then)."""
        async with self._lock:
            listeners, self._listeners = list(self._listeners.values()), {}
            for listener in listeners:
                await listener.site.stop()
                listener.sock.close()


def _norm(ip: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        return ip
