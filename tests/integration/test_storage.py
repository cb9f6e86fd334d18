"""The storage contract, run against a real etcd member."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from hakube.store.errors import Compacted, KeyExists, KeyNotFound, RevisionConflict, Unavailable
from hakube.store.storage import DELETE, KV, Storage, WatchBatch
from hakube.testing import LocalStack

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def etcd() -> Iterator[LocalStack]:
    """An etcd of this module's own: these keys and compactions are not an API server's."""
    s = LocalStack.create()
    try:
        s.start_etcd()
        yield s
    finally:
        s.cleanup()


@pytest.fixture(params=[True, False], ids=["quorum", "serializable"])
async def store(etcd: LocalStack, request: pytest.FixtureRequest) -> AsyncIterator[Storage]:
    s = Storage(etcd.etcd_endpoint, quorum_reads=request.param)
    await s.connect()
    yield s
    await s.close()


def _key(request: pytest.FixtureRequest, suffix: str = "") -> str:
    return f"/contract/{request.node.name}/{suffix}"


async def test_create_then_exists(store: Storage, request: pytest.FixtureRequest) -> None:
    key = _key(request, "a")
    rev = await store.create(key, b"1")
    kv = await store.get(key)
    assert kv.value == b"1" and kv.mod_revision == rev == kv.create_revision
    with pytest.raises(KeyExists):
        await store.create(key, b"2")
    assert (await store.get(key)).value == b"1"


async def test_get_missing(store: Storage, request: pytest.FixtureRequest) -> None:
    with pytest.raises(KeyNotFound):
        await store.get(_key(request, "missing"))


async def test_list_pages_cover_a_pinned_snapshot(store: Storage, request: pytest.FixtureRequest) -> None:
    prefix = _key(request)
    for i in range(7):
        await store.create(f"{prefix}{i:02d}", str(i).encode())
    first = await store.list(prefix, limit=3)
    assert [kv.value for kv in first.items] == [b"0", b"1", b"2"]
    assert first.more and first.remaining == 4
    # A write after the first page is not visible in later pages at the pinned revision.
    await store.create(f"{prefix}99", b"late")
    seen = list(first.items)
    page = first
    while page.more:
        page = await store.list(prefix, limit=3, start_key=seen[-1].key + "\0", revision=first.revision)
        seen += page.items
    assert [kv.value for kv in seen] == [str(i).encode() for i in range(7)]
    assert len((await store.list(prefix)).items) == 8


async def test_guaranteed_update_loses_no_increment(store: Storage, request: pytest.FixtureRequest) -> None:
    key = _key(request, "counter")
    await store.create(key, b"0")
    retries = 0

    async def bump(kv: KV) -> bytes:
        nonlocal retries
        retries += 1
        await asyncio.sleep(0)  # let the other workers interleave between read and write
        return str(int(kv.value) + 1).encode()

    async def worker() -> None:
        for _ in range(10):
            await store.guaranteed_update(key, bump)

    await asyncio.gather(*(worker() for _ in range(5)))
    assert (await store.get(key)).value == b"50"
    assert retries > 50, "concurrent writers should have lost some compare-and-set races"


async def test_update_without_change_writes_nothing(store: Storage, request: pytest.FixtureRequest) -> None:
    key = _key(request, "same")
    rev = await store.create(key, b"v")

    async def same(kv: KV) -> bytes:
        return kv.value

    kv, deleted = await store.guaranteed_update(key, same)
    assert not deleted and kv.mod_revision == rev
    assert (await store.get(key)).mod_revision == rev


async def test_update_can_delete_and_preconditions_abort(store: Storage, request: pytest.FixtureRequest) -> None:
    key = _key(request, "gone")
    await store.create(key, b"v")

    async def refuse(kv: KV) -> bytes:
        raise RevisionConflict(key)

    with pytest.raises(RevisionConflict):
        await store.guaranteed_update(key, refuse)
    assert (await store.get(key)).value == b"v"

    async def remove(kv: KV) -> object:
        return DELETE

    _, deleted = await store.guaranteed_update(key, remove)  # type: ignore[arg-type]
    assert deleted
    with pytest.raises(KeyNotFound):
        await store.get(key)


async def test_delete_checks_current_state(store: Storage, request: pytest.FixtureRequest) -> None:
    key = _key(request, "d")
    await store.create(key, b"keep")

    async def check(kv: KV) -> None:
        if kv.value == b"keep":
            raise RevisionConflict(key, "precondition failed")

    with pytest.raises(RevisionConflict):
        await store.delete(key, check=check)
    assert (await store.get(key)).value == b"keep"
    last = await store.delete(key)
    assert last.value == b"keep" and last.mod_revision > last.create_revision
    with pytest.raises(KeyNotFound):
        await store.delete(key)


async def test_watch_from_revision_with_previous_values(store: Storage, request: pytest.FixtureRequest) -> None:
    prefix = _key(request)
    start = await store.current_revision()
    await store.create(f"{prefix}w", b"1")

    async def bump(kv: KV) -> bytes:
        return b"2"

    await store.guaranteed_update(f"{prefix}w", bump)
    await store.delete(f"{prefix}w")
    stream = store.watch(prefix, start_revision=start + 1)
    events = []

    async def collect() -> None:
        batch: WatchBatch
        async for batch in stream:
            events.extend(batch.events)
            if len(events) >= 3:
                return

    await asyncio.wait_for(collect(), 10)
    stream.close()
    assert [(e.deleted, e.kv.value) for e in events[:2]] == [(False, b"1"), (False, b"2")]
    assert events[1].prev is not None and events[1].prev.value == b"1"
    assert events[2].deleted and events[2].prev is not None and events[2].prev.value == b"2"


async def test_compacted_revisions_are_reported(etcd: LocalStack, request: pytest.FixtureRequest) -> None:
    async with Storage(etcd.etcd_endpoint) as store:
        prefix = _key(request)
        old = await store.create(f"{prefix}c", b"1")
        for i in range(3):
            await store.guaranteed_update(f"{prefix}c", _const(str(i).encode()))
        await store.compact(await store.current_revision())
        with pytest.raises(Compacted):
            await store.list(prefix, revision=old)
        stream = store.watch(prefix, start_revision=old)
        with pytest.raises(Compacted):
            async for _ in stream:
                pass


def _const(value: bytes):  # type: ignore[no-untyped-def]
    async def update(kv: KV) -> bytes:
        return value
    return update


async def test_unreachable_etcd_is_unavailable_not_grpc() -> None:
    store = Storage("127.0.0.1:1", timeout=1.0)
    await store.connect()
    try:
        with pytest.raises(Unavailable):
            await store.get("/x")
        assert not await store.healthy()
    finally:
        await store.close()
