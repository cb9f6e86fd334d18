"""Network faults between replicas, as rules in one file every replica's proxy follows.

A rule names a link kind, a source and a target (replica addresses, or ``*``)
and a fault for the bytes flowing from source to target:

- ``peer``: etcd member to etcd member (raft, snapshots, joins);
- ``etcd-client``: a replica's API server to its own etcd member.

The file is `DIR/network/faults.json`; `hakube replica fail --mode isolate`,
`hakube network …` and the chaos runner write it, each replica's
``network-proxy`` static pod polls it and reports the generation it applied.
A link with no matching rule passes; when several rules match, the last one
written wins (so a newer, narrower rule can override an older one).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LINKS = ("peer", "etcd-client")
MODES = ("pass", "blackhole", "delay", "drop")
ANY = "*"


@dataclass(frozen=True)
class Fault:
    """What happens to bytes on a link: they pass, vanish, wait, or are lost (which resets the stream)."""

    mode: str = "pass"  # pass | blackhole | delay | drop
    delay: float = 0.0  # seconds
    jitter: float = 0.0  # seconds, ± around delay
    loss: float = 0.0  # probability per chunk

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}: use one of {', '.join(MODES)}")
        if self.delay < 0 or self.jitter < 0 or self.delay > 60 or self.jitter > 60:
            raise ValueError("delay and jitter must be between 0 and 60 seconds")
        if not 0 <= self.loss <= 1:
            raise ValueError("loss is a probability between 0 and 1")

    def describe(self) -> str:
        if self.mode == "delay":
            return f"delay {self.delay * 1000:.0f}ms" + (f" ±{self.jitter * 1000:.0f}ms" if self.jitter else "")
        if self.mode == "drop":
            return f"drop {self.loss:.0%}"
        return self.mode


PASS = Fault()


@dataclass(frozen=True)
class Rule:
    link: str  # peer | etcd-client | *
    source: str  # replica address or *
    target: str  # replica address or *
    fault: Fault

    def __post_init__(self) -> None:
        if self.link not in (*LINKS, ANY):
            raise ValueError(f"unknown link {self.link!r}: use one of {', '.join(LINKS)} or *")

    def matches(self, link: str, source: str, target: str) -> bool:
        return (self.link in (ANY, link) and self.source in (ANY, source) and self.target in (ANY, target))

    def involves(self, address: str) -> bool:
        return address in (self.source, self.target)


@dataclass
class Rules:
    generation: int = 0
    rules: list[Rule] = field(default_factory=list)

    def fault(self, link: str, source: str, target: str) -> Fault:
        for rule in reversed(self.rules):
            if rule.matches(link, source, target):
                return rule.fault
        return PASS

    def to_json(self) -> str:
        return json.dumps({"generation": self.generation, "rules": [asdict(r) for r in self.rules]}, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Rules:
        data: dict[str, Any] = json.loads(text)
        rules = [Rule(link=r["link"], source=r["source"], target=r["target"], fault=Fault(**r["fault"]))
                 for r in data.get("rules") or []]
        return cls(generation=int(data.get("generation", 0)), rules=rules)


def load(path: Path) -> Rules:
    """The rules in `path`; none (everything passes) when the file does not exist."""
    try:
        return Rules.from_json(path.read_text())
    except FileNotFoundError:
        return Rules()


def save(path: Path, rules: Rules) -> None:
    """Atomically, with the generation bumped, so proxies never read half a file."""
    rules.generation += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".faults-")
    with os.fdopen(fd, "w") as f:
        f.write(rules.to_json())
    os.replace(tmp, path)


def between(group_a: list[str], group_b: list[str], fault: Fault, *, both_ways: bool = True,
            links: tuple[str, ...] = ("peer",)) -> list[Rule]:
    """Rules for every link from `group_a` to `group_b` (and back unless one-way)."""
    pairs = [(a, b) for a in group_a for b in group_b if a != b]
    if both_ways:
        pairs += [(b, a) for a, b in pairs]
    return [Rule(link=link, source=s, target=t, fault=fault) for s, t in pairs for link in links]


def isolation(address: str, fault: Fault | None = None) -> list[Rule]:
    """A replica cut from every other member, both ways: a machine whose network is gone."""
    cut = fault or Fault("blackhole")
    return [Rule(link="peer", source=address, target=ANY, fault=cut),
            Rule(link="peer", source=ANY, target=address, fault=cut)]
