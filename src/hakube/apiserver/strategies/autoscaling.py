"""HorizontalPodAutoscalers: stored as autoscaling/v2, served as v2 and v1.

kube-apiserver stores HPAs in autoscaling/v2 and converts autoscaling/v1
requests through the internal version (k/k `pkg/apis/autoscaling/v1/conversion.go`):
v1's `targetCPUUtilizationPercentage` is v2's `cpu` Resource metric with a
Utilization target, and what v1 cannot express (other metrics, behavior,
current metrics, conditions) travels in the `autoscaling.alpha.kubernetes.io/*`
annotations. Upstream writes those annotations in the old v1 metric format;
here they hold the v2 JSON of the same data, which round-trips through any
v1 client that keeps annotations.

Defaults are autoscaling/v2 `SetDefaults_HorizontalPodAutoscaler`: minReplicas 1
and, with no metrics, a cpu target of 80% utilization.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from hakube.apiserver.strategy import Cause, Obj, Strategy, cause, invalid_value, required

METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/metrics"
CURRENT_METRICS_ANNOTATION = "autoscaling.alpha.kubernetes.io/current-metrics"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"
BEHAVIOR_ANNOTATION = "autoscaling.alpha.kubernetes.io/behavior"
_ANNOTATIONS = (METRICS_ANNOTATION, CURRENT_METRICS_ANNOTATION, CONDITIONS_ANNOTATION, BEHAVIOR_ANNOTATION)
DEFAULT_CPU_UTILIZATION = 80
_METRIC_TYPES = ("ContainerResource", "External", "Object", "Pods", "Resource")


def _cpu_metric(percent: int) -> Obj:
    return {"type": "Resource", "resource": {"name": "cpu",
                                             "target": {"type": "Utilization", "averageUtilization": percent}}}


def _is_cpu_utilization(metric: Any) -> bool:
    if not isinstance(metric, dict) or metric.get("type") != "Resource":
        return False
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    return (resource.get("name") == "cpu" and target.get("type") == "Utilization"
            and target.get("averageUtilization") is not None)


def _pop_json(annotations: dict[str, str], key: str) -> Any:
    text = annotations.pop(key, None)
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def v1_to_v2(obj: Obj) -> Obj:
    """An autoscaling/v1 HorizontalPodAutoscaler in autoscaling/v2 form (a new object)."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v2"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {}) if isinstance(meta, dict) else {}
    raw_spec = out.get("spec")
    spec: Obj = raw_spec if isinstance(raw_spec, dict) else {}
    new_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    metrics = [m for m in (_pop_json(annotations, METRICS_ANNOTATION) or []) if isinstance(m, dict)]
    if spec.get("targetCPUUtilizationPercentage") is not None:
        metrics.append(_cpu_metric(spec["targetCPUUtilizationPercentage"]))
    if metrics:
        new_spec["metrics"] = metrics
    behavior = _pop_json(annotations, BEHAVIOR_ANNOTATION)
    if isinstance(behavior, dict):
        new_spec["behavior"] = behavior
    out["spec"] = new_spec
    status = out.get("status")
    current = _pop_json(annotations, CURRENT_METRICS_ANNOTATION) or []
    conditions = _pop_json(annotations, CONDITIONS_ANNOTATION) or []
    if isinstance(status, dict):
        new_status = {k: status[k] for k in ("observedGeneration", "lastScaleTime", "currentReplicas",
                                             "desiredReplicas") if k in status}
        current = [m for m in current if isinstance(m, dict)]
        if status.get("currentCPUUtilizationPercentage") is not None:
            current.append({"type": "Resource", "resource": {"name": "cpu", "current": {
                "averageUtilization": status["currentCPUUtilizationPercentage"]}}})
        if current:
            new_status["currentMetrics"] = current
        if conditions:
            new_status["conditions"] = conditions
        out["status"] = new_status
    if isinstance(meta, dict):
        if annotations:
            meta["annotations"] = annotations
        else:
            meta.pop("annotations", None)
    return out


