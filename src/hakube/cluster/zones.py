"""Zones and regions, and where new replicas go (DESIGN.md §2 and §4).

Zones are labels on the local provider. GCE-style names are accepted as they
are: `europe-west1-b` is zone `b` of region `europe-west1`; our default names
`local-a`, `local-b`, … are zones of region `local`. All replicas of a
cluster share one region; replicas in different zones need multizone mode
(seed 004: `MULTIZONE=true`).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable

# A zone is `<region>-<letter>`; the region itself may contain dashes and digits.
_ZONE = re.compile(r"^(?P<region>[a-z][a-z0-9-]*[a-z0-9])-(?P<letter>[a-z])$")


class ZoneError(ValueError):
    """A zone the cluster cannot use; the message is meant for the user."""


def region_of(zone: str) -> str:
    match = _ZONE.match(zone)
    if match is None:
        raise ZoneError(f"invalid zone {zone!r}: expected REGION-LETTER, e.g. europe-west1-b or local-a")
    return match.group("region")


def sibling_zones(zone: str, count: int) -> list[str]:
    """`count` zones of `zone`'s region starting at `zone`: europe-west1-b → b, c, d, …"""
    region = region_of(zone)
    start = string.ascii_lowercase.index(zone[-1])
    letters = string.ascii_lowercase[start:]
    if count > len(letters):
        raise ZoneError(f"region {region} has no {count} zones after {zone}")
    return [f"{region}-{letter}" for letter in letters[:count]]


def spread(first_zone: str, replicas: int, *, multizone: bool) -> list[str]:
    """Zones for `up --replicas N`: one per zone of the region when multizone, else all in one."""
    if not multizone:
        region_of(first_zone)
        return [first_zone] * replicas
    zones = sibling_zones(first_zone, min(replicas, 3))
    return [zones[i % len(zones)] for i in range(replicas)]


def check_new_zone(zone: str, existing: Iterable[str], *, multizone: bool) -> None:
    """Refuse a zone of another region, or another zone without multizone."""
    existing = list(existing)
    region = region_of(zone)
    for other in existing:
        if region_of(other) != region:
            raise ZoneError(f"zone {zone} is in region {region}, but the cluster's replicas are in region "
                            f"{region_of(other)}: all replicas must share one region")
    if existing and not multizone and any(other != zone for other in existing):
        raise ZoneError(f"zone {zone} differs from the cluster's zone {existing[0]}: replicas in different "
                        "zones need a multizone cluster (hakube up --multizone, or MULTIZONE=true)")


def least_used_zone(zones: Iterable[str]) -> str | None:
    counts = Counter(zones)
    if not counts:
        return None
    return min(counts, key=lambda z: (counts[z], z))
