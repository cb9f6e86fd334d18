"""Namespace and scheduling policy objects: policy/v1 PodDisruptionBudget,
scheduling.k8s.io/v1 PriorityClass, core/v1 ResourceQuota and LimitRange,
networking.k8s.io/v1 Ingress and IngressClass.

Defaults and validation mirror k/k `pkg/apis/{policy,scheduling,core,networking}/validation`
and `pkg/registry/*/strategy.go` where it is cheap; messages are upstream's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hakube.apiserver.strategy import Cause, Obj, Strategy, cause, invalid_value, required

# -- policy/v1 PodDisruptionBudget (pkg/apis/policy/validation) ------------------------------------

_PERCENT = re.compile(r"^[0-9]+%$")
_EVICTION_POLICIES = ("AlwaysAllow", "IfHealthyBudget")


def int_or_percent_errors(value: Any, path: str) -> list[Cause]:
    """ValidatePositiveIntOrPercent + IsNotMoreThan100Percent."""
    if isinstance(value, bool):
        return [invalid_value(path, value, "must be an integer or percentage (e.g '5%')")]
    if isinstance(value, int):
        return [] if value >= 0 else [invalid_value(path, value, "must be greater than or equal to 0")]
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [invalid_value(path, value, "a valid percent string must be a numeric string followed by an "
                                  "ending '%' (e.g. '1%',  or '93%')")]
        if int(value[:-1]) > 100:
            return [invalid_value(path, value, "must not be greater than 100%")]
        return []
    return [invalid_value(path, value, "must be an integer or percentage (e.g '5%')")]


@dataclass(frozen=True)
class PodDisruptionBudgetStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        # PrepareForCreate resets the status; its int fields are not omitempty in v1.
        obj["status"] = {"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0}

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [] if spec is None else [invalid_value("spec", spec, "must be an object")]
        causes: list[Cause] = []
        if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
            causes.append(cause("spec", "Invalid value: minAvailable and maxUnavailable cannot be both set"))
        for key in ("minAvailable", "maxUnavailable"):
            if spec.get(key) is not None:
                causes += int_or_percent_errors(spec[key], f"spec.{key}")
        policy = spec.get("unhealthyPodEvictionPolicy")
        if policy is not None and policy not in _EVICTION_POLICIES:
            causes.append(cause("spec.unhealthyPodEvictionPolicy",
                                f'Unsupported value: "{policy}": supported values: "AlwaysAllow", '
                                '"IfHealthyBudget"', "FieldValueNotSupported"))
        return causes


# -- scheduling.k8s.io/v1 PriorityClass (pkg/apis/scheduling) ---------------------------------------

HIGHEST_USER_PRIORITY = 1_000_000_000
SYSTEM_PRIORITY_CLASSES = {"system-node-critical": 2_000_001_000, "system-cluster-critical": 2_000_000_000}
_PREEMPTION_POLICIES = ("Never", "PreemptLowerPriority")


@dataclass(frozen=True)
class PriorityClassStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")

    def validate(self, obj: Obj) -> list[Cause]:
        name, value = obj["metadata"].get("name", ""), obj.get("value", 0)
        causes: list[Cause] = []
        if not isinstance(value, int) or isinstance(value, bool):
            return [invalid_value("value", value, "must be an integer")]
        if name.startswith("system-"):
            known = SYSTEM_PRIORITY_CLASSES.get(name)
            if known is None:
                error = f"{name} is not a known system priority class"
            elif value != known:
                error = f"value of {name} PriorityClass must be {known}"
            elif obj.get("globalDefault"):
                error = f"globalDefault of {name} PriorityClass must be false"
            else:
                error = ""
            if error:
                causes.append(cause("metadata.name", "Forbidden: priority class names with 'system-' prefix are "
                                    f"reserved for system use only. error: {error}", "FieldValueForbidden"))
        elif value > HIGHEST_USER_PRIORITY:
            causes.append(cause("value", "Forbidden: maximum allowed value of a user defined priority is "
                                f"{HIGHEST_USER_PRIORITY}", "FieldValueForbidden"))
        policy = obj.get("preemptionPolicy")
        if policy not in _PREEMPTION_POLICIES:
            causes.append(cause("preemptionPolicy", f'Unsupported value: "{policy}": supported values: "Never", '
                                '"PreemptLowerPriority"', "FieldValueNotSupported"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        if new.get("value") != old.get("value"):
            causes.append(cause("value", "Forbidden: may not be changed in an update.", "FieldValueForbidden"))
        if new.get("preemptionPolicy") != old.get("preemptionPolicy"):
            causes.append(invalid_value("preemptionPolicy", new.get("preemptionPolicy"), "field is immutable"))
        return causes


# -- core/v1 ResourceQuota and LimitRange -----------------------------------------------------------

_QUOTA_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
                 "CrossNamespacePodAffinity")
_LIMIT_TYPES = ("Container", "PersistentVolumeClaim", "Pod")


@dataclass(frozen=True)
class ResourceQuotaStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        obj.pop("status", None)

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec") or {}
        causes: list[Cause] = []
        for i, scope in enumerate(spec.get("scopes") or []):
            if scope not in _QUOTA_SCOPES:
                allowed = ", ".join(f'"{s}"' for s in sorted(_QUOTA_SCOPES))
                causes.append(cause(f"spec.scopes[{i}]", f'Unsupported value: "{scope}": supported values: '
                                    f"{allowed}", "FieldValueNotSupported"))
        return causes


@dataclass(frozen=True)
class LimitRangeStrategy(Strategy):
    def validate(self, obj: Obj) -> list[Cause]:
        causes: list[Cause] = []
        for i, item in enumerate((obj.get("spec") or {}).get("limits") or []):
            kind = item.get("type") if isinstance(item, dict) else None
            if kind not in _LIMIT_TYPES:
                causes.append(cause(f"spec.limits[{i}].type", f'Unsupported value: "{kind or ""}": supported '
                                    'values: "Container", "PersistentVolumeClaim", "Pod"',
                                    "FieldValueNotSupported"))
        return causes


# -- networking.k8s.io/v1 Ingress and IngressClass (pkg/apis/networking/validation) ----------------

_PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")


def _backend_errors(backend: Any, path: str) -> list[Cause]:
    if not isinstance(backend, dict):
        return [required(path)]
    service, resource = backend.get("service"), backend.get("resource")
    if service and resource:
        return [cause(path, "Invalid value: cannot set both resource and service backends")]
    if not service and not resource:
        return [cause(path, "Invalid value: resource or service backend is required")]
    if service:
        causes: list[Cause] = []
        if not service.get("name"):
            causes.append(required(f"{path}.service.name"))
        port = service.get("port") or {}
        if bool(port.get("name")) == (port.get("number") is not None):
            causes.append(cause(f"{path}.service.port", "Invalid value: cannot set both port name & port number"
                                if port.get("name") else "Required value: port name or number is required",
                                "FieldValueInvalid" if port.get("name") else "FieldValueRequired"))
        return causes
    return []


@dataclass(frozen=True)
class IngressStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"loadBalancer": {}}

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec") or {}
        causes: list[Cause] = []
        rules = spec.get("rules") or []
        if not spec.get("defaultBackend") and not rules:
            causes.append(cause("spec", "Invalid value: []networking.IngressRule(nil): either `defaultBackend` "
                                "or `rules` must be specified"))
        if spec.get("defaultBackend"):
            causes += _backend_errors(spec["defaultBackend"], "spec.defaultBackend")
        for i, rule in enumerate(rules):
            paths = ((rule or {}).get("http") or {}).get("paths") or []
            for j, entry in enumerate(paths):
                at = f"spec.rules[{i}].http.paths[{j}]"
                path_type = (entry or {}).get("pathType")
                if not path_type:
                    causes.append(cause(f"{at}.pathType", "Required value: pathType must be specified",
                                        "FieldValueRequired"))
                elif path_type not in _PATH_TYPES:
                    causes.append(cause(f"{at}.pathType", f'Unsupported value: "{path_type}": supported values: '
                                        '"Exact", "ImplementationSpecific", "Prefix"', "FieldValueNotSupported"))
                causes += _backend_errors((entry or {}).get("backend"), f"{at}.backend")
        return causes


@dataclass(frozen=True)
class IngressClassStrategy(Strategy):
    def validate(self, obj: Obj) -> list[Cause]:
        if not (obj.get("spec") or {}).get("controller"):
            return [required("spec.controller")]
        return []

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        if (new.get("spec") or {}).get("controller") != (old.get("spec") or {}).get("controller"):
            causes.append(invalid_value("spec.controller", (new.get("spec") or {}).get("controller"),
                                        "field is immutable"))
        return causes
