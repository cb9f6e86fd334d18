"""Three add-on managers (real processes) over one folder: Reconcile, EnsureExists, pruning, no flapping."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hakube.testing import LocalStack

RECONCILED = """apiVersion: v1
kind: ConfigMap
metadata:
  name: addon-reconciled
  namespace: default
  labels: {addonmanager.kubernetes.io/mode: Reconcile}
data: {colour: blue}
"""
ENSURED = """apiVersion: v1
kind: ConfigMap
metadata:
  name: addon-ensured
  namespace: default
  labels: {addonmanager.kubernetes.io/mode: EnsureExists}
data: {colour: blue}
"""
REJECTED = """apiVersion: v1
kind: ConfigMap
metadata:
  name: Not_A_Valid_Name
  namespace: default
  labels: {addonmanager.kubernetes.io/mode: Reconcile}
"""


@pytest.fixture(scope="module")
def stack_with_managers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, Path, list[Any]]]:
    s = LocalStack.create()
    folder = tmp_path_factory.mktemp("addons")
    (folder / "reconciled.yaml").write_text(RECONCILED)
    (folder / "ensured.yaml").write_text(ENSURED)
    (folder / "broken.yaml").write_text("kind: [unclosed\n")
    (folder / "rejected.yaml").write_text(REJECTED)
    procs: list[Any] = []
    try:
        s.start_etcd()
        s.start_apiserver("--etcd-compaction-interval=0")
        for i in range(3):
            log = open(s.root / f"addons-{i}.log", "wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "hakube.addons", f"--kubeconfig={s.kubeconfig(0)}",
                 f"--addons-dir={folder}", "--interval=0.3", f"--identity-prefix=m{i}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}))
        yield s, folder, procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        s.cleanup()


async def call(s: LocalStack, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    connector = aiohttp.TCPConnector(ssl=s.ssl_context())
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
        async with session.request(method, s.apiservers[0].url + path,
                                   data=None if body is None else json.dumps(body),
                                   headers={"Content-Type": "application/json"}) as resp:
            return resp.status, json.loads(await resp.text())


async def get_cm(s: LocalStack, name: str) -> Any:
    code, body = await call(s, "GET", f"/api/v1/namespaces/default/configmaps/{name}")
    return body if code == 200 else None


async def until(predicate: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / 0.2) + 1):
        if await predicate():
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    raise AssertionError(f"not reached in {timeout}s")


async def test_three_managers_agree(stack_with_managers: tuple[LocalStack, Path, list[Any]]) -> None:
    s, folder, procs = stack_with_managers

    async def both() -> bool:
        return bool(await get_cm(s, "addon-reconciled") and await get_cm(s, "addon-ensured"))
    await until(both, 20)

    # No flapping: ~3 managers x 20 passes later, nothing was written again.
    rv = {n: (await get_cm(s, n))["metadata"]["resourceVersion"] for n in ("addon-reconciled", "addon-ensured")}
    await asyncio.sleep(6)
    for n, v in rv.items():
        assert (await get_cm(s, n))["metadata"]["resourceVersion"] == v, f"{n} was rewritten"

    # Hand edits: Reconcile is restored, EnsureExists keeps the edit.
    for n in rv:
        cm = await get_cm(s, n)
        cm["data"]["colour"] = "red"
        code, body = await call(s, "PUT", f"/api/v1/namespaces/default/configmaps/{n}", cm)
        assert code == 200, body

    async def restored() -> bool:
        return bool((await get_cm(s, "addon-reconciled"))["data"]["colour"] == "blue")
    await until(restored, 10)
    await asyncio.sleep(1)
    assert (await get_cm(s, "addon-ensured"))["data"]["colour"] == "red"

    # Removed from the folder: pruned (the EnsureExists one would stay).
    (folder / "reconciled.yaml").unlink()

    async def pruned() -> bool:
        return await get_cm(s, "addon-reconciled") is None
    await until(pruned, 10)
    assert await get_cm(s, "addon-ensured") is not None

    # Bad input was reported and did not stop the others.
    logs = [(s.root / f"addons-{i}.log").read_text() for i in range(3)]
    assert all("broken.yaml: not valid YAML" in text for text in logs)
    assert all("rejected.yaml" in text for text in logs)
    code, events = await call(s, "GET", "/api/v1/namespaces/kube-system/events")
    assert any(e["reason"] == "AddonFailed" for e in events["items"])
    assert all(p.poll() is None for p in procs)
