"""Static Pod manifests: reading them for the supervisor, writing them for `hakube`.

A replica's components are described as kubelet static pods (seed 002: the
manual HA guide copies etcd.yaml and kube-apiserver.yaml into the kubelet's
manifest folder). We keep the Pod format so the files read like kubeadm's
`/etc/kubernetes/manifests`, but only what a process supervisor can honour is
accepted: each container is one process, `command` + `args` is its argv (there
is no image to supply an entrypoint), `env` values are literal, and liveness
probes are `httpGet` or `tcpSocket`. Anything else is refused with a clear
reason rather than silently ignored.

One hakube addition: the annotation `hakube.io/stop-order` (an integer,
higher stops first) orders shutdown: the API's clients, then the API server,
then etcd. Without it the order comes from the component's name.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

import hakube

STOP_ORDER_ANNOTATION = "hakube.io/stop-order"
DEFAULT_NAMESPACE = "kube-system"
# Higher stops first: clients of the API, then the API server, etcd last.
_NAMED_STOP_ORDERS = {"etcd": 0, "kube-apiserver": 10}
CLIENT_STOP_ORDER = 20
# Kubelet's defaults (k/k pkg/apis/core/v1/defaults.go SetDefaults_Probe, SetDefaults_PodSpec).
DEFAULT_GRACE_SECONDS = 30.0

_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class ManifestError(ValueError):
    """A manifest the supervisor cannot run; the message says why."""


def default_stop_order(name: str) -> int:
    """etcd 0, kube-apiserver 10, every other component (a client of the API) 20."""
    return _NAMED_STOP_ORDERS.get(name, CLIENT_STOP_ORDER)


@dataclass(frozen=True)
class Probe:
    """A liveness probe: `httpGet` (scheme HTTP or HTTPS, never verified) or `tcpSocket`."""

    kind: str  # "http" or "tcp"
    port: int
    host: str | None = None  # None: the node IP (127.0.0.1 without one), as kubelet probes the pod IP
    path: str = "/"
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    grace_period: float | None = None  # probe-level terminationGracePeriodSeconds (KEP-2238)


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str | None = None
    liveness: Probe | None = None


@dataclass(frozen=True)
class StaticPod:
    """One parsed manifest. `pod` is the document as written, for the mirror pod."""

    name: str
    namespace: str
    containers: tuple[ContainerSpec, ...]
    grace_period: float
    stop_order: int
    restart_policy: str
    hash: str
    source: Path
    pod: dict[str, Any] = field(compare=False, repr=False)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _number(value: Any, what: str, *, default: float, minimum: float = 0.0) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ManifestError(f"{what} must be a number ≥ {minimum:g}, not {value!r}")
    return float(value)


def _strings(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        raise ManifestError(f"{what} must be a list of strings")
    return [str(v) for v in value]


def _port(value: Any, ports: Mapping[str, int], what: str) -> int:
    if isinstance(value, str) and not value.isdigit():
        if value not in ports:
            raise ManifestError(f"{what}: no container port named {value!r}")
        return ports[value]
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise ManifestError(f"{what} must be a port number or name, not {value!r}") from None
    if not 0 < port < 65536:
        raise ManifestError(f"{what}: {port} is not a valid port")
    return port


def _probe(raw: Any, ports: Mapping[str, int], where: str) -> Probe:
    if not isinstance(raw, dict):
        raise ManifestError(f"{where} must be an object")
    grace = raw.get("terminationGracePeriodSeconds")
    base = Probe(
        kind="tcp", port=0,
        initial_delay=_number(raw.get("initialDelaySeconds"), f"{where}.initialDelaySeconds", default=0.0),
        period=_number(raw.get("periodSeconds"), f"{where}.periodSeconds", default=10.0, minimum=0.1),
        timeout=_number(raw.get("timeoutSeconds"), f"{where}.timeoutSeconds", default=1.0, minimum=0.1),
        failure_threshold=int(_number(raw.get("failureThreshold"), f"{where}.failureThreshold", default=3,
                                      minimum=1)),
        grace_period=None if grace is None else _number(grace, f"{where}.terminationGracePeriodSeconds",
                                                        default=0.0))
    if "httpGet" in raw:
        http = raw["httpGet"] or {}
        scheme = str(http.get("scheme", "HTTP")).upper()
        if scheme not in ("HTTP", "HTTPS"):
            raise ManifestError(f"{where}.httpGet.scheme must be HTTP or HTTPS, not {scheme!r}")
        headers = tuple((str(h["name"]), str(h.get("value", ""))) for h in http.get("httpHeaders") or []
                        if isinstance(h, dict) and h.get("name"))
        path = str(http.get("path") or "/")
        return replace(base, kind="http", port=_port(http.get("port"), ports, f"{where}.httpGet.port"),
                       host=http.get("host") or None, path=path if path.startswith("/") else f"/{path}",
                       scheme=scheme, headers=headers)
    if "tcpSocket" in raw:
        tcp = raw["tcpSocket"] or {}
        return replace(base, port=_port(tcp.get("port"), ports, f"{where}.tcpSocket.port"),
                       host=tcp.get("host") or None)
    raise ManifestError(f"{where}: only httpGet and tcpSocket probes are supported")


def _container(raw: Any, index: int) -> ContainerSpec:
    where = f"spec.containers[{index}]"
    if not isinstance(raw, dict):
        raise ManifestError(f"{where} must be an object")
    name = str(raw.get("name") or "")
    if not name:
        raise ManifestError(f"{where}.name is required")
    argv = _strings(raw.get("command"), f"{where}.command") + _strings(raw.get("args"), f"{where}.args")
    if not raw.get("command"):
        raise ManifestError(f"{where}.command is required: a process has no image entrypoint to fall back on")
    env: list[tuple[str, str]] = []
    for i, item in enumerate(raw.get("env") or []):
        if not isinstance(item, dict) or not item.get("name"):
            raise ManifestError(f"{where}.env[{i}] needs a name")
        if "valueFrom" in item:
            raise ManifestError(f"{where}.env[{i}] ({item['name']}): only literal values are supported")
        env.append((str(item["name"]), str(item.get("value", ""))))
    ports = {str(p["name"]): int(p["containerPort"]) for p in raw.get("ports") or []
             if isinstance(p, dict) and p.get("name") and p.get("containerPort")}
    liveness = raw.get("livenessProbe")
    return ContainerSpec(
        name=name, argv=tuple(argv), env=tuple(env), working_dir=raw.get("workingDir") or None,
        liveness=_probe(liveness, ports, f"{where}.livenessProbe") if liveness is not None else None)


def parse_manifest(data: bytes, source: Path) -> StaticPod:
    """Parse one manifest file's bytes; ManifestError says what is wrong."""
    try:
        pod = yaml.safe_load(data)
    except yaml.YAMLError as err:
        raise ManifestError(f"not valid YAML: {err}") from None
    if not isinstance(pod, dict):
        raise ManifestError("not a Pod object")
    if pod.get("kind", "Pod") != "Pod" or pod.get("apiVersion", "v1") != "v1":
        raise ManifestError(f"kind must be v1 Pod, not {pod.get('apiVersion')} {pod.get('kind')}")
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    if not isinstance(meta, dict) or not isinstance(spec, dict):
        raise ManifestError("metadata and spec must be objects")
    name = str(meta.get("name") or "")
    if not _NAME_RE.match(name):
        raise ManifestError(f"metadata.name {name!r} is not a valid component name")
    raw_containers = spec.get("containers")
    if not isinstance(raw_containers, list) or not raw_containers:
        raise ManifestError("spec.containers must list at least one container")
    containers = tuple(_container(c, i) for i, c in enumerate(raw_containers))
    names = [c.name for c in containers]
    if len(set(names)) != len(names):
        raise ManifestError("container names must be unique")
    policy = str(spec.get("restartPolicy") or "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        raise ManifestError(f"spec.restartPolicy must be Always, OnFailure or Never, not {policy!r}")
    annotations = meta.get("annotations") or {}
    order_text = annotations.get(STOP_ORDER_ANNOTATION)
    try:
        stop_order = default_stop_order(name) if order_text is None else int(order_text)
    except (TypeError, ValueError):
        raise ManifestError(f"annotation {STOP_ORDER_ANNOTATION} must be an integer, not {order_text!r}") from None
    grace = _number(spec.get("terminationGracePeriodSeconds"), "spec.terminationGracePeriodSeconds",
                    default=DEFAULT_GRACE_SECONDS)
    return StaticPod(name=name, namespace=str(meta.get("namespace") or DEFAULT_NAMESPACE), containers=containers,
                     grace_period=grace, stop_order=stop_order, restart_policy=policy, hash=content_hash(data),
                     source=source, pod=pod)


def manifest_files(directory: Path) -> list[Path]:
    """`*.yaml`, `*.yml` and `*.json` files, hidden ones (editor and temporary files) skipped, as kubelet does."""
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    return [p for p in entries if p.suffix in (".yaml", ".yml", ".json") and not p.name.startswith(".")
            and p.is_file()]


# -- writing manifests (used by `hakube up` / `replica add`) ------------------------------


def http_liveness(*, port: int, path: str = "/livez", host: str | None = None, scheme: str = "HTTP",
                  initial_delay: int = 10, period: int = 10, timeout: int = 5,
                  failure_threshold: int = 3) -> dict[str, Any]:
    """An httpGet livenessProbe. Seconds are whole numbers: the mirror pod must pass API validation."""
    http: dict[str, Any] = {"port": port, "path": path, "scheme": scheme}
    if host:
        http["host"] = host
    return {"httpGet": http, "initialDelaySeconds": initial_delay, "periodSeconds": period,
            "timeoutSeconds": timeout, "failureThreshold": failure_threshold}


def manifest(name: str, argv: Sequence[str], *, namespace: str = DEFAULT_NAMESPACE,
             env: Mapping[str, str] | None = None, liveness: Mapping[str, Any] | None = None,
             stop_order: int | None = None, grace_period: int = 30, image: str | None = None,
             working_dir: str | None = None, labels: Mapping[str, str] | None = None,
             annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A one-container static Pod running `argv`, in the shape kubeadm writes control-plane manifests.

    `stop_order` defaults to the name's (`default_stop_order`); `image` is only a
    label for the mirror pod (the API requires one), nothing is pulled.
    """
    if not argv:
        raise ValueError("argv must not be empty")
    container: dict[str, Any] = {
        "name": name,
        "image": image or f"hakube/{name}:{hakube.__version__}",
        "command": [str(argv[0])],
        "args": [str(a) for a in argv[1:]],
    }
    if env:
        container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]
    if working_dir:
        container["workingDir"] = working_dir
    if liveness:
        container["livenessProbe"] = dict(liveness)
    order = default_stop_order(name) if stop_order is None else stop_order
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"component": name, "tier": "control-plane", **(labels or {})},
            "annotations": {STOP_ORDER_ANNOTATION: str(order), **(annotations or {})},
        },
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": grace_period,
            "containers": [container],
        },
    }


def write_manifest(directory: Path, pod: Mapping[str, Any]) -> Path:
    """Write `<directory>/<name>.yaml` atomically (a hidden temporary file, then rename).

    The supervisor never sees a half-written manifest; rewriting identical
    content changes nothing (the supervisor compares content hashes).
    """
    name = str((pod.get("metadata") or {}).get("name") or "")
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid pod name {name!r}")
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{name}.yaml"
    text = yaml.safe_dump(dict(pod), sort_keys=False, default_flow_style=False)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def remove_manifest(directory: Path, name: str) -> bool:
    """Remove `<name>.yaml`; True if it existed. The supervisor stops the component."""
    target = directory / f"{name}.yaml"
    try:
        target.unlink()
    except FileNotFoundError:
        return False
    return True
