"""`python -m hakube.nodes`: one process hosting many hollow nodes.

`--nodes a,b,c` fixes the set; `--nodes-file F` (one name per line) can be
changed and the process told with SIGHUP: it starts the new names, stops
serving the missing ones, and then writes the names it serves to `F.active`,
so whoever removes a node knows when it may delete the Node object without
the host writing it back. SIGTERM stops every node; Node objects stay, as
they do when a machine shuts down.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import uvloop

from hakube.nodes.host import HollowHost, HostSettings
from hakube.nodes.kubelet import KubeletSettings
from hakube.nodes.objects import NodeShape, region_of

log = logging.getLogger("hollow-host")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hakube-hollow-nodes")
    p.add_argument("--server", required=True, help="the API server URL (the cluster's external address)")
    p.add_argument("--ca-file", type=Path, required=True, help="CA bundle that signed the API server")
    p.add_argument("--cert-dir", type=Path, required=True, help="holds <node>.crt and <node>.key per node")
    names = p.add_mutually_exclusive_group(required=True)
    names.add_argument("--nodes", default="", help="comma-separated node names")
    names.add_argument("--nodes-file", type=Path, help="node names, one a line; re-read on SIGHUP")
    p.add_argument("--zone", default="", help="topology.kubernetes.io/zone of every node")
    p.add_argument("--region", default="", help="topology.kubernetes.io/region (default: from the zone)")
    p.add_argument("--cpu", default="4")
    p.add_argument("--memory", default="16Gi")
    p.add_argument("--pods", type=int, default=110)
    p.add_argument("--pod-cidr-base", default="10.244", help="first two octets; node n gets BASE+n/256 . n%%256 /24")
    p.add_argument("--node-lease-duration-seconds", type=int, default=40,
                   help="Lease duration; the Lease is renewed every quarter of it")
    p.add_argument("--node-status-report-frequency", type=float, default=60.0)
    p.add_argument("--max-grace-period", type=float, default=2.0,
                   help="cap on the wait before a deleted pod is removed (hollow containers stop at once)")
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.node_lease_duration_seconds < 1:
        p.error("--node-lease-duration-seconds must be at least 1")
    return args


def read_names(args: argparse.Namespace) -> list[str]:
    if args.nodes_file is not None:
        text = args.nodes_file.read_text()
        return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [n.strip() for n in args.nodes.split(",") if n.strip()]


def write_active(args: argparse.Namespace, names: list[str]) -> None:
    if args.nodes_file is None:
        return
    path = args.nodes_file.with_name(args.nodes_file.name + ".active")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{n}\n" for n in names))
    tmp.replace(path)


async def serve(args: argparse.Namespace) -> None:
    shape = NodeShape(zone=args.zone, region=args.region or (region_of(args.zone) if args.zone else ""),
                      cpu=args.cpu, memory=args.memory, pods=args.pods)
    settings = HostSettings(
        server=args.server, ca_pem=args.ca_file.read_bytes(), cert_dir=args.cert_dir,
        kubelet=KubeletSettings(shape=shape, pod_cidr_base=args.pod_cidr_base,
                                lease_duration=args.node_lease_duration_seconds,
                                status_report_frequency=args.node_status_report_frequency),
        max_grace_period=args.max_grace_period, workers=args.workers)
    stop, reload = asyncio.Event(), asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, reload.set)
    async with HollowHost(settings) as host:
        active = await host.start(read_names(args))
        write_active(args, active)
        log.info("serving %d hollow nodes", len(active))
        while not stop.is_set():
            waiters = {asyncio.create_task(stop.wait()), asyncio.create_task(reload.wait())}
            _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            if reload.is_set() and not stop.is_set():
                reload.clear()
                try:
                    names = read_names(args)
                except OSError as err:
                    log.error("cannot re-read the node list: %s", err)
                    continue
                active = await host.set_nodes(names)
                write_active(args, active)
                log.info("reloaded: serving %d hollow nodes", len(active))
        log.info("stopping %d hollow nodes", len(host.nodes))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
