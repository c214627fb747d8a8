"""Lambda functions against their baselines, in the same run, interleaved by rounds (issue 13).

L1  warm boto3 Invoke of a Lambda image (`contract: lambda-image`, awslambdaric) through faas,
    vs  L1-RIE: boto3 Invoke of the same image run under AWS's Runtime Interface Emulator (what
        `sam local start-lambda` runs in its containers; SAM's own images cannot be pulled here)
    and L1-D:   a direct keep-alive call to the same faas container's socket (no gateway).
L2  cold start of a Lambda-contract function (`contract: lambda`, faas's runtime), the Invoke
    API's request to answer, vs L2-B: the Docker SDK creating and starting the same image with
    the same limits, hardening and socket folder, and calling it over the socket as soon as it
    accepts.                                                       target: <= B + 15 ms
L3  cold start of the Lambda image through faas vs L3-RIE: the SDK creating and starting it
    under the emulator (same limits and hardening, on a network: the emulator listens on TCP)
    and invoking it until it answers.

The images: tests/fixtures/images/lambda_ric (FAAS_BASE_IMAGE + awslambdaric wheels downloaded
on the host) and tests/fixtures/functions/lambda-echo built by faas. The emulator comes from
the aws-sam-cli wheel (`pip download --no-deps aws-sam-cli`; L1-RIE and L3-RIE are left out
when it cannot be had). Own redis-server and gateway; everything made is removed at the end.

    python benchmarks/lambda_bench.py [--rounds 3] [--cold 3] [--warm 200] [--out F]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import boto3
import docker
import httpx
from botocore.config import Config

from faas.build.images import build_function_image
from faas.engines.docker.backend import DockerBackend
from faas.manifest.spec import load_manifest
from faas_bench.local import wait
from faas_bench.stats import Summary, interleave, summarize
from image_bench import HARDENING, LABELS, Stack

REPO = Path(__file__).resolve().parent.parent
RIC_FOLDER = REPO / "tests" / "fixtures" / "images" / "lambda_ric"
ECHO_FOLDER = REPO / "tests" / "fixtures" / "functions" / "lambda-echo"
RIE_PATH = "samcli/local/rapid/aws-lambda-rie-x86_64"
INVOKE = "/2015-03-31/functions/{}/invocations"
PAYLOAD = b'{"n": 1}'


def pip_download(target: Path, *args: str) -> bool:
    argv = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps"]
    return subprocess.run([*argv, "-d", str(target), *args], capture_output=True).returncode == 0


def build_ric(client: docker.DockerClient, base: str, work: Path) -> str:
    context = work / "ric"
    shutil.copytree(RIC_FOLDER, context)
    platform = ["--python-version", "3.11", "--platform", "manylinux2014_x86_64"]
    wanted = ["awslambdaric", "simplejson", "snapshot-restore-py"]
    if not pip_download(context / "wheels", *platform, *wanted):
        raise SystemExit("cannot download awslambdaric's wheels (pip download)")
    tag = f"faas-bench-lambda-ric:{uuid.uuid4().hex[:8]}"
    client.images.build(
        path=str(context), tag=tag, buildargs={"BASE": base}, labels=LABELS, rm=True
    )
    return tag


def fetch_rie(work: Path) -> Path | None:
    if not pip_download(work / "sam", "aws-sam-cli"):
        return None
    (wheel,) = (work / "sam").glob("aws_sam_cli-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(RIE_PATH, work / "sam")
    rie = work / "sam" / RIE_PATH
    rie.chmod(0o755)
    return rie


# -- direct calls over a runtime's Unix socket ---------------------------------------------------


class SocketCaller:
    """Keep-alive calls to a runtime's socket as the gateway makes them (POST /call)."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.file = self.sock.makefile("rb")

    def call(self, body: bytes, call_id: str = "bench") -> bytes:
        head = f"POST /call HTTP/1.1\r\nx-call-id: {call_id}\r\nx-faas-timeout-ms: 30000\r\n"
        self.sock.sendall(f"{head}content-length: {len(body)}\r\n\r\n".encode() + body)
        status = self.file.readline()
        length = 0
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        answer = self.file.read(length)
        assert b" 200 " in status, (status, answer)
        return answer

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def socket_series(path: str, n: int) -> list[float]:
    caller = SocketCaller(path)
    caller.call(PAYLOAD)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        caller.call(PAYLOAD)
        out.append(time.perf_counter() - t0)
    caller.close()
    return out


