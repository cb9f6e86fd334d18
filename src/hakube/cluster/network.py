"""Network faults of a local cluster: cut, delay or drop links between replicas or zones, and heal them.

The rules live in `DIR/network/faults.json` (hakube.chaos.netrules); each
replica's ``network-proxy`` static pod applies them within ~100 ms and reports
the generation in force, which the commands here wait for. Only clusters
created with ``--network-faults`` have the proxies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from hakube.chaos import netrules
from hakube.chaos.netrules import Fault, Rule, Rules
from hakube.cluster.layout import ClusterState, Layout, ReplicaState
from hakube.cluster.manifests import network_proxy_status
from hakube.cluster.processes import running_pid

APPLY_TIMEOUT = 5.0


class NetworkError(Exception):
    """A refused network fault command; the message is one line for the user."""


@dataclass(frozen=True)
class Applied:
    generation: int
    waiting_for: list[str]  # running replicas whose proxy has not confirmed the generation in time

    def summary(self) -> str:
        if not self.waiting_for:
            return f"every running replica's proxy follows rules generation {self.generation}"
        return (f"rules generation {self.generation} written; not yet confirmed by "
                f"{', '.join(self.waiting_for)}")


class NetworkFaults:
    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    def check_enabled(self, state: ClusterState) -> None:
        if not state.network_faults:
            raise NetworkError("this cluster runs without network fault proxies; create it with "
                               "'hakube up --network-faults' to cut, delay or drop links")

    def rules(self) -> Rules:
        try:
            return netrules.load(self.layout.network_rules)
        except (ValueError, KeyError, TypeError) as err:
            raise NetworkError(f"unreadable network rules in {self.layout.network_rules}: {err}") from None

    def addresses(self, state: ClusterState, group: str) -> list[str]:
        """`name,name` or `zone=Z` (several with commas) → replica addresses; `*` is every replica."""
        out: list[str] = []
        for item in filter(None, (g.strip() for g in group.split(","))):
            if item == "*":
                out += [r.ip for r in state.replicas]
            elif item.startswith("zone="):
                zone = item.removeprefix("zone=")
                found = [r.ip for r in state.replicas if r.zone == zone]
                if not found:
                    raise NetworkError(f"no replica in zone {zone}")
                out += found
            else:
                replica = state.replica(item)
                if replica is None:
                    raise NetworkError(f"no replica named {item} (see hakube replica list)")
                out.append(replica.ip)
        if not out:
            raise NetworkError("name at least one replica (NAME, zone=ZONE or *)")
        return sorted(set(out))

    def add(self, state: ClusterState, rules: Iterable[Rule]) -> Applied:
        self.check_enabled(state)
        current = self.rules()
        current.rules += list(rules)
        return self._save(state, current)

    def heal(self, state: ClusterState, addresses: Iterable[str] | None = None) -> tuple[int, Applied]:
        """Remove every rule (or those involving `addresses`); (rules removed, applied)."""
        self.check_enabled(state)
        current = self.rules()
        keep = [] if addresses is None else [r for r in current.rules if not any(r.involves(a) for a in addresses)]
        removed = len(current.rules) - len(keep)
        current.rules = keep
        return removed, self._save(state, current)

    def describe(self, state: ClusterState) -> list[str]:
        names = {r.ip: r.name for r in state.replicas}
        return [f"{r.link}: {names.get(r.source, r.source)} → {names.get(r.target, r.target)}: "
                f"{r.fault.describe()}" for r in self.rules().rules]

    def _save(self, state: ClusterState, rules: Rules) -> Applied:
        netrules.save(self.layout.network_rules, rules)
        return self.wait_applied(state, rules.generation)

    def wait_applied(self, state: ClusterState, generation: int, *, timeout: float = APPLY_TIMEOUT) -> Applied:
        """Until every running replica's proxy reports `generation` (a stopped one applies it when it starts)."""
        deadline = time.monotonic() + timeout
        waiting: list[str] = []
        for _ in range(int(timeout / 0.05) + 1):
            waiting = [r.name for r in state.replicas if self._running(r.name)
                       and self._generation(r) < generation]
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        return Applied(generation, waiting)

    def _running(self, name: str) -> bool:
        return running_pid(self.layout.pidfile(name, "supervisor")) is not None

    def _generation(self, replica: ReplicaState) -> int:
        try:
            data = json.loads(network_proxy_status(self.layout, replica).read_text())
            return int(data.get("generation", 0))
        except (OSError, ValueError):
            return -1


def fault_from_options(mode: str, *, delay_ms: float, jitter_ms: float, loss: float) -> Fault:
    try:
        return Fault(mode=mode, delay=delay_ms / 1000, jitter=jitter_ms / 1000, loss=loss)
    except ValueError as err:
        raise NetworkError(str(err)) from None
