"""API server identity: lease expiry and the --feature-gates flag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hakube.apiserver.__main__ import parse_feature_gates
from hakube.apiserver.identity import IdentitySettings, expired, is_identity_lease, new_identity

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def lease(renewed: datetime | None, duration: int | None = 60) -> dict[str, object]:
    spec: dict[str, object] = {}
    if renewed is not None:
        spec["renewTime"] = renewed.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if duration is not None:
        spec["leaseDurationSeconds"] = duration
    return {"metadata": {"name": "x", "labels": {"k8s.io/component": "kube-apiserver"}}, "spec": spec}


def test_expiry_follows_renew_time_and_duration() -> None:
    assert not expired(lease(NOW - timedelta(seconds=59)), now=NOW)
    assert expired(lease(NOW - timedelta(seconds=61)), now=NOW)
    # gc_controller.go: a lease missing either field counts as expired.
    assert expired(lease(None), now=NOW)
    assert expired(lease(NOW, duration=None), now=NOW)


def test_identity_names_and_labels() -> None:
    a, b = new_identity(), new_identity()
    assert a != b and a.startswith("kube-apiserver-")
    assert is_identity_lease(lease(NOW))
    assert not is_identity_lease({"metadata": {"name": "kube-scheduler"}})


def test_feature_gates_flag() -> None:
    assert parse_feature_gates("") == ()
    assert parse_feature_gates("APIServerIdentity=true, Other=False") == (
        ("APIServerIdentity", True), ("Other", False))
    with pytest.raises(SystemExit):
        parse_feature_gates("APIServerIdentity")
    with pytest.raises(ValueError):
        IdentitySettings(renew_interval=0)
