#!/usr/bin/env bash
# kube-down.sh for hakube, with the HA guide's variables:
#
#   KUBE_DELETE_NODES=false KUBE_GCE_ZONE=europe-west1-c ./cluster/kube-down.sh
#   KUBE_DELETE_NODES=false KUBE_GCE_ZONE=replica_zone KUBE_REPLICA_NAME=replica_name ./cluster/kube-down.sh
#
# With KUBE_GCE_ZONE (and optionally KUBE_REPLICA_NAME) it removes one master
# replica of that zone; KUBE_DELETE_NODES=false keeps the worker nodes. When
# that replica is the last one, or without KUBE_GCE_ZONE, it tears the whole
# cluster down as kube-down does: processes stopped, cluster directory deleted.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
hakube="$here/.venv/bin/hakube"
[ -x "$hakube" ] || hakube="hakube"

dir="${HAKUBE_CLUSTER_DIR:-$HOME/.hakube/default}"
args=(--cluster-dir "$dir")

teardown() {
  "$hakube" down "${args[@]}"
  rm -rf -- "$dir"
  echo "cluster in $dir deleted"
}

if [ -z "${KUBE_GCE_ZONE:-}" ] && [ -z "${KUBE_REPLICA_NAME:-}" ]; then
  teardown
  exit 0
fi

count="$("$hakube" replica list "${args[@]}" -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
if [ "$count" -le 1 ]; then
  teardown
  exit 0
fi

remove=(replica remove "${args[@]}")
[ -n "${KUBE_GCE_ZONE:-}" ] && remove+=(--zone "$KUBE_GCE_ZONE")
[ -n "${KUBE_REPLICA_NAME:-}" ] && remove+=(--name "$KUBE_REPLICA_NAME")
case "${KUBE_DELETE_NODES:-true}" in false|FALSE|False|0|no) remove+=(--keep-nodes) ;; esac
exec "$hakube" "${remove[@]}"
