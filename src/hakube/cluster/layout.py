"""The cluster directory: where every file of a cluster lives, and its state file.

```
DIR/cluster.json              the cluster's spec and state (contract: DESIGN.md §3)
DIR/kubeconfig                admin kubeconfig (system:masters)
DIR/tokens.csv                static bearer tokens
DIR/pki/                      cluster CA, etcd CA, admin client certificate
DIR/replicas/<name>/          one replica: pki/, etcd/ (data), logs/, run/ (pid files)
DIR/network/faults.json       network fault rules the replicas' proxies follow (--network-faults)
```
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_VERSION = 1


class LockedError(Exception):
    """Another hakube command holds the cluster's lock."""


def default_cluster_dir() -> Path:
    env = os.environ.get("HAKUBE_CLUSTER_DIR")
    if env:
        return Path(env).expanduser()
    return Path("~/.hakube/default").expanduser()


@dataclass
class ReplicaState:
    name: str
    zone: str
    ip: str
    etcd_member_id: str = ""  # hex, once the member exists


@dataclass
class Operation:
    """A replica add or remove in progress: every step is recorded before it is taken,
    so running the command again finishes it or rolls it back (DESIGN.md §4)."""

    kind: str  # "add" | "remove"
    replica: str
    zone: str
    ip: str
    step: str = "planned"
    force: bool = False
    keep_nodes: bool = False


@dataclass
class ClusterState:
    name: str
    external_ip: str
    quorum_reads: bool = False
    # etcd peer and API-server→etcd links pass through per-replica proxies that
    # can cut, delay or drop them (creation-time option; hakube.chaos.netproxy).
    network_faults: bool = False
    multizone: bool = False
    feature_gates: dict[str, bool] = field(default_factory=dict)
    replicas: list[ReplicaState] = field(default_factory=list)
    auto_repair: bool = False
    load_balancer: bool = False  # HAProxy holds the external IP (two or more replicas)
    operation: Operation | None = None
    version: int = STATE_VERSION

    def replica(self, name: str) -> ReplicaState | None:
        return next((r for r in self.replicas if r.name == name), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        data: dict[str, Any] = json.loads(text)
        replicas = [ReplicaState(**r) for r in data.pop("replicas", [])]
        op = data.pop("operation", None)
        return cls(replicas=replicas, operation=Operation(**op) if op else None, **data)


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens.csv"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    def replica(self, name: str) -> Path:
        return self.root / "replicas" / name

    @property
    def network_rules(self) -> Path:
        return self.root / "network" / "faults.json"

    def replica_pki(self, name: str) -> Path:
        return self.replica(name) / "pki"

    def etcd_data(self, name: str) -> Path:
        return self.replica(name) / "etcd"

    def log(self, name: str, component: str) -> Path:
        return self.replica(name) / "logs" / f"{component}.log"

    def pidfile(self, name: str, component: str) -> Path:
        return self.replica(name) / "run" / f"{component}.pid"

    @contextlib.contextmanager
    def lock(self, *, wait: float = 30.0) -> Iterator[None]:
        """One hakube command at a time on a cluster: the second waits, then refuses."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as f:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        f.seek(0)
                        holder = f.read().strip() or "another process"
                        raise LockedError(f"another hakube command is working on {self.root} ({holder}); "
                                          "try again when it has finished") from None
                    time.sleep(0.1)
            f.seek(0)
            f.truncate()
            f.write(f"pid {os.getpid()}: {' '.join(sys.argv[1:3])}")
            f.flush()
            try:
                yield
            finally:
                f.seek(0)
                f.truncate()
                fcntl.flock(f, fcntl.LOCK_UN)

    def exists(self) -> bool:
        return self.state_file.exists()

    def load(self) -> ClusterState:
        return ClusterState.from_json(self.state_file.read_text())

    def save(self, state: ClusterState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(self.state_file)
