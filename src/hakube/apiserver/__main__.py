"""`python -m hakube.apiserver`: run one API server process (flags as kube-apiserver names them)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import ssl
import sys
from pathlib import Path

import uvloop
from aiohttp import web

from hakube.apiserver.app import ApiServer, ServerConfig
from hakube.apiserver.goaway import MAX_CHANCE, Goaway
from hakube.apiserver.identity import FEATURE_GATE as IDENTITY_GATE
from hakube.apiserver.identity import IdentitySettings
from hakube.apiserver.lbagent import AgentServer
from hakube.apiserver.listeners import ExtraListeners
from hakube.store.storage import TLSFiles


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="hakube-apiserver", description="hakube API server")
    p.add_argument("--etcd-servers", required=True, help="the local etcd member, host:port or https://host:port")
    p.add_argument("--etcd-cafile", type=Path)
    p.add_argument("--etcd-certfile", type=Path)
    p.add_argument("--etcd-keyfile", type=Path)
    p.add_argument("--bind-address", default="127.0.0.1")
    p.add_argument("--secure-port", type=int, default=6443)
    p.add_argument("--advertise-address", default="", help="address announced in discovery")
    p.add_argument("--tls-cert-file", type=Path, required=True)
    p.add_argument("--tls-private-key-file", type=Path, required=True)
    p.add_argument("--client-ca-file", type=Path, required=True)
    p.add_argument("--token-auth-file", type=Path)
    p.add_argument("--service-account-signing-key-file", type=Path,
                   help="PEM private key (RSA or P-256) that signs TokenRequest tokens")
    p.add_argument("--service-account-key-file", type=Path, action="append", default=[],
                   help="PEM file of keys that verify service account tokens (repeatable)")
    p.add_argument("--service-account-issuer", default="https://kubernetes.default.svc.cluster.local")
    p.add_argument("--api-audiences", default="", help="comma-separated; default: the issuer")
    p.add_argument("--quorum-reads", choices=("true", "false"), default="true",
                   help="linearizable etcd reads (true) or serializable reads of the local member (false)")
    p.add_argument("--etcd-compaction-interval", type=float, default=300.0, help="seconds; 0 disables")
    p.add_argument("--watch-cache-history", type=int, default=20_000, help="events kept for watch resumption")
    p.add_argument("--shutdown-delay-duration", type=float, default=0.0,
                   help="seconds to keep serving with /readyz failing after SIGTERM (load balancer drain)")
    p.add_argument("--goaway-chance", type=goaway_chance, default=0.0,
                   help="probability (0 to 0.02) that a request gets Connection: close, so clients behind a "
                        "load balancer spread out again; 0 disables")
    p.add_argument("--lb-agent-port", type=port_number, default=0,
                   help="answer the load balancer's agent check on this port of --bind-address (0: off)")
    p.add_argument("--listeners-file", type=Path,
                   help="hakube: extra addresses to serve (the external IP), re-read on SIGHUP; "
                        "see hakube.apiserver.listeners_file")
    p.add_argument("--feature-gates", default="", help="NAME=true|false,… (known: APIServerIdentity)")
    p.add_argument("--identity-lease-renew-interval-seconds", type=float, default=10.0,
                   help="how often this server renews its identity lease (APIServerIdentity)")
    p.add_argument("--identity-lease-duration-seconds", type=int, default=3600,
                   help="identity leases not renewed for this long are deleted; also the GC period")
    p.add_argument("-v", "--verbose", action="store_true")
    return p.parse_args(argv)


KNOWN_GATES = frozenset({IDENTITY_GATE})


def goaway_chance(text: str) -> float:
    try:
        chance = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= chance <= MAX_CHANCE:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_CHANCE}, got {text}")
    return chance


def port_number(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port < 65536:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {text}")
    return port


def parse_feature_gates(text: str) -> tuple[tuple[str, bool], ...]:
    """`A=true,B=false` as pairs; a malformed entry is an error, an unknown gate a warning
    (the cluster passes one gate list to every component)."""
    gates: dict[str, bool] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = item.partition("=")
        if not name or not sep or value.lower() not in ("true", "false"):
            raise SystemExit(f"invalid --feature-gates entry {item!r}: expected NAME=true or NAME=false")
        if name not in KNOWN_GATES:
            logging.warning("unrecognized feature gate %s: ignored", name)
        gates[name] = value.lower() == "true"
    return tuple(sorted(gates.items()))


def _etcd_tls(args: argparse.Namespace) -> TLSFiles | None:
    if not args.etcd_cafile:
        return None
    return TLSFiles(ca_pem=args.etcd_cafile.read_bytes(), cert_pem=args.etcd_certfile.read_bytes(),
                    key_pem=args.etcd_keyfile.read_bytes())


def _identity_settings(args: argparse.Namespace) -> IdentitySettings:
    try:
        return IdentitySettings(renew_interval=args.identity_lease_renew_interval_seconds,
                                duration=args.identity_lease_duration_seconds)
    except ValueError as err:
        raise SystemExit(str(err)) from None


def server_ssl(args: argparse.Namespace) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.tls_cert_file, args.tls_private_key_file)
    ctx.load_verify_locations(cafile=str(args.client_ca_file))
    ctx.verify_mode = ssl.CERT_OPTIONAL  # tokens are accepted too; no certificate is not an error here
    return ctx


async def serve(args: argparse.Namespace) -> None:
    endpoint = args.etcd_servers.split(",")[0].removeprefix("https://").removeprefix("http://")
    config = ServerConfig(
        etcd_endpoint=endpoint,
        advertise_address=args.advertise_address or f"{args.bind_address}:{args.secure_port}",
        etcd_tls=_etcd_tls(args),
        quorum_reads=args.quorum_reads == "true",
        token_file=args.token_auth_file,
        compaction_interval=args.etcd_compaction_interval,
        watch_history=args.watch_cache_history,
        shutdown_delay=args.shutdown_delay_duration,
        service_account_signing_key_file=args.service_account_signing_key_file,
        service_account_key_files=tuple(args.service_account_key_file),
        service_account_issuer=args.service_account_issuer,
        api_audiences=tuple(a for a in args.api_audiences.split(",") if a),
        feature_gates=parse_feature_gates(args.feature_gates),
        identity=_identity_settings(args),
    )
    server = ApiServer(config)
    app = server.build()
    Goaway(args.goaway_chance).install(app)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    tls = server_ssl(args)
    listeners = None
    if args.listeners_file is not None:
        listeners = ExtraListeners(runner, path=args.listeners_file, ssl_context=tls,
                                   main_address=(args.bind_address, args.secure_port))
        listeners.install(app)
    await runner.setup()
    site = web.TCPSite(runner, args.bind_address, args.secure_port, ssl_context=tls,
                       reuse_address=True, backlog=1024)
    await site.start()
    logging.info("serving on https://%s:%d (etcd %s)", args.bind_address, args.secure_port, endpoint)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    agent = None
    if args.lb_agent_port:
        agent = AgentServer(args.bind_address, args.lb_agent_port, server.lb_agent_answer)
        await agent.start()
    reconciling = None
    if listeners is not None:
        logging.info("listeners: %s", await listeners.reconcile())
        reconciling = asyncio.create_task(listeners.run(), name="listeners")
    # SIGHUP re-reads the listeners file; without one it is ignored rather than fatal.
    loop.add_signal_handler(signal.SIGHUP, listeners.wake if listeners is not None else lambda: None)
    await stop.wait()
    # Graceful shutdown: /readyz fails at once, keep serving while the LB drains us.
    server.shutting_down = True
    logging.info("shutting down: readyz failing, draining for %.1fs", config.shutdown_delay)
    await asyncio.sleep(config.shutdown_delay)
    if listeners is not None and reconciling is not None:
        reconciling.cancel()
        await asyncio.gather(reconciling, return_exceptions=True)
        await listeners.close()
    if agent is not None:
        await agent.close()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # What is loaded by now (modules, the schema, route tables) lives as long as the
    # process: move it out of the collector's generations so that full collections,
    # which pause every request, walk only what the server allocates afterwards.
    gc.collect()
    gc.freeze()
    uvloop.run(serve(args))


if __name__ == "__main__":
    main()
