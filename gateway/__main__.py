"""`python -m gateway`: serve the gateway on every FAAS_BIND address at FAAS_PORT."""

from __future__ import annotations

import logging
import socket

import uvicorn

from faas.settings import Settings
from gateway.app import create_app
from gateway.slow_clients import head_timeout_protocol


def main() -> None:
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # One listening socket per address: under `faas up` the gateway listens on loopback for
    # the user and on the functions' network gateway address for functions with network: true.
    sockets = []
    for host in settings.bind:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, settings.port))
        sockets.append(sock)
    config = uvicorn.Config(
        create_app(settings),
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=30,
        # Per-request work nobody here uses (no proxy in front; clients need no Server header):
        # off, for the warm path's share of W1.
        proxy_headers=False,
        server_header=False,
        http=head_timeout_protocol(settings.header_timeout),
        limit_concurrency=settings.max_connections or None,
        timeout_keep_alive=max(1, round(settings.keep_alive_timeout)),
    )
    uvicorn.Server(config).run(sockets=sockets)


if __name__ == "__main__":
    main()
