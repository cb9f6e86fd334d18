"""Zone and region rules for replicas."""

from __future__ import annotations

import pytest

from hakube.cluster.zones import ZoneError, check_new_zone, least_used_zone, region_of, sibling_zones, spread


def test_regions_of_gce_and_local_zone_names() -> None:
    assert region_of("europe-west1-b") == "europe-west1"
    assert region_of("us-central1-f") == "us-central1"
    assert region_of("local-a") == "local"
    for bad in ("europe", "b", "Europe-West1-B", "europe-west1-", "europe-west1-bb"):
        with pytest.raises(ZoneError):
            region_of(bad)


def test_spread_follows_the_region() -> None:
    assert spread("europe-west1-b", 3, multizone=True) == ["europe-west1-b", "europe-west1-c", "europe-west1-d"]
    assert spread("local-a", 5, multizone=True) == ["local-a", "local-b", "local-c", "local-a", "local-b"]
    assert spread("local-a", 3, multizone=False) == ["local-a"] * 3
    assert sibling_zones("local-x", 2) == ["local-x", "local-y"]
    with pytest.raises(ZoneError):
        sibling_zones("local-z", 2)


def test_new_zone_rules() -> None:
    check_new_zone("europe-west1-c", ["europe-west1-b"], multizone=True)
    check_new_zone("europe-west1-b", ["europe-west1-b"], multizone=False)
    with pytest.raises(ZoneError, match="all replicas must share one region"):
        check_new_zone("us-central1-a", ["europe-west1-b"], multizone=True)
    with pytest.raises(ZoneError, match="need a multizone cluster"):
        check_new_zone("europe-west1-c", ["europe-west1-b"], multizone=False)


def test_least_used_zone() -> None:
    assert least_used_zone(["local-a", "local-b", "local-a"]) == "local-b"
    assert least_used_zone([]) is None
