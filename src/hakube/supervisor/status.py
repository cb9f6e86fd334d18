"""What the supervisor tells other commands: its status file, pid file and lock.

`run/supervisor.json` (written atomically, so a reader never sees half a
file) is how `hakube status` learns about a replica's components without
asking the supervisor anything:

```
{
  "replica": "replica-1", "zone": "local-a", "region": "local",
  "pid": 4242,                  the supervisor
  "pgid": 4242,                 process group of the supervisor and every component:
                                os.killpg(pgid, SIGKILL) fails the whole replica
  "state": "running",           running | stopping | stopped
  "updatedAt": "2025-01-01T12:00:00Z",   rewritten at least every 5 s while running
  "node": {"registered": true, "lastLeaseRenewal": "…", "apiError": null} | null without --kubeconfig,
  "components": {
    "etcd": {
      "state": "running",       waiting | running | backoff | terminating | stopped | completed
      "pid": 4250,              null unless a process runs
      "restarts": 0,            restarts since this manifest version started
      "lastExitCode": null,     128+N after death by signal N
      "startedAt": "…",         start of the current (or last) run
      "backOffSeconds": null,   the delay being waited out in backoff
      "manifest": "etcd.yaml", "hash": "…", "stopOrder": 0,
      "containers": [ {"name", "state", "pid", "restarts", "lastExitCode", "startedAt", "reason"} ]
    }, …
  }
}
```
For a one-container pod the component's fields are its container's.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any

from hakube.supervisor.runner import PodSnapshot


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_status(run_dir: Path) -> dict[str, Any] | None:
    """The last status a supervisor wrote in `run_dir`, or None."""
    try:
        data: dict[str, Any] = json.loads((run_dir / "supervisor.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def component_entry(pod: PodSnapshot) -> dict[str, Any]:
    containers = [{"name": c.name, "state": c.state, "pid": c.pid, "restarts": c.restarts,
                   "lastExitCode": c.last_exit_code, "startedAt": c.started_at, "reason": c.reason}
                  for c in pod.containers]
    first = pod.containers[0]
    single = len(pod.containers) == 1
    return {
        "state": pod.state,
        "pid": first.pid,
        "restarts": sum(c.restarts for c in pod.containers),
        "lastExitCode": first.last_exit_code if single else next(
            (c.last_exit_code for c in pod.containers if c.last_exit_code), None),
        "startedAt": pod.started_at if not single else first.started_at,
        "backOffSeconds": max((c.back_off for c in pod.containers if c.back_off is not None), default=None),
        "manifest": pod.manifest,
        "hash": pod.hash,
        "stopOrder": pod.stop_order,
        "containers": containers,
    }


class SupervisorLock:
    """One supervisor per replica directory: an flock held for the process's lifetime."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "supervisor.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        f = open(self.path, "a")  # held open for the lifetime of the process
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            return False
        self._file = f
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def write_pidfile(path: Path) -> None:
    """`<pid>\\n<argv[0]>\\n`, the format `hakube.cluster.processes.running_pid` checks."""
    try:
        argv0 = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        argv0 = ""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{os.getpid()}\n{argv0}\n")
    tmp.replace(path)
