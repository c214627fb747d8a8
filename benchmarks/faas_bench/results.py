"""What a `faas bench` run measured, as plain data that round-trips through JSON.

Raw samples are kept (not only summaries), so a report, a chart or a new statistic can be
made again later from `results.json` alone (`faas bench render`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from faas.units import parse_size
from faas_bench.stats import Summary, summarize

SCHEMA = 1

# The ways a call is measured (see faas_bench.runner); also the groups of the report.
MODES = ("cold", "prewarm", "generic", "paused", "warm", "concurrent", "burst")

FAAS = "faas"  # series measured through the gateway
BASELINE = "baseline"  # series measured without it, in the same run


@dataclass
class Series:
    """Per-call latencies (ms) of one way of serving a call, over every round.

    `parts` holds per-call components with the same unit: the gateway's Server-Timing phases
    (queue, create, start, ready, load, handler, total) for gateway series, or a baseline's own
    steps (create, start, ready, call, remove). Samples of the wrong start kind are not kept;
    `dropped` counts them by the kind the gateway reported.
    """

    name: str
    label: str
    group: str
    mode: str
    expect: str | None = None
    baselines: list[str] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    error_examples: list[str] = field(default_factory=list)
    per_round: list[int] = field(default_factory=list)
    unavailable: str | None = None
    note: str = ""

    def add(self, value_ms: float, parts: dict[str, float] | None = None) -> None:
        self.samples.append(value_ms)
        for key, value in (parts or {}).items():
            self.parts.setdefault(key, []).append(value)
        if self.per_round:
            self.per_round[-1] += 1

    def new_round(self) -> None:
        self.per_round.append(0)

    def drop(self, kind: str) -> None:
        self.dropped[kind] = self.dropped.get(kind, 0) + 1

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_examples) < 5 and message not in self.error_examples:
            self.error_examples.append(message)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def summary(self) -> Summary | None:
        return summarize(self.samples) if self.samples else None

    def part_summary(self, part: str) -> Summary | None:
        values = self.parts.get(part)
        return summarize(values) if values else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        summary = self.summary()
        data["summary"] = asdict(summary) if summary else None
        data["parts_summary"] = {
            key: asdict(summarize(values)) for key, values in self.parts.items() if values
        }
        return dict(_finite(data))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Series:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class LoadRun:
    """One load-generator run against one target: totals and its latency distribution."""

    requests: int
    seconds: float
    errors: int = 0
    non_2xx: int = 0
    latency_ms: dict[str, float] = field(default_factory=dict)  # mean, stdev, p50, p90, p99...
    starts: dict[str, int] = field(default_factory=dict)  # gateway counters during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Throughput:
    """Requests per second at a fixed number of connections, one LoadRun per round."""

    name: str
    label: str
    group: str
    tool: str
    connections: int
    baselines: list[str] = field(default_factory=list)
    runs: list[LoadRun] = field(default_factory=list)
    unavailable: str | None = None
    note: str = ""

    def rps(self) -> Summary | None:
        values = [run.rps for run in self.runs if run.requests]
        return summarize(values) if values else None

    def latency(self, key: str) -> float | None:
        """Median over the rounds of one latency statistic (ms)."""
        values = [run.latency_ms[key] for run in self.runs if key in run.latency_ms]
        return summarize(values).p50 if values else None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for run, raw in zip(self.runs, data["runs"], strict=True):
            raw["rps"] = run.rps
        rps = self.rps()
        data["rps_summary"] = asdict(rps) if rps else None
        return dict(_finite(data))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Throughput:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        run_fields = set(LoadRun.__dataclass_fields__)
        values["runs"] = [
            LoadRun(**{k: v for k, v in run.items() if k in run_fields})
            for run in data.get("runs", [])
        ]
        return cls(**values)


@dataclass
class MemorySample:
    """cgroup memory of one container (bytes); working set = usage - inactive file cache."""

    container: str
    usage: int
    working_set: int
    rss: int
    limit: int | None = None


@dataclass
class BenchResult:
    function: str
    image: str
    gateway: str
    config: dict[str, Any] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    started_at: float = 0.0
    finished_at: float = 0.0
    environment: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Series] = field(default_factory=dict)
    throughput: dict[str, Throughput] = field(default_factory=dict)
    memory: list[MemorySample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replay: dict[str, Any] | None = None
    run_id: str = ""  # its bare containers are labelled faas.gateway=bench-<run_id>

    @property
    def memory_mib(self) -> float:
        """The memory the function is given (its limit), MiB: what pay-per-use bills."""
        try:
            return parse_size(self.config.get("memory", "128Mi")) / 2**20
        except ValueError:
            return 128.0

    def to_json(self) -> dict[str, Any]:
        data = {"schema": SCHEMA, **{f.name: getattr(self, f.name) for f in fields(self)}}
        data["series"] = {name: s.to_json() for name, s in self.series.items()}
        data["throughput"] = {name: t.to_json() for name, t in self.throughput.items()}
        data["memory"] = [asdict(m) for m in self.memory]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchResult:
        if data.get("schema") != SCHEMA:
            raise ValueError(
                f"results schema {data.get('schema')!r} is not {SCHEMA}: "
                "re-run `faas bench` with this version"
            )
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["series"] = {k: Series.from_json(v) for k, v in data.get("series", {}).items()}
        values["throughput"] = {
            k: Throughput.from_json(v) for k, v in data.get("throughput", {}).items()
        }
        values["memory"] = [MemorySample(**m) for m in data.get("memory", [])]
        return cls(**values)


def _finite(value: Any) -> Any:
    """JSON has no inf/nan: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
