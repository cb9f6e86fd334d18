"""The load balancer process: HAProxy in master-worker mode, started, changed and stopped by us.

How it runs, and why: the load balancer belongs to the cluster, not to a
replica — like kube-up's GCE forwarding rule, it must outlive the command that
created it and any replica that fails (a replica's supervisor and everything
it runs may be killed at once). So it is started in a session of its own,
detached from the starting command, as `haproxy -W -db -S master.sock -f
haproxy.cfg -p haproxy.pid`: master-worker mode (the master restarts nothing
but keeps a master CLI, relays signals to its worker and lets a reload take
over the listening sockets), in the foreground so that HAProxy's own alerts —
servers going DOWN and UP — land in `haproxy.log` rather than nowhere. Later
commands find it again through the pid file, and only ever signal that pid
after checking that the process really is this load balancer's HAProxy
(its command line names our configuration file): pids are reused.

Backends change through the runtime API (HAProxy 2.6 dynamic servers: `add
server`, `set server … state`, `del server`), never by a reload, so
established connections to other servers are not touched; the configuration
file is rewritten alongside so that a restart comes back the same.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from hakube.lb.config import BACKEND, FRONTEND, Backend, LBSettings, render_config, server_options
from hakube.lb.runtime import LBStats, RuntimeAPIError, parse_show_stat, runtime_command

__all__ = ["HAProxy", "LoadBalancerError", "find_haproxy"]

log = logging.getLogger(__name__)

_POLL = 0.05
_LOG_TAIL = 2000


class LoadBalancerError(Exception):
    """The load balancer could not be started, changed or stopped; the message says why."""


def find_haproxy() -> str:
    """The haproxy executable (Debian installs it in /usr/sbin, which a user's PATH may lack)."""
    path = os.environ.get("PATH", os.defpath) + os.pathsep + "/usr/sbin" + os.pathsep + "/usr/local/sbin"
    found = shutil.which("haproxy", path=path)
    if found is None:
        raise LoadBalancerError("haproxy is not installed (Debian: apt-get install haproxy)")
    return found


class HAProxy:
    """One cluster's HAProxy, found by its files under `settings.run_dir`."""

    def __init__(self, settings: LBSettings, *, executable: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._executable = executable
        self._proc: subprocess.Popen[bytes] | None = None  # set when this process started it
        self._clock = clock

    # -- identity -------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The master's pid, when a master of this configuration is alive."""
        try:
            pid = int(self.settings.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if self._is_ours(pid) else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def _is_ours(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None  # reaps our own child once it exits
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state != "Z" and str(self.settings.config_file).encode() in argv

    def _signal(self, sig: signal.Signals) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True

    def _log_tail(self) -> str:
        try:
            return self.settings.log_file.read_text(errors="replace")[-_LOG_TAIL:].strip() or "(empty log)"
        except OSError:
            return "(no log)"

    # -- configuration ------------------------------------------------------------------

    @property
    def _backends_file(self) -> Path:
        return self.settings.run_dir / "backends.json"

    def backends(self) -> list[Backend]:
        """The backends the configuration names (what a restart would come back with)."""
        try:
            raw = json.loads(self._backends_file.read_text())
        except (OSError, ValueError):
            return []
        return [Backend(name=b["name"], ip=b["ip"], port=int(b["port"])) for b in raw]

    def _write_config(self, backends: Sequence[Backend]) -> None:
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        text = render_config(self.settings, backends)
        for path, content in ((self.settings.config_file, text), (self._backends_file, json.dumps(
                [{"name": b.name, "ip": b.ip, "port": b.port} for b in backends], indent=2) + "\n")):
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(content)
            os.replace(tmp, path)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, backends: Sequence[Backend], *, timeout: float = 10.0) -> None:
        """Run HAProxy with `backends`; when it already runs, make its backends these."""
        if self.running:
            await self.set_backends(backends)
            return
        executable = self._executable or find_haproxy()
        self._write_config(backends)
        cfg = str(self.settings.config_file)
        check = await asyncio.to_thread(subprocess.run, [executable, "-c", "-q", "-f", cfg],
                                        capture_output=True, text=True, timeout=30, check=False)
        if check.returncode != 0:
            raise LoadBalancerError(f"HAProxy refuses {cfg}: {(check.stderr or check.stdout).strip()}")
        for stale in (self.settings.admin_socket, self.settings.master_socket, self.settings.pid_file):
            stale.unlink(missing_ok=True)
        argv = [executable, "-W", "-db", "-S", f"{self.settings.master_socket},mode,600", "-f", cfg,
                "-p", str(self.settings.pid_file)]
        self._proc = self._spawn(argv)
        try:
            await self._wait_listening(timeout)
        except BaseException:
            await self.stop(timeout=5)
            raise

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        # Not an asyncio subprocess: the load balancer must outlive this event loop and
        # this process, so it gets a session of its own and no pipes back to us.
        with open(self.settings.log_file, "ab") as out:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True, close_fds=True)

    async def _wait_listening(self, timeout: float) -> None:
        deadline = self._clock() + timeout
        last = "not asked yet"
        for _ in range(int(timeout / _POLL) + 1):
            if self._proc is not None and self._proc.poll() is not None:
                raise LoadBalancerError(f"HAProxy exited with code {self._proc.returncode} while starting: "
                                        f"{self._log_tail()}")
            try:
                stats = await self.stats(timeout=1.0)
            except (RuntimeAPIError, LoadBalancerError) as err:
                last = str(err)
            else:
                if stats.frontend_status == "OPEN":
                    return
                last = f"frontend {stats.frontend_status}"
            if self._clock() >= deadline:
                break
            await asyncio.sleep(_POLL)
        raise LoadBalancerError(f"HAProxy did not start listening on {self.settings.frontend_address} within "
                                f"{timeout:g}s ({last}): {self._log_tail()}")

    async def soft_stop(self) -> bool:
        """Stop listening now; sessions still open are served until they end (or hard-stop-after)."""
        return self._signal(signal.SIGUSR1)

    async def wait_exit(self, timeout: float) -> bool:
        """True once the master has exited (within `timeout` seconds)."""
        deadline = self._clock() + timeout
        for _ in range(int(timeout / _POLL) + 1):
            if not self.running:
                return True
            if self._clock() >= deadline:
                break
            await asyncio.sleep(_POLL)
        return not self.running

    async def stop(self, *, timeout: float = 10.0) -> None:
        """Soft stop, then SIGTERM after `timeout` seconds, then SIGKILL; remove the pid file."""
        for sig, wait in ((signal.SIGUSR1, timeout), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if not self._signal(sig):
                break
            if await self.wait_exit(wait):
                break
            log.warning("HAProxy did not exit within %.0fs of %s", wait, sig.name)
        if self.running:
            raise LoadBalancerError(f"HAProxy (pid {self.pid}) does not exit")
        self.settings.pid_file.unlink(missing_ok=True)

    # -- runtime ------------------------------------------------------------------------

    async def command(self, command: str, *, timeout: float = 5.0) -> str:
        if not self.running:
            raise LoadBalancerError("the load balancer is not running")
        return await runtime_command(self.settings.admin_socket, command, timeout=timeout)

    async def stats(self, *, timeout: float = 5.0) -> LBStats:
        """Frontend state and every backend server's state, last check and sessions."""
        return parse_show_stat(await self.command("show stat", timeout=timeout), frontend=FRONTEND, backend=BACKEND)

    async def wait_backends_up(self, names: Sequence[str], *, timeout: float = 10.0) -> LBStats:
        """Wait until every named server passes its checks (UP)."""
        deadline = self._clock() + timeout
        stats = await self.stats()
        for _ in range(int(timeout / _POLL) + 1):
            stats = await self.stats()
            # UP after a passing check: HAProxy starts servers UP before checking them.
            if all((s := stats.server(n)) is not None and s.status == "UP" and s.check_status == "L7OK"
                   for n in names):
                return stats
            if self._clock() >= deadline:
                break
            await asyncio.sleep(_POLL)
        states = ", ".join(f"{n}: {s.status} ({s.check_status})" if (s := stats.server(n)) else f"{n}: absent"
                           for n in names)
        raise LoadBalancerError(f"backends not UP within {timeout:g}s: {states}")

    async def _expect(self, command: str, ok: str = "") -> None:
        """Run a command whose answer is empty on success (or contains `ok`)."""
        answer = (await self.command(command)).strip()
        if (ok not in answer) if ok else answer:
            raise LoadBalancerError(f"HAProxy refused {command!r}: {answer or '(no answer)'}")

    async def add_backend(self, backend: Backend) -> None:
        """Add a server at runtime and start checking it; a server of that name and address is kept."""
        stats = await self.stats()
        present = stats.server(backend.name)
        if present is not None and present.address != backend.address:
            raise LoadBalancerError(f"backend {backend.name} exists with address {present.address}, "
                                    f"not {backend.address}; remove it first")
        if present is None:
            await self._expect(f"add server {BACKEND}/{backend.name} {backend.address} "
                               f"{server_options(self.settings)}", "New server registered")
            await self._expect(f"enable health {BACKEND}/{backend.name}")
            if self.settings.agent_port is not None:
                await self._expect(f"enable agent {BACKEND}/{backend.name}")
        await self._expect(f"set server {BACKEND}/{backend.name} state ready")
        self._write_config([*[b for b in self.backends() if b.name != backend.name], backend])

    async def set_state(self, name: str, state: str) -> None:
        """"ready", "drain" (no new sessions, checks go on) or "maint" (no traffic at all)."""
        if state not in ("ready", "drain", "maint"):
            raise ValueError(f"invalid server state {state!r}")
        await self._expect(f"set server {BACKEND}/{name} state {state}")

    async def remove_backend(self, name: str, *, drain_timeout: float = 10.0) -> int:
        """Take a server out: no new sessions, wait for its sessions to end, delete it.

        Sessions still open after `drain_timeout` seconds are cut; their number
        is returned. Other servers' connections are not touched. Removing an
        absent server does nothing.
        """
        if (await self.stats()).server(name) is None:
            self._write_config([b for b in self.backends() if b.name != name])
            return 0
        # Drain, not maint: entering maintenance counts as going down, and on-marked-down
        # shutdown-sessions would cut every session at once.
        await self.set_state(name, "drain")
        deadline = self._clock() + drain_timeout
        remaining = 0
        for _ in range(int(drain_timeout / _POLL) + 1):
            server = (await self.stats()).server(name)
            remaining = server.current_sessions if server is not None else 0
            if remaining == 0 or self._clock() >= deadline:
                break
            await asyncio.sleep(_POLL)
        if remaining:
            await self._expect(f"shutdown sessions server {BACKEND}/{name}")
        await self.set_state(name, "maint")  # "del server" wants it in maintenance
        await self._expect(f"disable health {BACKEND}/{name}")
        if self.settings.agent_port is not None:
            await self._expect(f"disable agent {BACKEND}/{name}")
        # "del server" refuses while a connection is still being torn down; try for a moment.
        answer = ""
        for _ in range(40):
            answer = (await self.command(f"del server {BACKEND}/{name}")).strip()
            if "Server deleted" in answer or "No such server" in answer:
                break
            await asyncio.sleep(_POLL)
        else:
            raise LoadBalancerError(f"HAProxy does not delete server {name}: {answer}")
        self._write_config([b for b in self.backends() if b.name != name])
        return remaining

    async def set_backends(self, backends: Sequence[Backend], *, drain_timeout: float = 10.0) -> None:
        """Make the servers exactly `backends`: add the missing ones, remove the others."""
        wanted = {b.name for b in backends}
        for backend in backends:
            await self.add_backend(backend)
        for server in (await self.stats()).servers:
            if server.server not in wanted:
                await self.remove_backend(server.server, drain_timeout=drain_timeout)
