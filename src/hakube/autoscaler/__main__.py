"""`python -m hakube.autoscaler`: the cluster autoscaler process.

Like the controller-manager it runs on every replica and only the holder of
the kube-system/cluster-autoscaler Lease acts. It acts on nodes the way
`hakube nodes add|remove` does — by starting and stopping hollow node hosts
recorded in the cluster directory (`hakube.cluster.nodes`) — so it must run
where that directory is (on a local cluster every replica shares it). Its
reads and its writes to the API (taints, evictions, events, the status
ConfigMap) go through its own kubeconfig, fenced by the election.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import uvloop

from hakube.autoscaler.autoscaler import Autoscaler, Settings
from hakube.autoscaler.disruption import PDBS
from hakube.autoscaler.groups import NodeGroup, load_groups
from hakube.autoscaler.simulator import is_unschedulable
from hakube.autoscaler.status import status_text, write_status
from hakube.client.api import NODES, PODS, ApiClient, ApiError, Credentials, Obj
from hakube.client.events import EventRecorder
from hakube.client.fenced import FencedClient
from hakube.client.informer import Informer
from hakube.cluster.local import ClusterError, LocalCluster
from hakube.cluster.nodes import NodeHosts, add_nodes, remove_nodes
from hakube.component import add_election_flags, run_elected
from hakube.leaderelection import LeaderElector

log = logging.getLogger("hakube.autoscaler")

COMPONENT = "cluster-autoscaler"
_MIN_GAP = 1.0  # seconds between scans woken early by a newly unschedulable pod


class LocalNodes:
    """Node groups of a local cluster: hollow node hosts in its directory."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster

    def groups(self) -> dict[str, NodeGroup]:
        return load_groups(self.cluster.layout.root)

    def members(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for host in NodeHosts(self.cluster.layout).hosts():
            out.setdefault(host.zone, []).extend(host.nodes())
        return out

    async def add(self, zone: str, count: int) -> list[str]:
        try:
            _, names = await add_nodes(self.cluster, count=count, zone=zone)
        except ClusterError as err:
            raise RuntimeError(str(err)) from None
        return names

    async def remove(self, names: list[str]) -> list[str]:
        try:
            return await remove_nodes(self.cluster, names=names)
        except ClusterError as err:
            raise RuntimeError(str(err)) from None


class Stores:
    def __init__(self, nodes: Informer, pods: Informer, pdbs: Informer) -> None:
        self._nodes, self._pods, self._pdbs = nodes, pods, pdbs

    def nodes(self) -> list[Obj]:
        return self._nodes.items()

    def pods(self) -> list[Obj]:
        return self._pods.items()

    def pdbs(self) -> list[Obj]:
        return self._pdbs.items()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hakube-cluster-autoscaler")
    p.add_argument("--kubeconfig", type=Path, required=True)
    p.add_argument("--cluster-dir", type=Path, required=True, help="the local cluster whose hollow nodes it scales")
    p.add_argument("--scan-interval", type=float, default=10.0)
    p.add_argument("--scale-down-unneeded-time", type=float, default=600.0)
    p.add_argument("--scale-down-utilization-threshold", type=float, default=0.5)
    p.add_argument("--scale-down-delay-after-add", type=float, default=600.0)
    p.add_argument("--max-graceful-termination-sec", type=float, default=60.0,
                   help="how long a drain waits for evicted pods to go")
    add_election_flags(p, COMPONENT)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.scan_interval <= 0:
        p.error("--scan-interval must be positive")
    if not 0 <= args.scale_down_utilization_threshold <= 1:
        p.error("--scale-down-utilization-threshold must be between 0 and 1")
    if args.scale_down_unneeded_time < 0 or args.scale_down_delay_after_add < 0:
        p.error("scale-down times must not be negative")
    return args


async def serve(args: argparse.Namespace) -> None:
    settings = Settings(unneeded_time=args.scale_down_unneeded_time,
                        utilization_threshold=args.scale_down_utilization_threshold,
                        delay_after_add=args.scale_down_delay_after_add,
                        drain_timeout=args.max_graceful_termination_sec)
    provider = LocalNodes(LocalCluster(args.cluster_dir))
    wake = asyncio.Event()

    def on_pod(event: str, obj: Obj, old: Obj | None) -> None:
        if event != "DELETED" and is_unschedulable(obj) and not (old is not None and is_unschedulable(old)):
            wake.set()

    creds = Credentials.from_kubeconfig(args.kubeconfig)
    async with ApiClient(creds, user_agent="hakube-cluster-autoscaler") as client:
        nodes, pods, pdbs = Informer(client, NODES), Informer(client, PODS), Informer(client, PDBS)
        pods.add_handler(on_pod)
        informers = (nodes, pods, pdbs)
        try:
            for informer in informers:
                await informer.start()
            await asyncio.gather(*(i.wait_synced(60.0) for i in informers))

            async def lead(elector: LeaderElector | None) -> None:
                fenced = FencedClient(client, elector)
                recorder = EventRecorder(fenced, COMPONENT, host=args.identity_prefix)
                scaler = Autoscaler(client=fenced, recorder=recorder, cluster=Stores(nodes, pods, pdbs),
                                    provider=provider, settings=settings)
                identity = elector.config.identity if elector is not None else args.identity_prefix
                while True:
                    wake.clear()
                    try:
                        said = await scaler.run_once()
                        log.info("%s", said)
                        await write_status(fenced, status_text(
                            groups=provider.groups(), members=provider.members(), nodes=nodes.items(),
                            activity=scaler.activity, identity=identity))
                    except (ApiError, RuntimeError, OSError) as err:
                        log.warning("scan failed: %s", err)
                    await asyncio.sleep(_MIN_GAP)
                    try:
                        await asyncio.wait_for(wake.wait(), max(0.0, args.scan_interval - _MIN_GAP))
                    except TimeoutError:
                        pass

            await run_elected(client, args, lead)
        finally:
            await asyncio.gather(*(i.stop() for i in informers))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
