"""Quorum arithmetic, the joining member's flags and the removal guard, without etcd."""

from __future__ import annotations

from hakube.store.membership import ClusterHealth, Member, MemberStatus, join_settings, quorum, removal_problem


def member(i: int, *, learner: bool = False, started: bool = True) -> Member:
    return Member(id=i, name=f"m{i}" if started else "", peer_urls=(f"https://127.0.0.{i}:2380",),
                  client_urls=(f"https://127.0.0.{i}:2379",) if started else (), is_learner=learner)


def status(i: int, leader: int) -> MemberStatus:
    return MemberStatus(member_id=i, leader_id=leader, raft_index=10, raft_applied_index=10, raft_term=2,
                        db_size=1, is_learner=False, errors=())


def test_quorum_is_a_majority_of_voters() -> None:
    assert [quorum(n) for n in range(1, 8)] == [1, 2, 2, 3, 3, 4, 4]


def test_join_settings_list_every_peer_and_name_the_newcomer() -> None:
    members = [member(1), member(2), member(3, learner=True, started=False)]
    join = join_settings(members, name="m3", peer_url="https://127.0.0.3:2380")
    assert join.initial_cluster_state == "existing"
    assert join.initial_cluster == ("m1=https://127.0.0.1:2380,m2=https://127.0.0.2:2380,"
                                    "m3=https://127.0.0.3:2380")
    # A member that has not started yet has no name: etcd matches on peer URLs, not names.
    other = join_settings([member(1), member(4, learner=True, started=False)], name="m5",
                          peer_url="https://127.0.0.5:2380")
    assert other.initial_cluster == "m5=https://127.0.0.5:2380,m1=https://127.0.0.1:2380,4=https://127.0.0.4:2380"


def test_removal_that_would_lose_quorum_is_refused() -> None:
    members = (member(1), member(2), member(3))
    all_up = ClusterHealth(members=members, statuses={i: status(i, 1) for i in (1, 2, 3)}, leader_id=1,
                           has_quorum=True)
    assert all_up.fault_tolerance == 1 and all_up.leader == members[0]
    assert removal_problem(all_up, 2) is None
    one_down = ClusterHealth(members=members, statuses={i: status(i, 1) for i in (1, 2)}, leader_id=1,
                             has_quorum=True)
    assert removal_problem(one_down, 3) is None  # the dead one may go: 2 of 2 remain
    problem = removal_problem(one_down, 2)
    assert problem is not None and "1 healthy of 2 voting members" in problem
    # A member cut off from the quorum answers but knows no leader: not healthy.
    partitioned = ClusterHealth(members=members, statuses={1: status(1, 1), 2: status(2, 1), 3: status(3, 0)},
                                leader_id=1, has_quorum=True)
    assert [m.id for m in partitioned.healthy_voting] == [1, 2]
    assert removal_problem(all_up, 99) is None
    learner = ClusterHealth(members=(*members, member(4, learner=True)), statuses={}, leader_id=0,
                            has_quorum=False)
    assert removal_problem(learner, 4) is None  # learners do not vote
