"""The cluster autoscaler on a `hakube up` cluster: real processes, hollow nodes in two zones.

Groups as-a and as-b (min 1, max 3) start with one node each; a deployment of
pods that each need most of a node does not fit, so the autoscaler (the static
pod every replica runs) adds nodes, balanced across the zones and never past
max; deleting the deployment lets the groups shrink back to min.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HAKUBE = [sys.executable, "-m", "hakube.cli"]


def hakube(*args: str, cluster_dir: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*HAKUBE, *args, "--cluster-dir", str(cluster_dir)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "COLUMNS": "200"})
    if check and proc.returncode != 0:
        raise AssertionError(f"hakube {' '.join(args)} failed: {proc.stderr}")
    return proc


def kubectl_json(cluster_dir: Path, path: str) -> Any:
    """GET an API path with the cluster's admin credentials."""
    code = ("import asyncio,json,pathlib,sys\n"
            "from hakube.client.api import ApiClient, Credentials\n"
            "async def main():\n"
            "    async with ApiClient(Credentials.from_kubeconfig(pathlib.Path(sys.argv[1]))) as c:\n"
            "        print(json.dumps(await c.request('GET', sys.argv[2])))\n"
            "asyncio.run(main())\n")
    out = subprocess.run([sys.executable, "-c", code, str(cluster_dir / "kubeconfig"), path], capture_output=True,
                         text=True, timeout=30, check=True)
    return json.loads(out.stdout)


def api_write(cluster_dir: Path, method: str, path: str, body: Any = None) -> None:
    code = ("import asyncio,json,pathlib,sys\n"
            "from hakube.client.api import ApiClient, Credentials\n"
            "async def main():\n"
            "    async with ApiClient(Credentials.from_kubeconfig(pathlib.Path(sys.argv[1]))) as c:\n"
            "        await c.request(sys.argv[2], sys.argv[3], body=json.loads(sys.argv[4]))\n"
            "asyncio.run(main())\n")
    out = subprocess.run([sys.executable, "-c", code, str(cluster_dir / "kubeconfig"), method, path,
                          json.dumps(body)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr[-2000:]


def wait_for(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(1.0)
    raise AssertionError(f"timed out waiting for {what} (last: {last})")


def zone_sizes(cluster_dir: Path) -> dict[str, int]:
    nodes = kubectl_json(cluster_dir, "/api/v1/nodes?labelSelector=node.kubernetes.io/instance-type%3Dhollow")
    sizes: dict[str, int] = {}
    for n in nodes["items"]:
        zone = n["metadata"]["labels"].get("topology.kubernetes.io/zone", "")
        sizes[zone] = sizes.get(zone, 0) + 1
    return sizes


def deployment(name: str, replicas: int, cpu: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "pause",
                                                           "resources": {"requests": {"cpu": cpu}}}]}}}}


@pytest.fixture(scope="module")
def cluster_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("autoscaled")
    try:
        hakube("up", cluster_dir=d)
        hakube("nodes", "add", "--count", "1", "--zone", "as-a", cluster_dir=d)
        hakube("nodes", "add", "--count", "1", "--zone", "as-b", cluster_dir=d)
        for zone in ("as-a", "as-b"):
            hakube("nodes", "autoscale", "--zone", zone, "--min", "1", "--max", "3",
                   "--scale-down-unneeded-time", "3", "--scale-down-delay-after-add", "0", cluster_dir=d)
        yield d
    finally:
        hakube("down", cluster_dir=d, check=False)


def test_min_greater_than_max_is_refused(cluster_dir: Path) -> None:
    bad = hakube("nodes", "autoscale", "--zone", "as-a", "--min", "4", "--max", "2", cluster_dir=cluster_dir,
                 check=False)
    assert bad.returncode != 0
    assert "--min 4 is greater than --max 2" in bad.stderr + bad.stdout


def test_scale_up_balanced_to_max_then_down_to_min(cluster_dir: Path) -> None:
    # 7 pods of 3 CPU: one per 4-CPU node; 2 nodes now, 6 at most: 6 run, 1 stays pending.
    api_write(cluster_dir, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment("big", 7, "3"))

    def running() -> int:
        pods = kubectl_json(cluster_dir, "/api/v1/namespaces/default/pods?labelSelector=app%3Dbig")
        return sum(1 for p in pods["items"] if p.get("status", {}).get("phase") == "Running")

    wait_for("6 big pods running", lambda: running() >= 6, 90)
    assert zone_sizes(cluster_dir) == {"as-a": 3, "as-b": 3}
    time.sleep(3)
    assert running() == 6 and zone_sizes(cluster_dir) == {"as-a": 3, "as-b": 3}  # max respected

    def reasons() -> set[str]:
        events = kubectl_json(cluster_dir, "/api/v1/namespaces/default/events")["items"]
        return {e["reason"] for e in events if e.get("source", {}).get("component") == "cluster-autoscaler"}

    # The seventh pod: every group is at max (reported at the next scan, at most --scan-interval later).
    wait_for("NotTriggerScaleUp", lambda: "NotTriggerScaleUp" in reasons(), 25)
    assert "TriggeredScaleUp" in reasons()
    status = kubectl_json(cluster_dir, "/api/v1/namespaces/kube-system/configmaps/cluster-autoscaler-status")
    text = status["data"]["status"]
    assert "name: hollow-as-a" in text and "name: hollow-as-b" in text
    assert "maxSize: 3" in text and "lastScaleUpTime: never" not in text

    api_write(cluster_dir, "DELETE", "/apis/apps/v1/namespaces/default/deployments/big",
              {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})
    wait_for("groups back at min", lambda: zone_sizes(cluster_dir) == {"as-a": 1, "as-b": 1}, 120)
    time.sleep(4)
    assert zone_sizes(cluster_dir) == {"as-a": 1, "as-b": 1}  # never below min
    node_events = kubectl_json(cluster_dir, "/api/v1/namespaces/default/events")["items"]
    assert any(e["reason"] == "ScaleDown" and e["involvedObject"]["kind"] == "Node" for e in node_events)
