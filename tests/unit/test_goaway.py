"""--goaway-chance: which requests may be asked to reconnect, and how often."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from hakube.apiserver.goaway import MAX_CHANCE, Goaway, long_running


@pytest.mark.parametrize(("path", "expected"), [
    ("/api/v1/namespaces/default/configmaps", False),
    ("/api/v1/namespaces/default/configmaps?watch=true", True),
    ("/apis/apps/v1/deployments?watch=1&resourceVersion=5", True),
    ("/api/v1/watch/namespaces/default/pods", True),
    ("/apis/apps/v1/watch/deployments", True),
    ("/api/v1/namespaces/default/pods/web/exec", True),
    ("/api/v1/namespaces/default/configmaps/exec", False),  # a ConfigMap named "exec", not the subresource
    ("/api/v1/namespaces/default/pods/web/log?follow=true", True),
    ("/api/v1/namespaces/default/pods/web/log", False),
    ("/api/v1/namespaces/watch/configmaps/x", False),  # a namespace named "watch"
    ("/readyz", False),
])
def test_long_running(path: str, expected: bool) -> None:
    assert long_running(make_mocked_request("GET", path)) is expected


async def prepared(goaway: Goaway, path: str) -> web.StreamResponse:
    app = web.Application()
    goaway.install(app)
    response = web.Response(text="ok")
    for hook in app.on_response_prepare:
        await hook(make_mocked_request("GET", path, app=app), response)
    return response


async def test_a_drawn_request_is_asked_to_reconnect_unless_long_running() -> None:
    always = Goaway(MAX_CHANCE, draw=lambda: 0.0)
    assert (await prepared(always, "/api/v1/pods")).headers.get("Connection") == "close"
    assert "Connection" not in (await prepared(always, "/api/v1/pods?watch=true")).headers
    never = Goaway(MAX_CHANCE, draw=lambda: MAX_CHANCE)  # the draw must fall below the chance
    assert "Connection" not in (await prepared(never, "/api/v1/pods")).headers


def test_zero_installs_nothing_and_out_of_range_is_refused() -> None:
    app = web.Application()
    Goaway(0.0).install(app)
    assert len(app.on_response_prepare) == 0
    for bad in (-0.1, 0.021, 1.0):
        with pytest.raises(ValueError, match=r"between 0 and 0\.02"):
            Goaway(bad)
