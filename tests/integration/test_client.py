"""Our own API client and informers against a real API server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from hakube.client.api import CONFIGMAPS, NAMESPACES, ApiClient, ApiError, Credentials
from hakube.client.informer import Informer
from hakube.client.workqueue import WorkQueue
from hakube.store.storage import Storage
from hakube.testing import LocalStack, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def client(stack: LocalStack) -> AsyncIterator[ApiClient]:
    async with ApiClient(Credentials.from_kubeconfig(stack.kubeconfig(0))) as c:
        yield c


async def _namespace(client: ApiClient, name: str) -> str:
    try:
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    except ApiError as err:
        if not err.conflict:
            raise
    return name


def _cm(name: str, value: str = "1") -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"v": value}}


async def test_errors_carry_the_status(client: ApiClient) -> None:
    ns = await _namespace(client, "client-errors")
    with pytest.raises(ApiError) as info:
        await client.get(CONFIGMAPS, "missing", ns)
    assert info.value.not_found and info.value.reason == "NotFound"
    await client.create(CONFIGMAPS, _cm("a"), ns)
    with pytest.raises(ApiError) as info:
        await client.create(CONFIGMAPS, _cm("a"), ns)
    assert info.value.conflict and info.value.reason == "AlreadyExists"


async def test_informer_follows_changes_and_relists_after_compaction(client: ApiClient,
                                                                     stack: LocalStack) -> None:
    ns = await _namespace(client, "client-informer")
    await client.create(CONFIGMAPS, _cm("before"), ns)
    seen: list[tuple[str, str]] = []
    informer = Informer(client, CONFIGMAPS, namespace=ns)
    informer.add_handler(lambda t, o, _old: seen.append((t, o["metadata"]["name"])))
    await informer.start()
    try:
        await informer.wait_synced()
        assert ("ADDED", "before") in seen
        await client.create(CONFIGMAPS, _cm("after"), ns)
        await client.patch(CONFIGMAPS, "after", {"data": {"v": "2"}}, ns)
        await client.delete(CONFIGMAPS, "before", ns)

        await eventually(lambda: {("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "before")} <= set(seen))
        assert set(informer.store) == {f"{ns}/after"}
        assert informer.store[f"{ns}/after"]["data"] == {"v": "2"}
    finally:
        await informer.stop()
    # A stale resourceVersion (history compacted) makes the next informer relist, not fail.
    async with Storage(stack.etcd_endpoint) as store:
        await store.compact(await store.current_revision())
    stale = Informer(client, CONFIGMAPS, namespace=ns, resume_from="1")
    await stale.start()
    try:
        await eventually(lambda: f"{ns}/after" in stale.store)
    finally:
        await stale.stop()


async def test_workqueue_dedupes_and_retries() -> None:
    q = WorkQueue(base_delay=0.01)
    calls: list[str] = []

    async def sync(key: str) -> None:
        calls.append(key)
        if key == "flaky" and calls.count("flaky") < 3:
            raise RuntimeError("not yet")

    q.add("a")
    q.add("a")
    q.add("flaky")
    task = asyncio.create_task(q.run_workers(sync, workers=2))
    try:
        await eventually(lambda: calls.count("flaky") >= 3, timeout=5)
    finally:
        task.cancel()
        q.shutdown()
    assert calls.count("a") == 1 and calls.count("flaky") == 3
