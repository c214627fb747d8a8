"""What each series does in one round of `faas bench` (the orchestration is in `runner`).

A `Session` holds what the measurements share: the function behind the gateway (`Target`),
the bare containers of its image (`Baselines`), and the series being filled. Gateway modes go
through the pool control endpoint to set up each sample (drain, prestart, pause, wait for a
generic runtime) and keep only replies of the expected start kind; baseline rounds do the same
work without the gateway.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from faas.engines.docker import DockerBackend
from faas.manifest.spec import FunctionSpec
from faas_bench import loadgen
from faas_bench.baselines import HOST, UNIX, Baselines, Resident
from faas_bench.control import NotAvailable, Target, describe_error, record
from faas_bench.environment import cgroup_memory
from faas_bench.results import MODES, BenchResult, LoadRun, Series, Throughput
from faas_bench.timing import CallTiming
from faas_bench.wire import Connection, Reply, address_from_url, parse_address
from faas_bench.wire import request_bytes as build_request

WARMUP_CALLS = 20
SPARE_TIMEOUT = 60.0  # seconds to wait for a generic runtime container (image build at start)
SPARE_POLL = 0.02
LOAD_WARMUP_SECONDS = 1.0
LOAD_WARMUP_RUNS = 5


@dataclass(frozen=True)
class Options:
    modes: tuple[str, ...] = MODES
    baselines: bool = True
    rounds: int = 3
    calls: int = 10  # per round: cold, prewarm, generic, paused and their baselines
    warm_calls: int = 500  # per round: warm sequential and direct
    concurrency: int = 32
    duration: float = 5.0  # seconds per round and target: concurrent
    burst: int = 8
    payload: bytes = b""
    method: str = "POST"
    path: str = ""
    docker_run: bool = True
    load_client: str = "auto"  # wrk, python, auto (wrk when installed)

    def __post_init__(self) -> None:
        unknown = set(self.modes) - set(MODES)
        if unknown:
            raise ValueError(f"unknown mode {sorted(unknown)[0]!r}; choose from {', '.join(MODES)}")
        for name in ("rounds", "calls", "warm_calls", "concurrency", "burst"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.duration <= 0:
            raise ValueError("duration must be positive")
        if self.load_client not in ("auto", "wrk", "python"):
            raise ValueError("load client must be wrk, python or auto")

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["payload"] = len(self.payload)
        data["modes"] = list(self.modes)
        return data


class Session:
    """One run's shared state and the per-round work of every series."""

    def __init__(
        self,
        target: Target,
        spec: FunctionSpec,
        image: str,
        options: Options,
        result: BenchResult,
        *,
        backend: DockerBackend,
        run_id: str,
        load_tool: str,
        tick: Callable[[], None],
    ) -> None:
        self.target = target
        self.spec = spec
        self.image = image
        self.options = options
        self.result = result
        self.series: dict[str, Series] = result.series
        self.throughput: dict[str, Throughput] = result.throughput
        self.backend = backend
        self.run_id = run_id
        self.load_tool = load_tool
        self.tick = tick
        self.network = "faas" if spec.network else None
        self._baselines: Baselines | None = None
        self._residents: dict[str, Resident] = {}

    # -- gateway modes ------------------------------------------------------------------------

    def _drain(self, required: bool) -> None:
        try:
            self.target.control.drain()
        except NotAvailable:
            if required:
                raise

    def cold_call(self) -> Reply | None:
        try:
            self.target.control.drain()
        except NotAvailable:
            live = len(self.target.control.instances())
            if live >= self.spec.scale.max:
                raise NotAvailable(
                    f"{self.target.control.missing}; without drain forced cold calls stop at "
                    f"scale.max ({self.spec.scale.max})"
                ) from None
        return self.target.call(force_cold=True)

    def prewarm_call(self) -> Reply:
        self.target.control.drain()
        self.target.control.prestart(1)
        return self.target.call()

    def generic_call(self) -> Reply:
        """A generic runtime container's first call: drain, wait for a spare, call (not forced
        cold, so the gateway loads the function's code into the spare)."""
        self.target.control.drain()
        self.target.wait_for_spare(SPARE_TIMEOUT, SPARE_POLL)
        return self.target.call()

    def paused_call(self) -> Reply:
        if len(self.target.control.instances()) > 1:
            self.target.control.drain()  # one container: one pause to wait for, not ten
        self.target.ensure_warm()
        self.target.control.pause()
        return self.target.call()

    def warm_round(self) -> None:
        series = self.series["warm"]
        instance = self.target.ensure_warm()
        for _ in range(WARMUP_CALLS):
            self.target.call()
        for _ in range(self.options.warm_calls):
            record(series, self.target.call())
            self.tick()
        self._sample_memory(instance)

    def _sample_memory(self, instance: dict[str, Any]) -> None:
        container = instance.get("container_id")
        if container:
            sample = cgroup_memory(str(container))
            if sample is not None:
                self.result.memory.append(sample)

    def direct_round(self) -> None:
        series = self.series["direct"]
        instance = self.target.ensure_warm()
        address = instance.get("address")
        if not address:
            raise NotAvailable("the gateway does not report instance addresses")
        o = self.options
        request = build_request(o.method, f"/call{o.path or '/'}", o.payload)
        with Connection(parse_address(str(address))) as conn:
            for _ in range(WARMUP_CALLS):
                conn.exchange(request)
            for _ in range(o.warm_calls):
                reply = conn.exchange(request)
                if reply.status >= 500:
                    series.error(f"HTTP {reply.status} from the function")
                else:
                    series.add(reply.elapsed_ms)
                self.tick()

    def burst_round(self) -> None:
        series = self.series["burst"]
        n = min(self.options.burst, self.spec.scale.max)
        if n < self.options.burst:
            series.note = f"capped at the function's scale.max ({n})"
        self._drain(required=True)
        connections = [Connection(address_from_url(self.target.url)) for _ in range(n)]
        replies: list[Reply | BaseException | None] = [None] * n
        ends = [0.0] * n
        barrier = threading.Barrier(n + 1)

        def one(index: int) -> None:
            conn = connections[index]
            barrier.wait()
            try:
                replies[index] = self.target.call(force_cold=True, connection=conn)
            except BaseException as exc:
                replies[index] = exc
            ends[index] = time.perf_counter()

        try:
            for conn in connections:
                conn.open()
            threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
            for thread in threads:
                thread.start()
            barrier.wait()
            t0 = time.perf_counter()
            for thread in threads:
                thread.join()
        finally:
            for conn in connections:
                conn.close()
        kinds: list[str] = []
        phases: dict[str, list[float]] = {}
        for reply in replies:
            if not isinstance(reply, Reply):
                series.error(str(reply))
                return
            if "x-faas-start" not in reply.headers or reply.status >= 500:
                series.error(describe_error(reply))
                return
            timing = CallTiming.from_headers(reply.headers)
            kinds.append(timing.start)
            for key, value in timing.phases.items():
                phases.setdefault(key, []).append(value)
        wrong = [k for k in kinds if k != "cold"]
        if wrong:
            series.drop(wrong[0])
            return
        times = sorted((end - t0) * 1e3 for end in ends)
        series.add(times[-1], {"first": times[0]})
        for key, values in phases.items():
            series.parts.setdefault(key, []).extend(values)

    def concurrent_round(self) -> None:
        target = self.throughput["concurrent"]
        o = self.options
        url = f"{self.target.url}{self.target.target}"
        # Grow the pool to what this load needs: warm up until a run starts no container (cold,
        # or loaded into a generic runtime: prewarm).
        for _ in range(LOAD_WARMUP_RUNS):
            before = self.target.starts()
            self._load(url, LOAD_WARMUP_SECONDS)
            self.target.settle()
            after = self.target.starts()
            if all(after.get(k, 0) == before.get(k, 0) for k in ("cold", "prewarm")):
                break
        before = self.target.starts()
        run = self._load(url, o.duration)
        after = self.target.starts()
        run.starts = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        target.runs.append(run)
        if any(run.starts.get(k, 0) for k in ("cold", "prewarm", "paused")):
            target.note = "some calls during the measured runs were not warm (see starts)"

    def direct_load_round(self) -> None:
        target = self.throughput["direct-load"]
        o = self.options
        if self.load_tool == "wrk":
            twin = self._resident(HOST)
            url = f"http://127.0.0.1:{twin.address.port}/call{o.path or '/'}"
            target.runs.append(self._load(url, o.duration))
        else:
            instance = self.target.ensure_warm()
            address = parse_address(str(instance.get("address")))
            request = build_request(o.method, f"/call{o.path or '/'}", o.payload)
            target.runs.append(
                loadgen.run_python(address, request, connections=o.concurrency, seconds=o.duration)
            )

    def _load(self, url: str, seconds: float) -> LoadRun:
        o = self.options
        if self.load_tool == "wrk":
            return loadgen.run_wrk(
                url,
                connections=o.concurrency,
                seconds=seconds,
                method=o.method,
                body=o.payload,
            )
        target = address_from_url(self.target.url)
        request = build_request(o.method, url.removeprefix(self.target.url), o.payload)
        return loadgen.run_python(target, request, connections=o.concurrency, seconds=seconds)

    # -- baselines ----------------------------------------------------------------------------

    @property
    def baselines(self) -> Baselines:
        if self._baselines is None:
            self._baselines = Baselines(
                self.backend,
                self.spec,
                self.image,
                run_id=self.run_id,
                payload=self.options.payload,
                method=self.options.method,
                network=self.network,
            )
        return self._baselines

    def _resident(self, mode: str) -> Resident:
        if mode not in self._residents:
            self._residents[mode] = self.baselines.resident(mode)
        return self._residents[mode]

    def sdk_round(self, name: str, mode: str) -> None:
        series = self.series[name]
        for _ in range(self.options.calls):
            sample = self.baselines.cold(mode)
            if sample.status >= 500:
                series.error(f"HTTP {sample.status} from the bare container")
            else:
                series.add(sample.total, sample.parts())
            self.tick()

    def docker_run_round(self) -> None:
        series = self.series["docker-run"]
        for _ in range(self.options.calls):
            series.add(self.baselines.docker_run())
            self.tick()

    def unpause_round(self) -> None:
        series = self.series["sdk-unpause"]
        resident = self._resident(UNIX)
        for _ in range(self.options.calls):
            total, unpause = resident.unpause_call()
            series.add(total, {"unpause": unpause})
            self.tick()

    def sdk_burst_round(self) -> None:
        sample = self.baselines.burst(min(self.options.burst, self.spec.scale.max), UNIX)
        self.series["sdk-burst"].add(sample.all_ready, {"first": sample.first_ready})

    def close(self) -> None:
        """Close the connection and remove every bare container."""
        self.target.connection.close()
        for resident in self._residents.values():
            resident.close()
        if self._baselines is not None:
            self._baselines.close()
