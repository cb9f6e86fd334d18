"""`--goaway-chance`: ask a random few clients to reconnect, so a load balancer can rebalance them.

Behind a load balancer, keep-alive clients stay on the API server they first
reached. An API server that restarts comes back with no connections, and a
least-connections balancer then sends it every new connection until it
catches up (the chaos runs measured it: a server stopped shortly after it
rejoined received five /readyz probes in a row). kube-apiserver's answer is
`--goaway-chance` (WithProbabilisticGoaway in k8s.io/apiserver
`pkg/server/filters/goaway.go`): with that probability, a request that is not
long-running gets `Connection: close`, so its client finishes this response
and opens its next connection through the load balancer. kube applies it to
HTTP/2 (where Go turns the header into GOAWAY); we serve HTTP/1.1, where the
header itself says the same thing. The recommended start is 0.001 and the
maximum 0.02 (the flag's help in `server_run_options.go`).
"""

from __future__ import annotations

import random
from collections.abc import Callable

from aiohttp import web

from hakube.apiserver.requestinfo import parse_resource_path

__all__ = ["MAX_CHANCE", "Goaway", "long_running"]

MAX_CHANCE = 0.02
# Connection-holding subresources: closing after them would gain nothing.
_STREAMING = frozenset({"exec", "attach", "portforward", "proxy"})


def long_running(request: web.BaseRequest) -> bool:
    """Watches and streams (kube's long-running check); `log?follow` streams too."""
    query = request.query
    if query.get("watch") in ("1", "true", "True") or query.get("follow") in ("1", "true", "True"):
        return True
    # The request middleware has parsed the path already; a hook on an unrouted response may not have.
    info = request.get("info") or parse_resource_path(request.path)
    if info is not None and info.subresource in _STREAMING:
        return True
    parts = [p for p in request.path.split("/") if p]
    # The deprecated watch paths: /api/v1/watch/… and /apis/GROUP/VERSION/watch/…
    at = {"api": 2, "apis": 3}.get(parts[0], -1) if parts else -1
    return 0 <= at < len(parts) and parts[at] == "watch"


class Goaway:
    """Install with `install(app)`; `chance` 0 turns it off."""

    def __init__(self, chance: float, *, draw: Callable[[], float] = random.random) -> None:
        if not 0.0 <= chance <= MAX_CHANCE:
            raise ValueError(f"--goaway-chance must be between 0 and {MAX_CHANCE}, got {chance}")
        self.chance = chance
        self._draw = draw

    def install(self, app: web.Application) -> None:
        if self.chance > 0:
            app.on_response_prepare.append(self._on_response_prepare)

    async def _on_response_prepare(self, request: web.BaseRequest, response: web.StreamResponse) -> None:
        if self._draw() < self.chance and not long_running(request):
            response.force_close()
            response.headers["Connection"] = "close"
