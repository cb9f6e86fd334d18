"""Health endpoints as a load balancer and a supervisor see them, and /metrics."""

from __future__ import annotations

import signal
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from hakube.testing import ApiServerProcess, LocalStack


def fetch(url: str, ctx: ssl.SSLContext | None = None) -> tuple[int, str]:
    if ctx is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def wait_for(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def own_stack() -> Iterator[LocalStack]:
    s = LocalStack.create()
    try:
        s.start_etcd()
        yield s
    finally:
        s.cleanup()


def test_health_endpoints_are_public_and_verbose(stack: LocalStack) -> None:
    url = stack.apiservers[0].url
    assert fetch(f"{url}/healthz") == (200, "ok")
    assert fetch(f"{url}/livez") == (200, "ok")
    code, body = fetch(f"{url}/readyz?verbose")
    assert code == 200 and "[+]etcd ok" in body and body.strip().endswith("readyz check passed")
    code, body = fetch(f"{url}/readyz?verbose&exclude=etcd&exclude=nope")
    assert "[+]etcd excluded: ok" in body and "no matches for 'nope'" in body
    assert fetch(f"{url}/livez/ping") == (200, "ok")
    # Anything else needs credentials.
    assert fetch(f"{url}/api/v1/namespaces")[0] == 401


def test_readyz_fails_while_etcd_is_down_but_livez_does_not(own_stack: LocalStack) -> None:
    server = own_stack.start_apiserver()
    assert own_stack.etcd_proc is not None
    own_stack.etcd_proc.send_signal(signal.SIGSTOP)  # a hung etcd: the worst case for health checks
    try:
        assert wait_for(lambda: fetch(f"{server.url}/readyz")[0] == 500)
        code, body = fetch(f"{server.url}/readyz?verbose")
        assert code == 500 and "[-]etcd failed: reason withheld" in body
        assert fetch(f"{server.url}/livez")[0] == 200
    finally:
        own_stack.etcd_proc.send_signal(signal.SIGCONT)
    assert wait_for(lambda: fetch(f"{server.url}/readyz")[0] == 200)


def test_readyz_fails_from_the_first_moment_of_shutdown(own_stack: LocalStack) -> None:
    server: ApiServerProcess = own_stack.start_apiserver("--shutdown-delay-duration=3")
    server.proc.send_signal(signal.SIGTERM)
    # Still serving (so in-flight and drained requests finish), but not ready.
    assert wait_for(lambda: fetch(f"{server.url}/readyz")[0] == 500, timeout=2.5)
    code, body = fetch(f"{server.url}/readyz?verbose")
    assert code == 500 and "[-]shutdown failed" in body
    assert fetch(f"{server.url}/version")[0] == 200
    assert server.proc.wait(15) == 0


def test_metrics(stack: LocalStack) -> None:
    url = stack.apiservers[0].url
    ctx = stack.ssl_context()
    fetch(f"{url}/api/v1/namespaces/default/configmaps", ctx)
    code, body = fetch(f"{url}/metrics", ctx)
    assert code == 200
    assert 'apiserver_request_total{code="200",group="",resource="configmaps",subresource="",verb="LIST"}' in body
    assert "apiserver_request_duration_seconds_bucket" in body
    assert 'etcd_request_duration_seconds_count{operation="range"}' in body
    assert "apiserver_registered_watchers" in body
