"""etcd cluster membership: learners in, caught up, promoted; members out; quorum guarded.

A new replica's etcd member joins as a *learner* (a non-voting member, etcd
3.4+): while it copies the leader's state it does not count towards quorum, so
a slow copy never costs availability. Once it has caught up it is promoted to
a voter. This is kubeadm's EtcdLearnerMode and what k3s does; both also evict
a learner that never catches up, because a member that was added but never
started is the "phantom member" that breaks clusters (kubernetes#29995,
kubernetes#81071): here a learner that is not promoted within the timeout is
removed before the error is raised.

Adding is idempotent (kubeadm treats ErrPeerURLExist as success, Talos #1426
adds a member only if absent): asking again for a peer URL that is already in
the cluster returns that member, so an interrupted `replica add` can simply be
run again. Nothing is added while the cluster has lost quorum — the change
could not be committed anyway, and etcd would only time out after seconds
(k3s#7428, kubeadm#2036) — and a removal that would leave fewer healthy voters
than a quorum is refused unless the caller forces it (DESIGN.md §4).

Everything talks etcd's v3 gRPC API over the same channels and TLS as the
storage seam (`open_channel`); gRPC errors become `StoreError`s here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import grpc
from aetcd import rpc

from hakube.store.errors import StoreError, Unavailable
from hakube.store.storage import TLSFiles, open_channel

__all__ = [
    "ClusterHealth",
    "JoinSettings",
    "Member",
    "MemberStatus",
    "Membership",
    "MembershipError",
    "PromotionFailed",
    "QuorumLost",
    "join_settings",
    "quorum",
    "removal_problem",
]

# Refusals of etcd's strict reconfiguration check that pass on their own.
_TRANSIENT_REFUSALS = ("unhealthy cluster", "not enough started members")
_CHANGE_RETRY = 0.5

# etcd promotes a learner only when its raft match index has reached 90 % of the
# leader's commit index (etcdserver/server.go, isLearnerReady / readyPercent).
_READY_FRACTION = 0.9

Progress = Callable[[int, int], None]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class MembershipError(StoreError):
    """A membership change was refused or failed; the message says what to do."""


class QuorumLost(MembershipError):
    """The cluster cannot commit changes (or a removal would make it so)."""


class PromotionFailed(MembershipError):
    """A learner did not catch up in time; it has been removed again."""


@dataclass(frozen=True)
class Member:
    id: int
    name: str  # "" until the member has started and published its name
    peer_urls: tuple[str, ...]
    client_urls: tuple[str, ...]  # () until the member has started
    is_learner: bool

    @property
    def started(self) -> bool:
        return bool(self.client_urls)

    @property
    def label(self) -> str:
        """The name, or the id in etcdctl's hex form while the member has none."""
        return self.name or f"{self.id:x}"


@dataclass(frozen=True)
class MemberStatus:
    """One member's own view (Maintenance.Status on its client URL)."""

    member_id: int
    leader_id: int  # 0 while the member knows no leader (no quorum in its partition)
    raft_index: int
    raft_applied_index: int
    raft_term: int
    db_size: int
    is_learner: bool
    errors: tuple[str, ...]


@dataclass(frozen=True)
class ClusterHealth:
    """Who answers, who leads, and whether the cluster can commit."""

    members: tuple[Member, ...]
    statuses: dict[int, MemberStatus]  # members that answered Status, by id
    leader_id: int  # 0 when no member reports a leader
    has_quorum: bool  # a linearizable read succeeded in time

    @property
    def voting(self) -> tuple[Member, ...]:
        return tuple(m for m in self.members if not m.is_learner)

    @property
    def healthy_voting(self) -> tuple[Member, ...]:
        """Voters that answer and know a leader (a member cut off from the quorum knows none)."""
        return tuple(m for m in self.voting
                     if m.id in self.statuses and self.statuses[m.id].leader_id != 0)

    @property
    def quorum(self) -> int:
        return quorum(len(self.voting))

    @property
    def fault_tolerance(self) -> int:
        """How many more voters may fail before quorum is lost."""
        return max(0, len(self.healthy_voting) - self.quorum)

    @property
    def leader(self) -> Member | None:
        return next((m for m in self.members if m.id == self.leader_id), None)


@dataclass(frozen=True)
class JoinSettings:
    """What the joining member is started with (etcd --initial-cluster, --initial-cluster-state)."""

    initial_cluster: str
    initial_cluster_state: str = "existing"


