"""Two API servers on one etcd behave as one: watches, resourceVersions and writes cross between them.

This is the HA shape (API-COMPAT.md §0 item 6, §2.3, §3): a client behind a
load balancer may list on one server and watch on the other, and writers on
both servers race on the same object. Every wait is bounded in time and every
retry loop in count.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from hakube.testing import LocalStack

WORKERS_PER_SERVER = 4
INCREMENTS_PER_WORKER = 25
MAX_ATTEMPTS_PER_WORKER = 2_000


@pytest.fixture(scope="module")
def two() -> Iterator[LocalStack]:
    """One etcd, API servers 0 (A) and 1 (B), and a namespace to work in."""
    s = LocalStack.create()
    try:
        s.start_etcd()
        s.start_apiserver("--etcd-compaction-interval=0")
        s.start_apiserver("--etcd-compaction-interval=0")
        yield s
    finally:
        s.cleanup()


@asynccontextmanager
async def http(stack: LocalStack) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=stack.ssl_context(), limit=32)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


async def call(session: aiohttp.ClientSession, method: str, url: str, body: dict[str, Any] | None = None, *,
               content_type: str = "application/json") -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    async with session.request(method, url, data=data, headers={"Content-Type": content_type}) as resp:
        return resp.status, await resp.json(content_type=None)


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


@pytest.fixture(scope="module")
def ns(two: LocalStack) -> str:
    name = f"ha-{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        async with http(two) as session:
            code, body = await call(session, "POST", f"{two.apiservers[0].url}/api/v1/namespaces",
                                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
            assert code == 201, body

    asyncio.run(create())
    return name


def urls(stack: LocalStack, ns: str) -> tuple[str, str]:
    """The configmaps collection of `ns` on server A and on server B."""
    a, b = (server.url for server in stack.apiservers[:2])
    return f"{a}/api/v1/namespaces/{ns}/configmaps", f"{b}/api/v1/namespaces/{ns}/configmaps"


async def read_events(resp: aiohttp.ClientResponse, count: int, *, timeout: float) -> list[dict[str, Any]]:
    """The next `count` watch events, within `timeout` seconds."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while len(events) < count:
            line = await resp.content.readline()
            assert line, f"watch ended after {events}"
            assert line.endswith(b"\n")
            events.append(json.loads(line))
    return events


