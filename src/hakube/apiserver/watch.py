"""Serving `?watch=1`: newline-delimited JSON events from the watch cache.

Semantics of apiserver `endpoints/handlers/watch.go` and the cacher
(API-COMPAT.md §3): resourceVersion unset → synthetic ADDED for a consistent
"now", "0" → ADDED for the cached state, N → only changes after N (410 as an
ERROR event when N is older than the cache's history or etcd has compacted
it); BOOKMARK events only when asked for; `timeoutSeconds` ends the stream
cleanly; with a Table Accept every event carries a one-row Table, the first
with column definitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

from aiohttp import web

from hakube.apiserver import codec, listing, negotiate, status
from hakube.apiserver.listing import check_field_selector, list_options
from hakube.apiserver.registry import Registry, parse_rv, too_large_rv
from hakube.apiserver.watchcache import ADDED, CacheEvent, TooOld, Watcher
from hakube.store.errors import Compacted

# kube picks a random timeout in [minRequestTimeout, 2×minRequestTimeout] (30–60 min).
_MIN_REQUEST_TIMEOUT = 1800.0
BOOKMARK_INTERVAL = 60.0
# apiserver pkg/storage/etcd3/watcher.go: a watch on etcd from a compacted revision
_ETCD_EXPIRED = "The resourceVersion for the provided watch is too old."


def _event_line(event_type: str, obj_json: bytes) -> bytes:
    return b'{"type":"' + event_type.encode() + b'","object":' + obj_json + b"}\n"


class _Encoder:
    """Turns cache events into wire lines for one watcher (plain or Table)."""

    def __init__(self, reg: Registry, out: negotiate.Output) -> None:
        self.reg = reg
        self.out = out
        self.first = True
        self.kind = reg.resource.kind
        self.api_version = reg.resource.api_version

    def line(self, event_type: str, event: CacheEvent | None, obj: dict[str, Any]) -> bytes:
        # As served: in the served version (a converted copy), with kind and apiVersion.
        decorated = self.reg.present(obj)
        if self.out.table:
            meta = {"resourceVersion": obj.get("metadata", {}).get("resourceVersion", "")}
            table = negotiate.to_table(self.reg.resource, [decorated], meta, self.out, headers=self.first)
            self.first = False
            return _event_line(event_type, codec.dumps(table))
        if event is not None and decorated is obj:
            return _event_line(event_type, event.obj_json())
        return _event_line(event_type, codec.dumps(decorated))

    def bookmark(self, revision: int) -> bytes:
        obj = {"kind": self.kind, "apiVersion": self.api_version,
               "metadata": {"resourceVersion": str(revision)}}
        return _event_line("BOOKMARK", codec.dumps(obj))


async def serve(reg: Registry, namespace: str | None, request: web.Request) -> web.StreamResponse:
    query = request.query
    out = negotiate.choose_output(request.headers.get("Accept"), query.get("includeObject"))
    opts = list_options(query)
    check_field_selector(reg, opts)
    bookmarks = query.get("allowWatchBookmarks") in ("1", "true", "True")
    timeout = _timeout(query.get("timeoutSeconds"))
    cache = reg.cache
    prefix = reg.resource.collection_prefix(namespace)
    match = listing.matcher(reg, opts)
    rv = opts.resource_version
    initial: list[dict[str, Any]] = []
    expired = ""

    # Register before any await past this point, so no event can slip between
    # the initial state and the stream.
    if rv == "":
        wanted = await reg.storage.current_revision()
        if not await cache.wait_for(wanted):
            raise too_large_rv(wanted, cache.revision)
    elif rv != "0":
        since = parse_rv(rv)
        if not await cache.wait_for(since):
            raise too_large_rv(since, cache.revision)
        if since < cache.revision and await _compacted(reg, prefix, since):
            expired = _ETCD_EXPIRED
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Cache-Control": "no-cache, private"})
    response.enable_chunked_encoding()
    try:
        if rv in ("", "0"):
            initial = [o for o in cache.snapshot(prefix) if match is None or match(o)]
            watcher = cache.watch(prefix, match, since=None)
        elif not expired:
            watcher = cache.watch(prefix, match, since=parse_rv(rv))
    except TooOld as err:
        expired = str(err)
    if expired:
        await response.prepare(request)
        error = status.gone(expired).to_status()
        await response.write(_event_line("ERROR", codec.dumps(error)))
        await response.write_eof()
        return response
    enc = _Encoder(reg, out)
    try:
        await response.prepare(request)
        for obj in initial:
            await response.write(enc.line(ADDED, None, obj))
        await _pump(response, watcher, enc, timeout=timeout, bookmarks=bookmarks,
                    revision=cache.revision)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        cache.unwatch(watcher)
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await response.write_eof()
    return response


async def _compacted(reg: Registry, prefix: str, revision: int) -> bool:
    """Whether etcd has compacted away the history after `revision`.

    The cache may still hold those events, but whether a resume succeeds must
    not depend on which API server behind the load balancer answers, nor on how
    long it has been up: the etcd history is the one shared answer (a watch on
    etcd from a compacted revision is kube's "too old" 410).
    """
    try:
        await reg.storage.list(prefix, limit=1, revision=revision)
    except Compacted:
        return True
    return False


def _timeout(value: str | None) -> float:
    if not value:
        return random.uniform(_MIN_REQUEST_TIMEOUT, 2 * _MIN_REQUEST_TIMEOUT)
    try:
        seconds = float(value)
    except ValueError:
        raise status.bad_request(f'invalid timeoutSeconds: "{value}"') from None
    return max(seconds, 0.0)


async def _pump(response: web.StreamResponse, watcher: Watcher, enc: _Encoder, *, timeout: float,
                bookmarks: bool, revision: int) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    next_bookmark = loop.time() + BOOKMARK_INTERVAL
    last_rv = revision
    while True:
        now = loop.time()
        remaining = deadline - now
        if remaining <= 0:
            return
        wait = min(remaining, next_bookmark - now) if bookmarks else remaining
        try:
            event = await asyncio.wait_for(watcher.queue.get(), timeout=max(wait, 0.0))
        except TimeoutError:
            if bookmarks and loop.time() >= next_bookmark:
                await response.write(enc.bookmark(max(last_rv, enc.reg.cache.revision)))
                next_bookmark = loop.time() + BOOKMARK_INTERVAL
            continue
        if event is None:
            return  # closed: slow consumer or cache relist; the client re-watches
        last_rv = event.revision
        await response.write(enc.line(event.type, event, event.obj))
