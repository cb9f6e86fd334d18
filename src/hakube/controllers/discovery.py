"""What the server serves, read from its legacy discovery documents.

The namespace controller deletes every namespaced resource that can be
listed and deleted, and the garbage collector watches every resource that
can be listed, watched and deleted; both learn which ones from discovery, as
client-go's `ServerPreferredResources` does (k/k
`pkg/controller/namespace/deletion/namespaced_resources_deleter.go`,
`pkg/controller/garbagecollector/garbagecollector.go` GetDeletableResources).
"""

from __future__ import annotations

from dataclasses import dataclass

from hakube.client.api import ApiClient, ApiError, Obj, ResourceRef


@dataclass(frozen=True)
class ApiResource:
    ref: ResourceRef
    kind: str
    verbs: frozenset[str]
    preferred: bool  # the group's preferred version

    @property
    def api_version(self) -> str:
        return f"{self.ref.group}/{self.ref.version}" if self.ref.group else self.ref.version

    def supports(self, *verbs: str) -> bool:
        return all(v in self.verbs for v in verbs)


@dataclass(frozen=True)
class Discovery:
    """One read of discovery: the resources, and the group versions that could not be read."""

    resources: tuple[ApiResource, ...]
    failed: tuple[str, ...] = ()

    def by_kind(self, api_version: str, kind: str) -> ApiResource | None:
        for r in self.resources:
            if r.kind == kind and r.api_version == api_version:
                return r
        return None

    def preferred(self, *verbs: str, namespaced: bool | None = None) -> list[ApiResource]:
        return [r for r in self.resources if r.preferred and r.supports(*verbs)
                and (namespaced is None or r.ref.namespaced == namespaced)]


def _resources(doc: Obj, group: str, version: str, *, preferred: bool) -> list[ApiResource]:
    out = []
    for entry in doc.get("resources") or []:
        name = str(entry.get("name") or "")
        if not name or "/" in name:  # subresources
            continue
        ref = ResourceRef(group, version, name, namespaced=bool(entry.get("namespaced")))
        out.append(ApiResource(ref, str(entry.get("kind") or ""), frozenset(entry.get("verbs") or ()), preferred))
    return out


async def discover(client: ApiClient) -> Discovery:
    """Read /api, /api/v1, /apis and every /apis/<group>/<version>; a failing group version is
    reported, not fatal (client-go ErrGroupDiscoveryFailed)."""
    resources: list[ApiResource] = []
    failed: list[str] = []
    core = await client.request("GET", "/api")
    for version in core.get("versions") or []:
        try:
            doc = await client.request("GET", f"/api/{version}")
        except ApiError:
            failed.append(version)
            continue
        resources += _resources(doc, "", version, preferred=True)
    groups = await client.request("GET", "/apis")
    for group in groups.get("groups") or []:
        name = group.get("name") or ""
        preferred = (group.get("preferredVersion") or {}).get("version")
        for gv in group.get("versions") or []:
            version = gv.get("version") or ""
            try:
                doc = await client.request("GET", f"/apis/{name}/{version}")
            except ApiError:
                failed.append(f"{name}/{version}")
                continue
            resources += _resources(doc, name, version, preferred=version == preferred)
    return Discovery(tuple(resources), tuple(failed))
