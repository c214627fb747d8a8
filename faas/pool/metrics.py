"""Prometheus metrics of a gateway process (served at `GET /metrics`).

A registry per process object, not the library's global one, so several gateways (tests) can
live in one interpreter. Container counts are read from the pools at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from faas.pool.openfaas_metrics import SECONDS, OpenFaasCollector

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _PoolCollector(Collector):
    def __init__(self, read: Callable[[], Mapping[str, Mapping[str, int]]]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "faas_containers", "Function containers by state", labels=["function", "state"]
        )
        for function, states in self._read().items():
            for state, count in states.items():
                gauge.add_metric([function, state], count)
        yield gauge


class Metrics:
    def __init__(self) -> None:
        self._children: dict[tuple[str, int, str | None], tuple[Any, Any, Any, Any]] = {}
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "faas_calls",
            "Calls by function and HTTP status",
            ["function", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "faas_call_duration_seconds",
            "Gateway time per call, by how it started",
            ["function", "start"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.starts = Counter(
            "faas_starts",
            "Calls by start kind (cold, prewarm, paused, warm)",
            ["function", "kind"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "faas_queue_depth",
            "Async calls by where they wait (queued, delayed, dead)",
            ["queue"],
            registry=self.registry,
        )
        self.openfaas_seconds = Histogram(  # OpenFaaS's name (faas.pool.openfaas_metrics)
            SECONDS,
            "Function time taken",
            ["function_name", "code"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "faas_queue_wait_seconds",
            "Time calls waited for a container at the scale limit",
            ["function"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe_call(self, function: str, code: int, start: str | None, seconds: float) -> None:
        """One finished call. The labelled children are cached: `labels()` cost ~3 us a call
        on the warm path, a fifth of the invoker's own time."""
        key = (function, code, start)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.calls.labels(function, str(code)),
                self.duration.labels(function, start) if start else None,
                self.starts.labels(function, start) if start else None,
                self.openfaas_seconds.labels(function, str(code)),
            )
        calls, duration, starts, seconds_by_code = children
        calls.inc()
        seconds_by_code.observe(seconds)
        if duration is not None and starts is not None:
            duration.observe(seconds)
            starts.inc()

    def set_queue_depth(self, depth: Mapping[str, int]) -> None:
        for queue, count in depth.items():
            self.queue_depth.labels(queue).set(count)

    def forget(self, function: str) -> None:
        self._children = {k: v for k, v in self._children.items() if k[0] != function}

    def watch_pools(self, read: Callable[[], Mapping[str, Mapping[str, int]]]) -> None:
        self.registry.register(_PoolCollector(read))
        self.registry.register(OpenFaasCollector(self.calls, read))

    def render(self) -> bytes:
        return generate_latest(self.registry)
