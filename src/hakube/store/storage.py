"""The one storage seam: compare-and-set on etcd revisions.

Everything the API server writes goes through here, as kube-apiserver's
`storage/etcd3/store.go` does: create is a txn on `create_revision == 0`,
update is read → mutate → txn on `mod_revision == seen` (re-read and retry
on a lost race), delete is a txn on `mod_revision` too. We speak etcd's v3
gRPC API through aetcd's generated stubs over a channel we own (aetcd's own
client has no TLS and no range limit/revision options). gRPC errors are
translated into `hakube.store.errors` here and never leak above.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import grpc
from aetcd import rpc

from hakube.store.errors import (
    Compacted,
    FutureRevision,
    Indeterminate,
    KeyExists,
    KeyNotFound,
    StoreError,
    Unavailable,
)


@dataclass(frozen=True)
class TLSFiles:
    """Client TLS for talking to an etcd that requires client certificates."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class KV:
    key: str
    value: bytes
    mod_revision: int
    create_revision: int


@dataclass(frozen=True)
class ListResult:
    items: list[KV]
    revision: int
    more: bool
    remaining: int


@dataclass(frozen=True)
class WatchEvent:
    deleted: bool
    kv: KV
    prev: KV | None


@dataclass(frozen=True)
class WatchBatch:
    """Events of one watch response."""

    events: list[WatchEvent]
    revision: int


class _Delete:
    """Returned by an update function to delete the key (last finalizer removed)."""


DELETE: Final = _Delete()

UpdateResult = bytes | _Delete | None
UpdateFn = Callable[[KV], Awaitable[UpdateResult]]
Observe = Callable[[str, float], None]


def prefix_end(prefix: bytes) -> bytes:
    """The range end covering every key that starts with `prefix` (clientv3.GetPrefixRangeEnd)."""
    end = bytearray(prefix)
    for i in range(len(end) - 1, -1, -1):
        if end[i] < 0xFF:
            end[i] += 1
            return bytes(end[: i + 1])
    return b"\0"


def _kv(kv: Any) -> KV:
    return KV(kv.key.decode(), bytes(kv.value), kv.mod_revision, kv.create_revision)


# How long a call may wait out an etcd leader election (about a second on loopback).
RETRY_WINDOW = 3.0
_NOT_PROPOSED = ("no leader", "connection refused", "failed to connect", "not enough started members")


def _retryable(op: str, err: grpc.aio.AioRpcError) -> bool:
    if op == "health":
        return False  # a health probe reports what it sees; it does not wait
    details = (err.details() or "").lower()
    if "compacted" in details or "future revision" in details:
        return False
    if op in ("range", "status"):
        return err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) or \
            any(m in details for m in ("leader changed", *_NOT_PROPOSED))
    return any(m in details for m in _NOT_PROPOSED)


def _translate(err: grpc.aio.AioRpcError, *, revision: int = 0) -> StoreError:
    details = err.details() or ""
    code = err.code()
    if "required revision has been compacted" in details:
        return Compacted(revision, 0)
    if "future revision" in details:
        return FutureRevision(revision, 0)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        return Unavailable(f"etcd unavailable: {details or code.name}")
    return Unavailable(f"etcd error {code.name}: {details}")


def open_channel(endpoint: str, tls: TLSFiles | None) -> grpc.aio.Channel:
    """A gRPC channel to one etcd endpoint ("host:port"); TLS with a client certificate when `tls` is set."""
    # A page of large objects can be big (etcd allows 1.5 MiB values): accept what etcd
    # sends, as kube-apiserver's etcd client does (MaxCallRecvMsgSize = MaxInt32).
    options = [("grpc.max_receive_message_length", 2**31 - 1),
               ("grpc.keepalive_time_ms", 10_000), ("grpc.keepalive_timeout_ms", 5_000)]
    if tls is None:
        return grpc.aio.insecure_channel(endpoint, options=options)
    creds = grpc.ssl_channel_credentials(
        root_certificates=tls.ca_pem, private_key=tls.key_pem, certificate_chain=tls.cert_pem)
    return grpc.aio.secure_channel(endpoint, creds, options=options)


