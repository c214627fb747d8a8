"""The queue as the gateway composes it: enqueue and look-ups for the routes, the consumer,
triggers and callbacks in the background."""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any

from faas import keys
from faas.contracts.base import HOP_BY_HOP
from faas.errors import BadRequest
from faas.pool.invoker import Invoker
from faas.queue.callbacks import CallbackSender, check_url
from faas.queue.consumer import AsyncConsumer
from faas.queue.records import CallKind, Message, body_view, record_view, unpack
from faas.queue.retry import RetryPolicy
from faas.queue.store import QueueStore, RedisClient
from faas.queue.triggers import Triggers
from faas.registry.catalog import Catalog
from faas.registry.store import Registry
from faas.settings import Settings
from faas.supervised import Supervisor

log = logging.getLogger(__name__)

# Read by the gateway, not for the function: the contract strips HOP_BY_HOP again on delivery.
_NOT_STORED = HOP_BY_HOP | {b"idempotency-key", b"x-callback-url"}
MAX_IDEMPOTENCY_KEY = 255


@dataclass(frozen=True)
class Queued:
    call_id: str
    new: bool  # False: an Idempotency-Key replayed an earlier call


class QueueService:
    def __init__(
        self,
        client: RedisClient,
        catalog: Catalog,
        registry: Registry,
        invoker: Invoker,
        settings: Settings,
        gateway_id: str,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.settings = settings
        # One per gateway when the composition root passes it; the queue's own otherwise.
        self.supervisor = supervisor or Supervisor()
        self.store = QueueStore(client, keep_finished=settings.async_result_max)
        self.policy = RetryPolicy(
            max_attempts=settings.async_max_attempts,
            base=settings.async_retry_base,
            cap=settings.async_retry_max,
            max_age=settings.async_max_age,
        )
        self.callbacks = CallbackSender(
            allow_private=settings.callback_allow_private,
            max_attempts=settings.callback_max_attempts,
        )
        self.consumer = AsyncConsumer(
            self.store,
            catalog,
            invoker,
            self.callbacks,
            name=gateway_id,
            workers=settings.async_workers,
            per_function=settings.async_per_function,
            policy=self.policy,
            visibility=settings.async_visibility_timeout,
            result_ttl=settings.async_result_ttl,
            supervisor=self.supervisor,
        )
        self.triggers = Triggers(
            self.store,
            registry,
            invoker,
            self._enqueue_cron,
            name=gateway_id,
            policy=self.policy,
            visibility=settings.async_visibility_timeout,
            supervisor=self.supervisor,
        )

    async def start(self) -> None:
        await self.consumer.start()
        if self.settings.async_workers > 0:
            await self.triggers.start()

    async def stop(self) -> None:
        await self.triggers.stop()
        await self.consumer.stop(self.settings.async_shutdown_grace)
        await self.callbacks.close()

    # -- for the routes -------------------------------------------------------------------

    async def enqueue(
        self,
        function: str,
        *,
        method: str,
        target: bytes,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        idempotency_key: str | None = None,
        callback: str | None = None,
    ) -> Queued:
        """Queue a call durably (see `faas.queue.store`); raises BadRequest for a bad header,
        IdempotencyConflict, QueueFull or RedisUnavailable."""
        if callback:
            check_url(callback, allow_private=self.settings.callback_allow_private)
        message = Message(
            call_id=str(uuid.uuid4()),
            function=function,
            method=method,
            target=target,
            query=query,
            headers=[(k, v) for k, v in headers if k.lower() not in _NOT_STORED],
            body=body,
            callback=callback or "",
        )
        record = {"function": function, "kind": CallKind.ASYNC.value, "attempts": "0"}
        idempotency = None
        if idempotency_key is not None:
            _check_key(idempotency_key)
            # Scoped per function: two functions' callers may pick the same key.
            scoped = function.encode() + b"\0" + idempotency_key.encode()
            digest = hashlib.sha256(scoped).hexdigest()
            fingerprint = hashlib.sha256(
                b"\0".join([function.encode(), method.encode(), target, query, body])
            ).hexdigest()
            idempotency = (keys.idempotency(digest), fingerprint)
            record["idempotency_key"] = idempotency_key
        if callback:
            record["callback_url"] = callback
        call_id, new = await self.store.enqueue(
            message,
            record,
            idempotency=idempotency,
            idempotency_ttl=self.settings.async_result_ttl,
            max_backlog=self.settings.async_max_backlog,
        )
        return Queued(call_id, new)

    async def _enqueue_cron(
        self, message: Message, extra: dict[str, str], lock: str
    ) -> tuple[str, bool]:
        record = {"function": message.function, "kind": message.kind.value, **extra}
        ttl = 3600.0  # longer than any tick's grace period (at most 60 s)
        return await self.store.enqueue(
            message, record, idempotency=(lock, "cron"), idempotency_ttl=ttl
        )

    async def call(self, call_id: str) -> dict[str, Any] | None:
        raw = await self.store.record(call_id)
        if not raw:
            return None
        try:
            return record_view(call_id, raw)
        except (ValueError, TypeError, AttributeError, RecursionError) as exc:
            # Written by something else than faas: say so rather than answer 500.
            log.warning("call record %s cannot be read: %s", call_id, exc)
            problem = f"the call's record in Redis cannot be read ({type(exc).__name__})"
            return {
                "call_id": call_id,
                "status": "unknown",
                "error": {"code": "corrupt_record", "message": problem},
            }

    async def dead_letters(
        self, function: str | None, limit: int, before: str = "+"
    ) -> list[dict[str, Any]]:
        entries = await self.store.dead_letters(function, limit, before)
        return [dead_letter_view(entry_id, fields) for entry_id, fields in entries]

    async def dead_letter(self, entry_id: str) -> dict[str, Any]:
        fields = await self.store.dead_letter(entry_id)
        return dead_letter_view(entry_id, fields, full=True)

    async def redrive(self, entry_id: str) -> str:
        return await self.store.redrive(entry_id)

    async def depth(self) -> dict[str, int]:
        return await self.store.depth()


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters")


def dead_letter_view(
    entry_id: str, fields: dict[bytes, bytes], *, full: bool = False
) -> dict[str, Any]:
    head, body = unpack(fields)
    text = {k.decode(): v.decode("utf-8", "replace") for k, v in fields.items() if k != b"m"}
    view: dict[str, Any] = {
        "id": entry_id,
        "call_id": head.get("id", ""),
        "function": head.get("fn", ""),
        "kind": head.get("k", CallKind.ASYNC.value),
        "reason": text.get("reason", ""),
        "error": {"code": text.get("code", ""), "message": text.get("error", "")},
        "attempts": int(_number(text.get("attempts"))),
        "created_at": _number(text.get("c")),
        "dead_at": _number(text.get("dead_at")),
    }
    if text.get("stream"):
        view["source"] = {"stream": text["stream"], "entry": text.get("entry", "")}
    if full:
        view["request"] = {
            "method": head.get("m", "POST"),
            "path": head.get("t", ""),
            "query": head.get("q", ""),
            "headers": dict(head.get("h", [])),
            **body_view(body),
        }
        if head.get("cb"):
            view["callback_url"] = head["cb"]
        if text.get("raw"):  # an entry faas did not write: its fields, as found
            view["raw"] = text["raw"]
    return view


def _number(text: str | None) -> float:
    """A number field of a dead letter; 0 when absent or not a number (written by hand)."""
    try:
        value = float(text or 0)
    except ValueError:
        return 0.0
    return value if math.isfinite(value) else 0.0
