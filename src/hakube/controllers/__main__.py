"""`python -m hakube.controllers`: the controller-manager process.

With `--leader-elect` (the default) every replica runs one and only the holder
of the kube-system/kube-controller-manager Lease runs controllers; the others
wait to take over (seed 004, "Implementation notes").
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

import uvloop

from hakube.client.api import ApiClient, Credentials
from hakube.client.events import EventRecorder
from hakube.client.fenced import FencedClient
from hakube.component import add_election_flags, run_elected
from hakube.controllers.base import ControllerContext, ControllerSettings, InformerFactory
from hakube.controllers.registry import CONTROLLERS
from hakube.leaderelection import LeaderElector

log = logging.getLogger("controller-manager")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hakube-controller-manager")
    p.add_argument("--kubeconfig", type=Path, required=True)
    p.add_argument("--controllers", default="*", help="comma-separated names, or * for all")
    p.add_argument("--node-monitor-grace-period", type=float, default=40.0)
    p.add_argument("--pod-eviction-timeout", type=float, default=300.0)
    p.add_argument("--external-ip", default="", help="the cluster's external IP (default/kubernetes)")
    p.add_argument("--concurrent-syncs", type=int, default=4)
    add_election_flags(p, "kube-controller-manager")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    names = sorted(CONTROLLERS) if args.controllers == "*" else args.controllers.split(",")
    unknown = [n for n in names if n not in CONTROLLERS]
    if unknown:
        raise SystemExit(f"unknown controllers: {', '.join(unknown)} (known: {', '.join(sorted(CONTROLLERS))})")
    settings = ControllerSettings(node_monitor_grace_period=args.node_monitor_grace_period,
                                  pod_eviction_timeout=args.pod_eviction_timeout, external_ip=args.external_ip,
                                  workers=args.concurrent_syncs)
    async with ApiClient(Credentials.from_kubeconfig(args.kubeconfig),
                         user_agent="hakube-controller-manager") as client:

        async def lead(elector: LeaderElector | None) -> None:
            fenced = FencedClient(client, elector)
            informers = InformerFactory(fenced)
            ctx = ControllerContext(fenced, informers, EventRecorder(fenced, "controller-manager",
                                                                      host=args.identity_prefix), settings)
            controllers = [CONTROLLERS[n]() for n in names]
            for c in controllers:
                c.setup(ctx)
            await informers.start()
            try:
                await informers.wait_synced()
                log.info("informers synced; running controllers: %s", ", ".join(names))
                await asyncio.gather(*(c.run(ctx) for c in controllers))
                await asyncio.Event().wait()  # controllers run until cancelled; so does leading
            finally:
                await informers.stop()

        await run_elected(client, args, lead)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
