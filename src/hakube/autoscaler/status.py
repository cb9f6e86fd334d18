"""The `cluster-autoscaler-status` ConfigMap: what the autoscaler sees and last did, for people.

The text follows upstream's status (`clusterstate/api`, the YAML written to
kube-system/cluster-autoscaler-status since 1.30): cluster-wide health and
scale-up/scale-down state, then the same per node group with its sizes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hakube.autoscaler.autoscaler import Activity
from hakube.autoscaler.groups import NodeGroup
from hakube.client.api import CONFIGMAPS, ApiClient, ApiError

Obj = dict[str, Any]

STATUS_NAME = "cluster-autoscaler-status"
NAMESPACE = "kube-system"


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else "never"


def _ready(node: Obj) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def status_text(*, groups: dict[str, NodeGroup], members: dict[str, list[str]], nodes: list[Obj],
                activity: Activity, identity: str) -> str:
    by_name = {n["metadata"]["name"]: n for n in nodes}
    ready = sum(1 for n in nodes if _ready(n))
    lines = [
        f"time: {_ts(activity.last_probe)}",
        "autoscalerStatus: Running",
        f"leader: {identity}",
        "clusterWide:",
        "  health:",
        f"    status: {'Healthy' if ready == len(nodes) else 'Unhealthy'}",
        f"    nodeCounts: {{registered: {len(nodes)}, ready: {ready}, unready: {len(nodes) - ready}}}",
        f"    lastProbeTime: {_ts(activity.last_probe)}",
        "  scaleUp:",
        f"    status: {activity.scale_up}",
        f"    lastProbeTime: {_ts(activity.last_probe)}",
        f"    lastScaleUpTime: {_ts(activity.last_scale_up)}",
        "  scaleDown:",
        f"    status: {activity.scale_down}",
        f"    candidates: {len(activity.candidates)}",
        f"    lastProbeTime: {_ts(activity.last_probe)}",
        f"    lastScaleDownTime: {_ts(activity.last_scale_down)}",
        "nodeGroups:",
    ]
    for zone, group in sorted(groups.items()):
        names = members.get(zone, [])
        registered = [by_name[n] for n in names if n in by_name]
        group_ready = sum(1 for n in registered if _ready(n))
        healthy = group_ready >= min(group.min_size, len(names))
        candidates = sorted(n for n in activity.candidates if n in names)
        lines += [
            f"- name: {group.name}",
            f"  zone: {zone}",
            "  health:",
            f"    status: {'Healthy' if healthy else 'Unhealthy'}",
            f"    nodeCounts: {{registered: {len(registered)}, ready: {group_ready}, "
            f"unready: {len(registered) - group_ready}}}",
            f"    cloudProviderTarget: {len(names)}",
            f"    minSize: {group.min_size}",
            f"    maxSize: {group.max_size}",
            "  scaleUp:",
            f"    status: {'NoActivity' if len(names) < group.max_size else 'Backoff (at max size)'}",
            "  scaleDown:",
            f"    status: {'CandidatesPresent' if candidates else 'NoCandidates'}",
            f"    candidates: {len(candidates)}" + (f" ({', '.join(candidates)})" if candidates else ""),
        ]
        for n in names:
            if n in activity.notes:
                lines.append(f"    {n}: {activity.notes[n]}")
    return "\n".join(lines) + "\n"


async def write_status(client: ApiClient, text: str) -> None:
    """Create or update the ConfigMap (last writer wins: only the leader writes it)."""
    body = {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": STATUS_NAME, "namespace": NAMESPACE,
                         "annotations": {"cluster-autoscaler.kubernetes.io/last-updated":
                                         datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")}},
            "data": {"status": text}}
    try:
        await client.patch(CONFIGMAPS, STATUS_NAME, {"metadata": body["metadata"], "data": body["data"]},
                           NAMESPACE)
    except ApiError as err:
        if not err.not_found:
            raise
        await client.create(CONFIGMAPS, body, NAMESPACE)