def quorum(voting: int) -> int:
    """Votes needed to commit in a cluster of `voting` voters (raft majority)."""
    return voting // 2 + 1


def join_settings(members: Sequence[Member], *, name: str, peer_url: str) -> JoinSettings:
    """The flags of the member `name` that joins at `peer_url` (already added as a learner).

    etcd checks that --initial-cluster lists exactly the cluster's peer URLs
    (members not started yet included), and finds its own entry by --name.
    """
    entries: list[str] = []
    if not any(peer_url in m.peer_urls for m in members):
        entries.append(f"{name}={peer_url}")
    for m in members:
        label = name if peer_url in m.peer_urls else m.label
        entries += [f"{label}={url}" for url in m.peer_urls]
    return JoinSettings(initial_cluster=",".join(entries))


def removal_problem(health: ClusterHealth, member_id: int) -> str | None:
    """Why removing `member_id` would lose quorum, or None when it is safe (DESIGN.md §4)."""
    member = next((m for m in health.members if m.id == member_id), None)
    if member is None or member.is_learner:
        return None
    voting = len(health.voting) - 1
    healthy = len([m for m in health.healthy_voting if m.id != member_id])
    if voting > 0 and healthy < quorum(voting):
        return (f"removing etcd member {member.label} would leave {healthy} healthy of {voting} voting "
                f"members, fewer than the quorum of {quorum(voting)}")
    return None