async def test_write_through_a_is_seen_by_watch_on_b(two: LocalStack, ns: str) -> None:
    on_a, on_b = urls(two, ns)
    async with http(two) as session:
        code, listed = await call(session, "GET", f"{on_b}?labelSelector=case%3Dcross-watch")
        assert code == 200, listed
        assert listed["items"] == []
        rv = listed["metadata"]["resourceVersion"]
        query = f"?watch=true&labelSelector=case%3Dcross-watch&resourceVersion={rv}&timeoutSeconds=20"
        async with session.get(on_b + query) as watch:
            assert watch.status == 200
            body = configmap("cross-1", {"v": "1"})
            body["metadata"]["labels"] = {"case": "cross-watch"}
            code, created = await call(session, "POST", on_a, body)
            assert code == 201, created
            created["data"] = {"v": "2"}
            code, updated = await call(session, "PUT", f"{on_a}/cross-1", created)
            assert code == 200, updated
            code, _ = await call(session, "DELETE", f"{on_a}/cross-1")
            assert code == 200
            events = await read_events(watch, 3, timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "cross-1"), ("MODIFIED", "cross-1"), ("DELETED", "cross-1")]
    assert events[0]["object"]["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    assert events[1]["object"]["metadata"]["resourceVersion"] == updated["metadata"]["resourceVersion"]
    assert events[1]["object"]["data"] == {"v": "2"}
    assert events[0]["object"]["metadata"]["uid"] == created["metadata"]["uid"]


async def test_write_through_a_is_read_at_once_on_b(two: LocalStack, ns: str) -> None:
    on_a, on_b = urls(two, ns)
    async with http(two) as session:
        for i in range(5):
            code, created = await call(session, "POST", on_a, configmap(f"ryw-{i}", {"i": str(i)}))
            assert code == 201, created
            # A consistent read on the other server already sees the write.
            code, got = await call(session, "GET", f"{on_b}/ryw-{i}")
            assert code == 200, got
            assert got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
            code, listed = await call(session, "GET", on_b)
            assert code == 200
            assert f"ryw-{i}" in {item["metadata"]["name"] for item in listed["items"]}
            assert int(listed["metadata"]["resourceVersion"]) >= int(created["metadata"]["resourceVersion"])


async def test_list_resource_version_from_a_works_for_watch_on_b(two: LocalStack, ns: str) -> None:
    on_a, on_b = urls(two, ns)
    async with http(two) as session:
        code, before = await call(session, "POST", on_a, configmap("rv-old", {"v": "1"}))
        assert code == 201, before
        code, listed = await call(session, "GET", on_a)
        assert code == 200
        rv = listed["metadata"]["resourceVersion"]
        assert int(rv) >= int(before["metadata"]["resourceVersion"])

        # Changes after A's list, all made through A.
        code, later = await call(session, "POST", on_a, configmap("rv-new", {"v": "1"}))
        assert code == 201, later
        code, patched = await call(session, "PATCH", f"{on_a}/rv-old", {"data": {"v": "2"}},
                                   content_type="application/merge-patch+json")
        assert code == 200, patched

        # B may not have seen that revision yet; it waits for it rather than refusing it.
        query = f"?watch=1&resourceVersion={rv}&timeoutSeconds=20"
        async with session.get(on_b + query) as watch:
            assert watch.status == 200
            events = await read_events(watch, 2, timeout=10)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "rv-new"), ("MODIFIED", "rv-old")]
    assert events[0]["object"]["metadata"]["resourceVersion"] == later["metadata"]["resourceVersion"]
    assert events[1]["object"]["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]
    assert events[1]["object"]["data"] == {"v": "2"}


async def test_concurrent_increments_through_both_servers_lose_nothing(two: LocalStack, ns: str) -> None:
    on_a, on_b = urls(two, ns)
    counter = "counter"
    written: list[int] = []
    conflicts = 0
    start = asyncio.Event()

    async def worker(session: aiohttp.ClientSession, collection: str) -> None:
        nonlocal conflicts
        await start.wait()
        done = 0
        for _attempt in range(MAX_ATTEMPTS_PER_WORKER):
            if done == INCREMENTS_PER_WORKER:
                return
            code, current = await call(session, "GET", f"{collection}/{counter}")
            assert code == 200, current
            value = int(current["data"]["n"]) + 1
            current["data"]["n"] = str(value)  # the PUT carries the resourceVersion it read
            code, body = await call(session, "PUT", f"{collection}/{counter}", current)
            if code == 409:
                assert body["reason"] == "Conflict", body
                conflicts += 1
                continue
            assert code == 200, body
            assert body["data"]["n"] == str(value)
            written.append(value)
            done += 1
        pytest.fail(f"a worker made only {done} increments in {MAX_ATTEMPTS_PER_WORKER} attempts")

    async with http(two) as session:
        code, created = await call(session, "POST", on_a, configmap(counter, {"n": "0"}))
        assert code == 201, created
        tasks = [asyncio.create_task(worker(session, collection), name=f"incr-{collection[-30:]}-{i}")
                 for collection in (on_a, on_b) for i in range(WORKERS_PER_SERVER)]
        start.set()
        try:
            async with asyncio.timeout(90):
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
        code, final_a = await call(session, "GET", f"{on_a}/{counter}")
        code_b, final_b = await call(session, "GET", f"{on_b}/{counter}")

    total = 2 * WORKERS_PER_SERVER * INCREMENTS_PER_WORKER
    assert code == 200 and code_b == 200
    assert final_a["data"]["n"] == str(total)
    assert final_b["data"]["n"] == str(total)
    assert final_a["metadata"]["resourceVersion"] == final_b["metadata"]["resourceVersion"]
    # Each successful write saw the one before it: every value was written exactly once.
    assert sorted(written) == list(range(1, total + 1))
    # The workers really raced; without conflicts this test would prove nothing.
    assert conflicts > 0
