"""What a controller expects its informer to show before it acts again.

A ReplicaSet that just asked for 3 pods must not ask for 3 more because its
informer has not seen them yet. It records "3 creations expected" (and the
keys of pods it deletes); the pod handlers count them off as the events
arrive; until then, or until the record is 5 minutes old, the sync only
refreshes status (k/k `pkg/controller/controller_utils.go`
ControllerExpectations and UIDTrackingControllerExpectations).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

EXPECTATIONS_TIMEOUT = 300.0  # ExpectationsTimeout


@dataclass
class _Record:
    adds: int
    deletes: set[str] = field(default_factory=set)
    stamp: float = 0.0


class Expectations:
    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self._records: dict[str, _Record] = {}
        self._clock = clock
        self._timeout = timeout

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending, the record expired, or there is no record at all."""
        rec = self._records.get(key)
        if rec is None:
            return True
        if rec.adds <= 0 and not rec.deletes:
            return True
        return self._clock() - rec.stamp > self._timeout

    def expect_creations(self, key: str, count: int) -> None:
        self._records[key] = _Record(adds=count, stamp=self._clock())

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        self._records[key] = _Record(adds=0, deletes=set(pod_keys), stamp=self._clock())

    def creation_observed(self, key: str) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.adds -= 1

    def deletion_observed(self, key: str, pod_key: str) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.deletes.discard(pod_key)

    def forget(self, key: str) -> None:
        self._records.pop(key, None)
