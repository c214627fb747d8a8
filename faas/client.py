"""A small client of the gateway's HTTP API, for the CLI (not on any hot path)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Generator, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from faas import credentials
from faas.errors import FaasError, StackError
from faas.settings import Settings

# Function calls: open on the gateway, and passed through to the function with their headers.
CALL_PREFIXES = ("/function/", "/async-function/")


class GatewayError(FaasError):
    """The gateway answered with an error; carries its status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AsyncCalls:
    """The async-call half of the gateway API (mixed into GatewayClient)."""

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; an unreachable gateway is a StackError that says how to start it."""
        raise NotImplementedError

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError

    def invoke_async(
        self,
        name: str,
        data: bytes = b"",
        *,
        method: str = "POST",
        path: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """Queue a call; returns its call id."""
        suffix = "/" + path.lstrip("/") if path else ""
        answer = self._json(
            method, f"/async-function/{name}{suffix}", content=data, headers=headers
        )
        return str(answer["call_id"])

    def call(self, call_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/system/calls/{call_id}"))

    def wait_call(
        self,
        call_id: str,
        on_change: Callable[[dict[str, Any]], None] | None = None,
        interval: float = 0.2,
    ) -> dict[str, Any]:
        """Poll the call until it is succeeded, failed or dead; report each change."""
        seen: tuple[object, object] | None = None
        while True:
            record = self.call(call_id)
            state = (record["status"], record["attempts"])
            if state != seen and on_change is not None:
                on_change(record)
            seen = state
            if record["status"] in ("succeeded", "failed", "dead"):
                return record
            time.sleep(interval)

    def dead_letters(self, function: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        params = {"limit": str(limit), **({"function": function} if function else {})}
        return list(self._json("GET", "/system/dead-letters", params=params)["dead_letters"])

    def dead_letter(self, letter_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/system/dead-letters/{letter_id}"))

    def redrive(self, letter_id: str) -> str:
        return str(self._json("POST", f"/system/dead-letters/{letter_id}/redrive")["call_id"])

    def redrive_all(self, function: str | None = None) -> list[dict[str, Any]]:
        params = {"function": function} if function else {}
        return list(self._json("POST", "/system/dead-letters/redrive", params=params)["redriven"])


class ControlPlaneAuth(httpx.Auth):
    """Adds the credentials to control plane requests only: a function call never carries
    them, since the gateway hands a call's headers to the function's code."""

    def __init__(self, password: str, base_url: str = "") -> None:
        self._header = credentials.basic_authorization(password)
        base = urlsplit(base_url).path.rstrip("/")
        self._calls = tuple(base + prefix for prefix in CALL_PREFIXES)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not request.url.path.startswith(self._calls):
            request.headers.setdefault("Authorization", self._header)
        yield request


class GatewayClient(AsyncCalls):
    """The gateway's API; credentials come from `settings` (default: the FAAS_* environment)
    the way the gateway finds them, so the CLI needs no login step."""

    def __init__(
        self,
        url: str,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        settings = settings or Settings.from_env()
        password = credentials.find(settings)
        self._password_source = (
            "FAAS_ADMIN_PASSWORD" if settings.admin_password else str(settings.password_file)
        )
        self._sends_password = password is not None
        self._http = httpx.Client(
            base_url=self.url,
            timeout=timeout,
            trust_env=False,
            transport=transport,
            auth=ControlPlaneAuth(password, self.url) if password is not None else None,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request; an unreachable gateway is a StackError that says how to start it."""
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise StackError(
                f"the gateway at {self.url} does not answer ({exc.__class__.__name__}): "
                "start it with `faas up`, or point FAAS_GATEWAY / --gateway at it"
            ) from None

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 401:
            raise self._refused()
        if response.status_code >= 400:
            raise error_from(response)
        return response.json()

    def _refused(self) -> GatewayError:
        if self._sends_password:
            reason = (
                f"the gateway at {self.url} refused the password from {self._password_source}: "
                "it was started with another one (another FAAS_HOME or FAAS_ADMIN_PASSWORD?)"
            )
        else:
            reason = (
                f"the gateway at {self.url} needs credentials and there are none at "
                f"{self._password_source}: `faas up` creates them, or set FAAS_ADMIN_PASSWORD"
            )
        return GatewayError(401, "unauthorized", reason)

    def reachable(self) -> None:
        """Raise when no gateway answers at all; an unhealthy one (503: say, Redis lost its data
        and a deploy is what it needs) still takes deploys."""
        self.request("GET", "/healthz")

    def health(self) -> dict[str, Any]:
        response = self.request("GET", "/healthz")
        if response.status_code >= 400:
            raise error_from(response)
        return dict(response.json())

    def register(self, manifest: Mapping[str, Any], image: str, code_hash: str) -> dict[str, Any]:
        body = {"manifest": dict(manifest), "image": image, "code_hash": code_hash}
        return dict(self._json("POST", "/system/functions", json=body))

    def functions(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/system/functions"))

    def function(self, name: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/system/function/{name}"))

    def remove(self, name: str) -> dict[str, Any]:
        return dict(self._json("DELETE", f"/system/function/{name}"))

    def push_code(self, name: str, bundle: Mapping[str, Any]) -> dict[str, Any]:
        """`faas dev`: serve these files (faas.build.dev_bundle.to_json) without a build."""
        return dict(self._json("PUT", f"/system/function/{name}/code", json=dict(bundle)))

    def drop_code(self, name: str) -> dict[str, Any]:
        return dict(self._json("DELETE", f"/system/function/{name}/code"))

    # -- secrets (OpenFaaS's API: names come back, values never) --------------------------

    def secrets(self) -> list[str]:
        return [str(item["name"]) for item in self._json("GET", "/system/secrets")]

    def create_secret(self, name: str, value: bytes) -> None:
        self._json("POST", "/system/secrets", json=_secret_body(name, value))

    def update_secret(self, name: str, value: bytes) -> None:
        self._json("PUT", "/system/secrets", json=_secret_body(name, value))

    def remove_secret(self, name: str) -> None:
        self._json("DELETE", "/system/secrets", json={"name": name})

    def logs(
        self,
        name: str,
        *,
        tail: int | None = None,
        since: float | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        """A page of the function's logs; its `before` (if any) asks for the older page."""
        params: dict[str, str] = {}
        if before is not None:
            params["before"] = before
        if tail is not None:
            params["tail"] = str(tail)
        if since is not None:
            params["since"] = repr(since)
        return dict(self._json("GET", f"/system/logs/{name}", params=params))

    def invoke(
        self,
        name: str,
        data: bytes = b"",
        *,
        method: str = "POST",
        path: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Call the function; its own status (even 4xx/5xx) is returned, not raised."""
        suffix = "/" + path.lstrip("/") if path else ""
        return self.request(method, f"/function/{name}{suffix}", content=data, headers=headers)

    # -- API keys (functions with auth: api-key) ----------------------------------------

    def create_key(self, **fields: Any) -> dict[str, Any]:
        """A new key: its record and, this once, its secret under "key"."""
        body = {name: value for name, value in fields.items() if value}
        return dict(self._json("POST", "/system/api-keys", json=body))

    def keys(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/system/api-keys")["api_keys"])

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        return dict(self._json("DELETE", f"/system/api-keys/{key_id}"))


def _secret_body(name: str, value: bytes) -> dict[str, str]:
    """Text as `value`; anything that is not UTF-8 as `rawValue` (base64), as faas-cli does."""
    try:
        return {"name": name, "value": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"name": name, "rawValue": base64.b64encode(value).decode("ascii")}


def error_from(response: httpx.Response) -> GatewayError:
    try:
        error = response.json()["error"]
        return GatewayError(response.status_code, str(error["code"]), str(error["message"]))
    except (ValueError, KeyError, TypeError):
        text = response.text.strip()[:500] or response.reason_phrase
        return GatewayError(
            response.status_code, "http_error", f"HTTP {response.status_code}: {text}"
        )
