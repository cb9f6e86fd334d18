"""batch/v1 CronJob (k/k `pkg/registry/batch/cronjob/strategy.go`, `pkg/apis/batch/validation`).

Defaults are batch/v1 `SetDefaults_CronJob` plus the PodSpec defaults of the job
template; the schedule is checked the way robfig/cron's standard parser reads
it (five fields or a descriptor), with upstream's messages.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from hakube.apiserver.strategies.core import default_pod_spec
from hakube.apiserver.strategy import Cause, Obj, Strategy, cause, invalid_value, required

_DESCRIPTORS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
_FIELD = re.compile(r"^[0-9A-Za-z*?,/\-]+$")
_POLICIES = ("Allow", "Forbid", "Replace")


def schedule_error(schedule: str) -> str:
    """Why `schedule` does not parse, or ""."""
    if "TZ=" in schedule:
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if schedule.startswith("@"):
        if schedule in _DESCRIPTORS or schedule.startswith("@every "):
            return ""
        return f"unrecognized descriptor: {schedule}"
    fields = schedule.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    for f in fields:
        if not _FIELD.match(f):
            return f"failed to parse int from {f}: strconv.Atoi: parsing \"{f}\": invalid syntax"
    return ""


def _time_zone_error(zone: Any) -> str:
    if not isinstance(zone, str) or not zone:
        return "unknown time zone"
    try:
        zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {zone}"
    return ""


@dataclass(frozen=True)
class CronJobStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        if not isinstance(spec, dict):
            return
        spec.setdefault("concurrencyPolicy", "Allow")
        spec.setdefault("suspend", False)
        spec.setdefault("successfulJobsHistoryLimit", 3)
        spec.setdefault("failedJobsHistoryLimit", 1)
        template = ((spec.get("jobTemplate") or {}).get("spec") or {}).get("template")
        if isinstance(template, dict) and isinstance(template.get("spec"), dict):
            default_pod_spec(template["spec"])
        obj["status"] = {}

    def validate(self, obj: Obj) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [required("spec")]
        causes: list[Cause] = []
        schedule = spec.get("schedule")
        if not schedule:
            causes.append(required("spec.schedule"))
        else:
            error = schedule_error(str(schedule))
            if error:
                causes.append(invalid_value("spec.schedule", schedule, error))
        if "timeZone" in spec and spec["timeZone"] is not None:
            error = _time_zone_error(spec["timeZone"])
            if error:
                causes.append(invalid_value("spec.timeZone", spec["timeZone"], error))
        policy = spec.get("concurrencyPolicy")
        if policy not in _POLICIES:
            causes.append(cause("spec.concurrencyPolicy", f'Unsupported value: "{policy}": supported values: '
                                '"Allow", "Forbid", "Replace"', "FieldValueNotSupported"))
        pod_spec = (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
        path = "spec.jobTemplate.spec.template.spec"
        if not isinstance(pod_spec, dict) or not pod_spec.get("containers"):
            causes.append(required(f"{path}.containers"))
        elif pod_spec.get("restartPolicy") not in ("Never", "OnFailure"):
            causes.append(cause(f"{path}.restartPolicy", f'Unsupported value: "{pod_spec.get("restartPolicy")}": '
                                'supported values: "OnFailure", "Never"', "FieldValueNotSupported"))
        return causes
