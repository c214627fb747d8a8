"""`faas bench NAME`: measure every way a call can be served, against same-run baselines.

Modes (SeBS's cold / warm / burst / sequential, plus the pool's own start kinds), each with
its baselines measured in the same run:

- cold: `X-Faas-Force: cold`, the pool drained before each call. Baselines: the bare SDK
  (same image and config, Unix socket), the bare SDK in bridge mode with a published port,
  and `docker run` per call.
- prewarm: drain, prestart 1, call. Baseline: the bare SDK.
- generic: drain, wait for a spare generic runtime, call (the gateway loads the function's
  code into it: prewarm with a `load` phase). Baseline: the bare SDK.
- paused: one warm container, pause, call. Baseline: bare SDK unpause + call.
- warm: one keep-alive connection, back-to-back calls. Baseline: the same container, direct.
- concurrent: N connections for a fixed time (wrk). Baseline: direct, N connections.
- burst: drain, then N concurrent forced-cold calls, until all answer. Baseline: N threads
  each doing the bare-SDK cold start.

Every series runs once per round, rounds rotate the order (`stats.interleave`) so drift on a
shared machine spreads over all of them. Gateway samples of the wrong start kind are dropped
and counted.
"""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from faas.engines.docker import DockerBackend
from faas.errors import FaasError
from faas.manifest.spec import parse_manifest
from faas_bench import environment, loadgen
from faas_bench.baselines import BRIDGE, UNIX, BaselineError
from faas_bench.control import NotAvailable, Target, record
from faas_bench.modes import Options as Options  # re-exported for the CLI
from faas_bench.modes import Session
from faas_bench.results import BASELINE, FAAS, BenchResult, Series, Throughput
from faas_bench.stats import interleave
from faas_bench.wire import Reply, WireError

# What one series' round may fail with and the run go on (recorded as the series' errors);
# anything else is a bug and stops the run.
_MEASUREMENT_ERRORS = (
    FaasError,
    WireError,
    BaselineError,
    OSError,
    RuntimeError,
    ValueError,
    subprocess.SubprocessError,
)


@dataclass
class _Unit:
    """One series' work for one round."""

    name: str
    steps: int
    run: Callable[[], None]


Progress = Callable[[int, str], None]


