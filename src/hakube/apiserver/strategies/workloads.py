"""Strategies of apps/v1 and batch/v1 workloads (k/k `pkg/registry/apps/*/strategy.go`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hakube.apiserver.strategies.core import default_pod_spec
from hakube.apiserver.strategy import Cause, Obj, Strategy, cause, invalid_value, required


def _selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    from hakube.apiserver.selectors import label_selector_from_dict

    return label_selector_from_dict(selector).matches(labels)


@dataclass(frozen=True)
class WorkloadStrategy(Strategy):
    """Deployments, ReplicaSets, StatefulSets, DaemonSets: selector + template."""

    has_replicas: bool = True

    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        if self.has_replicas:
            spec.setdefault("replicas", 1)
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            default_pod_spec(template["spec"])
        self.apply_defaults(spec)
        obj["status"] = {}

    def apply_defaults(self, spec: Obj) -> None:
        spec.setdefault("revisionHistoryLimit", 10)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """Defaults apply to every write, as kube defaults every decoded body: a template
        changed by PUT or patch gets the same defaults as one created, so controllers
        comparing templates (the Deployment's and its ReplicaSets') see equal ones."""
        super().prepare_for_update(new, old)
        spec = new.get("spec")
        if not isinstance(spec, dict):
            return
        if self.has_replicas:
            spec.setdefault("replicas", 1)
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            default_pod_spec(template["spec"])
        self.apply_defaults(spec)

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """Workload /status writes may change metadata.annotations too: upstream's status
        strategies reset only spec (and a Deployment's labels), and the Deployment
        controller records `deployment.kubernetes.io/revision` through /status (k/k
        pkg/registry/apps/deployment/strategy.go deploymentStatusStrategy.PrepareForUpdate)."""
        annotations = (new.get("metadata") or {}).get("annotations")
        super().prepare_for_status_update(new, old)
        if isinstance(annotations, dict) and annotations:
            new["metadata"]["annotations"] = annotations
        else:
            new["metadata"].pop("annotations", None)

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [required("spec")]
        causes: list[Cause] = []
        selector = spec.get("selector")
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(required("spec.selector"))
        else:
            try:
                matches = _selector_matches(selector, labels)
            except ValueError as err:
                causes.append(invalid_value("spec.selector", selector, str(err)))
            else:
                if not matches:
                    causes.append(invalid_value("spec.template.metadata.labels", labels,
                                                "`selector` does not match template `labels`"))
        template_spec = (spec.get("template") or {}).get("spec")
        if not isinstance(template_spec, dict) or not template_spec.get("containers"):
            causes.append(required("spec.template.spec.containers"))
        else:
            for i, c in enumerate(template_spec["containers"]):
                if not isinstance(c, dict) or not c.get("name"):
                    causes.append(required(f"spec.template.spec.containers[{i}].name"))
                if not isinstance(c, dict) or not c.get("image"):
                    causes.append(required(f"spec.template.spec.containers[{i}].image"))
        replicas = spec.get("replicas", 0)
        if self.has_replicas and (not isinstance(replicas, int) or replicas < 0):
            causes.append(invalid_value("spec.replicas", replicas,
                                        "must be greater than or equal to 0"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        if (new.get("spec") or {}).get("selector") != (old.get("spec") or {}).get("selector"):
            causes.append(cause("spec.selector", "Invalid value: field is immutable", "FieldValueInvalid"))
        return causes


@dataclass(frozen=True)
class DeploymentStrategy(WorkloadStrategy):
    def apply_defaults(self, spec: Obj) -> None:
        super().apply_defaults(spec)
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        if isinstance(strategy, dict):
            strategy.setdefault("type", "RollingUpdate")
            if strategy["type"] == "RollingUpdate":
                rolling = strategy.setdefault("rollingUpdate", {})
                if isinstance(rolling, dict):
                    rolling.setdefault("maxUnavailable", "25%")
                    rolling.setdefault("maxSurge", "25%")


@dataclass(frozen=True)
class StatefulSetStrategy(WorkloadStrategy):
    def apply_defaults(self, spec: Obj) -> None:
        super().apply_defaults(spec)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
        spec.setdefault("persistentVolumeClaimRetentionPolicy",
                        {"whenDeleted": "Retain", "whenScaled": "Retain"})


@dataclass(frozen=True)
class DaemonSetStrategy(WorkloadStrategy):
    has_replicas: bool = False

    def apply_defaults(self, spec: Obj) -> None:
        super().apply_defaults(spec)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}})


@dataclass(frozen=True)
class JobStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        if "completions" not in spec:
            spec["completions"] = 1
        template = spec.get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            default_pod_spec(template["spec"])
        obj["status"] = {}

    def validate(self, obj: Obj) -> list[Cause]:
        template_spec = ((obj.get("spec") or {}).get("template") or {}).get("spec")
        if not isinstance(template_spec, dict) or not template_spec.get("containers"):
            return [required("spec.template.spec.containers")]
        if template_spec.get("restartPolicy") not in ("Never", "OnFailure"):
            return [cause("spec.template.spec.restartPolicy",
                          f'Unsupported value: "{template_spec.get("restartPolicy")}": '
                          'supported values: "OnFailure", "Never"', "FieldValueNotSupported")]
        return []
