"""An API client whose every write first checks the leader-election fence.

Leader-only loops (controllers, scheduler, autoscaler) write through this, so
a leader that was paused past its renew deadline cannot write once resumed,
whatever code path it was in (see `hakube.leaderelection`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hakube.client.api import ApiClient, Obj
from hakube.leaderelection import LeaderElector


class FencedClient(ApiClient):
    def __init__(self, inner: ApiClient, elector: LeaderElector | None) -> None:
        super().__init__(inner.creds)
        self._inner = inner
        self.elector = elector

    async def open(self) -> None:  # shares the inner client's connection pool
        return None

    async def close(self) -> None:
        return None

    async def request(self, method: str, path: str, *, body: Any = None, params: Mapping[str, str] | None = None,
                      content_type: str = "application/json", timeout: float | None = None) -> Obj:
        if method != "GET" and self.elector is not None:
            self.elector.ensure_leader()
        return await self._inner.request(method, path, body=body, params=params, content_type=content_type,
                                         timeout=timeout)

    @property
    def session(self) -> Any:
        return self._inner.session
