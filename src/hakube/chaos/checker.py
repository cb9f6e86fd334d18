"""A linearizability checker for a register with compare-and-set (the WGL algorithm).

"Highly available" is measured, not asserted: the chaos runner records every
client operation with its invoke and return times, and this module decides
whether some total order of them, consistent with real time, explains every
outcome. It mirrors porcupine (anishathalye/porcupine, `checker.go`): the
history is partitioned per key, each partition is checked by Wing & Gong's
search with Lowe's memoization of (set of linearized operations, state), and
the search is bounded by a deadline so a pathological history reports
"unknown" instead of hanging.

Outcomes, as in Jepsen and etcd's robustness tests:
- ``ok``: the operation took effect between its invoke and its return, and its
  output is what the client saw;
- ``fail``: it certainly did not take effect (dropped before checking);
- ``unknown``: a timeout or a dropped connection — it may have taken effect at
  any point after its invoke, or never. It gets an infinite return time, and
  the search succeeds as soon as every *definite* operation is placed: the
  unknown ones left over never happened. Unknown reads carry no information
  and are dropped.
"""

from __future__ import annotations

import math
import time
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["read", "write", "cas"]
Status = Literal["ok", "fail", "unknown"]


@dataclass(frozen=True)
class Op:
    """One client operation on one key.

    read: ``output`` is the value read. write: ``value`` is written. cas:
    ``expected`` → ``value``; ``output`` is True when it applied and False when
    the store answered that the current value differed (a definite conflict).
    """

    key: Hashable
    kind: Kind
    invoke: float
    ret: float | None  # None: never returned (unknown)
    status: Status = "ok"
    value: Hashable = None
    expected: Hashable = None
    output: Hashable = None
    client: int = 0
    id: int = 0  # index in the caller's history, for reports


def step(state: Hashable, op: Op) -> tuple[bool, Hashable]:
    """The register-with-CAS model: may ``op`` happen in ``state``, and what state follows?"""
    if op.kind == "read":
        return state == op.output, state
    if op.kind == "write":
        return True, op.value
    if op.status == "unknown":
        # A CAS whose answer was lost. Placed here it must have applied; "it never
        # happened" is covered by leaving it out (see check_key).
        return state == op.expected, op.value
    if op.output:
        return state == op.expected, op.value
    return state != op.expected, state


@dataclass
class KeyResult:
    key: Hashable
    linearizable: bool | None  # None: the search ran out of time
    operations: int
    # When not linearizable: the operations of the longest linearizable prefix
    # the search found, and the ones it could never place after it.
    longest_prefix: list[int] = field(default_factory=list)
    unplaced: list[int] = field(default_factory=list)


@dataclass
class Result:
    linearizable: bool | None
    keys: list[KeyResult]

    @property
    def violations(self) -> list[KeyResult]:
        return [k for k in self.keys if k.linearizable is False]


class _Entry:
    __slots__ = ("is_call", "match", "next", "op", "opi", "prev", "time")

    def __init__(self, *, is_call: bool, time: float, op: Op | None, opi: int) -> None:
        self.is_call = is_call
        self.time = time
        self.op = op
        self.opi = opi
        self.match: _Entry | None = None
        self.prev: _Entry | None = None
        self.next: _Entry | None = None


def _entries(ops: list[Op]) -> _Entry:
    """The doubly linked list of call and return events, sorted by time; returns its head sentinel."""
    events: list[tuple[float, int, int]] = []  # (time, 0 for call / 1 for return, op index)
    for i, op in enumerate(ops):
        ret = math.inf if op.ret is None or op.status == "unknown" else op.ret
        events.append((op.invoke, 0, i))
        events.append((ret, 1, i))
    # Calls sort before returns at the same instant: touching operations count as concurrent.
    events.sort()
    head = _Entry(is_call=False, time=-math.inf, op=None, opi=-1)
    calls: dict[int, _Entry] = {}
    prev = head
    for t, kind, i in events:
        e = _Entry(is_call=kind == 0, time=t, op=ops[i] if kind == 0 else None, opi=i)
        if kind == 0:
            calls[i] = e
        else:
            calls[i].match = e
        prev.next, e.prev = e, prev
        prev = e
    return head


def _lift(e: _Entry) -> None:
    assert e.prev is not None and e.match is not None and e.match.prev is not None
    e.prev.next = e.next
    if e.next is not None:
        e.next.prev = e.prev
    m = e.match
    m.prev.next = m.next  # type: ignore[union-attr]
    if m.next is not None:
        m.next.prev = m.prev


def _unlift(e: _Entry) -> None:
    m = e.match
    assert m is not None and m.prev is not None and e.prev is not None
    m.prev.next = m
    if m.next is not None:
        m.next.prev = m
    e.prev.next = e
    if e.next is not None:
        e.next.prev = e


