"""The static Pod manifests of one replica: etcd, kube-apiserver, controller-manager, scheduler.

The replica's supervisor runs what is in `DIR/replicas/<name>/manifests`
(seed 002: masters as kubelet static pods). Everything speaks TLS: etcd
requires client certificates on its client and peer ports, the API server
talks to its local member with its own client certificate, and the
leader-elected components talk to their replica's API server with their own
identities (kube-up masters point them at the local API server too).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hakube.cluster.layout import ClusterState, Layout, ReplicaState
from hakube.store.etcd import EtcdMemberSpec, EtcdTLS, etcd_command, find_etcd
from hakube.supervisor import http_liveness, manifest, write_manifest

APISERVER_PORT = 6443
APISERVER_LB_AGENT_PORT = 6444  # the load balancer's agent check asks here for a weight (apiserver.lbagent)
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
# With network faults on (`hakube up --network-faults`), the proxy of each replica
# listens on the advertised peer port and on ETCD_PROXIED_CLIENT_PORT, and etcd
# itself takes its peers on ETCD_PROXIED_PEER_PORT.
ETCD_PROXIED_PEER_PORT = 2381
ETCD_PROXIED_CLIENT_PORT = 2382
# Seconds the API server keeps serving with /readyz failing after SIGTERM, so the
# load balancer's checks (2 × 400 ms) eject it before it stops accepting.
SHUTDOWN_DELAY = 2
# A request in a hundred asks its client to reconnect (kube's --goaway-chance, ≤ 0.02), so a
# restarted API server regains its share of keep-alive clients within seconds; each costs one
# TLS handshake. kube suggests starting at 0.001 for HTTP/2, where one connection carries
# every request of a client; an HTTP/1.1 client spreads its requests over several.
GOAWAY_CHANCE = 0.01


def peer_url(replica: ReplicaState) -> str:
    return f"https://{replica.ip}:{ETCD_PEER_PORT}"


def client_endpoint(replica: ReplicaState) -> str:
    return f"{replica.ip}:{ETCD_CLIENT_PORT}"


def etcd_spec(layout: Layout, state: ClusterState, replica: ReplicaState, *, initial_cluster: str,
              initial_state: str) -> EtcdMemberSpec:
    pki = layout.replica_pki(replica.name)
    return EtcdMemberSpec(
        name=replica.name, data_dir=layout.etcd_data(replica.name), ip=replica.ip,
        client_port=ETCD_CLIENT_PORT, peer_port=ETCD_PEER_PORT,
        listen_peer_port=ETCD_PROXIED_PEER_PORT if state.network_faults else None,
        initial_cluster=initial_cluster, initial_cluster_state=initial_state,
        initial_cluster_token=f"hakube-{state.name}",
        tls=EtcdTLS(cert_file=pki / "etcd.crt", key_file=pki / "etcd.key",
                    trusted_ca_file=layout.pki / "etcd-ca.crt"),
    )


def replica_manifests(layout: Layout, state: ClusterState, replica: ReplicaState, *, initial_cluster: str,
                      initial_state: str) -> list[dict[str, Any]]:
    etcd_path, etcd_version = find_etcd()
    spec = etcd_spec(layout, state, replica, initial_cluster=initial_cluster, initial_state=initial_state)
    pki = layout.replica_pki(replica.name)
    rdir = layout.replica(replica.name)
    external = f"{state.external_ip}:{APISERVER_PORT}"
    etcd_port = ETCD_PROXIED_CLIENT_PORT if state.network_faults else ETCD_CLIENT_PORT
    apiserver = [
        sys.executable, "-m", "hakube.apiserver",
        f"--etcd-servers=https://{replica.ip}:{etcd_port}",
        f"--etcd-cafile={layout.pki / 'etcd-ca.crt'}",
        f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
        f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
        f"--bind-address={replica.ip}", f"--secure-port={APISERVER_PORT}",
        f"--advertise-address={external}",
        f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={layout.pki / 'ca.crt'}",
        f"--token-auth-file={layout.tokens}",
        f"--service-account-signing-key-file={layout.pki / 'sa.key'}",
        f"--service-account-key-file={layout.pki / 'sa.key'}",
        f"--quorum-reads={'true' if state.quorum_reads else 'false'}",
        f"--shutdown-delay-duration={SHUTDOWN_DELAY}",
        f"--goaway-chance={GOAWAY_CHANCE}",
        f"--lb-agent-port={APISERVER_LB_AGENT_PORT}",
        f"--listeners-file={listeners_file(layout, replica)}",
    ]
    gates = ",".join(f"{k}={'true' if v else 'false'}" for k, v in sorted(state.feature_gates.items()))
    if gates:
        apiserver.append(f"--feature-gates={gates}")
    elected = {
        "kube-controller-manager": ["hakube.controllers", f"--external-ip={state.external_ip}"],
        "kube-scheduler": ["hakube.scheduler"],
        # Acts on hollow node hosts recorded in the cluster directory (hakube.autoscaler).
        "cluster-autoscaler": ["hakube.autoscaler", f"--cluster-dir={layout.root}"],
    }
    pods = [network_proxy(layout, replica)] if state.network_faults else []
    pods += [
        # No liveness probe for etcd: its ports demand client certificates, and a
        # plain-text metrics port would expose etcd's metrics to anyone. (The one
        # plain-text port of a replica is the API server's agent port: one word out,
        # nothing read.)
        manifest("etcd", etcd_command(spec, executable=etcd_path, version=etcd_version), grace_period=10),
        manifest("kube-apiserver", apiserver, grace_period=SHUTDOWN_DELAY + 10,
                 liveness=http_liveness(port=APISERVER_PORT, host=replica.ip, scheme="HTTPS", initial_delay=15,
                                        period=5, failure_threshold=3)),
    ]
    for component, (module, *extra) in elected.items():
        argv = [sys.executable, "-m", module, f"--kubeconfig={rdir / f'{component}.kubeconfig'}",
                "--leader-elect=true", f"--identity-prefix={replica.name}", *extra]
        pods.append(manifest(component, argv, grace_period=10))
    # Add-on manager: one per replica, no election (seed 004); all read the cluster's add-on folder.
    pods.append(manifest("addon-manager", [
        sys.executable, "-m", "hakube.addons", f"--kubeconfig={rdir / 'addon-manager.kubeconfig'}",
        f"--addons-dir={layout.root / 'addons'}", f"--identity-prefix={replica.name}"], grace_period=10))
    return pods


def network_proxy(layout: Layout, replica: ReplicaState) -> dict[str, Any]:
    """The replica's link proxies (hakube.chaos.netproxyd): a replica's network, which faults can cut."""
    pki = layout.replica_pki(replica.name)
    return manifest("network-proxy", [
        sys.executable, "-m", "hakube.chaos.netproxyd", f"--address={replica.ip}",
        f"--peer={ETCD_PEER_PORT}:{ETCD_PROXIED_PEER_PORT}",
        f"--etcd-client={ETCD_PROXIED_CLIENT_PORT}:{ETCD_CLIENT_PORT}",
        f"--cert={pki / 'etcd.crt'}", f"--key={pki / 'etcd.key'}", f"--ca={layout.pki / 'etcd-ca.crt'}",
        f"--rules={layout.network_rules}", f"--status={network_proxy_status(layout, replica)}",
    ], grace_period=5, stop_order=-10)  # last: etcd keeps its links while it stops


def network_proxy_status(layout: Layout, replica: ReplicaState) -> Path:
    return layout.replica(replica.name) / "run" / "network-proxy.json"


def listeners_file(layout: Layout, replica: ReplicaState) -> Path:
    return layout.replica(replica.name) / "run" / "listeners.json"


def write_replica_manifests(layout: Layout, pods: list[dict[str, Any]], replica: ReplicaState) -> None:
    directory = layout.replica(replica.name) / "manifests"
    for pod in pods:
        write_manifest(directory, pod)
