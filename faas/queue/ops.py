"""What finishing an attempt writes, as plain data: one op per outcome, encoded for the
`APPLY` script (see `faas.queue.scripts`) by `encode`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from faas.queue.records import Message


@dataclass
class Start:
    """An attempt begins: the record says running."""

    message: Message
    fields: dict[str, Any]


@dataclass
class Finish:
    """Succeeded or failed for good: ack and delete the entry, store the result."""

    message: Message
    fields: dict[str, Any]
    ttl: float


@dataclass
class Retry:
    """Ack and delete the entry; park the next attempt until `due`."""

    message: Message
    next: Message
    due: float
    fields: dict[str, Any]


@dataclass
class Dead:
    """Ack and delete the entry; append it to the dead-letter stream with its reason."""

    message: Message
    fields: dict[str, Any]
    meta: dict[str, str] = field(default_factory=dict)


@dataclass
class Update:
    """Fields of a call record (callback outcome)."""

    call_id: str
    fields: dict[str, Any]


Op = Start | Finish | Retry | Dead | Update


def encode(op: Op) -> list[Any]:
    """An op as `APPLY` reads it: code, call id, entry id, record fields, then per code."""
    if isinstance(op, Update):
        return ["U", op.call_id, "", *_pairs(op.fields)]
    message = op.message
    head = [message.call_id, message.entry_id, *_pairs(op.fields)]
    if isinstance(op, Start):
        return ["S", message.call_id, "", *_pairs(op.fields)]
    if isinstance(op, Finish):
        return ["F", *head, max(1, int(op.ttl))]
    if isinstance(op, Retry):
        return ["R", *head, repr(op.due), *_pairs(op.next.fields())]
    return ["D", *head, *_pairs({**op.message.fields(), **op.meta})]


def _pairs(fields: dict[str, Any]) -> list[Any]:
    out: list[Any] = [len(fields)]
    for key, value in fields.items():
        out += [key, value]
    return out
