"""One add-on manager: read the folder, then reconcile every object by its mode label.

- `addonmanager.kubernetes.io/mode: Reconcile` — kept as written: when the
  folder's fields are not all present with the folder's values, they are merged
  over the live object and PUT with its resourceVersion (compare-then-PUT,
  retried on 409). Fields the server defaults or others add are kept. Objects we
  manage carry the annotation `addons.hakube.io/managed`; one with the mode
  label and our annotation whose kind is in PRUNE_KINDS and which is no longer
  in the folder is deleted (kube-addons.sh `kubectl apply --prune -l mode=Reconcile`).
- `EnsureExists` — created when missing, never overwritten.
- Anything else (no label, or `Ignore`) is skipped and reported.

An object already as desired is never written, so N managers converge on zero
writes. A file that is not valid YAML, or an object the API rejects, is
reported (log line and Event) and the rest go on.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hakube.client.api import ApiClient, ApiError, ResourceRef
from hakube.client.events import EventRecorder

log = logging.getLogger(__name__)

Obj = dict[str, Any]
MODE_LABEL = "addonmanager.kubernetes.io/mode"
MANAGED = "addons.hakube.io/managed"
RECONCILE, ENSURE_EXISTS = "Reconcile", "EnsureExists"
MAX_CONFLICT_RETRIES = 5
SUFFIXES = (".yaml", ".yml", ".json")

# What pruning looks at (kube-addons.sh's prune whitelist, minus what we cannot undo safely).
PRUNE_KINDS: tuple[tuple[str, str, str, bool], ...] = (
    ("", "v1", "configmaps", True), ("", "v1", "services", True), ("", "v1", "serviceaccounts", True),
    ("", "v1", "secrets", True), ("apps", "v1", "deployments", True), ("apps", "v1", "daemonsets", True),
    ("apps", "v1", "statefulsets", True), ("batch", "v1", "jobs", True),
    ("policy", "v1", "poddisruptionbudgets", True),
    ("scheduling.k8s.io", "v1", "priorityclasses", False),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", False),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", False),
    ("rbac.authorization.k8s.io", "v1", "roles", True), ("rbac.authorization.k8s.io", "v1", "rolebindings", True),
)


@dataclass(frozen=True)
class Addon:
    source: str  # file name, for messages
    obj: Obj

    @property
    def mode(self) -> str:
        return str(((self.obj.get("metadata") or {}).get("labels") or {}).get(MODE_LABEL, ""))

    def describe(self) -> str:
        meta = self.obj.get("metadata") or {}
        ns = f"{meta['namespace']}/" if meta.get("namespace") else ""
        return f"{self.obj.get('kind')} {ns}{meta.get('name')}"


def read_folder(directory: Path) -> tuple[list[Addon], list[str]]:
    """Every object in the folder's files (sorted by name), and what could not be read."""
    addons: list[Addon] = []
    problems: list[str] = []
    if not directory.is_dir():
        return addons, [f"add-on folder {directory} does not exist"]
    for path in sorted(p for p in directory.iterdir() if p.suffix in SUFFIXES and not p.name.startswith(".")):
        try:
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        except (yaml.YAMLError, OSError, UnicodeDecodeError) as err:
            problems.append(f"{path.name}: not valid YAML: {str(err).splitlines()[0]}")
            continue
        for doc in docs:
            items = doc.get("items") if isinstance(doc, dict) and doc.get("kind", "").endswith("List") else [doc]
            for item in items or []:
                if not isinstance(item, dict) or not item.get("kind") or not item.get("apiVersion") or not (
                        isinstance(item.get("metadata"), dict) and item["metadata"].get("name")):
                    problems.append(f"{path.name}: an object without apiVersion, kind or metadata.name")
                    continue
                addons.append(Addon(path.name, item))
    return addons, problems


def contains(live: Any, want: Any) -> bool:
    """Whether `live` has every field of `want` with its value (lists element by element)."""
    if isinstance(want, dict):
        return isinstance(live, dict) and all(k in live and contains(live[k], v) for k, v in want.items())
    if isinstance(want, list):
        return isinstance(live, list) and len(live) == len(want) and all(
            contains(a, b) for a, b in zip(live, want, strict=True))
    return bool(live == want)


def merged(live: Any, want: Any) -> Any:
    """`want` laid over `live`: maps merge, everything else is replaced."""
    if isinstance(live, dict) and isinstance(want, dict):
        out = dict(live)
        for k, v in want.items():
            out[k] = merged(live.get(k), v)
        return out
    return copy.deepcopy(want)


def desired(addon: Addon) -> Obj:
    obj = copy.deepcopy(addon.obj)
    obj["metadata"].setdefault("annotations", {})[MANAGED] = "true"
    obj.pop("status", None)
    return obj


