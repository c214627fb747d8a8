"""X-Callback-Url: POST an async call's result to the caller's URL, with OpenFaaS's headers.

    X-Call-Id, X-Function-Name, X-Function-Status (the HTTP status of the function's answer, or
    of the error), X-Duration-Seconds, and X-Faas-Call-Status (succeeded, failed or dead).

Delivery is bounded: FAAS_CALLBACK_MAX_ATTEMPTS tries with exponential back-off and full jitter,
on connection errors, 408, 429 and 5xx; other statuses end it. Redirects are not followed.
The URL's host is resolved first and refused when any address is loopback, link-local, private,
multicast, reserved or unspecified (a function's result must not reach the machine's internal
services), unless FAAS_CALLBACK_ALLOW_PRIVATE=true. The outcome lands in the call record.
Callbacks live in the gateway's memory: a gateway killed mid-delivery loses that delivery (the
record keeps the result and says `pending`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from faas.errors import BadRequest
from faas.supervised import cancel_and_wait

log = logging.getLogger(__name__)

MAX_URL = 2048
TIMEOUT = 10.0
BASE_DELAY = 0.5
REFUSED = "loopback, link-local, private, multicast, reserved or unspecified address"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    pass


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address in the low 32 bits
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: for local networks only
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated, still routed by some stacks


def refused(address: IPAddress) -> bool:
    """True for any address that is not a public unicast address, including IPv6 forms that
    carry a private IPv4 address (mapped, IPv4-compatible, NAT64, 6to4, Teredo)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in _LOCAL_NAT64:
            return True
        if any(refused(inner) for inner in _embedded(address)):
            return True
        if address.ipv4_mapped is not None:
            return False  # the mapped IPv4 address, public, is what gets reached
    return not address.is_global or address.is_multicast


def _embedded(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    inner = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [x for x in inner if x is not None]


def check_url(url: str, *, allow_private: bool) -> str:
    """Validate an X-Callback-Url when the call is queued; literal addresses are checked now."""
    if len(url) > MAX_URL:
        raise BadRequest(f"X-Callback-Url is longer than {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest(f"X-Callback-Url must be an http:// or https:// URL, got {url!r}")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise BadRequest(f"X-Callback-Url has an invalid port: {url!r}") from None
        return url
    if refused(literal) and not allow_private:
        raise BadRequest(
            f"X-Callback-Url {url!r} points at a {REFUSED}; callbacks go to public addresses "
            "only (set FAAS_CALLBACK_ALLOW_PRIVATE=true to allow them)"
        )
    return url


def result_headers(
    call_id: str, function: str, status: int, duration: float, call_status: str
) -> dict[str, str]:
    """OpenFaaS's callback headers, plus the call's final status."""
    return {
        "X-Call-Id": call_id,
        "X-Function-Name": function,
        "X-Function-Status": str(status),
        "X-Duration-Seconds": f"{duration:.6f}",
        "X-Faas-Call-Status": call_status,
    }


class CallbackSender:
    def __init__(
        self,
        *,
        allow_private: bool,
        max_attempts: int,
        base_delay: float = BASE_DELAY,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.allow_private = allow_private
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self._rand = rand
        self._http: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def send(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        done: Callable[[dict[str, str]], None],
    ) -> None:
        """Deliver in the background; `done` gets the record fields describing the outcome."""
        task = asyncio.create_task(self._guarded(url, headers, body, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self, timeout: float = 5.0) -> None:
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=timeout)
            await cancel_and_wait(pending)
        if self._http is not None:
            await self._http.aclose()

    async def _guarded(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        done: Callable[[dict[str, str]], None],
    ) -> None:
        """A delivery that fails in an unforeseen way still ends in the record, not in
        "Task exception was never retrieved" with the callback `pending` for ever."""
        try:
            await self._deliver(url, headers, body, done)
        except Exception as exc:
            log.exception("callback to %s failed in the gateway", url)
            error = f"{type(exc).__name__}: {exc}"[:500]
            done({"callback_status": "failed", "callback_attempts": "0", "callback_error": error})

    async def _deliver(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        done: Callable[[dict[str, str]], None],
    ) -> None:
        try:
            await self._check_host(url)
        except Refused as exc:
            log.warning("callback to %s refused: %s", url, exc)
            done(
                {"callback_status": "refused", "callback_attempts": "0", "callback_error": str(exc)}
            )
            return
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=TIMEOUT, trust_env=False)
        error = ""
        for attempt in range(1, self.max_attempts + 1):
            try:
                response = await self._http.post(url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            else:
                if response.status_code < 300:
                    done({"callback_status": "delivered", "callback_attempts": str(attempt)})
                    return
                error = f"the callback URL answered {response.status_code}"
                if response.status_code not in (408, 429) and response.status_code < 500:
                    break
            if attempt < self.max_attempts:
                await asyncio.sleep(self._rand() * self.base_delay * 2 ** (attempt - 1))
        log.warning("callback to %s failed after %d attempts: %s", url, attempt, error)
        done(
            {
                "callback_status": "failed",
                "callback_attempts": str(attempt),
                "callback_error": error,
            }
        )

    async def _check_host(self, url: str) -> None:
        if self.allow_private:
            return
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise Refused(f"cannot resolve {host!r}: {exc}") from None
        for info in infos:
            with contextlib.suppress(ValueError):
                address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
                if refused(address):
                    raise Refused(
                        f"{host!r} resolves to {address}, a {REFUSED} "
                        "(set FAAS_CALLBACK_ALLOW_PRIVATE=true to allow it)"
                    )
