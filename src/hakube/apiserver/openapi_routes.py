"""Serving /openapi/v3 (kubectl validates apply/create/replace/edit against it).

Documents are built once per process from the schema table and addressed by a
content hash, as kube-apiserver does (`?hash=` in serverRelativeURL), so
clients can cache them. /openapi/v2 must be protobuf; we do not serve it and
kubectl falls back to v3 (API-COMPAT.md §1.4).
"""

from __future__ import annotations

import functools
import hashlib

from aiohttp import web

from hakube.apiserver import codec
from hakube.apiserver.resources import ResourceTable
from hakube.apiserver.schema.openapi import ServedResource, openapi_document, openapi_index


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


def add_routes(app: web.Application, table: ResourceTable) -> None:
    api = OpenAPI(table)
    app.router.add_get("/openapi/v3", api.index)
    app.router.add_get("/openapi/v3/{tail:.*}", api.document)