def boto3_series(lambda_client: Any, name: str, n: int) -> list[float]:
    lambda_client.invoke(FunctionName=name, Payload=PAYLOAD)
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        answer = lambda_client.invoke(FunctionName=name, Payload=PAYLOAD)
        answer["Payload"].read()
        out.append(time.perf_counter() - t0)
        assert "FunctionError" not in answer
    return out


def boto3_client(url: str) -> Any:
    config = Config(retries={"max_attempts": 0}, read_timeout=60)
    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    )


# -- cold starts ------------------------------------------------------------------------------


def faas_cold(gw: httpx.Client, client: docker.DockerClient, name: str) -> float:
    gw.post(f"/system/function/{name}/pool", json={"action": "drain"}).raise_for_status()
    wait(lambda: not gw.get(f"/system/function/{name}").json()["instances"], 30, "the drain")
    gateway = gw.get("/healthz").json()["gateway"]
    ours = {"label": [f"faas.function={name}", f"faas.gateway={gateway}"]}
    wait(lambda: not client.containers.list(all=True, filters=ours), 30, "the removal")
    t0 = time.perf_counter()
    response = gw.post(INVOKE.format(name), content=PAYLOAD)
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200 and "x-amz-function-error" not in response.headers, (
        response.text
    )
    return elapsed


def sdk_cold_native(client: docker.DockerClient, image: str, sockets: Path) -> float:
    """The same image as faas starts it, by hand: socket folder, environment, hardening."""
    folder = Path(tempfile.mkdtemp(prefix="b-", dir=sockets))
    folder.chmod(0o777)
    env = {
        "FAAS_SOCKET": "/run/faas/runtime.sock",
        "FAAS_FUNCTION_NAME": "lambda-echo",
        "FAAS_HANDLER": "app.lambda_handler",
        "FAAS_ADAPTER": "lambda",
        "FAAS_MEMORY_MB": "64",
    }
    limits = {**HARDENING, "mem_limit": 64 * 2**20}
    t0 = time.perf_counter()
    container = client.containers.create(
        image,
        environment=env,
        volumes={str(folder): {"bind": "/run/faas", "mode": "rw"}},
        network_mode="none",
        labels=LABELS,
        **limits,
    )
    try:
        container.start()
        path = str(folder / "runtime.sock")
        delay = 0.001
        while True:
            try:
                caller = SocketCaller(path)
                break
            except OSError:
                time.sleep(delay)
                delay = min(delay * 1.5, 0.01)
        caller.call(PAYLOAD)
        elapsed = time.perf_counter() - t0
        caller.close()
        return elapsed
    finally:
        container.remove(force=True)
        shutil.rmtree(folder, ignore_errors=True)


def rie_container(client: docker.DockerClient, image: str, rie: Path, network: str) -> Any:
    return client.containers.create(
        image,
        entrypoint=["/aws-lambda-rie", "python3", "-m", "awslambdaric"],
        command=["app.handler"],
        volumes={str(rie): {"bind": "/aws-lambda-rie", "mode": "ro"}},
        network=network,
        labels=LABELS,
        **HARDENING,
    )


def rie_address(container: Any, network: str) -> str:
    container.reload()
    ip = container.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
    return f"http://{ip}:8080"