class Runner:
    """Plans the units of a round, runs the rounds in rotated order, records what failed."""

    def __init__(
        self,
        gateway_url: str,
        name: str,
        options: Options,
        *,
        backend: DockerBackend | None = None,
        progress: Progress | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self.name = name
        self.options = options
        self.backend = backend or DockerBackend()
        self.progress = progress or (lambda n, label: None)
        self.log = log or (lambda line: None)
        self.target = Target(
            self.gateway_url,
            name,
            method=options.method,
            path=options.path,
            payload=options.payload,
        )
        self.record = self.target.control.describe()  # 404 with a message when not deployed
        self.spec = parse_manifest(self.record["config"])
        self.image = str(self.record["image"])
        self.result = BenchResult(
            function=name,
            image=self.image,
            gateway=self.gateway_url,
            config=dict(self.record["config"]),
            command=list(sys.argv),
            options=options.to_json(),
            run_id=secrets.token_hex(4),
        )
        self._label = ""
        self._ticks = 0
        self.session = Session(
            self.target,
            self.spec,
            self.image,
            options,
            self.result,
            backend=self.backend,
            run_id=self.result.run_id,
            load_tool=self._pick_load_client(),
            tick=self._tick,
        )

    # -- public -------------------------------------------------------------------------------

    def plan(self) -> list[_Unit]:
        """The units of one round, in the declared order (rounds rotate it)."""
        o, s = self.options, self.session
        units: list[_Unit] = []
        want = set(o.modes)
        base = o.baselines
        if "cold" in want:
            units.append(self._gateway_unit("cold", o.calls, s.cold_call))
        if base and want & {"cold", "prewarm", "generic"}:
            units.append(_Unit("sdk", o.calls, lambda: s.sdk_round("sdk", UNIX)))
        if base and "cold" in want:
            units.append(_Unit("sdk-bridge", o.calls, lambda: s.sdk_round("sdk-bridge", BRIDGE)))
            if o.docker_run:
                units.append(_Unit("docker-run", o.calls, s.docker_run_round))
        if "prewarm" in want:
            units.append(self._gateway_unit("prewarm", o.calls, s.prewarm_call, without="load"))
        if "generic" in want:
            units.append(self._gateway_unit("generic", o.calls, s.generic_call, phase="load"))
        if "paused" in want:
            units.append(self._gateway_unit("paused", o.calls, s.paused_call))
            if base:
                units.append(_Unit("sdk-unpause", o.calls, s.unpause_round))
        if "warm" in want:
            units.append(_Unit("warm", o.warm_calls, s.warm_round))
            if base:
                units.append(_Unit("direct", o.warm_calls, s.direct_round))
        if "concurrent" in want:
            units.append(_Unit("concurrent", 1, s.concurrent_round))
            if base:
                units.append(_Unit("direct-load", 1, s.direct_load_round))
        if "burst" in want:
            units.append(_Unit("burst", 1, s.burst_round))
            if base:
                units.append(_Unit("sdk-burst", 1, s.sdk_burst_round))
        return units

    def total_steps(self) -> int:
        return sum(unit.steps for unit in self.plan()) * self.options.rounds

    def run(self) -> BenchResult:
        self._declare()
        if self.options.rounds < 3:
            self.result.notes.append(
                f"{self.options.rounds} round(s): the verdicts need at least 3 interleaved rounds"
            )
        self.result.started_at = time.time()
        self.result.environment = environment.collect(
            lambda: (self.backend.info(), self.backend.version())
        )
        units = {unit.name: unit for unit in self.plan()}
        try:
            for number, order in enumerate(interleave(list(units), self.options.rounds), 1):
                for name in order:
                    self._run_unit(units[name], number)
        finally:
            self._cleanup()
        self.result.finished_at = time.time()
        return self.result

    # -- series declarations ------------------------------------------------------------------

    def _declare(self) -> None:
        o = self.options
        c, n = o.concurrency, o.burst
        rows: list[tuple[str, str, str, str, str | None, list[str]]] = [
            (
                "cold",
                "gateway, cold (X-Faas-Force: cold)",
                FAAS,
                "cold",
                "cold",
                ["sdk", "sdk-bridge", "docker-run"],
            ),
            ("sdk", "bare SDK create+start+ready+call (Unix socket)", BASELINE, "cold", None, []),
            ("sdk-bridge", "bare SDK, bridge + published port", BASELINE, "cold", None, []),
            ("docker-run", "docker run --rm per call (2016 design)", BASELINE, "cold", None, []),
            (
                "prewarm",
                "gateway, pre-started container's first call (own image)",
                FAAS,
                "prewarm",
                "prewarm",
                ["sdk"],
            ),
            (
                "generic",
                "gateway, generic runtime's first call (code loaded on call)",
                FAAS,
                "generic",
                "prewarm",
                ["sdk"],
            ),
            (
                "paused",
                "gateway, paused container resumed",
                FAAS,
                "paused",
                "paused",
                ["sdk-unpause"],
            ),
            ("sdk-unpause", "bare SDK unpause + call", BASELINE, "paused", None, []),
            ("warm", "gateway, warm, 1 connection", FAAS, "warm", "warm", ["direct"]),
            ("direct", "direct to the same container, 1 connection", BASELINE, "warm", None, []),
            (
                "burst",
                f"gateway, burst 0→{n}, until all answered",
                FAAS,
                "burst",
                "cold",
                ["sdk-burst"],
            ),
            (
                "sdk-burst",
                f"bare SDK, {n} threads, until all answered",
                BASELINE,
                "burst",
                None,
                [],
            ),
        ]
        names = {unit.name for unit in self.plan()}
        for name, label, group, mode, expect, bases in rows:
            if name in names:
                self.result.series[name] = Series(
                    name, label, group, mode, expect, [b for b in bases if b in names]
                )
        tool = self.session.load_tool
        if "concurrent" in names:
            self.result.throughput["concurrent"] = Throughput(
                "concurrent",
                f"gateway, warm, {c} connections",
                FAAS,
                tool,
                c,
                ["direct-load"] if "direct-load" in names else [],
            )
        if "direct-load" in names:
            where = (
                "twin container, host network TCP"
                if tool == "wrk"
                else "same container, Unix socket"
            )
            self.result.throughput["direct-load"] = Throughput(
                "direct-load", f"direct, {c} connections ({where})", BASELINE, tool, c
            )

    def _pick_load_client(self) -> str:
        choice = self.options.load_client
        if choice == "auto":
            return "wrk" if loadgen.wrk_path() else "python"
        return choice

    # -- unit plumbing ------------------------------------------------------------------------

    def _run_unit(self, unit: _Unit, number: int) -> None:
        target = self.result.series.get(unit.name) or self.result.throughput.get(unit.name)
        assert target is not None
        self._label = f"round {number}/{self.options.rounds}: {unit.name}"
        self._ticks = 0
        if target.unavailable is not None:
            self.progress(unit.steps, self._label)
            return
        if isinstance(target, Series):
            target.new_round()
        self.target.connection.close()  # idle since the last unit: uvicorn may have closed it
        try:
            unit.run()
        except NotAvailable as exc:
            target.unavailable = str(exc)
            self.log(f"{unit.name}: not available: {exc}")
        except _MEASUREMENT_ERRORS as exc:
            message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
            if isinstance(target, Series):
                target.error(message)
            else:
                target.note = message
            if number == 1 and not _has_data(target):
                target.unavailable = message
                self.log(f"{unit.name}: not available: {message}")
        self.progress(max(unit.steps - self._ticks, 0), self._label)

    def _tick(self) -> None:
        self._ticks += 1
        self.progress(1, self._label)

    def _gateway_unit(
        self,
        name: str,
        count: int,
        one: Callable[[], Reply | None],
        *,
        phase: str | None = None,
        without: str | None = None,
    ) -> _Unit:
        """`phase`/`without`: a Server-Timing phase the expected replies have/lack (`record`)."""

        def run() -> None:
            series = self.result.series[name]
            for _ in range(count):
                reply = one()
                if reply is not None:
                    record(series, reply, phase=phase, without=without)
                self._tick()

        return _Unit(name, count, run)

    # -- cleanup ------------------------------------------------------------------------------

    def _cleanup(self) -> None:
        self.session.close()
        with contextlib.suppress(NotAvailable, FaasError):
            self.target.control.drain()
        self.target.close()


def _has_data(target: Series | Throughput) -> bool:
    if isinstance(target, Series):
        return bool(target.samples) or bool(target.dropped)
    return bool(target.runs)
