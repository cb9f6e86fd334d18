"""Node groups: the hollow nodes of one zone, with the sizes the autoscaler may give them.

`hakube nodes autoscale --zone Z --min A --max B` records a group in
`DIR/nodes/autoscale.json`; the autoscaler re-reads the file every scan, so a
change needs no restart. A group may also carry its own scale-down timings,
as upstream's per-node-group autoscaling options do
(cluster-autoscaler `config.NodeGroupAutoscalingOptions`); unset, the
autoscaler's flags apply.

```
{"groups": {"<zone>": {"min": A, "max": B, "scaleDownUnneededTime": S?, "scaleDownUtilizationThreshold": T?,
                       "scaleDownDelayAfterAdd": D?}}}
```
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_GROUP_SIZE = 1000
_ZONE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$")


class GroupError(ValueError):
    """A request the user can fix (min > max, a bad zone): one clear line."""


@dataclass(frozen=True, slots=True)
class NodeGroup:
    zone: str
    min_size: int
    max_size: int
    unneeded_time: float | None = None
    utilization_threshold: float | None = None
    delay_after_add: float | None = None

    @property
    def name(self) -> str:
        return f"hollow-{self.zone}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"min": self.min_size, "max": self.max_size}
        if self.unneeded_time is not None:
            out["scaleDownUnneededTime"] = self.unneeded_time
        if self.utilization_threshold is not None:
            out["scaleDownUtilizationThreshold"] = self.utilization_threshold
        if self.delay_after_add is not None:
            out["scaleDownDelayAfterAdd"] = self.delay_after_add
        return out


def validate(group: NodeGroup) -> NodeGroup:
    if not _ZONE.match(group.zone):
        raise GroupError(f"invalid zone {group.zone!r}: use lowercase letters, digits and '-' (at most 40)")
    if group.min_size < 0:
        raise GroupError(f"--min must be at least 0, not {group.min_size}")
    if group.max_size > MAX_GROUP_SIZE:
        raise GroupError(f"--max must be at most {MAX_GROUP_SIZE}")
    if group.min_size > group.max_size:
        raise GroupError(f"--min {group.min_size} is greater than --max {group.max_size}")
    if group.max_size < 1:
        raise GroupError("--max must be at least 1")
    if group.unneeded_time is not None and group.unneeded_time < 0:
        raise GroupError("--scale-down-unneeded-time must not be negative")
    if group.utilization_threshold is not None and not 0 <= group.utilization_threshold <= 1:
        raise GroupError("--scale-down-utilization-threshold must be between 0 and 1")
    if group.delay_after_add is not None and group.delay_after_add < 0:
        raise GroupError("--scale-down-delay-after-add must not be negative")
    return group


def groups_file(cluster_root: Path) -> Path:
    return cluster_root / "nodes" / "autoscale.json"


def load_groups(cluster_root: Path) -> dict[str, NodeGroup]:
    """The groups by zone; a missing or unreadable file means none (the autoscaler then does nothing)."""
    try:
        data = json.loads(groups_file(cluster_root).read_text())
    except (OSError, ValueError):
        return {}
    out = {}
    for zone, g in (data.get("groups") or {}).items():
        try:
            unneeded = g.get("scaleDownUnneededTime")
            threshold = g.get("scaleDownUtilizationThreshold")
            delay = g.get("scaleDownDelayAfterAdd")
            out[zone] = validate(NodeGroup(
                zone=zone, min_size=int(g["min"]), max_size=int(g["max"]),
                unneeded_time=None if unneeded is None else float(unneeded),
                utilization_threshold=None if threshold is None else float(threshold),
                delay_after_add=None if delay is None else float(delay)))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def save_group(cluster_root: Path, group: NodeGroup) -> None:
    """Add or replace one group (atomically: the autoscaler may be reading the file)."""
    validate(group)
    path = groups_file(cluster_root)
    groups = load_groups(cluster_root)
    groups[group.zone] = group
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"groups": {z: g.to_json() for z, g in sorted(groups.items())}}, indent=2) + "\n")
    tmp.replace(path)


def remove_group(cluster_root: Path, zone: str) -> bool:
    groups = load_groups(cluster_root)
    if groups.pop(zone, None) is None:
        return False
    path = groups_file(cluster_root)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"groups": {z: g.to_json() for z, g in sorted(groups.items())}}, indent=2) + "\n")
    tmp.replace(path)
    return True
