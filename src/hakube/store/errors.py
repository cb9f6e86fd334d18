"""Storage errors: the only exceptions that leave the storage layer.

gRPC errors are translated here at the edge (as Patroni's catch_etcd_errors
does), so nothing above the store ever sees a grpc exception.
"""

from __future__ import annotations


class StoreError(Exception):
    """Base class of every storage error."""


class KeyNotFound(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} not found")
        self.key = key


class KeyExists(StoreError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key {key!r} already exists")
        self.key = key


class RevisionConflict(StoreError):
    """A precondition on the stored object (uid or resourceVersion) did not hold."""

    def __init__(self, key: str, message: str = "") -> None:
        super().__init__(message or f"key {key!r} was modified")
        self.key = key


class Compacted(StoreError):
    """The requested revision is older than etcd's compacted revision."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"revision {requested} compacted (oldest available {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevision(StoreError):
    """The requested revision is newer than etcd's current revision."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is newer than current {current}")
        self.requested = requested
        self.current = current


class Unavailable(StoreError):
    """etcd could not be reached or did not answer in time."""


class Indeterminate(StoreError):
    """A write whose outcome is unknown: etcd lost its leader while the write was in flight.

    The proposal may have been committed or dropped; etcd will never say. Callers
    must not retry it blindly (a compare-and-set could apply twice).
    """
