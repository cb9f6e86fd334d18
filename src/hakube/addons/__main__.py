"""`python -m hakube.addons --kubeconfig K --addons-dir DIR`: one add-on manager, until SIGTERM.

No leader election: every replica runs one and they agree (see hakube.addons.manager).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from pathlib import Path

from hakube.addons.manager import AddonManager
from hakube.client.api import ApiClient, ApiError, Credentials
from hakube.client.events import EventRecorder

log = logging.getLogger("hakube.addons")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hakube-addons", description="hakube add-on manager")
    p.add_argument("--kubeconfig", type=Path, required=True)
    p.add_argument("--addons-dir", type=Path, required=True)
    p.add_argument("--interval", type=float, default=10.0, help="seconds between passes over the folder")
    p.add_argument("--identity-prefix", default=socket.gethostname(), help="shown in events (the replica name)")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with ApiClient(Credentials.from_kubeconfig(args.kubeconfig), user_agent="hakube-addon-manager",
                         timeout=15.0) as client:
        manager = AddonManager(client, args.addons_dir,
                               events=EventRecorder(client, "addon-manager", host=args.identity_prefix))
        while not stop.is_set():
            try:
                said = await manager.round()
            except (ApiError, OSError) as err:
                log.warning("add-on pass failed: %s", err)
            else:
                if said:
                    log.info("%s (writes so far: %d)", said, manager.writes)
            try:
                await asyncio.wait_for(stop.wait(), args.interval)
            except TimeoutError:
                pass


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
