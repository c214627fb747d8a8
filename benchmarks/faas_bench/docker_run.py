"""The 2016 serverless design as a baseline: `docker run --rm` per call, with the same limits
and hardening as the gateway's containers. The one-shot script loads the in-container runtime
from its compiled module in the function image (/opt/faas/runtime.pyc) and runs one call on
stdin.
"""

from __future__ import annotations

from faas.engines.base import ContainerConfig

# Loads the runtime from its .pyc, the handler once, runs one call on stdin, prints the body.
ONE_SHOT = """\
import importlib.machinery as m, importlib.util as u, os, sys
loader = m.SourcelessFileLoader("faas_runtime", "/opt/faas/runtime.pyc")
r = u.module_from_spec(u.spec_from_loader("faas_runtime", loader))
loader.exec_module(r)
r._setup_path()
handler = r.load_handler(os.environ.get("FAAS_HANDLER") or "handler.handle")
body = sys.stdin.buffer.read()
event = r.Event(os.environ.get("FAAS_BENCH_METHOD", "POST"), "/", None, {}, body)
context = r.Context(os.environ.get("FAAS_FUNCTION_NAME", "function"), "docker-run", True)
status, headers, out = r.invoke(handler, event, context)
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
