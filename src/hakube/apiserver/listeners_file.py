"""The listeners file: addresses an API server serves besides --bind-address, changed at runtime.

This is how the external IP moves between the only replica's API server and
the load balancer (DESIGN.md §1) without restarting anything. The file is the
desired state and outlives the process: an API server restarted by its
supervisor comes back listening where the file says. Its writer bumps
`generation`; the API server re-reads the file on SIGHUP (and checks it every
second), reconciles, and writes what it did to the status file next to it
(`<file>.status`) with the generation it observed — the way Kubernetes
objects report `status.observedGeneration`.

    {"generation": 4, "listen": ["127.0.0.9:6443"], "drainPeers": ["127.0.0.9"]}

`listen`: extra addresses (SO_REUSEPORT, so the load balancer can bind the
same one). Removing one stops accepting there without resetting a queued
connection, and connections accepted there are asked to go (`Connection:
close` on their next response) so clients move to the new owner.
`drainPeers`: clients at these IPs (the load balancer's source address) are
asked to go too, so that a load balancer being removed runs out of sessions.

This module has no aiohttp in it: the load balancer's handoff writes the file
with `request_listeners`; the API server's side is `listeners.ExtraListeners`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ListenerError",
    "ListenerSpec",
    "ListenerStatus",
    "format_address",
    "parse_address",
    "read_spec",
    "read_status",
    "request_listeners",
    "status_path",
    "write_spec",
    "write_status",
]


class ListenerError(Exception):
    """The listeners file is invalid, or the API server did not apply it."""


@dataclass(frozen=True)
class ListenerSpec:
    generation: int = 0
    listen: tuple[str, ...] = ()  # "ip:port" / "[ipv6]:port"
    drain_peers: tuple[str, ...] = ()  # client IPs asked to reconnect

    def __post_init__(self) -> None:
        for address in self.listen:
            parse_address(address)
        for peer in self.drain_peers:
            try:
                ipaddress.ip_address(peer)
            except ValueError:
                raise ListenerError(f"drainPeers: {peer!r} is not an IP address") from None


@dataclass(frozen=True)
class ListenerStatus:
    observed_generation: int
    listening: tuple[str, ...]
    drain_peers: tuple[str, ...]
    errors: tuple[str, ...]
    pid: int


def parse_address(address: str) -> tuple[str, int]:
    """"127.0.0.9:6443" → ("127.0.0.9", 6443); "[::1]:6443" → ("::1", 6443)."""
    host, sep, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    try:
        ip = ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ListenerError(f"{address!r} is not an IP:port address") from None
    if not sep or not 0 < number < 65536:
        raise ListenerError(f"{address!r} is not an IP:port address")
    return str(ip), number


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def status_path(path: Path) -> Path:
    return path.with_name(path.name + ".status")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)  # readers see the old or the new file, never half of one


def read_spec(path: Path) -> ListenerSpec:
    """The desired listeners; an absent file means none."""
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return ListenerSpec()
    except (OSError, ValueError) as err:
        raise ListenerError(f"{path}: {err}") from None
    if not isinstance(raw, dict):
        raise ListenerError(f"{path}: not a JSON object")
    try:
        return ListenerSpec(generation=int(raw.get("generation", 0)),
                            listen=tuple(str(a) for a in raw.get("listen", ())),
                            drain_peers=tuple(str(p) for p in raw.get("drainPeers", ())))
    except (TypeError, ValueError) as err:
        raise ListenerError(f"{path}: {err}") from None


def write_spec(path: Path, spec: ListenerSpec) -> None:
    _write_json(path, {"generation": spec.generation, "listen": list(spec.listen),
                       "drainPeers": list(spec.drain_peers)})


def read_status(path: Path) -> ListenerStatus | None:
    """What the API server last applied from the listeners file at `path`, or None."""
    try:
        raw = json.loads(status_path(path).read_text())
        return ListenerStatus(observed_generation=int(raw["observedGeneration"]),
                              listening=tuple(raw["listening"]), drain_peers=tuple(raw["drainPeers"]),
                              errors=tuple(raw["errors"]), pid=int(raw["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_status(path: Path, status: ListenerStatus) -> None:
    _write_json(status_path(path), {"observedGeneration": status.observed_generation,
                                    "listening": list(status.listening),
                                    "drainPeers": list(status.drain_peers),
                                    "errors": list(status.errors), "pid": status.pid})


async def request_listeners(path: Path, *, listen: tuple[str, ...] | list[str],
                            drain_peers: tuple[str, ...] | list[str] = (), pid: int | None = None,
                            timeout: float = 10.0) -> ListenerStatus:
    """Ask the API server reading `path` to serve exactly `listen`; wait until it has.

    Writes the file with the next generation, sends SIGHUP to the server (to
    `pid`, or to the pid its status file names if that process was started
    with this file) so it reconciles at once — otherwise it notices within a
    second — and returns the status once the server reports that generation.
    ListenerError when it reports errors or does not answer within `timeout`.
    """
    spec = ListenerSpec(generation=read_spec(path).generation + 1,
                        listen=tuple(dict.fromkeys(listen)), drain_peers=tuple(dict.fromkeys(drain_peers)))
    write_spec(path, spec)
    if pid is None:
        pid = _server_pid(path)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + timeout
    interval = 0.02
    for _ in range(int(timeout / interval) + 1):
        status = read_status(path)
        if status is not None and status.observed_generation >= spec.generation:
            if status.errors:
                raise ListenerError("the API server could not apply its listeners: " + "; ".join(status.errors))
            return status
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(interval)
    raise ListenerError(f"the API server reading {path} did not apply generation {spec.generation} "
                        f"within {timeout:g}s (is it running with --listeners-file?)")


def _server_pid(path: Path) -> int | None:
    """The pid in the status file, if that process is an API server reading `path` (pids get reused)."""
    status = read_status(path)
    if status is None:
        return None
    try:
        argv = Path(f"/proc/{status.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    wanted = str(path).encode()
    if any(arg == wanted or arg.endswith(b"=" + wanted) for arg in argv):
        return status.pid
    return None