class Storage:
    """Async access to one etcd endpoint (a replica's local member)."""

    def __init__(
        self,
        endpoint: str,
        *,
        quorum_reads: bool = True,
        tls: TLSFiles | None = None,
        timeout: float = 10.0,
        observe: Observe | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.quorum_reads = quorum_reads
        self._tls = tls
        self._timeout = timeout
        self._observe = observe
        self._channel: grpc.aio.Channel | None = None
        self._kv: Any = None
        # Leader tracking for abandoning writes lost with a dead leader (see _txn).
        self._leader = -1
        self._leader_epoch = 0
        self._in_flight: dict[asyncio.Future[Any], int] = {}
        self._abandoned: dict[asyncio.Future[Any], bool] = {}
        self._watch: Any = None
        self._maintenance: Any = None

    async def __aenter__(self) -> Storage:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self._channel = open_channel(self.endpoint, self._tls)
        self._kv = rpc.KVStub(self._channel)
        self._watch = rpc.WatchStub(self._channel)
        self._maintenance = rpc.MaintenanceStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None

    # -- low level --------------------------------------------------------

    async def _call(self, op: str, method: Any, request: Any, *, revision: int = 0,
                    timeout: float | None = None) -> Any:
        """One etcd call; retried through a brief etcd outage only where a retry is safe.

        Reads are always safe to repeat. A write is repeated only when etcd said it
        never proposed it ("no leader": refused before raft; or the connection was
        refused): a write that may have been committed ("leader changed", a timeout)
        is never repeated, since a compare-and-set repeated after its own success
        would fail, or apply twice.
        """
        if self._channel is None:
            raise Unavailable("storage is not connected")
        start = time.perf_counter()
        deadline = time.monotonic() + RETRY_WINDOW
        delay = 0.05
        try:
            while True:
                try:
                    return await method(request, timeout=timeout or self._timeout)
                except grpc.aio.AioRpcError as err:
                    if not (_retryable(op, err) and time.monotonic() + delay < deadline):
                        raise _translate(err, revision=revision) from None
                except (TimeoutError, grpc.aio.UsageError) as err:
                    raise Unavailable(f"etcd {op} failed: {err}") from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.4)
        finally:
            if self._observe is not None:
                self._observe(op, time.perf_counter() - start)

    async def _range(self, request: Any) -> Any:
        return await self._call("range", self._kv.Range, request, revision=request.revision)

    async def _txn(self, compare: list[Any], success: list[Any], failure: list[Any]) -> Any:
        """A write, abandoned (Indeterminate) if etcd's leader changes while it is in flight.

        A proposal forwarded to a leader that then dies is lost without an answer:
        etcd would let it wait for its own request timeout (seconds). When the local
        member reports another leader (see `note_leader`), writes begun under the old
        one are given up at once, so clients retry against the new leader.
        """
        task = asyncio.ensure_future(self._call(
            "txn", self._kv.Txn, rpc.TxnRequest(compare=compare, success=success, failure=failure)))
        self._in_flight[task] = self._leader_epoch
        try:
            return await task
        except asyncio.CancelledError:
            if self._abandoned.pop(task, False):
                raise Indeterminate("etcd's leader changed while the write was in flight; it may or may "
                                    "not have taken effect") from None
            task.cancel()  # our caller was cancelled: do not leave the call running unobserved
            raise
        finally:
            self._in_flight.pop(task, None)
            self._abandoned.pop(task, None)

    def note_leader(self, leader_id: int) -> None:
        """The local member's current leader (0: none). A change abandons writes begun before it."""
        if leader_id == self._leader:
            return
        first = self._leader == -1
        self._leader = leader_id
        if first:
            return
        self._leader_epoch += 1
        for task, epoch in list(self._in_flight.items()):
            if epoch < self._leader_epoch and not task.done():
                self._abandoned[task] = True
                task.cancel()

    @staticmethod
    def _mod_equals(key: bytes, revision: int) -> Any:
        return rpc.Compare(key=key, target=rpc.Compare.MOD, result=rpc.Compare.EQUAL,
                           mod_revision=revision)

    # -- reads --------------------------------------------------------------

    async def get(self, key: str, *, consistent: bool = True) -> KV:
        """The current value of `key`; a quorum read when quorum reads are on."""
        resp = await self._range(rpc.RangeRequest(
            key=key.encode(), serializable=not (consistent and self.quorum_reads)))
        if not resp.kvs:
            raise KeyNotFound(key)
        return _kv(resp.kvs[0])

    async def list(
        self,
        prefix: str,
        *,
        limit: int = 0,
        start_key: str | None = None,
        revision: int = 0,
        consistent: bool = True,
    ) -> ListResult:
        """Keys under `prefix` in key order, from `start_key`, at `revision` (0 = now)."""
        pfx = prefix.encode()
        req = rpc.RangeRequest(
            key=start_key.encode() if start_key else pfx,
            range_end=prefix_end(pfx),
            limit=limit,
            revision=revision,
            serializable=not (consistent and self.quorum_reads),
        )
        resp = await self._range(req)
        items = [_kv(kv) for kv in resp.kvs]
        return ListResult(items=items, revision=revision or resp.header.revision,
                          more=bool(resp.more), remaining=max(0, resp.count - len(items)))

    async def current_revision(self, *, consistent: bool = True) -> int:
        """etcd's current revision (a count-only range over an empty key space)."""
        resp = await self._range(rpc.RangeRequest(
            key=b"\0", count_only=True, serializable=not (consistent and self.quorum_reads)))
        return int(resp.header.revision)

    async def healthy(self, *, timeout: float = 2.0) -> bool:
        """True when the member answers a quorum read in time (kube's --etcd-healthcheck-timeout is 2 s)."""
        try:
            await self._call("health", self._kv.Range,
                             rpc.RangeRequest(key=b"health", count_only=True), timeout=timeout)
        except StoreError:
            return False
        return True

    # -- writes -------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> int:
        """Create `key`; KeyExists when it is there. Returns the new revision."""
        k = key.encode()
        resp = await self._txn(
            [rpc.Compare(key=k, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0)],
            [rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=value))],
            [],
        )
        if not resp.succeeded:
            raise KeyExists(key)
        return int(resp.header.revision)

    async def guaranteed_update(
        self, key: str, update: UpdateFn, *, current: KV | None = None
    ) -> tuple[KV, bool]:
        """Read, mutate with `update`, write if unchanged since the read; retry on a lost race.

        `update` sees the current KV and returns new bytes, None (no change: nothing
        is written, kube keeps the old resourceVersion) or DELETE. It may raise to
        abort (preconditions). Returns the resulting KV and whether it was deleted.
        """
        k = key.encode()
        kv = current if current is not None else await self.get(key)
        while True:
            result = await update(kv)
            if result is None or (isinstance(result, bytes) and result == kv.value):
                return kv, False
            if isinstance(result, _Delete):
                op = rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k))
            else:
                op = rpc.RequestOp(request_put=rpc.PutRequest(key=k, value=result))
            resp = await self._txn(
                [self._mod_equals(k, kv.mod_revision)],
                [op],
                [rpc.RequestOp(request_range=rpc.RangeRequest(key=k))],
            )
            if resp.succeeded:
                rev = int(resp.header.revision)
                if isinstance(result, _Delete):
                    return KV(key, kv.value, rev, kv.create_revision), True
                return KV(key, result, rev, kv.create_revision), False
            kvs = resp.responses[0].response_range.kvs
            if not kvs:
                raise KeyNotFound(key)
            kv = _kv(kvs[0])

    async def delete(
        self, key: str, *, check: Callable[[KV], Awaitable[None]] | None = None
    ) -> KV:
        """Delete `key` after `check` accepts its current state; returns the last state at the delete revision."""
        k = key.encode()
        kv = await self.get(key)
        while True:
            if check is not None:
                await check(kv)
            resp = await self._txn(
                [self._mod_equals(k, kv.mod_revision)],
                [rpc.RequestOp(request_delete_range=rpc.DeleteRangeRequest(key=k))],
                [rpc.RequestOp(request_range=rpc.RangeRequest(key=k))],
            )
            if resp.succeeded:
                return KV(key, kv.value, int(resp.header.revision), kv.create_revision)
            kvs = resp.responses[0].response_range.kvs
            if not kvs:
                raise KeyNotFound(key)
            kv = _kv(kvs[0])

    async def member_status(self) -> tuple[int, int]:
        """(this member's id, the leader's id) as the member itself reports them."""
        resp = await self._call("status", self._maintenance.Status, rpc.StatusRequest())
        return int(resp.header.member_id), int(resp.leader)

    async def compact(self, revision: int) -> None:
        await self._call("compact", self._kv.Compact, rpc.CompactionRequest(revision=revision))

    # -- watch --------------------------------------------------------------

    def watch(self, prefix: str, *, start_revision: int) -> WatchStream:
        """A stream of changes under `prefix` from `start_revision` on (see WatchStream)."""
        if self._channel is None:
            raise Unavailable("storage is not connected")
        return WatchStream(self._watch, prefix, start_revision)


