"""`python -m hakube.supervisor`: run one replica's static pods until SIGTERM.

The supervisor leads its own process group and its components stay in it,
so the group id in the status file names the whole replica (`replica fail
--mode kill|stop` signals it at once). One supervisor per replica directory:
a second one refuses to start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from pathlib import Path

from hakube.supervisor.status import SupervisorLock, write_pidfile
from hakube.supervisor.supervisor import Supervisor, SupervisorConfig

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hakube-supervisor", description="run a replica's static pod manifests")
    p.add_argument("--replica-dir", type=Path, required=True, help="DIR/replicas/<name>")
    p.add_argument("--replica", required=True, help="the replica's name, also its Node's name")
    p.add_argument("--zone", default="", help="topology.kubernetes.io/zone of the Node")
    p.add_argument("--region", default="", help="topology.kubernetes.io/region (default: from the zone)")
    p.add_argument("--kubeconfig", type=Path, help="register the Node and mirror pods through this API")
    p.add_argument("--node-ip", default=None, help="the replica's address: Node InternalIP, default probe host")
    p.add_argument("--node-lease-duration", type=float, default=40.0,
                   help="seconds; the Lease is renewed every quarter of it, as kubelet does")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if not _NAME_RE.match(args.replica):
        p.error(f"--replica {args.replica!r} is not a valid node name")
    if args.node_lease_duration < 1:
        p.error("--node-lease-duration must be at least 1 second")
    return args


async def _serve(config: SupervisorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await Supervisor(config).run(stop)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = SupervisorConfig(replica=args.replica, replica_dir=args.replica_dir.resolve(), zone=args.zone,
                              region=args.region, node_ip=args.node_ip,
                              kubeconfig=args.kubeconfig.resolve() if args.kubeconfig else None,
                              node_lease_duration=args.node_lease_duration)
    if os.getpgrp() != os.getpid():
        os.setpgid(0, 0)
    lock = SupervisorLock(config.run_dir)
    if not lock.acquire():
        sys.exit(f"error: a supervisor for {args.replica} already runs in {config.replica_dir}")
    pidfile = config.run_dir / "supervisor.pid"
    write_pidfile(pidfile)
    try:
        asyncio.run(_serve(config))
    finally:
        pidfile.unlink(missing_ok=True)
        lock.release()


if __name__ == "__main__":
    main()
