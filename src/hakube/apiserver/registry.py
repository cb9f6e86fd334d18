"""The generic registry: create, get, update, patch and delete for every resource.

One store serves all resources; what differs lives in the resource's Strategy
(apiserver `pkg/registry/generic/registry/store.go`). Every write goes
through the storage layer's compare-and-set; reads at resourceVersion "0" or
"not older than N" come from the watch cache, consistent reads from etcd.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hakube.apiserver import codec, fieldmanager, status, timefmt
from hakube.apiserver.names import generate_name
from hakube.apiserver.resources import Resource
from hakube.apiserver.schema.registry import TYPES, type_for
from hakube.apiserver.schema.validate import cannot_handle_message
from hakube.apiserver.strategy import Obj
from hakube.apiserver.versions import storage_versions
from hakube.apiserver.watchcache import WatchCache
from hakube.store.errors import KeyExists, KeyNotFound, RevisionConflict
from hakube.store.storage import DELETE, KV, Storage, UpdateResult

# Metadata only the server sets: carried over from the stored object on update.
_SYSTEM_META = ("uid", "creationTimestamp", "generation", "deletionTimestamp",
                "deletionGracePeriodSeconds", "namespace", "name", "selfLink")


@dataclass(frozen=True)
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    # The write is a server-side apply whose managedFields the mutation already set.
    applied: bool = False


Mutator = Callable[[Obj], Obj]


class Registry:
    """CRUD for one resource over etcd."""

    def __init__(self, resource: Resource, storage: Storage, cache: WatchCache) -> None:
        self.resource = resource
        self.storage = storage
        self.cache = cache
        self.strategy = resource.strategy
        # Objects may be stored in another version than the one served (Strategy.storage_version).
        self.converts = bool(self.strategy.storage_version)
        self.storage_api_version = self.strategy.storage_version or resource.api_version
        group, _, version = self.storage_api_version.rpartition("/")
        self._type_name = type_for(group, version, resource.kind)
        # The other versions the same objects are served in, for managedFields written in them.
        self.versions = storage_versions(resource)

    # -- helpers ------------------------------------------------------------

    def not_found(self, name: str) -> status.StatusError:
        return status.not_found(self.resource.plural, self.resource.group, name)

    def conflict(self, name: str, why: str = status.OPTIMISTIC_LOCK_MESSAGE) -> status.StatusError:
        return status.conflict(self.resource.plural, self.resource.group, name, why)

    def invalid(self, name: str, causes: list[dict[str, str]]) -> status.StatusError:
        return status.invalid(self.resource.kind, self.resource.group, name, causes)

    def decorate(self, obj: Obj) -> Obj:
        """A stored object as served: in the served version, with its kind and apiVersion."""
        if self.converts:
            obj = self.strategy.from_storage_version(obj)
        obj["kind"] = self.resource.kind
        obj["apiVersion"] = self.resource.api_version
        return obj

    def present(self, obj: Obj) -> Obj:
        """`decorate` for an object shared with others (the watch cache's): the input is not changed."""
        if self.converts:
            return self.decorate(obj)
        if obj.get("kind") == self.resource.kind and obj.get("apiVersion") == self.resource.api_version:
            return obj
        return {**obj, "kind": self.resource.kind, "apiVersion": self.resource.api_version}

    def _normalize_times(self, obj: Obj) -> None:
        """Time and MicroTime fields in Go's form (timefmt.normalize_times); a non-time fails like a decode."""
        if self._type_name is None:
            return
        try:
            timefmt.normalize_times(TYPES, self._type_name, obj)
        except timefmt.TimeFieldError as err:
            kind = self.resource.kind
            raise status.bad_request(cannot_handle_message(kind=kind, version=self.resource.version,
                                                           into_kind=kind, detail=str(err))) from None

    def _decode(self, kv: KV) -> Obj:
        return self.decorate(codec.decode_from_storage(kv.value, kv.mod_revision))

    def _stored(self, kv: KV) -> Obj:
        """An object as stored, in the storage version (what strategies and writes work on)."""
        if not self.converts:
            return self._decode(kv)
        obj = codec.decode_from_storage(kv.value, kv.mod_revision)
        obj["kind"], obj["apiVersion"] = self.resource.kind, self.storage_api_version
        return obj

    async def _read(self, key: str, name: str) -> KV:
        try:
            return await self.storage.get(key)
        except KeyNotFound:
            raise self.not_found(name) from None

    # -- get ------------------------------------------------------------------

    async def get(self, namespace: str | None, name: str, *, resource_version: str = "") -> Obj:
        key = self.resource.key(namespace, name)
        if resource_version:
            rv = _parse_rv(resource_version)
            if rv and not await self.cache.wait_for(rv):
                raise too_large_rv(rv, self.cache.revision)
            cached = self.cache.get(key)
            if cached is None:
                raise self.not_found(name)
            return self.decorate(copy.deepcopy(cached))
        return self._decode(await self._read(key, name))

    # -- create ---------------------------------------------------------------

    async def create(self, namespace: str | None, obj: Obj, opts: WriteOptions) -> Obj:
        if self.converts:
            obj = self.strategy.to_storage_version(obj)
        meta = obj.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise status.bad_request("metadata must be an object")
        if self.resource.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if self.resource.namespaced and namespace is not None:
            await self.check_namespace_open(namespace)
        base = meta.get("generateName") if not meta.get("name") else None
        for _attempt in range(8):
            if base:
                meta["name"] = generate_name(str(base))
            name = str(meta.get("name") or "")
            self._prepare_create(obj, opts)
            if opts.dry_run:
                return self.decorate(obj)
            try:
                rev = await self.storage.create(self.resource.key(namespace, name),
                                                codec.encode_for_storage(obj))
            except KeyExists:
                if base:
                    continue  # RetryGenerateName: pick another suffix
                raise status.already_exists(self.resource.plural, self.resource.group, name) from None
            meta["resourceVersion"] = str(rev)
            return self.decorate(obj)
        raise status.StatusError(
            409, "AlreadyExists",
            f'{self.resource.qualified} "{meta.get("name")}" already exists, the server was not able '
            "to generate a unique name for the object")

    def _prepare_create(self, obj: Obj, opts: WriteOptions) -> None:
        meta = obj["metadata"]
        incoming = meta.get("managedFields")
        name = str(meta.get("name") or "")
        if not name:
            raise self.invalid("", [{"reason": "FieldValueRequired", "field": "metadata.name",
                                     "message": "Required value: name or generateName is required"}])
        errors = self.strategy.name_errors(name)
        if errors:
            raise self.invalid(name, [{"reason": "FieldValueInvalid", "field": "metadata.name",
                                       "message": f'Invalid value: "{name}": {errors[0]}'}])
        for field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = timefmt.now_time()
        if self.strategy.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        self._normalize_times(obj)
        self.strategy.prepare_for_create(obj)
        causes = self.strategy.validate(obj)
        if causes:
            raise self.invalid(name, causes)
        self._record_fields(None, obj, incoming, opts, subresource="")

    async def check_namespace_open(self, namespace: str) -> None:
        """Nothing is created in a missing or terminating namespace (NamespaceLifecycle admission)."""
        ns = self.cache.get(f"/registry/namespaces/{namespace}")
        if ns is None:
            try:
                kv = await self.storage.get(f"/registry/namespaces/{namespace}")
            except KeyNotFound:
                raise status.not_found("namespaces", "", namespace) from None
            ns = codec.decode_from_storage(kv.value, kv.mod_revision)
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            raise status.StatusError(
                403, "Forbidden",
                f"{self.resource.plural} \"{ns['metadata']['name']}\" is forbidden: unable to create new "
                f"content in namespace {namespace} because it is being terminated",
                details={"name": namespace, "kind": self.resource.plural,
                         "causes": [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                     "message": f"namespace {namespace} is being terminated"}]})

    # -- update -----------------------------------------------------------------

    async def update(
        self,
        namespace: str | None,
        name: str,
        mutate: Mutator,
        opts: WriteOptions,
        *,
        subresource: str = "",
        create_if_missing: Obj | None = None,
    ) -> tuple[Obj, bool]:
        """GuaranteedUpdate: `mutate` turns the current object into the desired one.

        `mutate` may raise StatusError (a stale resourceVersion, a bad patch). The
        result is defaulted, validated and written with a CAS; a lost race re-reads
        and runs `mutate` again. Returns (object, created).
        """
        key = self.resource.key(namespace, name)
        try:
            current = await self.storage.get(key)
        except KeyNotFound:
            if create_if_missing is None:
                raise self.not_found(name) from None
            return await self.create(namespace, create_if_missing, opts), True
        result: dict[str, Obj] = {}

        async def apply(kv: KV) -> UpdateResult:
            old = self._stored(kv)
            new = mutate(self.decorate(copy.deepcopy(old)) if self.converts else copy.deepcopy(old))
            if self.converts:
                new = self.strategy.to_storage_version(new)
            new = self._prepare_update(new, old, subresource=subresource, opts=opts)
            result["obj"] = new
            if _is_finished(new):
                return DELETE
            encoded = codec.encode_for_storage(new)
            if opts.dry_run:
                return None
            return encoded

        try:
            kv, _deleted = await self.storage.guaranteed_update(key, apply, current=current)
        except KeyNotFound:
            raise self.not_found(name) from None
        obj = result["obj"]
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return self.decorate(obj), False

    def _record_fields(self, old: Obj | None, new: Obj, incoming: object, opts: WriteOptions, *,
                       subresource: str) -> None:
        """managedFields after the write (fieldmanager.record_update); an apply set them already.

        `old` and `new` are stored objects; the write is recorded in the served version when the
        objects are served in several (kube records an Update in the version of the request)."""
        fieldmanager.record_update(
            old, new, manager="" if opts.applied else opts.field_manager, incoming=incoming,
            api_version=self.resource.api_version if self.versions else self.storage_api_version,
            type_name=self._type_name, subresource=subresource, has_status=self.strategy.has_status,
            versions=self.versions, stored_version=self.storage_api_version)

    def _prepare_update(self, new: Obj, old: Obj, *, subresource: str, opts: WriteOptions | None = None) -> Obj:
        name = old["metadata"]["name"]
        if not isinstance(new.get("metadata"), dict):
            raise status.bad_request("metadata must be an object")
        meta = new["metadata"]
        incoming = meta.get("managedFields")
        rv = meta.get("resourceVersion")
        if rv:
            if str(rv) != old["metadata"]["resourceVersion"]:
                raise self.conflict(name)
        elif not self.strategy.allow_unconditional_update:
            raise self.invalid(name, [{"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                                       "message": "Invalid value: 0x0: must be specified for an update"}])
        uid = meta.get("uid")
        if uid and uid != old["metadata"].get("uid"):
            # ValidateObjectMetaUpdate: uid is immutable, which makes a uid in an update or patch
            # body a precondition (controllers' adopt/release patches rely on it).
            raise self.invalid(name, [{"reason": "FieldValueInvalid", "field": "metadata.uid",
                                       "message": f'Invalid value: "{uid}": field is immutable'}])
        for field in _SYSTEM_META:
            if field in old["metadata"]:
                meta[field] = old["metadata"][field]
            else:
                meta.pop(field, None)
        new["kind"], new["apiVersion"] = old.get("kind"), old.get("apiVersion")
        self._normalize_times(new)
        # Internal subresources (binding, finalize) build the whole object themselves.
        internal = subresource not in ("", "status")
        if subresource == "status":
            self.strategy.prepare_for_status_update(new, old)
        elif not internal:
            self.strategy.prepare_for_update(new, old)
        if old["metadata"].get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                raise self.invalid(name, [{"reason": "FieldValueForbidden", "field": "metadata.finalizers",
                                           "message": "Forbidden: no new finalizers can be added if the "
                                                      "object is being deleted"}])
        if (self.strategy.tracks_generation and subresource == ""
                and self.strategy.spec_changed(new, old)):
            meta["generation"] = int(old["metadata"].get("generation") or 0) + 1
        causes = [] if internal else self.strategy.validate_update(new, old)
        if causes:
            raise self.invalid(name, causes)
        self._record_fields(old, new, incoming, opts or WriteOptions(), subresource=subresource)
        meta.pop("resourceVersion", None)
        return new

    # -- delete -------------------------------------------------------------------

    async def delete(
        self,
        namespace: str | None,
        name: str,
        *,
        options: Obj,
        opts: WriteOptions,
    ) -> tuple[Obj, bool]:
        """Delete or mark for deletion. Returns (last state, actually removed)."""
        key = self.resource.key(namespace, name)
        preconditions = options.get("preconditions") or {}
        requested_grace = options.get("gracePeriodSeconds")
        current = await self._read(key, name)
        removed = False
        result: dict[str, Obj] = {}

        async def decide(kv: KV) -> UpdateResult:
            nonlocal removed
            obj = self._stored(kv)
            self._check_preconditions(obj, preconditions)
            result["obj"] = obj
            meta = obj["metadata"]
            grace = self.strategy.grace_period(obj, requested_grace)
            old_finalizers = list(meta.get("finalizers") or [])
            finalizers = gc_finalizers(old_finalizers, options)
            namespace_pending = self.resource.kind == "Namespace" and bool((obj.get("spec") or {}).get("finalizers"))
            pending = bool(finalizers) or namespace_pending
            deleting = bool(meta.get("deletionTimestamp"))
            prior_grace = int(meta.get("deletionGracePeriodSeconds") or 0)
            if deleting and (namespace_pending or (prior_grace > 0 and grace >= prior_grace)):
                # Graceful deletion pending (only a shorter grace period changes it), or the
                # namespace controller still at work (namespace storage.go Delete).
                return None
            if not pending and grace == 0:
                removed = True
                return None if opts.dry_run else DELETE
            if deleting and prior_grace == 0:
                # Deleted again, e.g. Background after Foreground: only the GC finalizers may change.
                if finalizers == old_finalizers:
                    return None
                meta["finalizers"] = finalizers
                return None if opts.dry_run else codec.encode_for_storage(
                    {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}})
            meta["finalizers"] = finalizers
            if not finalizers:
                del meta["finalizers"]
            meta["deletionTimestamp"] = timefmt.format_time(datetime.now(UTC) + timedelta(seconds=grace))
            meta["deletionGracePeriodSeconds"] = grace
            if self.resource.kind == "Namespace":
                obj.setdefault("status", {})["phase"] = "Terminating"
            return None if opts.dry_run else codec.encode_for_storage(
                {**obj, "metadata": {k: v for k, v in meta.items() if k != "resourceVersion"}})

        try:
            kv, deleted = await self.storage.guaranteed_update(key, decide, current=current)
        except KeyNotFound:
            raise self.not_found(name) from None
        obj = result["obj"]
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return self.decorate(obj) if self.converts else obj, deleted or removed

    def _check_preconditions(self, obj: Obj, pre: Obj) -> None:
        meta = obj["metadata"]
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise self.conflict(meta["name"], f"Precondition failed: UID in precondition: {pre['uid']}, "
                                              f"UID in object meta: {meta.get('uid')}")
        if pre.get("resourceVersion") and str(pre["resourceVersion"]) != meta.get("resourceVersion"):
            raise self.conflict(meta["name"], "Precondition failed: ResourceVersion in precondition: "
                                              f"{pre['resourceVersion']}, ResourceVersion in object meta: "
                                              f"{meta.get('resourceVersion')}")


ORPHAN_FINALIZER = "orphan"
FOREGROUND_FINALIZER = "foregroundDeletion"


def gc_finalizers(current: list[str], options: Obj) -> list[str]:
    """The finalizers a delete leaves for the garbage collector (apiserver registry/store.go
    deletionFinalizersForGarbageCollection): an explicit orphanDependents or propagationPolicy
    decides; without one, the object's own `orphan` / `foregroundDeletion` finalizer stays.
    Background (or orphanDependents=false) removes both, so a later delete can cancel a
    foreground or orphan deletion in progress."""
    gc = (ORPHAN_FINALIZER, FOREGROUND_FINALIZER)
    orphan_dependents = options.get("orphanDependents")
    policy = options.get("propagationPolicy")
    if orphan_dependents is not None:
        orphan, foreground = bool(orphan_dependents), False
    elif policy is not None:
        orphan, foreground = policy == "Orphan", policy == "Foreground"
    else:
        first = next((f for f in current if f in gc), None)
        orphan, foreground = first == ORPHAN_FINALIZER, first == FOREGROUND_FINALIZER
    wanted = [f for f in current if f not in gc]
    if orphan:
        wanted.append(ORPHAN_FINALIZER)
    if foreground:
        wanted.append(FOREGROUND_FINALIZER)
    return current if set(wanted) == set(current) else wanted


def _is_finished(obj: Obj) -> bool:
    """A deleted object whose last finalizer went, with no grace left, is removed."""
    meta = obj["metadata"]
    if not meta.get("deletionTimestamp") or meta.get("finalizers"):
        return False
    if obj.get("kind") == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
        return False
    return int(meta.get("deletionGracePeriodSeconds") or 0) == 0


def _parse_rv(value: str) -> int:
    try:
        rv = int(value)
    except ValueError:
        raise status.bad_request(f'invalid resource version: "{value}"') from None
    if rv < 0:
        raise status.bad_request(f'invalid resource version: "{value}"')
    return rv


def parse_rv(value: str) -> int:
    return _parse_rv(value)


def too_large_rv(requested: int, current: int) -> status.StatusError:
    # apiserver pkg/storage/errors.go NewTooLargeResourceVersionError
    return status.timeout(f"Too large resource version: {requested}, current: {current}",
                          cause="ResourceVersionTooLarge")


__all__ = ["FOREGROUND_FINALIZER", "ORPHAN_FINALIZER", "Registry", "RevisionConflict", "WriteOptions",
           "gc_finalizers", "parse_rv", "too_large_rv"]
