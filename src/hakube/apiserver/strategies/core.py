"""Strategies of core/v1 resources (k/k `pkg/registry/core/*/strategy.go`)."""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass

from hakube.apiserver.strategy import Cause, Obj, Strategy, cause, invalid_value, required

# Fields the main pod endpoint may change after creation (k/k pkg/apis/core/validation
# ValidatePodUpdate): container images, activeDeadlineSeconds, tolerations additions,
# terminationGracePeriodSeconds (only to shorten it on delete).
_POD_MUTABLE_MESSAGE = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _validate_containers(obj: Obj, list_name: str, *, needed: bool) -> list[Cause]:
    spec = obj.get("spec") or {}
    containers = spec.get(list_name)
    path = f"spec.{list_name}"
    if not containers:
        return [required(path)] if needed else []
    if not isinstance(containers, list):
        return [invalid_value(path, containers, "must be a list")]
    causes: list[Cause] = []
    seen: set[str] = set()
    for i, c in enumerate(containers):
        cpath = f"{path}[{i}]"
        if not isinstance(c, dict):
            causes.append(invalid_value(cpath, c, "must be an object"))
            continue
        name = c.get("name")
        if not name:
            causes.append(required(f"{cpath}.name"))
        elif name in seen:
            causes.append(cause(f"{cpath}.name", f'Duplicate value: "{name}"', "FieldValueDuplicate"))
        else:
            seen.add(name)
        if not c.get("image"):
            causes.append(required(f"{cpath}.image"))
    return causes


def _default_containers(spec: Obj, list_name: str) -> None:
    for c in spec.get(list_name) or []:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image", ""))
        latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for port in c.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")


def default_pod_spec(spec: Obj) -> None:
    """Defaults kube applies to every PodSpec (pod, and pod templates in workloads)."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    _default_containers(spec, "containers")
    _default_containers(spec, "initContainers")


@dataclass(frozen=True)
class PodStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            default_pod_spec(spec)
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
            spec.setdefault("priority", 0)
        obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}

    def validate(self, obj: Obj) -> list[Cause]:
        return _validate_containers(obj, "containers", needed=True) + _validate_containers(
            obj, "initContainers", needed=False)

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        if causes:
            return causes
        if _strip_mutable_pod_fields(new.get("spec") or {}) != _strip_mutable_pod_fields(old.get("spec") or {}):
            return [cause("spec", _POD_MUTABLE_MESSAGE, "FieldValueForbidden")]
        return []

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        # CheckGracefulDelete: unscheduled or finished pods go at once.
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return max(0, requested)
        return int(spec.get("terminationGracePeriodSeconds", 30))


def _strip_mutable_pod_fields(spec: Obj) -> Obj:
    out = {k: v for k, v in spec.items()
           if k not in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")}
    for list_name in ("containers", "initContainers"):
        if isinstance(out.get(list_name), list):
            out[list_name] = [
                {k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                for c in out[list_name]
            ]
    return out


@dataclass(frozen=True)
class NamespaceStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("finalizers", ["kubernetes"])
        obj["status"] = {"phase": "Active"}
        labels = obj["metadata"].setdefault("labels", {})
        # The automatic name label (k/k NamespaceDefaultLabelName, GA in 1.22).
        labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        # spec.finalizers only change through /finalize.
        new["spec"] = old.get("spec", {})
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = old["metadata"]["name"]


@dataclass(frozen=True)
class ServiceStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("clusterIP") != "None" and spec["type"] != "ExternalName":
            # A random address of the default service CIDR 10.96.0.0/12; the
            # allocator proper (bitmap in etcd) comes with the controllers.
            ip = spec.get("clusterIP") or str(ipaddress.IPv4Address(
                int(ipaddress.IPv4Address("10.96.0.0")) + random.randrange(2, 1 << 20)))
            spec["clusterIP"] = ip
            spec["clusterIPs"] = [ip]
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "TCP")
                if "port" in port:
                    port.setdefault("targetPort", port["port"])
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new_spec, old_spec = new.get("spec"), old.get("spec") or {}
        if isinstance(new_spec, dict):
            for key in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if key in old_spec and key not in new_spec:
                    new_spec[key] = old_spec[key]

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec") or {}
        causes: list[Cause] = []
        if spec.get("type") not in ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName"):
            causes.append(cause("spec.type", f'Unsupported value: "{spec.get("type")}": supported values: '
                                '"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
                                "FieldValueNotSupported"))
        if spec.get("type") != "ExternalName" and not spec.get("ports") and spec.get("clusterIP") != "None":
            causes.append(required("spec.ports"))
        for i, port in enumerate(spec.get("ports") or []):
            value = port.get("port") if isinstance(port, dict) else None
            if not isinstance(value, int) or not 1 <= value <= 65535:
                causes.append(invalid_value(f"spec.ports[{i}].port", value,
                                            "must be between 1 and 65535, inclusive"))
        return causes


@dataclass(frozen=True)
class SecretStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        obj.setdefault("type", "Opaque")

    def validate(self, obj: Obj) -> list[Cause]:
        import base64
        import binascii

        causes: list[Cause] = []
        for key, value in (obj.get("data") or {}).items():
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                causes.append(invalid_value(f"data[{key}]", "<secret>", "must be base64-encoded"))
        return causes
