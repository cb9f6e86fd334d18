"""The API versions one stored object is served in, and conversion between them.

Some resources are served in several versions from one storage (autoscaling/v1
and v2 HorizontalPodAutoscalers; core/v1 and events.k8s.io/v1 Events). Each
served version's Strategy converts to and from the storage version; any two
served versions convert through it, as kube converts through its internal
version. The field manager needs that to compare objects in the version each
managedFields entry is written in (fieldmanager/versions.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from hakube.apiserver.resources import RESOURCES, Resource
from hakube.apiserver.schema.registry import type_for
from hakube.apiserver.strategy import Obj, Strategy


def storage_version(resource: Resource) -> str:
    return resource.strategy.storage_version or resource.api_version


class StorageVersions:
    """Conversion among the served versions of objects stored under one key prefix."""

    def __init__(self, kind: str, storage: str, served: dict[str, Strategy]) -> None:
        self.kind = kind
        self.storage = storage
        self._served = served

    @property
    def served(self) -> tuple[str, ...]:
        return tuple(self._served)

    def convert(self, obj: Obj, source: str, target: str) -> Obj | None:
        """`obj` (in `source`) in `target`; None for a version not served from this storage."""
        if source == target:
            return obj
        if source not in self._served or target not in self._served:
            return None
        try:
            stored = obj if source == self.storage else self._served[source].to_storage_version(obj)
            return stored if target == self.storage else self._served[target].from_storage_version(stored)
        except (AttributeError, KeyError, TypeError, ValueError):
            # A conversion written for whole objects, given a fragment it cannot read: the
            # field manager then compares in the object's own version, as without versions.
            return None

    def type_name(self, api_version: str) -> str | None:
        group, _, version = api_version.rpartition("/")
        return type_for(group, version, self.kind)


def storage_versions(resource: Resource, resources: Iterable[Resource] = RESOURCES) -> StorageVersions | None:
    """The versions `resource`'s objects are served in, or None when it is the only one."""
    stored = storage_version(resource)
    served = {r.api_version: r.strategy for r in resources
              if r.storage_prefix == resource.storage_prefix and r.kind == resource.kind
              and storage_version(r) == stored}
    if len(served) < 2:
        return None
    return StorageVersions(resource.kind, stored, served)
