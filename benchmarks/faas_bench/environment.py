"""The environment header of a benchmark report: what the numbers were measured on.

SeBS and the perf anchors report kernel, Docker, runc, cgroup version and CPU with every
figure: latencies on a 2-vCPU VM and on a workstation are not comparable, ratios mostly are.
Also the cgroup memory of one container (M1), read from the host's cgroup filesystem.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faas import __version__
from faas_bench.results import MemorySample


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def cpu_model(cpuinfo: str | None = None) -> str:
    text = _read("/proc/cpuinfo") if cpuinfo is None else cpuinfo
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model", "Hardware"):
            return value.strip()
    return platform.processor() or platform.machine()


def mem_total_bytes(meminfo: str | None = None) -> int | None:
    text = _read("/proc/meminfo") if meminfo is None else meminfo
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit():
                return int(parts[1]) * 1024
    return None


def os_name(os_release: str | None = None) -> str:
    text = _read("/etc/os-release") if os_release is None else os_release
    for line in text.splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.partition("=")[2].strip().strip('"')
    return platform.system()


def tool_version(argv: list[str]) -> str | None:
    """First line of `tool --version`-style output, or None when the tool is missing."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else None


def _component(version: dict[str, Any], name: str) -> str | None:
    for component in version.get("Components") or []:
        if str(component.get("Name", "")).lower() == name:
            return str(component.get("Version", "")) or None
    return None


def from_docker(info: dict[str, Any], version: dict[str, Any]) -> dict[str, Any]:
    """The engine part of the header from `docker info` and `docker version` (pure)."""
    runc = _component(version, "runc") or (info.get("RuncCommit") or {}).get("ID")
    containerd = _component(version, "containerd") or (info.get("ContainerdCommit") or {}).get("ID")
    return {
        "docker": version.get("Version") or info.get("ServerVersion"),
        "docker_api": version.get("ApiVersion"),
        "containerd": containerd,
        "runc": runc,
        "runtime": info.get("DefaultRuntime"),
        "cgroup_version": str(info.get("CgroupVersion") or ""),
        "cgroup_driver": info.get("CgroupDriver"),
        "storage_driver": info.get("Driver"),
        "docker_cpus": info.get("NCPU"),
        "docker_memory_bytes": info.get("MemTotal"),
        "security": ", ".join(str(s) for s in info.get("SecurityOptions") or []),
    }


def collect(docker: Callable[[], tuple[dict[str, Any], dict[str, Any]]] | None) -> dict[str, Any]:
    """The whole header. `docker` returns (info, version); None or a failure leaves the
    engine fields out and says why."""
    uname = platform.uname()
    env: dict[str, Any] = {
        "host": uname.node,
        "os": os_name(),
        "kernel": uname.release,
        "arch": uname.machine,
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "memory_bytes": mem_total_bytes(),
        "clocksource": _read(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource"
        ).strip()
        or None,
        "load_avg": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        "python_impl": sys.implementation.name,
        "faas": __version__,
        "wrk": tool_version(["wrk", "-v"]),
    }
    if docker is not None:
        try:
            info, version = docker()
        except Exception as exc:  # the header must never sink the benchmark
            env["docker_error"] = str(getattr(exc, "message", exc))
        else:
            env.update(from_docker(info, version))
    return env


def header_lines(env: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) pairs for the report's environment table, in reading order."""

    def mem(value: Any) -> str:
        return f"{int(value) / 2**30:.1f} GiB" if isinstance(value, int | float) else "?"

    cgroup = env.get("cgroup_version")
    rows = [
        ("host", f"{env.get('host', '?')} ({env.get('os', '?')}, {env.get('arch', '?')})"),
        ("kernel", str(env.get("kernel", "?"))),
        ("CPU", f"{env.get('cpu', '?')} x {env.get('cpus', '?')}"),
        ("memory", mem(env.get("memory_bytes"))),
        (
            "Docker",
            f"{env.get('docker', '?')} (API {env.get('docker_api', '?')}, "
            f"{env.get('storage_driver', '?')})"
            if "docker" in env
            else f"not available: {env.get('docker_error', 'not asked')}",
        ),
        ("containerd / runc", f"{env.get('containerd', '?')} / {env.get('runc', '?')}"),
        ("cgroup", f"v{cgroup} ({env.get('cgroup_driver', '?')})" if cgroup else "?"),
        ("Python / faas", f"{env.get('python', '?')} / {env.get('faas', '?')}"),
        ("clocksource", str(env.get("clocksource") or "?")),
        ("load average at start", " ".join(str(x) for x in env.get("load_avg") or []) or "?"),
        ("load generator", str(env.get("wrk") or "wrk not installed (Python client)")),
    ]
    return rows


# -- cgroup memory of a container -------------------------------------------------------------

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cgroup_dirs(container_id: str, root: Path) -> list[tuple[Path, int]]:
    """Candidate cgroup directories of a container, with the cgroup version they imply."""
    return [
        (root / "memory" / "docker" / container_id, 1),  # v1, cgroupfs driver
        (root / "memory" / "system.slice" / f"docker-{container_id}.scope", 1),  # v1, systemd
        (root / "system.slice" / f"docker-{container_id}.scope", 2),  # v2, systemd
        (root / "docker" / container_id, 2),  # v2, cgroupfs
    ]


def _stat(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            out[key] = int(value)
    return out


def cgroup_memory(container_id: str, root: Path = CGROUP_ROOT) -> MemorySample | None:
    """The container's cgroup memory (None when no cgroup directory is found)."""
    for directory, version in _cgroup_dirs(container_id, root):
        try:
            if version == 1:
                usage = int((directory / "memory.usage_in_bytes").read_text())
                stat = _stat((directory / "memory.stat").read_text())
                limit = int((directory / "memory.limit_in_bytes").read_text())
                inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
                rss = stat.get("total_rss", stat.get("rss", 0))
            else:
                usage = int((directory / "memory.current").read_text())
                stat = _stat((directory / "memory.stat").read_text())
                raw = (directory / "memory.max").read_text().strip()
                limit = int(raw) if raw.isdigit() else 0
                inactive = stat.get("inactive_file", 0)
                rss = stat.get("anon", 0)
        except (OSError, ValueError):
            continue
        return MemorySample(
            container=container_id[:12],
            usage=usage,
            working_set=max(usage - inactive, 0),
            rss=rss,
            limit=limit if 0 < limit < 2**62 else None,
        )
    return None
