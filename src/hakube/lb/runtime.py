"""HAProxy's runtime API over its admin socket: statistics and server changes without a reload.

One command per connection (the socket's non-interactive mode: HAProxy
answers and closes). `show stat` is parsed into frozen rows that
`hakube status` shows: per server its state (UP, DOWN, MAINT, DRAIN, or a
transition such as "UP 1/2"), the last check's result and current sessions.
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import dataclass
from pathlib import Path

__all__ = ["LBStats", "RuntimeAPIError", "ServerStat", "parse_show_stat", "runtime_command"]


class RuntimeAPIError(Exception):
    """The runtime API could not be reached, or refused a command."""


@dataclass(frozen=True)
class ServerStat:
    backend: str
    server: str
    address: str
    status: str  # "UP", "DOWN", "MAINT", "DRAIN", "UP 1/2" (going down), "DOWN 1/2" (going up), …
    check_status: str  # "L7OK", "L7STS" (wrong HTTP status), "L4CON" (refused), "L6TOUT"/"L7TOUT" (hung), …
    check_code: str  # the HTTP status of the last check, if any
    check_duration_ms: int | None
    current_sessions: int
    total_sessions: int
    last_change_s: int | None  # seconds since the last UP/DOWN transition
    weight: int | None = None  # effective weight: the configured one, scaled by the agent's answer and slowstart

    @property
    def up(self) -> bool:
        return self.status.startswith("UP")


@dataclass(frozen=True)
class LBStats:
    frontend_status: str  # "OPEN" while listening
    frontend_sessions: int
    servers: tuple[ServerStat, ...]

    def server(self, name: str) -> ServerStat | None:
        return next((s for s in self.servers if s.server == name), None)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def parse_show_stat(text: str, *, frontend: str, backend: str) -> LBStats:
    """Rows of `show stat` (CSV whose header starts with "# ") for one frontend and its backend."""
    body = text.lstrip()
    if not body.startswith("#"):
        raise RuntimeAPIError(f"unexpected answer to show stat: {text[:200]!r}")
    reader = csv.DictReader(io.StringIO(body[1:].lstrip()))
    frontend_status, frontend_sessions = "ABSENT", 0
    servers: list[ServerStat] = []
    for row in reader:
        pxname, svname = row.get("pxname", ""), row.get("svname", "")
        if pxname == frontend and svname == "FRONTEND":
            frontend_status, frontend_sessions = row.get("status", ""), _int(row.get("scur")) or 0
        elif pxname == backend and svname not in ("FRONTEND", "BACKEND"):
            servers.append(ServerStat(
                backend=pxname, server=svname, address=row.get("addr", ""), status=row.get("status", ""),
                check_status=(row.get("check_status") or "").lstrip("* "), check_code=row.get("check_code") or "",
                check_duration_ms=_int(row.get("check_duration")), current_sessions=_int(row.get("scur")) or 0,
                total_sessions=_int(row.get("stot")) or 0, last_change_s=_int(row.get("lastchg")),
                weight=_int(row.get("weight"))))
    return LBStats(frontend_status=frontend_status, frontend_sessions=frontend_sessions, servers=tuple(servers))


async def runtime_command(socket_path: Path, command: str, *, timeout: float = 5.0) -> str:
    """Send one command to a HAProxy CLI socket and return its answer."""
    if "\n" in command or ";" in command:
        raise ValueError(f"one command at a time: {command!r}")

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_unix_connection(str(socket_path))
        try:
            writer.write(command.encode() + b"\n")
            await writer.drain()
            return await reader.read(-1)
        finally:
            writer.close()
            await writer.wait_closed()

    try:
        answer = await asyncio.wait_for(exchange(), timeout)
    except (OSError, TimeoutError) as err:
        raise RuntimeAPIError(f"HAProxy runtime API at {socket_path} did not answer {command.split()[0]!r}: "
                            f"{err or type(err).__name__}") from None
    return answer.decode("utf-8", "replace")
