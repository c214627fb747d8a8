"""OpenFaaS gateway's Prometheus metric names, next to faas's own (dashboards and alerts
written for OpenFaaS read them unchanged):

    gateway_function_invocation_total{function_name, code}   counter
    gateway_functions_seconds{function_name, code}           histogram
    gateway_service_count{function_name}                     gauge: live containers

The counter and the gauge are derived at scrape time from `faas_calls` and the pools, so a call
pays only for the histogram (a cached child, as faas's own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

INVOCATIONS = "gateway_function_invocation"  # the client library appends _total
SECONDS = "gateway_functions_seconds"
SERVICE_COUNT = "gateway_service_count"


class OpenFaasCollector(Collector):
    def __init__(
        self, calls: Counter, pools: Callable[[], Mapping[str, Mapping[str, int]]]
    ) -> None:
        self._calls = calls
        self._pools = pools

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        invocations = CounterMetricFamily(
            INVOCATIONS, "Function calls by HTTP status", labels=["function_name", "code"]
        )
        for family in self._calls.collect():
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    labels = sample.labels
                    invocations.add_metric([labels["function"], labels["code"]], sample.value)
        yield invocations
        count = GaugeMetricFamily(
            SERVICE_COUNT, "Current count of containers per function", labels=["function_name"]
        )
        for function, states in self._pools().items():
            if not function.startswith("("):  # "(generic)": faas's pre-started runtimes
                count.add_metric([function], sum(states.values()))
        yield count