def sdk_cold_rie(client: docker.DockerClient, image: str, rie: Path, network: str) -> float:
    t0 = time.perf_counter()
    container = rie_container(client, image, rie, network)
    try:
        container.start()
        url = rie_address(container, network) + INVOKE.format("function")
        delay = 0.001
        while True:
            try:
                response = httpx.post(url, content=PAYLOAD, timeout=30, trust_env=False)
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(delay)
            delay = min(delay * 1.5, 0.01)
        return time.perf_counter() - t0
    finally:
        container.remove(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cold", type=int, default=3, help="cold samples per side per round")
    parser.add_argument("--warm", type=int, default=200, help="warm samples per side per round")
    parser.add_argument("--port", type=int, default=0, help="the gateway's port (default: free)")
    parser.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = parser.parse_args()

    base = os.environ.get("FAAS_BASE_IMAGE") or "faas-python:bookworm"
    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="faas-lambda-bench-"))
    stack = Stack(work, args.port or None)
    backend = DockerBackend()
    ric = build_ric(client, base, work)
    echo = build_function_image(backend, ECHO_FOLDER, "lambda-echo", base_image=base).tag
    rie = fetch_rie(work)
    if rie is None:
        print("aws-sam-cli's wheel (the emulator) could not be downloaded: no RIE baselines")
    gw = stack.start()
    rie_warm = None
    try:
        for manifest in (
            {"name": "ric", "contract": "lambda-image", "image": ric, "keep_alive": "1h"},
            {**load_manifest(ECHO_FOLDER).to_manifest(), "keep_alive": "1h"},
        ):
            image = manifest.get("image") or echo
            response = gw.post("/system/functions", json={"manifest": manifest, "image": image})
            response.raise_for_status()
        network = stack.settings.function_network
        via_faas = boto3_client(stack.url)
        series = ["L1", "L1-D", "L2", "L2-B", "L3"]
        if rie is not None:
            series += ["L1-RIE", "L3-RIE"]
            rie_warm = rie_container(client, ric, rie, network)
            rie_warm.start()
            via_rie = boto3_client(rie_address(rie_warm, network))
            wait(lambda: _answers(via_rie), 30, "the emulator")
        samples: dict[str, list[float]] = {name: [] for name in series}
        gw.post(INVOKE.format("lambda-echo"), content=PAYLOAD)  # warm-up: page cache, network
        load = os.getloadavg()
        for order in interleave(series, args.rounds):
            for name in order:
                if name == "L1":
                    samples[name] += boto3_series(via_faas, "ric", args.warm)
                elif name == "L1-D":
                    via_faas.invoke(FunctionName="ric", Payload=PAYLOAD)  # a running container
                    address = gw.get("/system/function/ric").json()["instances"][0]["address"]
                    samples[name] += socket_series(address.removeprefix("unix:"), args.warm)
                elif name == "L1-RIE":
                    samples[name] += boto3_series(via_rie, "function", args.warm)
                elif name == "L2":
                    samples[name] += [
                        faas_cold(gw, client, "lambda-echo") for _ in range(args.cold)
                    ]
                elif name == "L2-B":
                    samples[name] += [
                        sdk_cold_native(client, echo, stack.sockets) for _ in range(args.cold)
                    ]
                elif name == "L3":
                    samples[name] += [faas_cold(gw, client, "ric") for _ in range(args.cold)]
                elif name == "L3-RIE":
                    assert rie is not None
                    samples[name] += [
                        sdk_cold_rie(client, ric, rie, network) for _ in range(args.cold)
                    ]
        report(samples, load, os.getloadavg(), args)
    finally:
        for name in ("ric", "lambda-echo"):
            gw.delete(f"/system/function/{name}")
        stack.stop()
        for container in client.containers.list(
            all=True, filters={"label": "faas.role=bench-baseline"}
        ):
            container.remove(force=True)
        client.images.remove(ric, force=True)
        backend.close()
        shutil.rmtree(work, ignore_errors=True)


def _answers(lambda_client: Any) -> bool:
    try:
        lambda_client.invoke(FunctionName="function", Payload=PAYLOAD)
    except Exception:
        return False
    return True


def report(
    samples: dict[str, list[float]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
    args: argparse.Namespace,
) -> None:
    s = {name: summarize([v * 1e3 for v in values]) for name, values in samples.items()}

    def row(name: str, summary: Summary) -> str:
        return (
            f"  {name:6} n={summary.n:4}  p50 {summary.p50:8.3f}  "
            f"p95 {summary.p95:8.3f}  p99 {summary.p99:8.3f} ms"
        )

    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); "
        f"{os.cpu_count()} CPUs"
    )
    for name in s:
        print(row(name, s[name]))
    derived = {
        "L1_minus_direct_us": (s["L1"].p50 - s["L1-D"].p50) * 1e3,
        "L2_minus_sdk_ms": s["L2"].p50 - s["L2-B"].p50,
    }
    print(f"L1 warm boto3 via faas - direct socket call = {derived['L1_minus_direct_us']:+.0f} us")
    if "L1-RIE" in s:
        derived["L1_over_rie"] = s["L1"].p50 / s["L1-RIE"].p50
        derived["L3_minus_rie_ms"] = s["L3"].p50 - s["L3-RIE"].p50
        print(f"L1 warm boto3 via faas / via the emulator = {derived['L1_over_rie']:.2f}x")
    print(f"L2 cold: faas p50 - SDK p50 = {derived['L2_minus_sdk_ms']:+.1f} ms (target <= +15)")
    if "L3-RIE" in s:
        print(f"L3 cold image: faas p50 - SDK+emulator p50 = {derived['L3_minus_rie_ms']:+.1f} ms")
    if args.out:
        out: dict[str, Any] = {name: asdict(summary) for name, summary in s.items()}
        out["derived"] = derived
        out["load"] = {"before": load_before, "after": load_after}
        args.out.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
