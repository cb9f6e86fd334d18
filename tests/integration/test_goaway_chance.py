"""--goaway-chance on a real API server: some keep-alive responses say `Connection: close`, watches never."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest

from hakube.testing import LocalStack

REQUESTS = 1000


@pytest.fixture
def stack_with_goaway() -> Iterator[LocalStack]:
    with LocalStack.running("--goaway-chance=0.02") as s:
        yield s


def test_a_few_requests_are_asked_to_reconnect(stack_with_goaway: LocalStack) -> None:
    server = stack_with_goaway.apiservers[0]
    ctx = stack_with_goaway.ssl_context()
    conn = http.client.HTTPSConnection(server.ip, server.port, context=ctx, timeout=10)
    closes = 0
    for _ in range(REQUESTS):
        conn.request("GET", "/api/v1/namespaces/default/configmaps")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        if resp.getheader("Connection", "").lower() == "close":
            closes += 1
            conn.close()  # the server closes too; the next request opens a new connection
    conn.close()
    # Binomial(1000, 0.02): mean 20, standard deviation 4.4; outside [3, 50] is below 1e-6.
    assert 3 <= closes <= 50, closes

    # A watch is long-running: it is never the one asked to go away.
    for _ in range(100):
        conn = http.client.HTTPSConnection(server.ip, server.port, context=ctx, timeout=10)
        conn.request("GET", "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Connection", "").lower() != "close"
        conn.close()
