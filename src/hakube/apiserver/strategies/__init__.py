"""Per-resource strategies, grouped by API group."""
