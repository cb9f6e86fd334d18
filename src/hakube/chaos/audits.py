"""The audits that complement the linearizability check of a chaos run.

The checker answers "is there a legal order?"; these answer the questions a
user asks after a failover: is every write we were told about still there
(creates), was every acknowledged increment counted exactly once (counters),
did any read return something older than a write that had already been
acknowledged (stale reads), and did every watch stream deliver each change in
order, with no gaps and no duplicates, across API server failover (the
Kubernetes watch contract: resourceVersions of one resource increase, and a
resumed watch either continues exactly or answers 410 Gone).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hakube.chaos.checker import Op


@dataclass(frozen=True)
class CreateRecord:
    name: str
    status: str  # ok | fail | unknown


def audit_creates(creates: Iterable[CreateRecord], existing: set[str]) -> dict[str, Any]:
    """Every acknowledged create must exist at the end; a failed one must not."""
    acked = lost = phantom = unknown_present = 0
    lost_names: list[str] = []
    for c in creates:
        if c.status == "ok":
            acked += 1
            if c.name not in existing:
                lost += 1
                lost_names.append(c.name)
        elif c.status == "fail" and c.name in existing:
            phantom += 1
        elif c.status == "unknown" and c.name in existing:
            unknown_present += 1
    return {"acknowledged": acked, "lost": lost, "lost_names": lost_names[:20],
            "failed_but_present": phantom, "unknown_but_present": unknown_present}


def audit_counters(history: Iterable[Op], final: Mapping[str, int], *, initial: int = 0) -> dict[str, Any]:
    """Increments are CAS n → n+1: the final count lies in [acknowledged, acknowledged + unknown]."""
    acked: dict[str, int] = {}
    unknown: dict[str, int] = {}
    for op in history:
        if op.kind != "cas":
            continue
        key = str(op.key)
        if op.status == "ok" and op.output:
            acked[key] = acked.get(key, 0) + 1
        elif op.status == "unknown":
            unknown[key] = unknown.get(key, 0) + 1
    lost = duplicated = 0
    per_key = {}
    for key in sorted(set(acked) | set(final)):
        got = final.get(key, initial) - initial
        a, u = acked.get(key, 0), unknown.get(key, 0)
        lost += max(0, a - got)
        duplicated += max(0, got - (a + u))
        per_key[key] = {"final": got, "acknowledged": a, "unknown": u}
    return {"acknowledged": sum(acked.values()), "lost": lost, "duplicated": duplicated, "keys": per_key}


def stale_reads(history: Iterable[Op]) -> list[Op]:
    """Reads that returned a value older than one whose write was acknowledged before the read began.

    Valid for registers whose values only grow (the chaos counters).
    """
    ops = list(history)
    acked: dict[Any, list[tuple[float, Any]]] = {}
    for op in ops:
        if op.kind in ("write", "cas") and op.status == "ok" and (op.kind == "write" or op.output):
            assert op.ret is not None
            acked.setdefault(op.key, []).append((op.ret, op.value))
    # Per key: acknowledgement times in order, and the newest value acknowledged by each of them,
    # so each read costs one binary search (a 30-minute run has ~450,000 reads).
    newest_by: dict[Any, tuple[list[float], list[Any]]] = {}
    for key, writes in acked.items():
        writes.sort(key=lambda tv: tv[0])
        newest_by[key] = ([t for t, _ in writes], list(itertools.accumulate((v for _, v in writes), max)))
    stale = []
    for op in ops:
        if op.kind != "read" or op.status != "ok" or op.output is None or op.key not in newest_by:
            continue
        times, newest = newest_by[op.key]
        i = bisect.bisect_left(times, op.invoke)  # acknowledged strictly before the read began
        if i and op.output < newest[i - 1]:
            stale.append(op)
    return stale


@dataclass
class WatchSegment:
    """Events one watcher received between two relists (a resume from the last RV continues a segment)."""

    start_rv: int  # the list (or resume) RV the segment began from: events are newer than this
    events: list[tuple[int, str]] = field(default_factory=list)  # (resourceVersion, object name)
    end_rv: int = 0  # the newest RV the watcher knows it saw up to (last event or bookmark)


def audit_watches(streams: Iterable[list[WatchSegment]], writes: Mapping[int, str]) -> dict[str, Any]:
    """Each segment's RVs strictly increase; every known write inside its range was delivered.

    ``writes`` maps the resourceVersion of every write in the watched scope
    that we know happened (acknowledged, or seen in a final list) to the
    object's name.
    """
    out_of_order = duplicates = missing = events = 0
    examples: list[str] = []
    written = sorted(writes)  # each segment looks only at the writes inside its range
    for w, segments in enumerate(streams):
        for seg in segments:
            rvs = [rv for rv, _ in seg.events]
            events += len(rvs)
            seen = set()
            for prev, cur in zip([seg.start_rv, *rvs], rvs, strict=False):
                if cur in seen:
                    duplicates += 1
                elif cur <= prev:
                    out_of_order += 1
                    if len(examples) < 10:
                        examples.append(f"watcher {w}: rv {cur} after {prev}")
                seen.add(cur)
            end = max([seg.end_rv, *rvs])
            for rv in written[bisect.bisect_right(written, seg.start_rv):bisect.bisect_right(written, end)]:
                if rv not in seen:
                    missing += 1
                    if len(examples) < 10:
                        examples.append(f"watcher {w}: write {writes[rv]}@{rv} missing from ({seg.start_rv}, {end}]")
    return {"events": events, "out_of_order": out_of_order, "duplicates": duplicates, "missing": missing,
            "ok": out_of_order == duplicates == missing == 0, "examples": examples}
