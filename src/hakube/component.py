"""Running a leader-elected component process (controller-manager, scheduler, autoscaler).

The flags are client-go's (`--leader-elect`, `--leader-elect-lease-duration`,
…). SIGTERM stops leading and releases the lease, so a standby takes over at
once; without `--leader-elect` the component simply runs.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from hakube.client.api import ApiClient
from hakube.leaderelection import ElectionConfig, LeaderElector, new_identity

Lead = Callable[[LeaderElector | None], Coroutine[Any, Any, None]]


def add_election_flags(p: argparse.ArgumentParser, lease: str) -> None:
    p.add_argument("--leader-elect", choices=("true", "false"), default="true")
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0)
    p.add_argument("--leader-elect-resource-name", default=lease)
    p.add_argument("--leader-elect-resource-namespace", default="kube-system")
    p.add_argument("--identity-prefix", default=socket.gethostname(),
                   help="holder identities are <prefix>_<random> (use the replica name)")


def election_config(args: argparse.Namespace) -> ElectionConfig:
    return ElectionConfig(
        lease_name=args.leader_elect_resource_name, namespace=args.leader_elect_resource_namespace,
        identity=new_identity(args.identity_prefix), lease_duration=args.leader_elect_lease_duration,
        renew_deadline=args.leader_elect_renew_deadline, retry_period=args.leader_elect_retry_period)


async def run_elected(client: ApiClient, args: argparse.Namespace, lead: Lead) -> None:
    """Run `lead(elector)` while leader (or `lead(None)` without election) until SIGTERM/SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.leader_elect == "true":
        elector = LeaderElector(client, election_config(args))
        main = asyncio.create_task(elector.run(lead))
    else:
        main = asyncio.create_task(lead(None))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({main, stopper}, return_when=asyncio.FIRST_COMPLETED)
    main.cancel()  # stops leading and releases the lease on the way out
    await asyncio.gather(main, return_exceptions=True)
    stopper.cancel()
