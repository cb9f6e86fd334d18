"""discovery.k8s.io/v1 EndpointSlice (k/k `pkg/registry/discovery/endpointslice/strategy.go`,
validation in `pkg/apis/discovery/validation/validation.go`)."""

from __future__ import annotations

from dataclasses import dataclass

from hakube.apiserver.strategy import Cause, Obj, Strategy, cause, invalid_value, required

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
MAX_ENDPOINTS = 1000
MAX_PORTS = 100
MAX_ADDRESSES = 100


@dataclass(frozen=True)
class EndpointSliceStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        _default(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        _default(new)

    def validate(self, obj: Obj) -> list[Cause]:
        causes: list[Cause] = []
        address_type = obj.get("addressType")
        if not address_type:
            causes.append(required("addressType"))
        elif address_type not in ADDRESS_TYPES:
            supported = ", ".join(f'"{t}"' for t in ADDRESS_TYPES)
            causes.append(cause("addressType", f'Unsupported value: "{address_type}": supported values: '
                                f"{supported}", "FieldValueNotSupported"))
        endpoints = obj.get("endpoints") or []
        if not isinstance(endpoints, list):
            return [*causes, invalid_value("endpoints", endpoints, "must be a list")]
        if len(endpoints) > MAX_ENDPOINTS:
            causes.append(cause("endpoints", f"Too many: {len(endpoints)}: must have at most {MAX_ENDPOINTS} "
                                "items", "FieldValueTooMany"))
        for i, endpoint in enumerate(endpoints):
            addresses = endpoint.get("addresses") if isinstance(endpoint, dict) else None
            if not addresses:
                causes.append(cause(f"endpoints[{i}].addresses", "Required value: must contain at least 1 address",
                                    "FieldValueRequired"))
            elif len(addresses) > MAX_ADDRESSES:
                causes.append(cause(f"endpoints[{i}].addresses", f"Too many: {len(addresses)}: must have at most "
                                    f"{MAX_ADDRESSES} items", "FieldValueTooMany"))
        ports = obj.get("ports") or []
        if isinstance(ports, list) and len(ports) > MAX_PORTS:
            causes.append(cause("ports", f"Too many: {len(ports)}: must have at most {MAX_PORTS} items",
                                "FieldValueTooMany"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> list[Cause]:
        causes = self.validate(new)
        if new.get("addressType") != old.get("addressType"):
            causes.append(invalid_value("addressType", new.get("addressType"), "field is immutable"))
        return causes


def _default(obj: Obj) -> None:
    """discovery/v1 SetDefaults_EndpointPort: name "" and protocol TCP."""
    for port in obj.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")
