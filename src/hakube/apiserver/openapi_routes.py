"""Serving /openapi/v3 and /openapi/v2 (kubectl reads them for explain, validation and apply).

v3 documents are built once per process from the schema table and addressed by
a content hash, as kube-apiserver does (`?hash=` in serverRelativeURL), so
clients can cache them. The v2 document (one for every group version) is what
kubectl 1.27 and 1.28 fetch before `explain` and before validating a file; it is
built once, lazily, from the same v3 documents, and served as kube-openapi's
handler serves it (pkg/handler/handler.go): JSON or gnostic protobuf by the
Accept header, one ETag (the SHA-512 of the JSON) for both, `Vary: Accept`,
304 for a matching If-None-Match (client-go's disk cache revalidates with it),
406 when nothing acceptable is asked for.
"""

from __future__ import annotations

import functools
import hashlib

from aiohttp import web

from hakube.apiserver import codec
from hakube.apiserver.protobuf.gnostic import encode_document
from hakube.apiserver.resources import ResourceTable
from hakube.apiserver.schema.openapi import ServedResource, openapi_document, openapi_index
from hakube.apiserver.schema.openapi_v2 import swagger_document

V2_JSON = "application/json"
# client-go asks for the deprecated name (discovery_client.go openAPIV2mimePb); the
# answer is always labelled with the current one.
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V2_PROTOBUF_DEPRECATED = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
# What the v2 handler accepts, in its order of preference, and the media type it answers with.
_V2_ACCEPTED = ((V2_JSON, V2_JSON), (V2_PROTOBUF_DEPRECATED, V2_PROTOBUF), (V2_PROTOBUF, V2_PROTOBUF))


class OpenAPI:
    def __init__(self, table: ResourceTable) -> None:
        self.served = [
            ServedResource(group=r.group, version=r.version, kind=r.kind, plural=r.plural,
                           namespaced=r.namespaced, verbs=r.verbs,
                           subresources=tuple(s.name for s in r.subresources))
            for r in table.resources
        ]
        self.group_versions = table.group_versions()

    @staticmethod
    def path_of(group: str, version: str) -> str:
        return f"apis/{group}/{version}" if group else f"api/{version}"

    @functools.cached_property
    def documents(self) -> dict[str, bytes]:
        return {self.path_of(g, v): codec.dumps(openapi_document(self.served, g, v))
                for g, v in self.group_versions}

    @functools.cached_property
    def hashes(self) -> dict[str, str]:
        return {path: hashlib.sha512(doc).hexdigest()[:128].upper() for path, doc in self.documents.items()}

    async def index(self, request: web.Request) -> web.Response:
        body = codec.dumps(openapi_index(self.served, self.hashes))
        return web.Response(body=body, content_type="application/json")

    async def document(self, request: web.Request) -> web.Response:
        path = request.match_info["tail"].strip("/")
        doc = self.documents.get(path)
        if doc is None:
            return web.Response(text="404 page not found\n", status=404, content_type="text/plain")
        headers = {"ETag": f'"{self.hashes[path]}"'}
        if request.query.get("hash") == self.hashes[path]:
            headers["Cache-Control"] = "public, immutable"
        return web.Response(body=doc, content_type="application/json", headers=headers)

    @functools.cached_property
    def v2(self) -> dict[str, bytes]:
        """The v2 document by returned media type: JSON and gnostic protobuf."""
        doc = swagger_document(self.served)
        return {V2_JSON: codec.dumps(doc), V2_PROTOBUF: encode_document(doc)}

    @functools.cached_property
    def v2_etag(self) -> str:
        # kube-openapi computeETag: upper-case hex SHA-512 of the JSON, shared by the protobuf form.
        return '"' + hashlib.sha512(self.v2[V2_JSON]).hexdigest().upper() + '"'

    async def document_v2(self, request: web.Request) -> web.Response:
        media_type = negotiate_v2(request.headers.get("Accept", ""))
        if media_type is None:
            return web.Response(status=406, headers={"Vary": "Accept"})
        headers = {"ETag": self.v2_etag, "Vary": "Accept"}
        if etag_matches(request.headers.get("If-None-Match", ""), self.v2_etag):
            return web.Response(status=304, headers=headers)
        return web.Response(body=self.v2[media_type], content_type=media_type, headers=headers)


def negotiate_v2(accept: str) -> str | None:
    """The media type to answer /openapi/v2 with, or None (406).

    As kube-openapi: Accept clauses by falling quality (more specific first on a
    tie, goautoneg), and for the first clause that matches anything, the first
    match in JSON, protobuf order; no Accept header means */*. Unlike
    goautoneg, a clause with q=0 is skipped rather than honoured.
    """
    clauses: list[tuple[float, int, int, str, str]] = []
    for position, part in enumerate((accept or "*/*").split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        if "/" not in media:
            continue
        kind, _, subtype = media.lower().partition("/")
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue  # q=0 is "not acceptable" (RFC 9110 §12.4.2)
        specificity = (kind != "*") + (subtype != "*")
        clauses.append((-quality, -specificity, position, kind, subtype))
    for _, _, _, kind, subtype in sorted(clauses):
        for accepted, answer in _V2_ACCEPTED:
            accepted_kind, _, accepted_subtype = accepted.partition("/")
            if kind in (accepted_kind, "*") and subtype in (accepted_subtype, "*"):
                return answer
    return None


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as net/http ServeContent)."""
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == etag:
            return True
    return False


def add_routes(app: web.Application, table: ResourceTable) -> None:
    api = OpenAPI(table)
    app.router.add_get("/openapi/v2", api.document_v2)
    app.router.add_get("/openapi/v3", api.index)
    app.router.add_get("/openapi/v3/{tail:.*}", api.document)
