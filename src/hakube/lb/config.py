"""The load balancer's settings and its HAProxy configuration.

What users of other tools suffer from, and what this configuration does instead
(PEERS.md): TCP-only health checks send traffic to hung or starting API
servers, so every server is checked with `GET /readyz` over TLS verified
against the cluster CA (kubeadm's and kind's examples use /healthz without
verification; Kubernetes makes /readyz fail at the start of a graceful
shutdown, kubernetes#88911); a check every 250 ms that two misses mark down
ejects a failing server within ~0.35 s and a hung one within ~0.85 s (a
check's connection, TLS handshake included, may take min(inter, timeout
connect); HAProxy's log shows hung servers' checks ending in "Layer6 timeout,
check duration: 250ms"), and `on-marked-down shutdown-sessions` cuts its
sessions so clients reconnect to a live one. Checks every 150 ms were tried
and are worse: over 26 SIGSTOPs they ejected 38 times (servers still
catching up after SIGCONT missed a 150 ms handshake) and lost 18 /readyz
probes through the load balancer where 250 ms lost 11. Connection failures
are retried on another server (`retries`, `option redispatch`). TLS passes
through (TCP mode): API servers authenticate clients by certificate
themselves.

Kubernetes clients hold watches open for many minutes, so client, server and
tunnel timeouts are long (an hour); `balance leastconn` spreads those
long-lived connections evenly, where round robin would count connections
without regard to how long they stay. But a server that comes back up has no
connections yet, and leastconn gives it every new one until it catches up. In
the chaos runs, a server stopped 15 s after it had rejoined got five /readyz
probes in a row. Its weight therefore ramps up over a few seconds
(`slowstart`), and the API servers' `--goaway-chance` moves keep-alive
clients back onto it.

The same counting favours a server cut off from etcd: its /readyz still
passes for a grace period while its clients time out and leave, and once it
fails, two checks pass before the server is ejected. Each API server
therefore also answers an agent check (`agent-check`, apiserver.lbagent):
1 % of its weight once etcd has been silent for a second, "down" a moment
before its /readyz fails. Over 26 isolations, probes failed 7 times without
the "down" and never with it.

Backends connect from the external IP (`source`), so an API server can tell
load-balanced clients from direct ones and ask them to reconnect before the
load balancer goes away.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BACKEND", "FRONTEND", "WEIGHT", "Backend", "LBSettings", "render_config", "server_options"]

FRONTEND = "kube-apiserver"
BACKEND = "kube-apiservers"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_UNIX_PATH_MAX = 107  # sun_path is 108 bytes with the terminating NUL
WEIGHT = 100  # every server's configured weight; an agent's "N%" is relative to it


@dataclass(frozen=True)
class Backend:
    """One API server behind the load balancer."""

    name: str  # the replica name
    ip: str
    port: int = 6443

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name):
            raise ValueError(f"invalid backend name {self.name!r}")
        ipaddress.ip_address(self.ip)
        if not 0 < self.port < 65536:
            raise ValueError(f"invalid port {self.port}")

    @property
    def address(self) -> str:
        return f"[{self.ip}]:{self.port}" if ":" in self.ip else f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class LBSettings:
    """Where the load balancer listens, what it trusts, where its files live, and its timings."""

    external_ip: str
    ca_file: Path  # the cluster CA: API server certificates are verified against it
    run_dir: Path  # DIR/lb: configuration, pid file, sockets, log
    port: int = 6443
    # Every check is a TLS handshake and a /readyz, four a second per API server; until a
    # failed server is marked down, it still receives its share of new connections.
    check_interval_ms: int = 250
    fast_interval_ms: int = 100  # between checks while a server is going down or up
    check_timeout_ms: int = 400  # for the /readyz answer once connected (the handshake has min(inter, connect))
    fall: int = 2
    rise: int = 2
    # A server back up has no connections, and leastconn would send it every new one
    # until it caught up: seconds over which its weight ramps up instead.
    slowstart_s: int = 5
    # The API servers' agent port (apiserver.lbagent), asked for a weight this often; None: no agent.
    # Weights are percentages of WEIGHT, so an API server shedding traffic (1 %) keeps weight 1, not 0.
    agent_port: int | None = None
    agent_interval_ms: int = 100
    connect_timeout_ms: int = 2000
    long_timeout_s: int = 3600  # client, server, tunnel: watches stay open for many minutes
    retries: int = 3
    maxconn: int = 8000  # HAProxy needs about two descriptors per connection (ulimit -n)
    hard_stop_after_s: int = 30  # a stopping load balancer cuts what is still open after this

    def __post_init__(self) -> None:
        ipaddress.ip_address(self.external_ip)
        if self.agent_port is not None and not 0 < self.agent_port < 65536:
            raise ValueError(f"invalid agent port {self.agent_port}")
        if self.fall < 1 or self.rise < 1 or min(self.check_interval_ms, self.fast_interval_ms,
                                                  self.check_timeout_ms, self.connect_timeout_ms,
                                                  self.agent_interval_ms) <= 0:
            raise ValueError("health check timings must be positive")
        for path in (self.master_socket, self.admin_socket):
            if len(str(path)) > _UNIX_PATH_MAX:
                raise ValueError(f"socket path too long for a Unix socket ({len(str(path))} > "
                                 f"{_UNIX_PATH_MAX}): {path}; use a shorter cluster directory")

    @property
    def frontend_address(self) -> str:
        return f"[{self.external_ip}]:{self.port}" if ":" in self.external_ip else f"{self.external_ip}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.run_dir / "haproxy.cfg"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "haproxy.pid"

    @property
    def master_socket(self) -> Path:
        return self.run_dir / "master.sock"

    @property
    def admin_socket(self) -> Path:
        return self.run_dir / "admin.sock"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "haproxy.log"


def server_options(settings: LBSettings) -> str:
    """The options of every server line, static or added at runtime (dynamic servers inherit no defaults)."""
    agent = (f" agent-check agent-port {settings.agent_port} agent-inter {settings.agent_interval_ms}ms"
             if settings.agent_port is not None else "")
    return (f"weight {WEIGHT} check check-ssl verify required ca-file {settings.ca_file} "
            f"inter {settings.check_interval_ms}ms fastinter {settings.fast_interval_ms}ms "
            f"downinter {settings.check_interval_ms}ms fall {settings.fall} rise {settings.rise} "
            f"slowstart {settings.slowstart_s}s on-marked-down shutdown-sessions{agent}")


def render_config(settings: LBSettings, backends: Sequence[Backend]) -> str:
    """The whole haproxy.cfg for `backends` (an empty backend is valid: every request then fails over)."""
    names = [b.name for b in backends]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate backend names in {names}")
    servers = "".join(f"    server {b.name} {b.address} {server_options(settings)}\n" for b in backends)
    return f"""\
# Written by hakube; changed at runtime through the admin socket. Do not edit.
global
    master-worker
    maxconn {settings.maxconn}
    hard-stop-after {settings.hard_stop_after_s}s
    # Runtime API (show stat, add/del server); expose-fd lets a reload take over the listeners.
    stats socket {settings.admin_socket} mode 600 level admin expose-fd listeners
    stats timeout 30s

defaults
    mode tcp
    timeout connect {settings.connect_timeout_ms}ms
    timeout client {settings.long_timeout_s}s
    timeout server {settings.long_timeout_s}s
    timeout tunnel {settings.long_timeout_s}s
    timeout client-fin 10s
    timeout server-fin 10s
    timeout check {settings.check_timeout_ms}ms
    retries {settings.retries}
    option redispatch

frontend {FRONTEND}
    # Shares the address with an API server during a handoff (SO_REUSEPORT is HAProxy's default).
    bind {settings.frontend_address}
    default_backend {BACKEND}

backend {BACKEND}
    balance leastconn
    source {settings.external_ip}
    option httpchk GET /readyz
    http-check expect status 200
{servers}"""
