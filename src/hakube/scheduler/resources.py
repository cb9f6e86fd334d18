"""Resource quantities and what a pod asks of a node.

A scheduler decides in integers: millicores of CPU and bytes of memory, as
kube-scheduler's `framework.Resource` does. Quantities are parsed the way
apimachinery `pkg/api/resource/quantity.go` reads them (decimal and binary
suffixes, exponents), and rounded up as `MilliValue()` / `Value()` do.
Pod requests follow k/k `pkg/api/v1/resource/helpers.go` `PodRequests`:
containers are summed, init containers run one at a time (so the pod needs
the largest of them), restartable init containers ("sidecars") keep running
and add up, and the pod's overhead is added on top.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

Obj = dict[str, Any]

CPU, MEMORY, PODS, EPHEMERAL = "cpu", "memory", "pods", "ephemeral-storage"

_SUFFIXES: dict[str, Fraction] = {
    "": Fraction(1),
    "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000),
    "k": Fraction(10**3), "M": Fraction(10**6), "G": Fraction(10**9), "T": Fraction(10**12),
    "P": Fraction(10**15), "E": Fraction(10**18),
    "Ki": Fraction(2**10), "Mi": Fraction(2**20), "Gi": Fraction(2**30), "Ti": Fraction(2**40),
    "Pi": Fraction(2**50), "Ei": Fraction(2**60),
}

# Requests assumed for containers that name none, in scoring only (k/k
# pkg/scheduler/util/pod_resources.go DefaultMilliCPURequest / DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


_QUANTITY = re.compile(r"([+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+))(?:[eE]([+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)")


def parse_quantity(value: Any) -> Fraction:
    """A Kubernetes quantity ("100m", "1.5", "2Gi", "1e3", 4) as an exact number; ValueError if malformed."""
    if isinstance(value, bool):
        raise ValueError(f"bad quantity {value!r}")
    if isinstance(value, int | float):
        return Fraction(value)
    match = _QUANTITY.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"bad quantity {value!r}")
    number, exponent, suffix = match.groups()
    scale = Fraction(10) ** int(exponent) if exponent else _SUFFIXES[suffix or ""]
    return Fraction(number) * scale


@functools.lru_cache(maxsize=4096)
def milli_value(value: str | int | float) -> int:
    """`Quantity.MilliValue()`: thousandths, rounded up (the same few strings recur: remembered)."""
    return math.ceil(parse_quantity(value) * 1000)


@functools.lru_cache(maxsize=4096)
def int_value(value: str | int | float) -> int:
    """`Quantity.Value()`: whole units, rounded up."""
    return math.ceil(parse_quantity(value))


@dataclass(slots=True)
class Resources:
    """Requested or allocatable amounts (framework.Resource)."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pods: int = 0
    scalars: dict[str, int] = field(default_factory=dict)  # extended resources, hugepages

    def add(self, other: Resources, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        for name, amount in other.scalars.items():
            self.scalars[name] = self.scalars.get(name, 0) + sign * amount

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalars.values()))


def resources_from_list(resource_list: Obj | None) -> Resources:
    """A core/v1 ResourceList (`{"cpu": "2", "memory": "4Gi", "pods": "110"}`) as integers."""
    out = Resources()
    for name, value in (resource_list or {}).items():
        try:
            if name == CPU:
                out.milli_cpu = milli_value(value)
            elif name == MEMORY:
                out.memory = int_value(value)
            elif name == EPHEMERAL:
                out.ephemeral_storage = int_value(value)
            elif name == PODS:
                out.allowed_pods = int_value(value)
            else:
                out.scalars[name] = int_value(value)
        except (ValueError, TypeError):
            continue  # the API server validates quantities; a bad one counts as zero
    return out


def _container_requests(container: Obj) -> Obj:
    """Requests, with limits standing in for missing requests as API defaulting does
    (k/k pkg/apis/core/v1/defaults.go SetDefaults_Pod)."""
    resources = container.get("resources") or {}
    requests = dict(resources.get("requests") or {})
    for name, value in (resources.get("limits") or {}).items():
        requests.setdefault(name, value)
    return requests


def _max_into(acc: Resources, other: Resources) -> None:
    acc.milli_cpu = max(acc.milli_cpu, other.milli_cpu)
    acc.memory = max(acc.memory, other.memory)
    acc.ephemeral_storage = max(acc.ephemeral_storage, other.ephemeral_storage)
    for name, amount in other.scalars.items():
        acc.scalars[name] = max(acc.scalars.get(name, 0), amount)


def _copy(r: Resources) -> Resources:
    return Resources(r.milli_cpu, r.memory, r.ephemeral_storage, r.allowed_pods, dict(r.scalars))


def _pod_requests(spec: Obj, *, non_zero: bool) -> Resources:
    def of(container: Obj) -> Resources:
        r = resources_from_list(_container_requests(container))
        if non_zero:
            requests = _container_requests(container)
            if CPU not in requests:
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST
            if MEMORY not in requests:
                r.memory = DEFAULT_MEMORY_REQUEST
        return r

    total = Resources()
    for container in spec.get("containers") or []:
        total.add(of(container))
    sidecars = Resources()
    init_max = Resources()
    for container in spec.get("initContainers") or []:
        r = of(container)
        if container.get("restartPolicy") == "Always":
            total.add(r)
            sidecars.add(r)
            step = _copy(sidecars)
        else:
            step = _copy(r)
            step.add(sidecars)
        _max_into(init_max, step)
    _max_into(total, init_max)
    overhead = spec.get("overhead")
    if overhead:
        total.add(resources_from_list(overhead))
    return total


def pod_requests(spec: Obj) -> Resources:
    """What the pod needs of a node's allocatable (NodeResourcesFit's filter)."""
    return _pod_requests(spec, non_zero=False)


def pod_non_zero_requests(spec: Obj) -> tuple[int, int]:
    """(millicores, bytes) with the scoring defaults for containers that request nothing."""
    r = _pod_requests(spec, non_zero=True)
    return r.milli_cpu, r.memory
