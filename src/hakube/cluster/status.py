"""What `hakube status` reports (contract: DESIGN.md §3, `status -o json`).

Gathered from the places that know: each replica's supervisor status file
(processes, restarts), its API server's /readyz, etcd itself over TLS (member
ids, the leader, quorum), HAProxy's runtime stats (backends and their
health), and the API (lease holders). A part that does not answer is shown
as unknown rather than failing the whole report.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hakube.cluster.local import LocalCluster
from hakube.cluster.manifests import client_endpoint
from hakube.lb import LoadBalancerError
from hakube.lb.runtime import RuntimeAPIError
from hakube.store.errors import StoreError
from hakube.supervisor import read_status

LEASE_NAMES = ("kube-controller-manager", "kube-scheduler", "cluster-autoscaler")


async def gather(cluster: LocalCluster) -> dict[str, Any]:
    layout = cluster.layout
    state = layout.load()
    reps = cluster.replicas
    health = None
    if state.replicas:
        with contextlib.suppress(StoreError, OSError):
            async with reps.membership(state) as members:
                health = await members.health(timeout=2.0)
    members_by_name = {m.name: m for m in (health.members if health else ())}
    ready = await asyncio.gather(*(cluster.readyz(r.ip) for r in state.replicas))
    replicas = []
    for replica, (is_ready, _detail) in zip(state.replicas, ready, strict=True):
        supervisor = reps.supervisor_pid(replica)
        sup_status = read_status(layout.replica(replica.name) / "run") or {} if supervisor else {}
        components = {
            name: {"state": c.get("state"), "pid": c.get("pid"), "restarts": c.get("restarts", 0)}
            for name, c in (sup_status.get("components") or {}).items()
        }
        member = members_by_name.get(replica.name)
        member_ok = bool(member and health and member.id in health.statuses)
        replicas.append({
            "name": replica.name, "zone": replica.zone, "ip": replica.ip,
            "healthy": bool(supervisor and is_ready and member_ok),
            "etcdMemberID": f"{member.id:x}" if member else (replica.etcd_member_id or None),
            "etcdLeader": bool(member and health and health.leader_id == member.id),
            "etcdLearner": bool(member and member.is_learner),
            "supervisor": {"pid": supervisor, "running": supervisor is not None},
            "components": components,
            "apiserverReady": is_ready,
        })
    load_balancer = None
    if state.load_balancer:
        lb = reps.lb(state)
        backends: list[dict[str, Any]] = []
        with contextlib.suppress(LoadBalancerError, RuntimeAPIError, OSError):
            stats = await lb.stats(timeout=2.0)
            backends = [{"name": s.server, "address": s.address, "status": s.status, "check": s.check_status,
                         "sessions": s.current_sessions} for s in stats.servers]
        load_balancer = {"address": f"{state.external_ip}:6443", "running": lb.running, "pid": lb.pid,
                         "backends": backends}
    leases = await cluster.lease_holders(state.external_ip, LEASE_NAMES)
    return {
        "name": state.name,
        "clusterDir": str(layout.root),
        "externalIP": state.external_ip,
        "server": f"https://{state.external_ip}:6443",
        "replicas": replicas,
        "loadBalancer": load_balancer,
        "leases": leases,
        "quorumReads": state.quorum_reads,
        "multizone": state.multizone,
        "autoRepair": state.auto_repair,
        "featureGates": state.feature_gates,
        "etcd": {"members": len(health.members) if health else None,
                 "quorum": health.quorum if health else None,
                 "hasQuorum": health.has_quorum if health else False,
                 "endpoints": [client_endpoint(r) for r in state.replicas]},
        "faultTolerance": health.fault_tolerance if health else 0,
        "operation": vars(state.operation) if state.operation else None,
    }
