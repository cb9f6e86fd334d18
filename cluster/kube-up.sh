#!/usr/bin/env bash
# kube-up.sh for hakube: the environment variables of the Kubernetes HA guide
# ("Set up High-Availability Kubernetes Masters"), run on local replicas.
#
#   MULTIZONE=true KUBE_GCE_ZONE=europe-west1-b ENABLE_ETCD_QUORUM_READS=true ./cluster/kube-up.sh
#   KUBE_GCE_ZONE=europe-west1-c KUBE_REPLICATE_EXISTING_MASTER=true ./cluster/kube-up.sh
#
# MULTIZONE, KUBE_GCE_ZONE, ENABLE_ETCD_QUORUM_READS (or ENABLE_ETCD_QUORUM_READ),
# KUBE_REPLICATE_EXISTING_MASTER and HAKUBE_CLUSTER_DIR are honoured; settings
# chosen at creation are inherited by added replicas, as in the guide.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
hakube="$here/.venv/bin/hakube"
[ -x "$hakube" ] || hakube="hakube"

truthy() { case "${1:-}" in true|TRUE|True|1|yes) return 0 ;; *) return 1 ;; esac; }

args=()
[ -n "${HAKUBE_CLUSTER_DIR:-}" ] && args+=(--cluster-dir "$HAKUBE_CLUSTER_DIR")

if truthy "${KUBE_REPLICATE_EXISTING_MASTER:-}"; then
  if [ -z "${KUBE_GCE_ZONE:-}" ]; then
    echo "kube-up.sh: KUBE_REPLICATE_EXISTING_MASTER=true needs KUBE_GCE_ZONE (the new replica's zone)" >&2
    exit 1
  fi
  exec "$hakube" replica add "${args[@]}" --zone "$KUBE_GCE_ZONE"
fi

[ -n "${KUBE_GCE_ZONE:-}" ] && args+=(--zone "$KUBE_GCE_ZONE")
truthy "${MULTIZONE:-}" && args+=(--multizone)
if truthy "${ENABLE_ETCD_QUORUM_READS:-}" || truthy "${ENABLE_ETCD_QUORUM_READ:-}"; then
  args+=(--quorum-reads)
fi
exec "$hakube" up "${args[@]}"
