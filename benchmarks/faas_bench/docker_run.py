"""The 2016 serverless design as a baseline: `docker run --rm` per call, with the same limits
and hardening as the gateway's containers. The one-shot script loads the in-container runtime
package from the function image (/opt/faas/runtime) and runs one call on stdin.
"""

from __future__ import annotations

from faas.engines.base import ContainerConfig

# Loads the runtime package as the image's own command does (faas.build.images.runtime_command),
# the handler once, runs one call on stdin, prints the body.
ONE_SHOT = """\
import os, sys
sys.path.insert(0, "/opt/faas/runtime")
from faas_runtime import Context, Event, invoke, load_handler
from faas_runtime.main import _setup_path
_setup_path()
handler = load_handler(os.environ.get("FAAS_HANDLER") or "handler.handle")
body = sys.stdin.buffer.read()
event = Event(os.environ.get("FAAS_BENCH_METHOD", "POST"), "/", None, {}, body)
context = Context(os.environ.get("FAAS_FUNCTION_NAME", "function"), "docker-run", True)
status, headers, out = invoke(handler, event, context)
sys.stdout.buffer.write(out)
sys.exit(0 if status < 500 else 1)
"""


def docker_run_argv(
    cfg: ContainerConfig, *, network: str = "none", method: str = "POST"
) -> list[str]:
    """The `docker run` command line for `cfg` (same limits and hardening), one-shot."""
    argv = ["docker", "run", "--rm", "-i", "--name", cfg.name, "--user", cfg.user]
    if cfg.read_only:
        argv.append("--read-only")
    for path, options in cfg.tmpfs.items():
        argv += ["--tmpfs", f"{path}:{options}"]
    for cap in cfg.cap_drop:
        argv += ["--cap-drop", cap]
    for opt in cfg.security_opt:
        argv += ["--security-opt", opt]
    argv += [
        "--pids-limit",
        str(cfg.pids_limit),
        "--memory",
        str(cfg.memory),
        "--memory-swap",
        str(cfg.memory),
        "--cpus",
        f"{cfg.cpus:g}",
        "--network",
        network,
    ]
    for key, value in cfg.labels.items():
        argv += ["--label", f"{key}={value}"]
    env = {k: v for k, v in cfg.environment.items() if k not in ("FAAS_PORT", "FAAS_SOCKET")}
    env["FAAS_BENCH_METHOD"] = method
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    argv += [cfg.image, "python3", "-s", "-c", ONE_SHOT]
    return argv
