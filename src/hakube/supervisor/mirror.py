"""Mirror pods: how a static pod and its processes look in the API (k/k pkg/kubelet/pod/mirror_client.go).

A mirror pod is the manifest as written, bound to the replica's Node, named
`<component>-<node>`, annotated with the manifest's hash
(`kubernetes.io/config.mirror`, `config.hash`, `config.source=file`) and owned
by the Node. Its status is built from the supervisor's snapshot: phase
Running once started (a restartPolicy Always pod stays Running while it
restarts), Ready while every container runs, and per container the restart
count, the current state and the last termination, as kubelet reports them
(`pkg/kubelet/kubelet_pods.go` convertToAPIContainerStatuses).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import hakube
from hakube.client.api import Obj
from hakube.supervisor.runner import BACKOFF, COMPLETED, RUNNING, ContainerSnapshot, PodSnapshot, wall_time

MIRROR = "kubernetes.io/config.mirror"


def microtime() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def mirror_name(pod: PodSnapshot, node: str) -> str:
    return f"{pod.name}-{node}"


def node_owner(node: str, uid: str | None) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid, "controller": True}


def mirror_pod(pod: PodSnapshot, *, node: str, node_uid: str | None) -> Obj:
    source = copy.deepcopy(pod.pod)
    meta: Obj = source.get("metadata") or {}
    spec: Obj = source.get("spec") or {}
    annotations = {**(meta.get("annotations") or {}), "kubernetes.io/config.hash": pod.hash, MIRROR: pod.hash,
                   "kubernetes.io/config.source": "file", "kubernetes.io/config.seen": microtime()}
    for container in spec.get("containers") or []:
        container.setdefault("image", f"hakube/{pod.name}:{hakube.__version__}")  # the API requires one
    spec["nodeName"] = node
    # Static pods tolerate every NoExecute taint (k/k pkg/kubelet/config/common.go applyDefaults).
    spec["tolerations"] = [*(spec.get("tolerations") or []), {"operator": "Exists", "effect": "NoExecute"}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": mirror_name(pod, node), "namespace": pod.namespace,
                         "labels": meta.get("labels") or {}, "annotations": annotations,
                         "ownerReferences": [node_owner(node, node_uid)]},
            "spec": spec}


def pod_status(pod: PodSnapshot, *, node: str, node_ip: str | None) -> Obj:
    ready = pod.ready
    since = pod.started_at or wall_time()
    ready_text = "True" if ready else "False"
    conditions: list[Obj] = [
        {"type": "Initialized", "status": "True", "lastTransitionTime": since},
        {"type": "Ready", "status": ready_text, "lastTransitionTime": pod.ready_since or since},
        {"type": "ContainersReady", "status": ready_text, "lastTransitionTime": pod.ready_since or since},
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": since},
    ]
    if not ready:
        for c in conditions[1:3]:
            c["reason"] = "ContainersNotReady"
    images = {c.get("name"): c.get("image") for c in (pod.pod.get("spec") or {}).get("containers") or []
              if isinstance(c, dict)}
    status: Obj = {
        "phase": "Running" if pod.started_at else "Pending",
        "conditions": conditions,
        "qosClass": "BestEffort",
        "containerStatuses": [_container_status(c, image=images.get(c.name) or f"hakube/{pod.name}", node=node)
                              for c in pod.containers],
    }
    if pod.started_at:
        status["startTime"] = pod.started_at
    if node_ip:  # control-plane pods use the host network: pod IP = node IP
        status["hostIP"] = status["podIP"] = node_ip
        status["hostIPs"] = status["podIPs"] = [{"ip": node_ip}]
    return status


def _container_status(c: ContainerSnapshot, *, image: str, node: str) -> Obj:
    if c.state == RUNNING:
        state: Obj = {"running": {"startedAt": c.started_at}}
    elif c.state == BACKOFF:
        state = {"waiting": {"reason": c.reason or "CrashLoopBackOff",
                             "message": f"back-off {c.back_off or 0:g}s restarting failed container"}}
    elif c.state == COMPLETED and c.last_exit_code is not None:
        state = {"terminated": _terminated(c)}
    else:
        state = {"waiting": {"reason": c.reason or "ContainerCreating"}}
    last: Obj = {}
    if c.last_exit_code is not None and c.state != COMPLETED:
        last = {"terminated": _terminated(c)}
    out: Obj = {"name": c.name, "image": image, "imageID": "", "ready": c.state == RUNNING,
                "started": c.state == RUNNING, "restartCount": c.restarts, "state": state, "lastState": last}
    if c.pid:
        out["containerID"] = f"hakube://{node}/{c.pid}"
    return out


def _terminated(c: ContainerSnapshot) -> Obj:
    code = c.last_exit_code or 0
    out: Obj = {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}
    if code > 128:
        out["signal"] = code - 128
    if c.last_started_at:
        out["startedAt"] = c.last_started_at
    if c.last_finished_at:
        out["finishedAt"] = c.last_finished_at
    return out
