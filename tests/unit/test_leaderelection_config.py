"""Leader election settings are validated up front, as client-go does."""

from __future__ import annotations

import pytest

from hakube.leaderelection import ElectionConfig, new_identity


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="leaseDuration must be greater"):
        ElectionConfig("x", "a", lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match="renewDeadline must be greater"):
        ElectionConfig("x", "a", lease_duration=15, renew_deadline=2, retry_period=2)
    assert new_identity("replica-2").startswith("replica-2_")
