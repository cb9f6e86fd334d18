"""The cluster directory: where every file of a cluster lives, and its state file.

```
DIR/cluster.json              the cluster's spec and state (contract: DESIGN.md §3)
DIR/kubeconfig                admin kubeconfig (system:masters)
DIR/tokens.csv                static bearer tokens
DIR/pki/                      cluster CA, etcd CA, admin client certificate
DIR/replicas/<name>/          one replica: pki/, etcd/ (data), logs/, run/ (pid files)
```
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_VERSION = 1


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


@dataclass
class ClusterState:
    name: str
    external_ip: str
    quorum_reads: bool = False
    multizone: bool = False
    feature_gates: dict[str, bool] = field(default_factory=dict)
    replicas: list[ReplicaState] = field(default_factory=list)
    version: int = STATE_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        data: dict[str, Any] = json.loads(text)
        replicas = [ReplicaState(**r) for r in data.pop("replicas", [])]
        return cls(replicas=replicas, **data)


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

    def replica_pki(self, name: str) -> Path:
        return self.replica(name) / "pki"

    def etcd_data(self, name: str) -> Path:
        return self.replica(name) / "etcd"

    def log(self, name: str, component: str) -> Path:
        return self.replica(name) / "logs" / f"{component}.log"

    def pidfile(self, name: str, component: str) -> Path:
        return self.replica(name) / "run" / f"{component}.pid"

    def exists(self) -> bool:
        return self.state_file.exists()

    def load(self) -> ClusterState:
        return ClusterState.from_json(self.state_file.read_text())

    def save(self, state: ClusterState) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(state.to_json())
        tmp.replace(self.state_file)