class _Linearized:
    """The set of operations placed so far, in a form that hashes in time independent of history length.

    Lowe's memoization keys on (set of linearized operations, state). A bitset
    over the whole key, as porcupine uses, costs O(n) per step to copy and hash
    and O(n²) memory for the cache: a 30-minute run holds ~185,000 operations
    per key, which is gigabytes. But the search places definite operations
    almost in invoke order, so the set is "every definite operation ranked
    below ``low``, plus the few in ``above``", plus the unknown ones placed
    (a small bitset: unknown operations are rare). That form is canonical, so
    the memo stays exact.
    """

    __slots__ = ("above", "low", "unknown")

    def __init__(self, low: int = 0, above: frozenset[int] = frozenset(), unknown: int = 0) -> None:
        self.low = low  # every definite operation ranked below this is placed; this one is not
        self.above = above  # placed definite operations ranked above ``low``
        self.unknown = unknown  # bit i: the i-th unknown operation is placed

    def plus(self, rank: int, unknown_bit: int) -> _Linearized:
        if unknown_bit:
            return _Linearized(self.low, self.above, self.unknown | unknown_bit)
        if rank != self.low:
            return _Linearized(self.low, self.above | {rank}, self.unknown)
        low, above = rank + 1, self.above
        if low in above:
            while low in above:
                low += 1
            above = frozenset(r for r in above if r > low)
        return _Linearized(low, above, self.unknown)

    def memo_key(self, state: Hashable) -> tuple[int, frozenset[int], int, Hashable]:
        return self.low, self.above, self.unknown, state


@dataclass(frozen=True)
class _Placed:
    """One step of the search path, linked to the one before: the longest path is kept in O(1)."""

    opi: int
    before: _Placed | None

    def path(self) -> list[int]:
        out: list[int] = []
        node: _Placed | None = self
        while node is not None:
            out.append(node.opi)
            node = node.before
        return out[::-1]


def _ranks(ops: list[Op]) -> tuple[list[int], list[int]]:
    """Each operation's rank among the definite ones by invoke time, or its bit among the unknown ones."""
    rank = [-1] * len(ops)
    bit = [0] * len(ops)
    definite = sorted((i for i, op in enumerate(ops) if op.status != "unknown"), key=lambda i: (ops[i].invoke, i))
    for r, i in enumerate(definite):
        rank[i] = r
    for b, i in enumerate(i for i, op in enumerate(ops) if op.status == "unknown"):
        bit[i] = 1 << b
    return rank, bit


def check_key(ops: list[Op], *, initial: Hashable, deadline: float = math.inf,
              key: Hashable = None) -> KeyResult:
    """WGL search over one key's operations (already filtered: no failed ops, no unknown reads)."""
    n = len(ops)
    head = _entries(ops)
    rank, bit = _ranks(ops)
    state: Hashable = initial
    linearized = _Linearized()
    cache: set[tuple[int, frozenset[int], int, Hashable]] = set()
    stack: list[tuple[_Entry, Hashable, _Linearized, _Placed]] = []
    best: _Placed | None = None
    best_len = 0
    entry = head.next
    steps = 0
    definite_left = sum(1 for op in ops if op.status != "unknown")
    while definite_left:
        steps += 1
        if steps % 4096 == 0 and time.monotonic() > deadline:
            return KeyResult(key=key, linearizable=None, operations=n)
        assert entry is not None
        if entry.is_call:
            assert entry.op is not None
            ok, new_state = step(state, entry.op)
            if ok:
                new_lin = linearized.plus(rank[entry.opi], bit[entry.opi])
                memo = new_lin.memo_key(new_state)
                if memo not in cache:
                    cache.add(memo)
                    placed = _Placed(entry.opi, stack[-1][3] if stack else None)
                    stack.append((entry, state, linearized, placed))
                    state, linearized = new_state, new_lin
                    definite_left -= entry.op.status != "unknown"
                    _lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # A return whose call is not linearized yet: undo the last choice.
            if len(stack) > best_len:
                best, best_len = stack[-1][3], len(stack)
            if not stack:
                prefix = best.path() if best is not None else []
                done = set(prefix)
                unplaced = [ops[i].id for i in range(n) if i not in done]
                return KeyResult(key=key, linearizable=False, operations=n,
                                 longest_prefix=[ops[i].id for i in prefix], unplaced=unplaced)
            top, state, linearized, _ = stack.pop()
            assert top.op is not None
            definite_left += top.op.status != "unknown"
            _unlift(top)
            entry = top.next
    return KeyResult(key=key, linearizable=True, operations=n)


def relevant(op: Op) -> bool:
    """Failed operations never happened; unknown reads say nothing."""
    return op.status != "fail" and not (op.kind == "read" and op.status == "unknown")


def check(history: Iterable[Op], *, initial: dict[Hashable, Hashable] | None = None,
          default: Hashable = None, timeout: float = 60.0) -> Result:
    """Check a whole history, partitioned per key (porcupine's ``CheckOperations``)."""
    by_key: dict[Hashable, list[Op]] = {}
    for op in history:
        if relevant(op):
            by_key.setdefault(op.key, []).append(op)
    deadline = time.monotonic() + timeout
    results = [check_key(ops, initial=(initial or {}).get(key, default), deadline=deadline, key=key)
               for key, ops in sorted(by_key.items(), key=lambda kv: str(kv[0]))]
    if any(r.linearizable is False for r in results):
        verdict: bool | None = False
    elif any(r.linearizable is None for r in results):
        verdict = None
    else:
        verdict = True
    return Result(linearizable=verdict, keys=results)
