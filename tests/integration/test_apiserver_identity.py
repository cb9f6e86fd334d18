"""API server identity Leases (seed 004, feature gate APIServerIdentity) across three real API servers.

Short timings: renewed every 0.5 s, collected once unrenewed for 3 s (the GC
also runs every 3 s). Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from hakube.testing import LocalStack

GATE = ("--feature-gates=APIServerIdentity=true", "--identity-lease-renew-interval-seconds=0.5",
        "--identity-lease-duration-seconds=3", "--etcd-compaction-interval=0")
SELECTOR = "labelSelector=k8s.io/component%3Dkube-apiserver"


@pytest.fixture(scope="module")
def three() -> Iterator[LocalStack]:
    s = LocalStack.create()
    try:
        s.start_etcd()
        for _ in range(3):
            s.start_apiserver(*GATE)
        yield s
    finally:
        s.cleanup()


async def identity_leases(stack: LocalStack, server: int) -> dict[str, dict[str, Any]]:
    connector = aiohttp.TCPConnector(ssl=stack.ssl_context())
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
        url = f"{stack.apiservers[server].url}/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?{SELECTOR}"
        async with session.get(url) as resp:
            assert resp.status == 200, await resp.text()
            body = json.loads(await resp.text())
    return {item["metadata"]["name"]: item for item in body["items"]}


async def wait_for(stack: LocalStack, server: int, predicate: Any, *, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    leases: dict[str, Any] = {}
    for _ in range(int(timeout / 0.2) + 1):
        leases = await identity_leases(stack, server)
        if predicate(leases):
            return leases
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met in {timeout}s; leases: {sorted(leases)}")


async def test_three_servers_announce_renew_and_collect(three: LocalStack) -> None:
    leases = await wait_for(three, 0, lambda ls: len(ls) == 3, timeout=10)
    for name, lease in leases.items():
        assert name.startswith("kube-apiserver-") and len(name) == len("kube-apiserver-") + 36
        assert lease["metadata"]["labels"]["k8s.io/component"] == "kube-apiserver"
        assert lease["spec"]["holderIdentity"] == name
        assert lease["spec"]["leaseDurationSeconds"] == 3
    # Renewed: every renewTime moves on.
    before = {n: lease["spec"]["renewTime"] for n, lease in leases.items()}
    await wait_for(three, 1, lambda ls: len(ls) == 3 and all(
        ls[n]["spec"]["renewTime"] != before[n] for n in before), timeout=5)

    # Kill server 2 outright: its Lease stops being renewed, then a survivor collects it.
    killed_log = three.apiservers[2].log
    three.apiservers[2].stop(signal.SIGKILL)
    killed = next(line.split("API server identity: ")[1].strip()
                  for line in killed_log.read_text().splitlines() if "API server identity: " in line)
    assert killed in leases
    frozen = (await identity_leases(three, 0))[killed]["spec"]["renewTime"]
    await asyncio.sleep(1.5)
    now = await identity_leases(three, 0)
    assert killed not in now or now[killed]["spec"]["renewTime"] == frozen
    survivors = await wait_for(three, 0, lambda ls: killed not in ls, timeout=15)
    assert len(survivors) == 2

    # A graceful stop deletes its own Lease at once, well before it could expire.
    stopped_log = three.apiservers[1].log
    stopped = next(line.split("API server identity: ")[1].strip()
                   for line in stopped_log.read_text().splitlines() if "API server identity: " in line)
    three.apiservers[1].stop(signal.SIGTERM)
    after = await identity_leases(three, 0)
    assert stopped not in after, "a gracefully stopped server leaves no identity lease behind"
    assert len(after) == 1


async def test_gate_off_means_no_identity_lease(three: LocalStack) -> None:
    before = set(await identity_leases(three, 0))
    three.start_apiserver("--etcd-compaction-interval=0", "--feature-gates=APIServerIdentity=false")
    await asyncio.sleep(1.5)
    assert set(await identity_leases(three, len(three.apiservers) - 1)) == before
    log = three.apiservers[-1].log.read_text()
    assert "API server identity" not in log
