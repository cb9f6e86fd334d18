"""Leader election on a real API server: one leader, fast handover, and the fence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from hakube.client.api import LEASES, ApiClient, Credentials
from hakube.leaderelection import ElectionConfig, LeaderElector, NotLeader, new_identity
from hakube.testing import LocalStack, eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

FAST = {"lease_duration": 3.0, "renew_deadline": 2.0, "retry_period": 0.5}


@pytest.fixture
async def client(stack: LocalStack) -> AsyncIterator[ApiClient]:
    async with ApiClient(Credentials.from_kubeconfig(stack.kubeconfig(0))) as c:
        yield c


async def test_one_leader_and_release_hands_over_at_once(client: ApiClient) -> None:
    leading: list[str] = []

    def make(name: str) -> LeaderElector:
        # client-go's default 2 s retry period: a takeover under 1 s is the Lease watch's doing.
        return LeaderElector(client, ElectionConfig("test-handover", new_identity(name), lease_duration=6.0,
                                                    renew_deadline=4.0, retry_period=2.0))

    async def lead(elector: LeaderElector) -> None:
        leading.append(elector.config.identity)
        await asyncio.Event().wait()

    a, b = make("replica-1"), make("replica-2")
    task_a = asyncio.create_task(a.run(lead))
    await eventually(lambda: len(leading) == 1)
    task_b = asyncio.create_task(b.run(lead))
    await asyncio.sleep(2.5)
    assert leading == [a.config.identity] and a.is_leader() and not b.is_leader()
    lease = await client.get(LEASES, "test-handover", "kube-system")
    assert lease["spec"]["holderIdentity"] == a.config.identity
    assert lease["spec"]["renewTime"].endswith("Z") and len(lease["spec"]["renewTime"]) == 27

    loop = asyncio.get_running_loop()
    stopped = loop.time()
    task_a.cancel()  # a graceful stop releases the lease
    with contextlib.suppress(asyncio.CancelledError):
        await task_a
    await eventually(lambda: len(leading) == 2, timeout=5)
    assert leading[1] == b.config.identity
    # The standby watches the Lease: a release is taken over at once, not a retry period later.
    assert loop.time() - stopped < 1.0
    lease = await client.get(LEASES, "test-handover", "kube-system")
    assert lease["spec"]["leaseTransitions"] == 1
    task_b.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task_b


async def test_a_paused_leader_is_fenced_before_anyone_else_could_lead(client: ApiClient) -> None:
    now = [1000.0]
    elector = LeaderElector(client, ElectionConfig("test-fence", new_identity("replica-1"), **FAST),
                            clock=lambda: now[0])
    assert await elector.try_acquire_or_renew()
    elector.ensure_leader()
    # A pause (SIGSTOP, GC) longer than the renew deadline: on resume the fence is down,
    # although nobody else could take over until lease_duration after the last renewal.
    now[0] += FAST["renew_deadline"] + 0.01
    assert not elector.is_leader()
    with pytest.raises(NotLeader):
        elector.ensure_leader()
    assert FAST["renew_deadline"] < FAST["lease_duration"]


async def test_a_candidate_waits_a_full_lease_duration_on_its_own_clock(client: ApiClient) -> None:
    holder = LeaderElector(client, ElectionConfig("test-expiry", new_identity("replica-1"), **FAST))
    assert await holder.try_acquire_or_renew()
    now = [0.0]
    other = LeaderElector(client, ElectionConfig("test-expiry", new_identity("replica-2"), **FAST),
                          clock=lambda: now[0])
    assert not await other.try_acquire_or_renew()  # first sight of the record
    now[0] += FAST["lease_duration"] - 0.1
    assert not await other.try_acquire_or_renew()  # unchanged, but not long enough
    now[0] += 0.2
    assert await other.try_acquire_or_renew()  # unchanged for a full lease duration
    lease = await client.get(LEASES, "test-expiry", "kube-system")
    assert lease["spec"]["holderIdentity"] == other.config.identity
    assert lease["spec"]["leaseTransitions"] == 1
    # The old holder's next renewal fails its compare-and-set: it cannot win back silently.
    assert not await holder.try_acquire_or_renew()