class Resolver:
    """apiVersion + kind → resource, from the API's discovery documents (cached)."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._cache: dict[str, dict[str, ResourceRef]] = {}

    async def ref(self, api_version: str, kind: str) -> ResourceRef | None:
        if api_version not in self._cache:
            path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
            body = await self.client.request("GET", path)
            group, _, version = api_version.rpartition("/")
            self._cache[api_version] = {
                r["kind"]: ResourceRef(group, version, r["name"], namespaced=bool(r.get("namespaced")))
                for r in body.get("resources") or [] if "/" not in r["name"]}
        return self._cache[api_version].get(kind)


class AddonManager:
    def __init__(self, client: ApiClient, directory: Path, *, events: EventRecorder | None = None) -> None:
        self.client = client
        self.directory = directory
        self.resolver = Resolver(client)
        self.events = events
        self.writes = 0  # creates, updates and deletes this manager made (for tests and the log)

    async def round(self) -> str:
        """One pass over the folder; returns what it did, for the log."""
        addons, problems = read_folder(self.directory)
        done: list[str] = []
        wanted: set[tuple[str, str, str]] = set()
        for addon in addons:
            try:
                said = await self.sync(addon)
            except ApiError as err:
                problems.append(f"{addon.source}: {addon.describe()}: {err}")
                continue
            meta = addon.obj["metadata"]
            wanted.add((addon.obj["kind"], meta.get("namespace") or "", meta["name"]))
            if said:
                done.append(said)
        if not any(p.startswith(f"add-on folder {self.directory}") for p in problems):
            done += await self.prune(wanted)
        for problem in problems:
            log.warning("add-on problem: %s", problem)
            await self._event(problem)
        return "; ".join(done)

    async def sync(self, addon: Addon) -> str:
        mode = addon.mode
        if mode not in (RECONCILE, ENSURE_EXISTS):
            return ""
        ref = await self.resolver.ref(addon.obj["apiVersion"], addon.obj["kind"])
        if ref is None:
            raise ApiError(404, "NotFound", f"the server has no kind {addon.obj['kind']} in {addon.obj['apiVersion']}")
        want = desired(addon)
        ns = want["metadata"].get("namespace") if ref.namespaced else None
        if ref.namespaced and not ns:
            ns = want["metadata"]["namespace"] = "default"
        name = want["metadata"]["name"]
        for _attempt in range(MAX_CONFLICT_RETRIES):
            try:
                live = await self.client.get(ref, name, ns)
            except ApiError as err:
                if err.code != 404:
                    raise
                try:
                    await self.client.create(ref, want, ns)
                except ApiError as err2:
                    if err2.code == 409:  # another manager created it first
                        continue
                    raise
                self.writes += 1
                return f"created {addon.describe()}"
            if mode == ENSURE_EXISTS or contains(live, want):
                return ""
            new = merged(live, want)
            new["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            try:
                await self.client.replace(ref, new)
            except ApiError as err:
                if err.code == 409:  # someone wrote in between: look again
                    continue
                raise
            self.writes += 1
            return f"reconciled {addon.describe()}"
        raise ApiError(409, "Conflict", f"{addon.describe()}: still conflicting after {MAX_CONFLICT_RETRIES} tries")

    async def prune(self, wanted: set[tuple[str, str, str]]) -> list[str]:
        done = []
        for group, version, plural, namespaced in PRUNE_KINDS:
            ref = ResourceRef(group, version, plural, namespaced=namespaced)
            try:
                body = await self.client.list(ref, label_selector=f"{MODE_LABEL}={RECONCILE}")
            except ApiError as err:
                log.warning("listing %s for pruning: %s", plural, err)
                continue
            for item in body.get("items") or []:
                meta = item["metadata"]
                if (meta.get("annotations") or {}).get(MANAGED) != "true":
                    continue
                kind = str(body.get("kind", "")).removesuffix("List")
                if (kind, meta.get("namespace") or "", meta["name"]) in wanted:
                    continue
                try:
                    await self.client.delete(ref, meta["name"], meta.get("namespace"),
                                             preconditions={"uid": meta["uid"]})
                except ApiError as err:
                    if err.code not in (404, 409):
                        log.warning("pruning %s %s: %s", plural, meta["name"], err)
                    continue
                self.writes += 1
                done.append(f"pruned {kind} {meta['name']}")
        return done

    async def _event(self, message: str) -> None:
        if self.events is None:
            return
        try:
            await self.events.record(
                {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": "kube-system", "namespace": "kube-system"}},
                reason="AddonFailed", message=message[:1000], type="Warning")
        except ApiError as err:
            log.warning("could not record event: %s", err)
