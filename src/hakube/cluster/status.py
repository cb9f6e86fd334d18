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
import ssl
from datetime import UTC, datetime
from typing import Any

from hakube.apiserver import identity
from hakube.client.api import LEASES, ApiClient, ApiError, Credentials
from hakube.cluster.layout import ClusterState
from hakube.cluster.local import LocalCluster
from hakube.cluster.manifests import APISERVER_PORT, client_endpoint
from hakube.cluster.network import NetworkError
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
                         "sessions": s.current_sessions, "weight": s.weight} for s in stats.servers]
        load_balancer = {"address": f"{state.external_ip}:6443", "running": lb.running, "pid": lb.pid,
                         "backends": backends}
    leases = await cluster.lease_holders(state.external_ip, LEASE_NAMES)
    apiservers = await live_apiservers(cluster, state.external_ip)
    return {
        "name": state.name,
        "clusterDir": str(layout.root),
        "externalIP": state.external_ip,
        "server": f"https://{state.external_ip}:6443",
        "replicas": replicas,
        "loadBalancer": load_balancer,
        "leases": leases,
        "apiservers": apiservers,
        "quorumReads": state.quorum_reads,
        "multizone": state.multizone,
        "autoRepair": state.auto_repair,
        # null without --network-faults; else the link faults in force (hakube network show)
        "networkFaults": _network_faults(cluster, state),
        "featureGates": state.feature_gates,
        "etcd": {"members": len(health.members) if health else None,
                 "quorum": health.quorum if health else None,
                 "hasQuorum": health.has_quorum if health else False,
                 "endpoints": [client_endpoint(r) for r in state.replicas]},
        "faultTolerance": health.fault_tolerance if health else 0,
        "operation": vars(state.operation) if state.operation else None,
    }


def _network_faults(cluster: LocalCluster, state: ClusterState) -> list[str] | None:
    """null without --network-faults; else the link faults in force (as `hakube network show` prints them)."""
    if not state.network_faults:
        return None
    try:
        return cluster.replicas.network.describe(state)
    except NetworkError as err:
        return [str(err)]


async def live_apiservers(cluster: LocalCluster, ip: str) -> list[dict[str, Any]] | None:
    """API servers that announce themselves with a live identity Lease (APIServerIdentity).

    An empty list when the gate is off; None when the API does not answer.
    """
    creds = Credentials.from_kubeconfig(cluster.layout.kubeconfig)
    creds = Credentials(server=f"https://{ip}:{APISERVER_PORT}", ca_pem=creds.ca_pem, cert_pem=creds.cert_pem,
                        key_pem=creds.key_pem)
    try:
        async with ApiClient(creds, timeout=3.0) as client:
            body = await client.list(LEASES, identity.NAMESPACE,
                                     label_selector=f"{identity.LABEL_KEY}={identity.LABEL_VALUE}")
    except (ApiError, OSError, ssl.SSLError):
        return None
    now = datetime.now(UTC)
    return [{"id": lease["metadata"]["name"], "holderIdentity": (lease.get("spec") or {}).get("holderIdentity"),
             "renewTime": (lease.get("spec") or {}).get("renewTime")}
            for lease in sorted(body.get("items") or [], key=lambda o: o["metadata"]["name"])
            if not identity.expired(lease, now=now)]