def endpoint_of(url: str) -> str:
    """"https://127.0.0.2:2379" → "127.0.0.2:2379" (a plain "host:port" is returned as it is)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    return parts.netloc


def _member(m: Any) -> Member:
    return Member(id=int(m.ID), name=m.name, peer_urls=tuple(m.peerURLs), client_urls=tuple(m.clientURLs),
                  is_learner=bool(m.isLearner))


def _membership_error(err: grpc.aio.AioRpcError, what: str) -> StoreError:
    details = err.details() or err.code().name
    if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED):
        return Unavailable(f"etcd unavailable during {what}: {details}")
    return MembershipError(f"etcd refused {what}: {details}")


class Membership:
    """The membership of one etcd cluster, reached through any of its members.

    `endpoints` are client URLs or host:port pairs; calls go to the first one
    that answers, then to the client URLs the cluster itself reports. Use as
    ``async with Membership([...], tls=...) as cluster:``.
    """

    def __init__(self, endpoints: Sequence[str], *, tls: TLSFiles | None = None, timeout: float = 5.0,
                 status_timeout: float = 1.0, change_timeout: float = 15.0, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        if not endpoints:
            raise ValueError("at least one etcd endpoint is needed")
        self._endpoints = [endpoint_of(e) for e in endpoints]
        self._tls = tls
        self._timeout = timeout
        self._status_timeout = status_timeout
        self._change_timeout = change_timeout
        self._clock = clock
        self._sleep = sleep
        self._channels: dict[str, grpc.aio.Channel] = {}

    async def __aenter__(self) -> Membership:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        channels, self._channels = self._channels, {}
        for channel in channels.values():
            await channel.close()

    def _channel(self, endpoint: str) -> grpc.aio.Channel:
        channel = self._channels.get(endpoint)
        if channel is None:
            channel = self._channels[endpoint] = open_channel(endpoint, self._tls)
        return channel

    async def _on(self, endpoint: str, stub: type, method: str, request: Any, *, what: str,
                  timeout: float | None = None) -> Any:
        call = getattr(stub(self._channel(endpoint)), method)
        try:
            return await call(request, timeout=timeout or self._timeout)
        except grpc.aio.AioRpcError as err:
            raise _membership_error(err, what) from None
        except (TimeoutError, grpc.aio.UsageError) as err:
            raise Unavailable(f"etcd unavailable during {what}: {err}") from None

    async def _any(self, method: str, request: Any, *, what: str) -> Any:
        """Call the Cluster service on the first endpoint that answers."""
        last: StoreError | None = None
        for endpoint in self._candidates():
            try:
                return await self._on(endpoint, rpc.ClusterStub, method, request, what=what)
            except Unavailable as err:
                last = err
        assert last is not None
        raise last

    async def _change(self, method: str, request: Any, *, what: str) -> Any:
        """A membership change, retried while etcd's strict reconfiguration check says "not yet".

        etcd refuses a change until every voter has been connected to the
        leader for 5 s (etcdserver HealthInterval, "unhealthy cluster"), which
        is the case for a few seconds after each promotion or restart.
        """
        deadline = self._clock() + self._change_timeout
        for _ in range(int(self._change_timeout / _CHANGE_RETRY) + 2):
            try:
                return await self._any(method, request, what=what)
            except StoreError as err:
                transient = any(reason in str(err) for reason in _TRANSIENT_REFUSALS)
                if not transient or self._clock() >= deadline:
                    raise
            await self._sleep(_CHANGE_RETRY)
        raise Unavailable(f"etcd kept refusing {what} for {self._change_timeout:g}s")

    def _candidates(self) -> list[str]:
        return list(dict.fromkeys(self._endpoints))

    def _learn(self, members: Sequence[Member]) -> None:
        """Remember the voters' client URLs as fallbacks for later calls (learners serve few RPCs)."""
        for m in members:
            if m.is_learner:
                continue
            for url in m.client_urls:
                endpoint = endpoint_of(url)
                if endpoint not in self._endpoints:
                    self._endpoints.append(endpoint)

    # -- reads ---------------------------------------------------------------

    async def members(self) -> list[Member]:
        """Every member, learners and members not started yet included (no quorum needed)."""
        resp = await self._any("MemberList", rpc.MemberListRequest(), what="member list")
        members = [_member(m) for m in resp.members]
        self._learn(members)
        return members

    async def status(self, member: Member) -> MemberStatus:
        """`member`'s own status; Unavailable when it has not started or does not answer."""
        if not member.client_urls:
            raise Unavailable(f"etcd member {member.label} has not started yet")
        last: StoreError | None = None
        for url in member.client_urls:
            try:
                resp = await self._on(endpoint_of(url), rpc.MaintenanceStub, "Status", rpc.StatusRequest(),
                                      what=f"status of {member.label}", timeout=self._status_timeout)
            except StoreError as err:
                last = err
                continue
            return MemberStatus(member_id=int(resp.header.member_id), leader_id=int(resp.leader),
                                raft_index=int(resp.raftIndex), raft_applied_index=int(resp.raftAppliedIndex),
                                raft_term=int(resp.raftTerm), db_size=int(resp.dbSize),
                                is_learner=bool(resp.isLearner), errors=tuple(resp.errors))
        assert last is not None
        raise last

    async def _statuses(self, members: Sequence[Member]) -> dict[int, MemberStatus]:
        async def one(m: Member) -> tuple[int, MemberStatus | None]:
            try:
                return m.id, await self.status(m)
            except StoreError:
                return m.id, None

        answers = await asyncio.gather(*(one(m) for m in members))
        return {member_id: s for member_id, s in answers if s is not None}

    async def linearizable_read_ok(self, *, timeout: float = 2.0) -> bool:
        """True when some member serves a linearizable (quorum) read within `timeout` seconds."""
        request = rpc.RangeRequest(key=b"\0", count_only=True, serializable=False)
        for endpoint in self._candidates():
            try:
                await self._on(endpoint, rpc.KVStub, "Range", request, what="quorum read", timeout=timeout)
            except StoreError:
                continue
            return True
        return False

    async def health(self, *, timeout: float = 2.0) -> ClusterHealth:
        """Members, their statuses, the leader and whether the cluster has quorum."""
        members = await self.members()
        statuses, has_quorum = await asyncio.gather(
            self._statuses(members), self.linearizable_read_ok(timeout=timeout))
        leaders = [s.leader_id for s in statuses.values() if s.leader_id]
        leader_id = max(set(leaders), key=leaders.count) if leaders else 0
        return ClusterHealth(members=tuple(members), statuses=statuses, leader_id=leader_id,
                             has_quorum=has_quorum)

    # -- changes -------------------------------------------------------------

    async def add_learner(self, peer_url: str) -> Member:
        """Add a learner at `peer_url`, or return the member that already has it.

        Refused with QuorumLost while the cluster cannot commit. etcd 3.4
        allows one learner at a time ("too many learner members"): that comes
        back as a MembershipError.
        """
        existing = _with_peer(await self.members(), peer_url)
        if existing is not None:
            return existing
        health = await self.health()
        if not health.has_quorum:
            raise QuorumLost(
                f"etcd has lost quorum ({len(health.healthy_voting)} of {len(health.voting)} voting members "
                f"healthy, {health.quorum} needed): not adding a member for {peer_url}; "
                "bring failed members back first")
        try:
            resp = await self._change("MemberAdd", rpc.MemberAddRequest(peerURLs=[peer_url], isLearner=True),
                                   what=f"adding a learner at {peer_url}")
        except MembershipError as err:
            # Added by someone else between our list and our add (etcd's ErrPeerURLexist).
            existing = _with_peer(await self.members(), peer_url)
            if existing is not None:
                return existing
            raise err from None
        return _member(resp.member)

    async def promote(self, member_id: int, *, timeout: float = 60.0, interval: float = 0.25,
                      on_progress: Progress | None = None) -> Member:
        """Promote the learner once it has caught up; remove it if it has not within `timeout` seconds.

        `on_progress(applied, leader_applied)` is called on every poll with the
        learner's raft applied index (0 until it has started) and the leader's.
        Promoting a member that is already a voter returns it unchanged.
        """
        deadline = self._clock() + timeout
        applied = leader_applied = 0
        why = "it never answered"
        for _ in range(max(1, int(timeout / interval) + 2)):
            members = await self.members()
            member = _with_id(members, member_id)
            if member is None:
                raise MembershipError(f"etcd member {member_id:x} is not in the cluster; add it again")
            if not member.is_learner:
                return member
            applied, leader_applied, why = await self._progress(member, members)
            if on_progress is not None:
                on_progress(applied, leader_applied)
            if member.started and applied >= _READY_FRACTION * leader_applied > 0:
                try:
                    resp = await self._any("MemberPromote", rpc.MemberPromoteRequest(ID=member_id),
                                           what=f"promoting {member.label}")
                except StoreError as err:  # "can only promote a learner member which is in sync with leader"
                    why = str(err)
                else:
                    promoted = _with_id([_member(m) for m in resp.members], member_id)
                    return promoted or Member(member.id, member.name, member.peer_urls, member.client_urls, False)
            if self._clock() >= deadline:
                break
            await self._sleep(min(interval, max(0.0, deadline - self._clock())))
        removal = ""
        try:
            await self.remove(member_id, check_quorum=False)
        except StoreError as err:
            removal = f"; removing it failed too ({err}): remove member {member_id:x} by hand"
        else:
            removal = "; it was removed again so that it cannot cost quorum"
        raise PromotionFailed(
            f"etcd learner {member_id:x} did not catch up with the leader within {timeout:g}s "
            f"(applied index {applied} of {leader_applied}; last: {why}){removal}")

    async def _progress(self, member: Member, members: Sequence[Member]) -> tuple[int, int, str]:
        """(learner applied index, leader applied index, what is in the way)."""
        statuses = await self._statuses(members)
        leaders = {s.leader_id for s in statuses.values() if s.leader_id}
        leader_applied = max((statuses[lid].raft_applied_index for lid in leaders if lid in statuses), default=0)
        own = statuses.get(member.id)
        if own is None:
            why = "it has not started" if not member.started else "it does not answer"
            return 0, leader_applied, why
        return own.raft_applied_index, leader_applied, "catching up"

    async def remove(self, member_id: int, *, check_quorum: bool = True) -> bool:
        """Remove a member; False when it was not in the cluster.

        Refuses (QuorumLost) a removal that would leave fewer healthy voters
        than a quorum, unless `check_quorum` is off (forced, or a learner).
        """
        if check_quorum:
            health = await self.health()
            present = _with_id(health.members, member_id) is not None
            problem = removal_problem(health, member_id)
            if problem is not None:
                raise QuorumLost(problem)
        else:
            present = _with_id(await self.members(), member_id) is not None
        if not present:
            return False
        try:
            await self._change("MemberRemove", rpc.MemberRemoveRequest(ID=member_id),
                               what=f"removing member {member_id:x}")
        except MembershipError as err:
            # The member we asked may have been the one removed, and the retry went elsewhere.
            if "member not found" not in str(err):
                raise
        return True


def _with_peer(members: Sequence[Member], peer_url: str) -> Member | None:
    return next((m for m in members if peer_url in m.peer_urls), None)


def _with_id(members: Sequence[Member], member_id: int) -> Member | None:
    return next((m for m in members if m.id == member_id), None)
