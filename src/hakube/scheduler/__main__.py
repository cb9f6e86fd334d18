"""`python -m hakube.scheduler`: the scheduler process.

With `--leader-elect` (the default) every replica runs one and only the holder
of the kube-system/kube-scheduler Lease binds pods; the others keep their
informers and cache warm so they can take over at once (as kube-scheduler
starts its informers before it campaigns: k/k `cmd/kube-scheduler/app/server.go`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import uvloop

from hakube.client.api import NAMESPACES, NODES, PODS, ApiClient, Credentials
from hakube.client.events import EventRecorder
from hakube.client.fenced import FencedClient
from hakube.client.informer import Informer
from hakube.component import add_election_flags, run_elected
from hakube.leaderelection import LeaderElector
from hakube.scheduler.scheduler import DEFAULT_SCHEDULER_NAME, Scheduler, SchedulerSettings

log = logging.getLogger("hakube.scheduler")

# The scheduler never looks at finished pods (k/k pkg/scheduler/scheduler.go NewInformerFactory).
_NOT_TERMINAL = "status.phase!=Succeeded,status.phase!=Failed"


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hakube-scheduler")
    p.add_argument("--kubeconfig", type=Path, required=True)
    p.add_argument("--scheduler-name", default=DEFAULT_SCHEDULER_NAME)
    p.add_argument("--parallel-bindings", type=int, default=16, help="bindings in flight at once")
    p.add_argument("--percentage-of-nodes-to-score", type=int, default=0, help="0: adaptive, as upstream")
    p.add_argument("--pod-initial-backoff-seconds", type=float, default=1.0)
    p.add_argument("--pod-max-backoff-seconds", type=float, default=10.0)
    p.add_argument("--pod-max-in-unschedulable-pods-duration", type=float, default=300.0)
    add_election_flags(p, "kube-scheduler")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.parallel_bindings < 1:
        p.error("--parallel-bindings must be at least 1")
    if not 0 <= args.percentage_of_nodes_to_score <= 100:
        p.error("--percentage-of-nodes-to-score must be between 0 and 100")
    if not 0 < args.pod_initial_backoff_seconds <= args.pod_max_backoff_seconds:
        p.error("need 0 < --pod-initial-backoff-seconds <= --pod-max-backoff-seconds")
    return args


async def serve(args: argparse.Namespace) -> None:
    settings = SchedulerSettings(
        scheduler_name=args.scheduler_name, parallel_bindings=args.parallel_bindings,
        percentage_of_nodes_to_score=args.percentage_of_nodes_to_score,
        initial_backoff=args.pod_initial_backoff_seconds, max_backoff=args.pod_max_backoff_seconds,
        max_unschedulable=args.pod_max_in_unschedulable_pods_duration)
    async with ApiClient(Credentials.from_kubeconfig(args.kubeconfig), user_agent="hakube-scheduler") as client:
        scheduler = Scheduler(settings)
        pods = Informer(client, PODS, field_selector=_NOT_TERMINAL)
        nodes = Informer(client, NODES)
        namespaces = Informer(client, NAMESPACES)
        pods.add_handler(scheduler.on_pod)
        nodes.add_handler(scheduler.on_node)
        namespaces.add_handler(scheduler.on_namespace)
        scheduler.lookup_pod = pods.get
        informers = (namespaces, nodes, pods)
        try:
            for informer in informers:
                await informer.start()
            await asyncio.gather(*(i.wait_synced(60.0) for i in informers))
            log.info("caches synced: %d nodes, %d pods bound, %d pending",
                     scheduler.cache.num_nodes(), scheduler.cache.pod_count(), sum(scheduler.queue.counts().values()))

            async def lead(elector: LeaderElector | None) -> None:
                fenced = FencedClient(client, elector)
                recorder = EventRecorder(fenced, settings.scheduler_name, host=args.identity_prefix)
                await scheduler.run(fenced, recorder)

            await run_elected(client, args, lead)
        finally:
            scheduler.queue.close()
            await asyncio.gather(*(i.stop() for i in informers))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
