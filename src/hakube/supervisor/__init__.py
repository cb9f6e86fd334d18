"""The supervisor: a replica's kubelet for static pods (seed 002, DESIGN.md §1).

`python -m hakube.supervisor --replica-dir DIR/replicas/<name> --replica <name> --zone Z`
runs the Pod manifests in `<replica-dir>/manifests/`, one process per
container, restarting them with back-off and on failed liveness probes; logs go
to `<replica-dir>/logs/<component>.log`, its status to
`<replica-dir>/run/supervisor.json`. With `--kubeconfig` it registers the
replica as a control-plane Node and keeps mirror pods in kube-system.

`manifest()`, `http_liveness()`, `write_manifest()` and `remove_manifest()`
write the manifests it runs.
"""

from hakube.supervisor.manifest import (
    STOP_ORDER_ANNOTATION,
    ManifestError,
    StaticPod,
    default_stop_order,
    http_liveness,
    manifest,
    parse_manifest,
    remove_manifest,
    write_manifest,
)
from hakube.supervisor.status import read_status

__all__ = [
    "STOP_ORDER_ANNOTATION",
    "ManifestError",
    "StaticPod",
    "default_stop_order",
    "http_liveness",
    "manifest",
    "parse_manifest",
    "read_status",
    "remove_manifest",
    "write_manifest",
]