def v2_to_v1(obj: Obj) -> Obj:
    """A stored (autoscaling/v2) HorizontalPodAutoscaler as autoscaling/v1 (a new object)."""
    out = copy.deepcopy(obj)
    out["apiVersion"] = "autoscaling/v1"
    meta = out.setdefault("metadata", {})
    annotations = dict(meta.get("annotations") or {})
    spec = out.get("spec") or {}
    new_spec: Obj = {k: spec[k] for k in ("scaleTargetRef", "minReplicas", "maxReplicas") if k in spec}
    others = []
    for metric in spec.get("metrics") or []:
        if "targetCPUUtilizationPercentage" not in new_spec and _is_cpu_utilization(metric):
            new_spec["targetCPUUtilizationPercentage"] = metric["resource"]["target"]["averageUtilization"]
        else:
            others.append(metric)
    if others:
        annotations[METRICS_ANNOTATION] = json.dumps(others, separators=(",", ":"))
    if spec.get("behavior"):
        annotations[BEHAVIOR_ANNOTATION] = json.dumps(spec["behavior"], separators=(",", ":"))
    out["spec"] = new_spec
    status = out.get("status")
    if isinstance(status, dict):
        new_status = {k: status[k] for k in ("observedGeneration", "lastScaleTime") if k in status}
        new_status["currentReplicas"] = status.get("currentReplicas", 0)
        new_status["desiredReplicas"] = status.get("desiredReplicas", 0)
        current_others = []
        for metric in status.get("currentMetrics") or []:
            resource = (metric or {}).get("resource") or {}
            utilization = (resource.get("current") or {}).get("averageUtilization")
            if (metric.get("type") == "Resource" and resource.get("name") == "cpu" and utilization is not None
                    and "currentCPUUtilizationPercentage" not in new_status):
                new_status["currentCPUUtilizationPercentage"] = utilization
            else:
                current_others.append(metric)
        if current_others:
            annotations[CURRENT_METRICS_ANNOTATION] = json.dumps(current_others, separators=(",", ":"))
        if status.get("conditions"):
            annotations[CONDITIONS_ANNOTATION] = json.dumps(status["conditions"], separators=(",", ":"))
        out["status"] = new_status
    if annotations:
        meta["annotations"] = annotations
    return out


def _default(obj: Obj) -> None:
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("minReplicas", 1)
    if not spec.get("metrics"):
        spec["metrics"] = [_cpu_metric(DEFAULT_CPU_UTILIZATION)]


@dataclass(frozen=True)
class HorizontalPodAutoscalerStrategy(Strategy):
    """autoscaling/v2, the storage version (pkg/apis/autoscaling/validation)."""

    def prepare_for_create(self, obj: Obj) -> None:
        _default(obj)
        obj["status"] = {"currentReplicas": 0, "desiredReplicas": 0}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _default(new)

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec") or {}
        causes: list[Cause] = []
        ref = spec.get("scaleTargetRef")
        if not isinstance(ref, dict):
            causes.append(required("spec.scaleTargetRef"))
        else:
            for key in ("kind", "name"):
                if not ref.get(key):
                    causes.append(required(f"spec.scaleTargetRef.{key}"))
        low, high = spec.get("minReplicas"), spec.get("maxReplicas", 0)
        if isinstance(low, int) and low < 1:
            causes.append(invalid_value("spec.minReplicas", low, "must be greater than or equal to 1"))
        if not isinstance(high, int) or high < 1:
            causes.append(invalid_value("spec.maxReplicas", high, "must be greater than 0"))
        elif isinstance(low, int) and high < low:
            causes.append(invalid_value("spec.maxReplicas", high, "must be greater than or equal to `minReplicas`"))
        for i, metric in enumerate(spec.get("metrics") or []):
            kind = metric.get("type") if isinstance(metric, dict) else None
            if kind not in _METRIC_TYPES:
                allowed = ", ".join(f'"{t}"' for t in _METRIC_TYPES)
                causes.append(cause(f"spec.metrics[{i}].type", f'Unsupported value: "{kind or ""}": supported '
                                    f"values: {allowed}", "FieldValueNotSupported"))
        return causes


@dataclass(frozen=True)
class HorizontalPodAutoscalerV1Strategy(HorizontalPodAutoscalerStrategy):
    """autoscaling/v1: the same storage, converted at the edge."""

    storage_version: str = "autoscaling/v2"

    def to_storage_version(self, obj: Obj) -> Obj:
        return v1_to_v2(obj)

    def from_storage_version(self, obj: Obj) -> Obj:
        return v2_to_v1(obj)
