"""The ``network-proxy`` static pod of one replica: its etcd peer and API-server→etcd links, under fault rules.

    python -m hakube.chaos.netproxyd --address 127.0.1.11 --peer 2380:2381 --etcd-client 2382:2379 \\
        --cert etcd.crt --key etcd.key --ca etcd-ca.crt --rules DIR/network/faults.json --status run/netproxy.json

``--peer LISTEN:UPSTREAM``: other members dial LISTEN (the member's advertised
peer URL); the proxy dials its member on UPSTREAM. ``--etcd-client`` is the
local API server's link to its member, passed through without TLS termination
(one source: this replica). The rules file is polled every 100 ms; the status
file says which generation is in force, so a command that changes the rules
can wait until every proxy follows them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from hakube.chaos import netrules
from hakube.chaos.netproxy import LinkProxy, Switchboard

POLL_SECONDS = 0.1
POLLS = 1 << 40  # bounds the loop: ~3,000 years of polling

log = logging.getLogger("hakube.netproxyd")


def ports(text: str) -> tuple[int, int]:
    listen, sep, upstream = text.partition(":")
    if not sep or not listen.isdigit() or not upstream.isdigit():
        raise argparse.ArgumentTypeError(f"expected LISTEN:UPSTREAM ports, got {text!r}")
    return int(listen), int(upstream)


def contexts(cert: Path, key: Path, ca: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Server side: the member's certificate, client certificates required. Client side: the same identity."""
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
    server.verify_mode = ssl.CERT_REQUIRED
    server.load_cert_chain(cert, key)
    client = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    client.load_cert_chain(cert, key)
    return server, client


def write_status(path: Path, rules: netrules.Rules) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "generation": rules.generation, "rules": len(rules.rules)}))
    os.replace(tmp, path)


def _stamp(path: Path) -> tuple[int, int] | None:
    """When and how big the rules file is (a stat of a local file: microseconds, fine on the loop)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


async def follow(board: Switchboard, rules_file: Path, status_file: Path, stop: asyncio.Event) -> None:
    seen: tuple[int, int] | None = None
    for i in range(POLLS):
        stamp = _stamp(rules_file)
        if stamp != seen or i == 0:
            seen = stamp
            try:
                rules = netrules.load(rules_file)
            except (ValueError, KeyError, TypeError) as err:
                log.warning("ignoring unreadable rules in %s (keeping the ones in force): %s", rules_file, err)
            else:
                board.update(rules)
                write_status(status_file, rules)
                log.info("rules generation %d in force: %s", rules.generation,
                         "; ".join(f"{r.link} {r.source}→{r.target} {r.fault.describe()}" for r in rules.rules)
                         or "every link passes")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)
        if stop.is_set():
            return


async def serve(args: argparse.Namespace) -> None:
    board = Switchboard()
    server_ssl, client_ssl = contexts(args.cert, args.key, args.ca)
    address = args.address
    proxies = [LinkProxy(board=board, link="peer", listen=(address, args.peer[0]), upstream=(address, args.peer[1]),
                         target=address, server_ssl=server_ssl, client_ssl=client_ssl)]
    if args.etcd_client:
        proxies.append(LinkProxy(board=board, link="etcd-client", listen=(address, args.etcd_client[0]),
                                 upstream=(address, args.etcd_client[1]), target=address, source=address))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Rules before listeners: a link must not pass for an instant while a cut is in force.
    board.update(netrules.load(args.rules))
    follower = asyncio.create_task(follow(board, args.rules, args.status, stop))
    for p in proxies:
        await p.start()
    log.info("proxying %s", ", ".join(f"{p.link} {p.listen[0]}:{p.listen[1]}→{p.upstream[1]}" for p in proxies))
    await follower
    for p in proxies:
        await p.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="hakube.chaos.netproxyd", description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--address", required=True)
    p.add_argument("--peer", type=ports, required=True, help="LISTEN:UPSTREAM")
    p.add_argument("--etcd-client", type=ports, help="LISTEN:UPSTREAM")
    p.add_argument("--cert", type=Path, required=True)
    p.add_argument("--key", type=Path, required=True)
    p.add_argument("--ca", type=Path, required=True)
    p.add_argument("--rules", type=Path, required=True)
    p.add_argument("--status", type=Path, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(serve(args))
    except (OSError, ssl.SSLError, ValueError) as err:
        print(f"network-proxy: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
