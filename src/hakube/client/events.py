"""Recording core/v1 Events about objects, as client-go's EventRecorder does (without aggregation)."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from hakube.client.api import EVENTS, ApiClient, ApiError, Obj

log = logging.getLogger(__name__)


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, *, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host

    async def record(self, obj: Obj, *, reason: str, message: str, type: str = "Normal") -> None:
        """Best effort: an event that cannot be written is logged, never raised."""
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{secrets.token_hex(8)}", "namespace": namespace},
            "involvedObject": {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"),
                               "name": meta.get("name"), "namespace": meta.get("namespace"),
                               "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message, "type": type,
            "source": {"component": self.component, **({"host": self.host} if self.host else {})},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        try:
            await self.client.create(EVENTS, event, namespace)
        except ApiError as err:
            log.debug("could not record event %s on %s: %s", reason, meta.get("name"), err)
