"""The WGL checker and the chaos audits on hand-made and generated histories."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from hakube.chaos.audits import CreateRecord, WatchSegment, audit_counters, audit_creates, audit_watches, stale_reads
from hakube.chaos.checker import Op, Status, check, relevant, step


def r(invoke: float, ret: float | None, out: object, *, key: str = "x", status: str = "ok") -> Op:
    return Op(key=key, kind="read", invoke=invoke, ret=ret, output=out, status=status)  # type: ignore[arg-type]


def w(invoke: float, ret: float | None, value: object, *, key: str = "x", status: str = "ok") -> Op:
    return Op(key=key, kind="write", invoke=invoke, ret=ret, value=value, status=status)  # type: ignore[arg-type]


def cas(invoke: float, ret: float | None, expected: object, value: object, *, ok: bool | None = True,
        key: str = "x", status: str = "ok") -> Op:
    return Op(key=key, kind="cas", invoke=invoke, ret=ret, expected=expected, value=value, output=ok,
              status=status)  # type: ignore[arg-type]


def lin(*ops: Op, initial: object = 0) -> bool | None:
    return check(ops, default=initial).linearizable


# -- hand-made histories -------------------------------------------------------------------------

def test_sequential_history() -> None:
    assert lin(w(0, 1, 1), r(2, 3, 1), cas(4, 5, 1, 2), r(6, 7, 2), cas(8, 9, 1, 3, ok=False), r(10, 11, 2))


def test_concurrent_read_may_see_either_value() -> None:
    assert lin(w(0, 10, 1), r(1, 2, 0), r(3, 4, 1))
    assert lin(w(0, 10, 1), r(1, 2, 1), r(3, 4, 1))


def test_read_cannot_go_back_in_time() -> None:
    # Once a read saw the new value, a later (non-overlapping) read cannot see the old one.
    assert lin(w(0, 10, 1), r(1, 2, 1), r(3, 4, 0)) is False


def test_stale_read_after_acknowledged_write() -> None:
    res = check([w(0, 1, 1), r(2, 3, 0)], default=0)
    assert res.linearizable is False
    assert [k.key for k in res.violations] == ["x"]


def test_read_of_never_written_value() -> None:
    assert lin(w(0, 1, 1), r(0.5, 3, 7)) is False


def test_cas_conflict_must_be_explained() -> None:
    # The CAS 0→5 answered "conflict" before anything was written: impossible.
    assert lin(cas(0, 1, 0, 5, ok=False), w(2, 3, 1)) is False
    # ... but fine if it overlaps the write that changed the value.
    assert lin(cas(0, 4, 0, 5, ok=False), w(2, 3, 1))


def test_two_successful_cas_from_the_same_value() -> None:
    # Lost update: both increments from 0 succeed — not linearizable.
    assert lin(cas(0, 10, 0, 1), cas(0, 10, 0, 1)) is False
    assert lin(cas(0, 10, 0, 1), cas(0, 10, 1, 2))


def test_failed_operations_never_happened() -> None:
    assert lin(w(0, 1, 1, status="fail"), r(2, 3, 0))
    assert lin(w(0, 1, 1, status="fail"), r(2, 3, 1)) is False


def test_unknown_write_may_take_effect_late() -> None:
    # The write timed out; a read much later sees it: fine (it took effect late).
    assert lin(w(0, None, 1, status="unknown"), r(5, 6, 0), r(10, 11, 1))


def test_unknown_write_may_never_take_effect() -> None:
    assert lin(w(0, None, 1, status="unknown"), r(5, 6, 0), r(10, 11, 0))


def test_unknown_write_cannot_take_effect_before_its_invoke() -> None:
    assert lin(r(0, 1, 1), w(2, None, 1, status="unknown")) is False


def test_unknown_write_takes_effect_once() -> None:
    # Seen, then the old value again, then seen again: one write cannot explain that.
    assert lin(w(0, None, 1, status="unknown"), r(5, 6, 1), r(7, 8, 0), r(9, 10, 1)) is False


def test_unknown_cas_counted_at_most_once() -> None:
    # Counter from 0: an ambiguous increment and an acknowledged one; a final read of 2 or 1 is fine, 3 is not.
    # The acknowledged 1→2 needs the unknown 0→1 to have applied first, so only 2 is possible at the end.
    for final, expected in ((1, False), (2, True), (3, False)):
        h = [cas(0, None, 0, 1, status="unknown"), cas(1, 4, 1, 2), r(10, 11, final)]
        assert lin(*h) is expected, final


def test_unknown_cas_explains_a_later_successful_cas() -> None:
    # A client's CAS 0→1 timed out; another client's CAS 1→2 succeeds later: the first must have applied.
    assert lin(cas(0, None, 0, 1, status="unknown"), cas(5, 6, 1, 2), r(7, 8, 2))
    # Without the unknown CAS the same observations are impossible.
    assert lin(cas(5, 6, 1, 2), r(7, 8, 2)) is False


def test_unknown_write_saved_for_later_is_not_pruned() -> None:
    # Placing the lost write early leads nowhere (the read of 1 comes after the write of 0); the
    # memo must still tell "A placed, U unused" apart from "U and A placed", both in state 1.
    assert lin(w(0, None, 1, status="unknown"), w(0.1, 0.2, 1), w(0.3, 0.4, 0), r(0.5, 0.6, 1))


def test_unknown_read_is_ignored() -> None:
    assert lin(w(0, 1, 1), r(2, None, 0, status="unknown"))


def test_partitioned_per_key() -> None:
    res = check([w(0, 1, 1, key="a"), r(2, 3, 1, key="a"), w(0, 1, 1, key="b"), r(2, 3, 0, key="b")], default=0)
    assert res.linearizable is False
    assert [k.key for k in res.violations] == ["b"]
    assert {k.key: k.linearizable for k in res.keys} == {"a": True, "b": False}


def test_violation_names_the_unplaceable_operations() -> None:
    ops = [Op(key="x", kind="write", invoke=0, ret=1, value=1, id=0),
           Op(key="x", kind="read", invoke=2, ret=3, output=0, id=1)]
    v = check(ops, default=0).violations[0]
    assert 1 in v.unplaced


def test_many_concurrent_operations_finish_quickly() -> None:
    # 14 overlapping increments: memoization keeps this small.
    ops = [cas(0, 100, i, i + 1) for i in range(14)] + [r(101, 102, 14)]
    assert lin(*ops)


# -- generated histories -------------------------------------------------------------------------

def simulate(seed: int, *, clients: int, n_ops: int, unknown_rate: float) -> list[Op]:
    """A real sequential register: each operation takes effect at a random instant inside its interval."""
    rnd = random.Random(seed)
    state = 0
    t = 0.0
    free_at = [0.0] * clients
    ops: list[Op] = []
    # Draw intervals per client, then apply effects in effect-time order.
    plans = []
    for i in range(n_ops):
        c = rnd.randrange(clients)
        invoke = max(free_at[c], t) + rnd.random()
        effect = invoke + rnd.random()
        ret = effect + rnd.random()
        free_at[c] = ret
        t += rnd.random() * 0.5
        plans.append((effect, i, c, invoke, ret))
    for _effect, i, c, invoke, ret in sorted(plans):
        kind = rnd.choice(("read", "write", "cas", "cas"))
        unknown = kind != "read" and rnd.random() < unknown_rate
        before = state
        if kind == "read":
            op = Op(key="x", kind="read", invoke=invoke, ret=ret, output=state, client=c, id=i)
        elif kind == "write":
            state = rnd.randrange(5)
            op = Op(key="x", kind="write", invoke=invoke, ret=ret, value=state, client=c, id=i)
        else:
            expected, new = rnd.choice((state, rnd.randrange(5))), rnd.randrange(5)
            applied = state == expected
            if applied:
                state = new
            op = Op(key="x", kind="cas", invoke=invoke, ret=ret, expected=expected, value=new, output=applied,
                    client=c, id=i)
        if unknown:
            # The client never heard back; half the time the request was lost before it took effect.
            if rnd.random() < 0.5:
                state = before
            op = Op(key=op.key, kind=op.kind, invoke=op.invoke, ret=None, status="unknown", value=op.value,
                    expected=op.expected, output=None, client=c, id=i)
        ops.append(op)
    return sorted(ops, key=lambda o: o.invoke)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), clients=st.integers(1, 5), n_ops=st.integers(1, 30),
       unknown_rate=st.sampled_from([0.0, 0.1, 0.3]))
def test_histories_from_a_sequential_execution_are_linearizable(seed: int, clients: int, n_ops: int,
                                                                unknown_rate: float) -> None:
    ops = simulate(seed, clients=clients, n_ops=n_ops, unknown_rate=unknown_rate)
    assert check(ops, default=0, timeout=20).linearizable is True


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), clients=st.integers(1, 4), n_ops=st.integers(1, 25))
def test_stale_read_after_an_acknowledged_write_is_caught(seed: int, clients: int, n_ops: int) -> None:
    ops = simulate(seed, clients=clients, n_ops=n_ops, unknown_rate=0.0)
    end = max((o.ret or o.invoke) for o in ops)
    # A fresh value no one else writes, acknowledged, then a read of the value before it.
    before = 99
    ops += [Op(key="x", kind="write", invoke=end + 1, ret=end + 2, value=98, id=1000),
            Op(key="x", kind="write", invoke=end + 3, ret=end + 4, value=before, id=1001),
            Op(key="x", kind="read", invoke=end + 5, ret=end + 6, output=98, id=1002)]
    res = check(ops, default=0, timeout=20)
    assert res.linearizable is False
    assert 1002 in res.violations[0].unplaced


def brute_force(ops: list[Op], initial: object = 0) -> bool:
    """The definition itself: some subset of the unknown operations plus every definite one, in
    some order that respects real time (a before b when a returned before b was invoked), explains
    every outcome. Exponential; for histories of a handful of operations."""
    ops = [op for op in ops if relevant(op)]
    definite = [op for op in ops if op.status != "unknown"]
    unknown = [op for op in ops if op.status == "unknown"]

    def before(a: Op, b: Op) -> bool:
        return a.status != "unknown" and a.ret is not None and a.ret < b.invoke

    for k in range(len(unknown) + 1):
        for chosen in itertools.combinations(unknown, k):
            for order in itertools.permutations([*definite, *chosen]):
                if any(before(b, a) for i, a in enumerate(order) for b in order[i + 1:]):
                    continue
                state, fine = initial, True
                for op in order:
                    fine, state = step(state, op)
                    if not fine:
                        break
                if fine:
                    return True
    return False


def random_history(seed: int, n_ops: int) -> list[Op]:
    """Operations with random intervals and random outcomes over a tiny value domain: about half
    of them are linearizable, so both verdicts are exercised."""
    rnd = random.Random(seed)
    ops = []
    for i in range(n_ops):
        invoke = rnd.uniform(0, 4)
        ret = invoke + rnd.uniform(0.1, 2)
        kind = rnd.choice(("read", "write", "cas"))
        status: Status = rnd.choice(("ok", "ok", "ok", "unknown", "fail")) if kind != "read" else "ok"
        done = None if status == "unknown" else ret
        if kind == "read":
            ops.append(Op(key="x", kind="read", invoke=invoke, ret=done, output=rnd.randrange(3), id=i))
        elif kind == "write":
            ops.append(Op(key="x", kind="write", invoke=invoke, ret=done, value=rnd.randrange(3), status=status,
                          id=i))
        else:
            ops.append(Op(key="x", kind="cas", invoke=invoke, ret=done, expected=rnd.randrange(3),
                          value=rnd.randrange(3), output=None if status == "unknown" else rnd.random() < 0.6,
                          status=status, id=i))
    return ops


def test_agrees_with_brute_force_on_random_histories() -> None:
    verdicts = []
    for seed in range(400):
        ops = random_history(seed, 1 + seed % 6)
        expected = brute_force(ops)
        assert check(ops, default=0, timeout=20).linearizable is expected, (seed, ops)
        verdicts.append(expected)
    # The generator must exercise both answers, or the comparison proves little.
    assert 0.2 < sum(verdicts) / len(verdicts) < 0.8


def test_a_long_history_gets_a_verdict() -> None:
    # A 30-minute chaos run holds ~185,000 operations per key. The memo's key must not grow
    # with the history (a whole-history bitset made this run out of time and memory).
    ops: list[Op] = []
    value, t = 0, 0.0
    for i in range(60_000):
        if i % 3:
            ops.append(r(t, t + 0.01, value))
        elif i % 2000 == 0:
            ops.append(cas(t, None, value, value + 1, ok=None, status="unknown"))  # lost, never applied
        else:
            ops.append(cas(t, t + 0.01, value, value + 1))
            value += 1
        t += 0.005  # each operation overlaps the next
    result = check(ops, default=0, timeout=120)
    assert result.linearizable is True
    ops.append(r(t + 1, t + 2, value - 1))  # a stale read at the very end
    assert check(ops, default=0, timeout=120).linearizable is False


# -- audits --------------------------------------------------------------------------------------

def test_audit_creates() -> None:
    records = [CreateRecord("a", "ok"), CreateRecord("b", "ok"), CreateRecord("c", "fail"),
               CreateRecord("d", "unknown"), CreateRecord("e", "fail")]
    out = audit_creates(records, {"a", "d", "e"})
    assert out["acknowledged"] == 2 and out["lost"] == 1 and out["lost_names"] == ["b"]
    assert out["failed_but_present"] == 1 and out["unknown_but_present"] == 1


def test_audit_counters_exactly_once() -> None:
    h = [cas(0, 1, 0, 1, key="c"), cas(2, 3, 1, 2, key="c"), cas(4, None, 2, 3, key="c", status="unknown"),
         cas(5, 6, 2, 3, ok=False, key="c")]
    assert audit_counters(h, {"c": 2})["lost"] == 0
    assert audit_counters(h, {"c": 3})["duplicated"] == 0
    assert audit_counters(h, {"c": 1})["lost"] == 1
    assert audit_counters(h, {"c": 4})["duplicated"] == 1


def test_stale_reads_audit() -> None:
    h = [cas(0, 1, 0, 1), r(0.5, 2, 0), r(2, 3, 0), r(4, 5, 1)]
    assert [o.invoke for o in stale_reads(h)] == [2]


def test_audit_watches() -> None:
    writes = {10: "a", 12: "b", 15: "a", 20: "c"}
    good = [WatchSegment(start_rv=9, events=[(10, "a"), (12, "b")], end_rv=12),
            WatchSegment(start_rv=12, events=[(15, "a"), (20, "c")], end_rv=20)]
    assert audit_watches([good], writes)["ok"]
    gap = [WatchSegment(start_rv=9, events=[(10, "a"), (15, "a")], end_rv=15)]
    out = audit_watches([gap], writes)
    assert out["missing"] == 1 and not out["ok"]
    backwards = [WatchSegment(start_rv=9, events=[(12, "b"), (10, "a")], end_rv=12)]
    assert audit_watches([backwards], writes)["out_of_order"] == 1
    dup = [WatchSegment(start_rv=9, events=[(10, "a"), (12, "b"), (12, "b")], end_rv=12)]
    assert audit_watches([dup], writes)["duplicates"] == 1
    # A relist (410) starts a new segment from the list's RV: what came before it is not owed.
    relisted = [WatchSegment(start_rv=9, events=[(10, "a")], end_rv=10),
                WatchSegment(start_rv=15, events=[(20, "c")], end_rv=20)]
    assert audit_watches([relisted], writes)["ok"]
