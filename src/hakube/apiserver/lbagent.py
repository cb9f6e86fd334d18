"""The load balancer's agent port: whether, and how much, this API server wants new traffic.

HAProxy's agent check (`agent-check`) connects to this port every 100 ms and
reads one line: "up 100%", "up 1%" (a share of the server's configured
weight) or "down". /readyz stays the health check; the agent tells the load
balancer sooner.

Why: an API server cut off from etcd keeps answering /readyz with 200 for
the etcd grace period (app.ETCD_READY_GRACE), because failing at once would
eject every server during an ordinary etcd election. Meanwhile its requests
fail and its clients time out and leave; leastconn, counting connections,
then sends it a bigger share of new ones than its healthy peers get. When
/readyz does fail, the load balancer needs two failed checks (~0.35 s) to
eject it, and new connections in between get the 500: in the 30-minute
chaos run, an isolated server got three /readyz probes in a row there.

So the agent asks for 1 % of the weight once etcd has been silent for
SHED_AFTER seconds, and says "down" at DOWN_AFTER, which /readyz follows a
moment later (app.ETCD_READY_GRACE): the load balancer ejects the server
before it answers anyone with a 500, as kube-apiserver's
--shutdown-delay-duration lets load balancers stop sending before it stops
serving. DOWN_AFTER is the grace /readyz had before, so an etcd election
has about as long as before to finish before anything is ejected (the
ejection itself now takes ≤ 0.1 s instead of ≤ 0.35 s). In the 30-minute
run, the 8 etcd leader kills cost no probe: the survivors' elections never
reached it.

1 %, not "drain" (weight 0): during an etcd election every member's quorum
reads wait, so every server sheds at once. All at weight 1, they share
traffic as before; all drained, HAProxy would have no server to pick. (An
idle server still gets the next new connection at any weight: HAProxy's
leastconn ranks a server with no connections first.)

The answer is one short line and no request is read, so the port can be
plain TCP (HAProxy's agent speaks nothing else).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

__all__ = ["DOWN", "DOWN_AFTER", "DOWN_LEAD", "FULL", "SHED", "SHED_AFTER", "AgentServer", "answer"]

log = logging.getLogger(__name__)

FULL = "up 100%"
SHED = "up 1%"
DOWN = "down"
# etcd answers the API server's readiness probe every quarter second (app.ETCD_PROBE_INTERVAL);
# silence this long is not a slow answer any more.
SHED_AFTER = 1.0
DOWN_AFTER = 3.0
# How long before /readyz fails the agent says "down": three agent checks, time for the load
# balancer to hear it even from a busy server.
DOWN_LEAD = 0.3


def answer(*, etcd_silent_for: float | None, shutting_down: bool) -> str:
    """What this server tells the load balancer's agent check.

    `etcd_silent_for` is the time since etcd last answered, None if it never has
    (starting: /readyz fails until the server is ready, the agent need not).
    "up": a server added at runtime starts with its agent's view down until the
    agent says otherwise; "up" does not override a failing health check, and
    "ready" (never sent) would undo an operator's drain.
    """
    if etcd_silent_for is not None and etcd_silent_for >= DOWN_AFTER:
        return DOWN
    if shutting_down or etcd_silent_for is None or etcd_silent_for >= SHED_AFTER:
        return SHED
    return FULL


class AgentServer:
    """Answers each connection with the current answer and a newline, and closes it."""

    def __init__(self, host: str, port: int, current: Callable[[], str]) -> None:
        self.host, self.port = host, port
        self._current = current
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._answer, self.host, self.port, reuse_address=True)
        log.info("load balancer agent on %s:%d", self.host, self.port)

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # HAProxy sends nothing unless agent-send is set; the line must end in a newline.
        with contextlib.suppress(ConnectionError):
            writer.write(f"{self._current()}\n".encode())
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
