"""Prometheus metrics of one API server (its own registry, no process globals)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "apiserver_request_total", "Requests by verb, resource and HTTP code.",
            ["verb", "group", "resource", "subresource", "code"], registry=self.registry)
        self.latency = Histogram(
            "apiserver_request_duration_seconds", "Request latency by verb and resource.",
            ["verb", "group", "resource", "subresource"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.etcd_latency = Histogram(
            "etcd_request_duration_seconds", "etcd request latency by operation.",
            ["operation"], buckets=_LATENCY_BUCKETS, registry=self.registry)
        self.watchers = Gauge(
            "apiserver_registered_watchers", "Open client watches served from the watch cache.",
            registry=self.registry)

        # Label lookups take a lock and build tuples; the label sets are few, so keep the children.
        self._etcd_children: dict[str, Any] = {}
        self._request_children: dict[tuple[str, ...], tuple[Any, Any]] = {}

    def observe_etcd(self, operation: str, seconds: float) -> None:
        child = self._etcd_children.get(operation)
        if child is None:
            child = self._etcd_children[operation] = self.etcd_latency.labels(operation)
        child.observe(seconds)

    def observe_request(self, labels: tuple[str, str, str, str], code: int, seconds: float | None) -> None:
        """Count a request; `seconds` is None for watches (their duration is not a latency)."""
        key = (*labels, str(code))
        children = self._request_children.get(key)
        if children is None:
            children = self._request_children[key] = (self.requests.labels(*key), self.latency.labels(*labels))
        children[0].inc()
        if seconds is not None:
            children[1].observe(seconds)

    def set_watchers(self, count: int) -> None:
        self.watchers.set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
