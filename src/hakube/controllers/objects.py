"""Small facts about API objects that workload controllers share.

Label selectors (apimachinery `labels` / `LabelSelectorAsSelector`), the
controller owner reference (`metav1.GetControllerOf`, `NewControllerRef`),
Go-style timestamps, and an index of objects by their controller so a sync
looks at one owner's objects instead of scanning the whole informer store
(client-go's indexers play this part upstream).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from hakube.client.api import Obj
from hakube.client.informer import key_of

# -- label selectors ------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """metav1.LabelSelector semantics: None matches nothing, `{}` matches everything."""
    if selector is None:
        return False
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In":
            if key not in labels or labels[key] not in values:
                return False
        elif op == "NotIn":
            if key in labels and labels[key] in values:
                return False
        elif op == "Exists":
            if key not in labels:
                return False
        elif op == "DoesNotExist":
            if key in labels:
                return False
        else:  # validation keeps unknown operators out; match nothing rather than everything
            return False
    return True


def selects_everything(selector: Mapping[str, Any] | None) -> bool:
    return selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions")


def labels_of(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


# -- owner references -----------------------------------------------------------------


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true (metav1.GetControllerOf)."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def controller_ref(owner: Obj, *, kind: str, api_version: str) -> Obj:
    """metav1.NewControllerRef: controller=true, blockOwnerDeletion=true."""
    meta = owner["metadata"]
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def uid_of(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("uid") or "")


def is_deleting(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


# -- time -------------------------------------------------------------------------------


def now_time() -> str:
    """metav1.Time as Go marshals it: RFC 3339, whole seconds, UTC."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


# -- an index by controller -------------------------------------------------------------


class OwnerIndex:
    """Objects of one informer grouped by their controller's uid; orphans by namespace.

    Feed it every informer event (`on_event`); it then answers "what does this
    owner control" and "which orphans could it adopt" without a full scan.
    """

    def __init__(self) -> None:
        self._owned: dict[str, dict[str, Obj]] = {}
        self._orphans: dict[str, dict[str, Obj]] = {}

    def on_event(self, event_type: str, obj: Obj, old: Obj | None) -> None:
        if old is not None:
            self._remove(old)
        if event_type == "DELETED":
            self._remove(obj)
        else:
            self._add(obj)

    def _slot(self, obj: Obj) -> tuple[dict[str, dict[str, Obj]], str]:
        ref = controller_of(obj)
        if ref is not None:
            return self._owned, str(ref.get("uid"))
        return self._orphans, str((obj.get("metadata") or {}).get("namespace") or "")

    def _add(self, obj: Obj) -> None:
        table, slot = self._slot(obj)
        table.setdefault(slot, {})[key_of(obj)] = obj

    def _remove(self, obj: Obj) -> None:
        table, slot = self._slot(obj)
        bucket = table.get(slot)
        if bucket is not None:
            bucket.pop(key_of(obj), None)
            if not bucket:
                del table[slot]

    def owned_by(self, uid: str) -> list[Obj]:
        return list((self._owned.get(uid) or {}).values())

    def orphans_in(self, namespace: str) -> list[Obj]:
        return list((self._orphans.get(namespace) or {}).values())

    def candidates(self, owner: Obj) -> list[Obj]:
        """What a claim of `owner` must look at: its own objects and its namespace's orphans."""
        meta = owner["metadata"]
        return self.owned_by(str(meta.get("uid"))) + self.orphans_in(str(meta.get("namespace") or ""))
