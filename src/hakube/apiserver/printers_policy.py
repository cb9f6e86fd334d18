"""Server-side Table rows of the policy kinds: RBAC bindings, PodDisruptionBudgets,
PriorityClasses, ResourceQuotas, Ingresses, IngressClasses, HorizontalPodAutoscalers
and CronJobs (k/k `pkg/printers/internalversion/printers.go`, release-1.32).

Roles, ClusterRoles and LimitRanges print Name and Created At upstream, which is
the default printer's output. Column descriptions are upstream's (SwaggerDoc texts
or the literal strings printers.go carries).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from hakube.apiserver.printers import (
    _AGE_COL,
    _CONTAINERS_COL,
    _D_JOB_SELECTOR,
    _IMAGES_COL,
    _NAME_COL,
    Column,
    _age,
    _c,
    _int,
    _list,
    _m,
    _name,
    _str,
    _time,
)
from hakube.apiserver.selectors import format_label_selector
from hakube.apiserver.timefmt import human_duration

_D_ROLE_REF = (
    "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the "
    "RoleRef cannot be resolved, the Authorizer must return an error. This field is immutable."
)
_D_CLUSTER_ROLE_REF = (
    "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the "
    "Authorizer must return an error. This field is immutable."
)
_D_PC_VALUE = (
    "value represents the integer value of this priority class. This is the actual priority that pods receive "
    "when they have the name of this class in their pod spec."
)
_D_PC_DEFAULT = (
    "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods "
    "that do not have any priority class. Only one PriorityClass can be marked as `globalDefault`. However, if "
    "more than one PriorityClasses exists with their `globalDefault` field set to true, the smallest value of "
    "such global default PriorityClasses will be used as the default priority."
)
_D_PC_PREEMPTION = (
    "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. "
    "Defaults to PreemptLowerPriority if unset."
)
_D_HPA_REF = (
    "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be "
    "collected, as well as to actually change the replica count."
)
_D_HPA_METRICS = (
    "metrics contains the specifications for which to use to calculate the desired replica count (the maximum "
    "replica count across all metrics will be used).  The desired replica count is calculated multiplying the "
    "ratio between the target value and the current value by the current number of pods.  Ergo, metrics used "
    "must decrease as the pod count is increased, and vice-versa.  See the individual metric source types for "
    "more information about how each type of metric must respond. If not set, the default metric will be set "
    "to 80% average CPU utilization."
)
_D_HPA_MIN = (
    "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.  It "
    "defaults to 1 pod.  minReplicas is allowed to be 0 if the alpha feature gate HPAScaleToZero is enabled and "
    "at least one Object or External metric is configured.  Scaling is active as long as at least one metric "
    "value is available."
)
_D_HPA_MAX = (
    "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up. It cannot "
    "be less that minReplicas."
)
_D_HPA_CURRENT = (
    "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the "
    "autoscaler."
)
_D_CJ_SCHEDULE = "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."
_D_CJ_TIMEZONE = (
    "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. "
    "If not specified, this will default to the time zone of the kube-controller-manager process. The set of "
    "valid time zone names and the time zone offset is loaded from the system-wide time zone database by the "
    "API server during CronJob validation and the controller manager during execution. If no system-wide time "
    "zone database can be found a bundled version of the database is used instead. If the time zone name "
    "becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller "
    "will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More "
    "information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones"
)
_D_CJ_SUSPEND = (
    "This flag tells the controller to suspend subsequent executions, it does not apply to already started "
    "executions.  Defaults to false."
)
_D_CJ_ACTIVE = "A list of pointers to currently running jobs."
_D_CJ_LAST = "Information when was the last time the job was successfully scheduled."


def _binding_columns(what: str, ref: str) -> tuple[Column, ...]:
    return (
        _NAME_COL,
        _c("Role", "string", ref),
        _AGE_COL,
        _c("Users", "string", f"Users in the {what}", priority=1),
        _c("Groups", "string", f"Groups in the {what}", priority=1),
        _c("ServiceAccounts", "string", f"ServiceAccounts in the {what}", priority=1),
    )


COLUMNS: dict[str, tuple[Column, ...]] = {
    "rolebindings": _binding_columns("roleBinding", _D_ROLE_REF),
    "clusterrolebindings": _binding_columns("clusterRoleBinding", _D_CLUSTER_ROLE_REF),
    "poddisruptionbudgets": (
        _NAME_COL,
        _c("Min Available", "string", "The minimum number of pods that must be available."),
        _c("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
        _c("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
        _AGE_COL,
    ),
    "priorityclasses": (
        _NAME_COL,
        _c("Value", "integer", _D_PC_VALUE),
        _c("Global-Default", "boolean", _D_PC_DEFAULT),
        _AGE_COL,
        _c("PreemptionPolicy", "string", _D_PC_PREEMPTION),
    ),
    "resourcequotas": (
        _NAME_COL,
        _AGE_COL,
        _c("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
        _c("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use "
           "independent of contention on the node."),
    ),
    "ingresses": (
        _NAME_COL,
        _c("Class", "string", "The name of the IngressClass resource that should be used for ingress"),
        _c("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
        _c("Address", "string", "Address is a list containing ingress points for the load-balancer"),
        _c("Ports", "string", "Ports of TLS configurations that open"),
        _AGE_COL,
    ),
    "ingressclasses": (
        _NAME_COL,
        _c("Controller", "string", "Controller that is responsible for handling this class"),
        _c("Parameters", "string", "A reference to a resource with additional parameters"),
        _AGE_COL,
    ),
    "horizontalpodautoscalers": (
        _NAME_COL,
        _c("Reference", "string", _D_HPA_REF),
        _c("Targets", "string", _D_HPA_METRICS),
        _c("MinPods", "string", _D_HPA_MIN),
        _c("MaxPods", "integer", _D_HPA_MAX),
        _c("Replicas", "string", _D_HPA_CURRENT),
        _AGE_COL,
    ),
    "cronjobs": (
        _NAME_COL,
        _c("Schedule", "string", _D_CJ_SCHEDULE),
        _c("Timezone", "string", _D_CJ_TIMEZONE),
        _c("Suspend", "boolean", _D_CJ_SUSPEND),
        _c("Active", "integer", _D_CJ_ACTIVE),
        _c("Last Schedule", "string", _D_CJ_LAST),
        _AGE_COL, _CONTAINERS_COL, _IMAGES_COL,
        _c("Selector", "string", _D_JOB_SELECTOR, priority=1),
    ),
}


def _binding_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """printRoleBinding / printClusterRoleBinding (wide: rbac.SubjectsStrings)."""
    ref = _m(obj, "roleRef")
    users, groups, sas = [], [], []
    for s in _list(obj, "subjects"):
        kind, name = s.get("kind"), _str(s.get("name"))
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            sas.append(f"{_str(s.get('namespace'))}/{name}")
    return [_name(obj), f"{_str(ref.get('kind'))}/{_str(ref.get('name'))}", _age(obj, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


def _int_or_string(value: Any) -> str:
    return "N/A" if value is None else str(value)


def _pdb_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _m(obj, "spec")
    return [_name(obj), _int_or_string(spec.get("minAvailable")), _int_or_string(spec.get("maxUnavailable")),
            _int(_m(obj, "status").get("disruptionsAllowed")), _age(obj, now)]


def _priority_class_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    return [_name(obj), _int(obj.get("value")), bool(obj.get("globalDefault")), _age(obj, now),
            _str(obj.get("preemptionPolicy"))]


def _quota_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    """printResourceQuota: `resource: used/hard` for each hard limit, limits.* in the Limit column."""
    hard, used = _m(obj, "spec", "hard"), _m(obj, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        cell = f"{resource}: {used.get(resource, 0)}/{hard[resource]}"
        (limits if resource.split(".")[0] == "limits" and "." in resource else requests).append(cell)
    return [_name(obj), _age(obj, now), ", ".join(requests), ", ".join(limits)]


def _ingress_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _m(obj, "spec")
    rules = _list(spec, "rules")
    hosts = [_str(r.get("host")) for r in rules[:3] if r.get("host")]
    hosts_cell = ",".join(hosts) or "*"
    if len(rules) > 3:
        hosts_cell = f"{hosts_cell} + {len(rules) - 3} more..."
    addresses = [_str(i.get("ip")) or _str(i.get("hostname"))
                 for i in _list(_m(obj, "status", "loadBalancer"), "ingress")]
    ports = "80, 443" if _list(spec, "tls") else "80"
    return [_name(obj), _str(spec.get("ingressClassName")) or "<none>", hosts_cell,
            ",".join(a for a in addresses if a), ports, _age(obj, now)]


def _ingress_class_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _m(obj, "spec")
    params = _m(spec, "parameters")
    parameters = "<none>"
    if params:
        parameters = _str(params.get("kind"))
        if params.get("apiGroup"):
            parameters += "." + _str(params["apiGroup"])
        parameters += "/" + _str(params.get("name"))
    return [_name(obj), _str(spec.get("controller")), parameters, _age(obj, now)]


def _metric_cell(spec: Mapping[str, Any], status: Mapping[str, Any] | None) -> str:
    """One entry of formatHPAMetrics: `<name>: <current>/<target>`."""
    kind = _str(spec.get("type"))
    source_key = {"Resource": "resource", "ContainerResource": "containerResource", "Pods": "pods",
                  "Object": "object", "External": "external"}.get(kind)
    if source_key is None:
        return "<unknown type>"
    source = _m(spec, source_key)
    current_src = _m(status, source_key, "current") if status else {}
    target = _m(source, "target")
    name = _str(source.get("name")) or _str(_m(source, "metric").get("name"))
    if kind in ("Resource", "ContainerResource") and target.get("averageValue") is None:
        utilization = current_src.get("averageUtilization")
        current = "<unknown>" if utilization is None else f"{utilization}%"
        goal = target.get("averageUtilization")
        return f"{name}: {current}/{'<auto>' if goal is None else f'{goal}%'}"
    avg = target.get("averageValue") is not None
    field = "averageValue" if avg or kind == "Pods" else "value"
    current_value = current_src.get(field)
    cell = f"{name}: {'<unknown>' if current_value is None else current_value}/{target.get(field)}"
    return f"{cell} (avg)" if avg and kind in ("Object", "External") else cell


def _hpa_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    from hakube.apiserver.strategies.autoscaling import v1_to_v2

    if _str(obj.get("apiVersion")) == "autoscaling/v1":
        obj = v1_to_v2(dict(obj))
    spec, status = _m(obj, "spec"), _m(obj, "status")
    ref = _m(spec, "scaleTargetRef")
    metrics = _list(spec, "metrics")
    current = _list(status, "currentMetrics")
    cells = [_metric_cell(m, current[i] if i < len(current) else None) for i, m in enumerate(metrics)]
    targets = ", ".join(cells[:2]) or "<none>"
    if len(cells) > 2:
        targets = f"{targets} + {len(cells) - 2} more..."
    low = spec.get("minReplicas")
    return [_name(obj), f"{_str(ref.get('kind'))}/{_str(ref.get('name'))}", targets,
            "<unset>" if low is None else str(low), _int(spec.get("maxReplicas")),
            str(_int(status.get("currentReplicas"))), _age(obj, now)]


def _cronjob_row(obj: Mapping[str, Any], now: datetime) -> list[Any]:
    spec = _m(obj, "spec")
    job_spec = _m(spec, "jobTemplate", "spec")
    containers = _list(_m(job_spec, "template", "spec"), "containers")
    suspend = spec.get("suspend")
    last = _time(_m(obj, "status").get("lastScheduleTime"))
    selector = job_spec.get("selector")
    return [
        _name(obj), _str(spec.get("schedule")), _str(spec.get("timeZone")) or "<none>",
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(_list(_m(obj, "status"), "active")),
        "<none>" if last is None else human_duration(now - last), _age(obj, now),
        ",".join(_str(c.get("name")) for c in containers), ",".join(_str(c.get("image")) for c in containers),
        format_label_selector(selector) if isinstance(selector, Mapping) else "<none>",
    ]


ROWS: dict[str, Callable[[Mapping[str, Any], datetime], list[Any]]] = {
    "rolebindings": _binding_row,
    "clusterrolebindings": _binding_row,
    "poddisruptionbudgets": _pdb_row,
    "priorityclasses": _priority_class_row,
    "resourcequotas": _quota_row,
    "ingresses": _ingress_row,
    "ingressclasses": _ingress_class_row,
    "horizontalpodautoscalers": _hpa_row,
    "cronjobs": _cronjob_row,
}