class WatchStream:
    """One etcd watch with previous values.

    Iterating yields WatchBatch;
    event up to its revision has been delivered. Raises Compacted when the start
    revision is older than etcd's history, Unavailable when the stream breaks;
    the caller re-establishes the watch.
    """

    def __init__(self, stub: Any, prefix: str, start_revision: int) -> None:
        pfx = prefix.encode()
        self._start = start_revision
        self._requests: asyncio.Queue[Any] = asyncio.Queue()
        self._requests.put_nowait(rpc.WatchRequest(create_request=rpc.WatchCreateRequest(
            key=pfx, range_end=prefix_end(pfx), start_revision=start_revision,
            prev_kv=True)))
        self._call = stub.Watch(self._request_iter())

    async def _request_iter(self) -> AsyncIterator[Any]:
        while True:
            request = await self._requests.get()
            if request is None:
                return
            yield request

    def close(self) -> None:
        self._requests.put_nowait(None)
        self._call.cancel()

    async def __aiter__(self) -> AsyncIterator[WatchBatch]:
        try:
            async for resp in self._call:
                if resp.compact_revision:
                    raise Compacted(self._start, int(resp.compact_revision))
                if resp.canceled:
                    raise Unavailable(f"etcd cancelled the watch: {resp.cancel_reason}")
                if resp.created and not resp.events:
                    # The creation header is not a promise that earlier events were sent.
                    continue
                events = [
                    WatchEvent(
                        deleted=ev.type == rpc.Event.DELETE,
                        kv=_kv(ev.kv),
                        prev=_kv(ev.prev_kv) if ev.HasField("prev_kv") else None,
                    )
                    for ev in resp.events
                ]
                yield WatchBatch(events=events, revision=int(resp.header.revision))
        except grpc.aio.AioRpcError as err:
            if err.code() == grpc.StatusCode.CANCELLED:
                return
            raise _translate(err, revision=self._start) from None
        finally:
            self.close()
