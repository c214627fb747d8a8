"""An async call as it travels: the stream message of one attempt and the call's record.

Pure code. The message is what a consumer needs to run the attempt (stream entry fields, short
names); the record is what `GET /system/calls/{id}` shows (a Redis hash, see `faas.keys`).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class CallStatus(StrEnum):
    QUEUED = "queued"  # waiting in the stream, or for the due time of its next attempt
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # the function answered 1xx-3xx
    FAILED = "failed"  # the function answered a 4xx that retrying cannot fix (not 408/429)
    DEAD = "dead"  # out of attempts, or past the maximum event age: in the dead-letter stream

    @property
    def final(self) -> bool:
        return self in (CallStatus.SUCCEEDED, CallStatus.FAILED, CallStatus.DEAD)


class CallKind(StrEnum):
    ASYNC = "async"  # POST /async-function
    CRON = "cron"  # a schedule trigger's tick
    TRIGGER = "trigger"  # a stream trigger's item, redriven from the dead letters


# A message is four stream fields: `c` created (set by Redis TIME when the call is enqueued),
# `a` counted attempts made, `p` platform failures, and `m`: a JSON header line, "\n", the
# body. Few fields keep XREADGROUP cheap to parse; the header is what Lua scripts read (cjson).


@dataclass(frozen=True)
class Message:
    """One queued attempt of an async call."""

    call_id: str
    function: str
    method: str = "POST"
    target: bytes = b""  # raw path after the function name, "" or starting with "/"
    query: bytes = b""
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    created: float = 0.0  # epoch seconds when first enqueued (Redis clock)
    attempt: int = 0  # counted attempts already made
    platform_failures: int = 0  # attempts lost to the platform (not counted)
    callback: str = ""
    kind: CallKind = CallKind.ASYNC
    entry_id: str = ""  # the stream entry it was read from

    def fields(self, *, with_created: bool = True) -> dict[str, bytes | str]:
        head = {
            "id": self.call_id,
            "fn": self.function,
            "m": self.method,
            "t": self.target.decode("latin-1"),
            "q": self.query.decode("latin-1"),
            "h": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
            "k": self.kind.value,
        }
        if self.callback:
            head["cb"] = self.callback
        out: dict[str, bytes | str] = {
            "a": str(self.attempt),
            "p": str(self.platform_failures),
            "m": json.dumps(head, separators=(",", ":")).encode() + b"\n" + self.body,
        }
        if with_created:
            out = {"c": repr(self.created), **out}
        return out

    @classmethod
    def from_fields(cls, entry_id: str, raw: dict[bytes, bytes]) -> Message:
        """Decode a stream entry; raises Malformed for anything faas did not write."""
        try:
            head_line, newline, body = raw[b"m"].partition(b"\n")
            head = json.loads(head_line)
            if not newline or not isinstance(head, dict):
                raise ValueError("the m field is not a JSON header line and a body")
            message = cls(
                call_id=_text(head["id"]),
                function=_text(head["fn"]),
                method=_text(head.get("m", "POST")),
                target=_text(head.get("t", "")).encode("latin-1"),
                query=_text(head.get("q", "")).encode("latin-1"),
                headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in head.get("h", [])],
                body=body,
                created=float(raw.get(b"c", b"0")),
                attempt=int(raw.get(b"a", b"0")),
                platform_failures=int(raw.get(b"p", b"0")),
                callback=_text(head.get("cb", "")),
                kind=CallKind(head.get("k", "async")),
                entry_id=entry_id,
            )
        except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as exc:
            problem = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
            raise Malformed(
                f"stream entry {entry_id} is not a faas call: {problem[:200]}"
            ) from None
        if not (message.call_id and message.function):
            raise Malformed(f"stream entry {entry_id} is not a faas call: no call id or function")
        return message

    def next_attempt(self, *, counted: bool) -> Message:
        if counted:
            return replace(self, attempt=self.attempt + 1, entry_id="")
        return replace(self, platform_failures=self.platform_failures + 1, entry_id="")


class Malformed(ValueError):
    """A stream entry that is not a message faas wrote (someone XADDed to faas:calls)."""


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def unpack(raw: dict[bytes, bytes]) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the body of a message's `m` field; ({}, b"") for a malformed one
    (dead letters keep malformed entries for inspection)."""
    head, _, body = raw.get(b"m", b"{}").partition(b"\n")
    try:
        decoded = json.loads(head)
    except (ValueError, RecursionError):
        return {}, b""
    return (decoded, body) if isinstance(decoded, dict) else ({}, b"")


def body_view(body: bytes, content_type: str = "") -> dict[str, Any]:
    """A body inside JSON: as text when it is UTF-8, else base64."""
    try:
        return {"body": body.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode(), "body_encoding": "base64"}


def record_view(call_id: str, raw: dict[bytes, bytes]) -> dict[str, Any]:
    """The call record as the status API shows it."""
    r = {k.decode("utf-8", "replace"): v for k, v in raw.items()}
    text = {k: v.decode("utf-8", "replace") for k, v in r.items() if k != "result_body"}

    def number(key: str) -> float | None:
        return float(text[key]) if text.get(key) else None

    view: dict[str, Any] = {
        "call_id": call_id,
        "function": text.get("function", ""),
        "kind": text.get("kind", CallKind.ASYNC.value),
        "status": text.get("status", CallStatus.QUEUED.value),
        "attempts": int(text.get("attempts", "0")),
        "executions": int(text.get("executions", "0")),
        "start": text.get("start") or None,
        "gateway": text.get("gateway") or None,
        "created_at": number("created"),
        "started_at": number("started_at"),
        "finished_at": number("finished_at"),
        "next_attempt_at": number("next_attempt_at"),
        "timings": json.loads(text["timings"]) if text.get("timings") else {},
    }
    if text.get("picked_at") and text.get("created"):
        view["timings"]["queued_ms"] = (float(text["picked_at"]) - float(text["created"])) * 1e3
    if "result_status" in text:
        result: dict[str, Any] = {
            "status": int(text["result_status"]),
            "headers": json.loads(text.get("result_headers", "{}")),
        }
        result.update(body_view(r.get("result_body", b"")))
        if text.get("result_truncated"):
            result["truncated"] = True  # the body is the answer's first bytes only
            if text["result_truncated"].isdigit() and int(text["result_truncated"]) > 1:
                result["size"] = int(text["result_truncated"])
        view["result"] = result
    if text.get("error"):
        view["error"] = {"code": text.get("error_code", ""), "message": text["error"]}
    if text.get("reason"):
        view["dead_letter"] = {"reason": text["reason"], "id": text.get("dead_letter_id", "")}
    if text.get("idempotency_key"):
        view["idempotency_key"] = text["idempotency_key"]
    if text.get("callback_url"):
        view["callback"] = {
            "url": text["callback_url"],
            "status": text.get("callback_status", "pending"),
            "attempts": int(text.get("callback_attempts", "0")),
            "error": text.get("callback_error") or None,
        }
    if text.get("tick"):
        view["tick"] = float(text["tick"])
    return view
