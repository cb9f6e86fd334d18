"""After etcd history is compacted, API servers keep their watch caches going and new ones become ready.

The compactor's bookkeeping key lies inside the watched prefix and is not an
object. Before, the first compaction stopped every running watch cache and kept
every API server started later unready: the 30-minute chaos run found it (a
replica restarted after the first compaction never came back).
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from typing import Any

from hakube.testing import ApiServerProcess, LocalStack


def call(stack: LocalStack, server: ApiServerProcess, method: str, path: str,
         body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"{server.url}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {stack.token}"})
    ctx: ssl.SSLContext = stack.ssl_context()
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return int(resp.status), json.load(resp)
    except urllib.error.HTTPError as err:
        return int(err.code), json.load(err)


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def test_compaction_neither_stops_a_cache_nor_keeps_a_new_server_unready() -> None:
    with LocalStack.running("--etcd-compaction-interval=0.5") as stack:
        first = stack.apiservers[0]
        cms = "/api/v1/namespaces/default/configmaps"
        assert call(stack, first, "POST", cms, configmap("before"))[0] == 201
        deadline = time.monotonic() + 20
        while "compacted etcd history" not in first.log.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        # Two rounds at least: the second one compacts (bootstrap.Compactor).
        time.sleep(1.2)

        # The running server's cache still follows etcd: a write is served back at once from it.
        status, created = call(stack, first, "POST", cms, configmap("after"))
        assert status == 201, created
        started = time.monotonic()
        status, got = call(stack, first, "GET", f"{cms}/after")
        assert status == 200 and got["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
        assert time.monotonic() - started < 2.0, "a consistent read waited out the cache"

        # A server started now lists everything, the compactor's key included, and becomes ready.
        second = stack.start_apiserver("--etcd-compaction-interval=0")
        stack.wait_ready(second, timeout=30)
        status, listed = call(stack, second, "GET", cms)
        assert status == 200 and {"before", "after"} <= {i["metadata"]["name"] for i in listed["items"]}
        for server in (first, second):
            assert "unexpected failure" not in server.log.read_text()
