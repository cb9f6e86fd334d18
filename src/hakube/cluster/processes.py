"""Detached component processes with pid files: start, find, stop — only our own.

`hakube up` returns leaving etcd and the API server running; later commands
find them through pid files. A pid file alone is not trusted: the process
must still run the command line we started (pids are reused), so we never
signal a stranger's process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def start(argv: list[str], *, pidfile: Path, log: Path,
          env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start `argv` in its own session, logging to `log`; record its pid.

    The caller that started it should judge its exit by the returned handle
    (`poll()`), which cannot be fooled; `running_pid` is for later commands.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=env, close_fds=True)
    pidfile.write_text(f"{proc.pid}\n{argv[0]}\n")
    return proc


def running_pid(pidfile: Path) -> int | None:
    """The pid recorded in `pidfile` if that process is alive and still ours."""
    try:
        lines = pidfile.read_text().splitlines()
        pid, exe = int(lines[0]), lines[1]
    except (OSError, ValueError, IndexError):
        return None
    cmd = _cmdline(pid)
    if cmd and cmd[0] != exe:
        return None  # the pid now belongs to another program
    if not cmd:
        try:
            os.kill(pid, 0)  # cmdline can read empty for a moment; fall back to existence
        except OSError:
            return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None  # a zombie has exited
    except OSError:
        return None
    return pid


def stop(pidfile: Path, *, timeout: float = 15.0) -> bool:
    """SIGTERM our process, SIGKILL after `timeout`; True if one was running."""
    pid = running_pid(pidfile)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_pid(pidfile) is None:
            break
        time.sleep(0.05)
    else:
        if running_pid(pidfile) is not None:
            os.kill(pid, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)
    return True
