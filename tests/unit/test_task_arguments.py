"""How a call becomes a task image's arguments (faas.pool.tasks)."""

from __future__ import annotations

import pytest

from faas.contracts.base import CallRequest
from faas.errors import BadRequest
from faas.pool.tasks import task_arguments


def call(body: bytes = b"", query: bytes = b"") -> CallRequest:
    return CallRequest("POST", b"", query, [], body)


def test_a_json_array_body_is_the_arguments() -> None:
    assert task_arguments(call(b'["voter-7", "yes", 3, true]')) == ("voter-7", "yes", "3", "true")


def test_without_a_body_the_arg_query_parameters_are() -> None:
    assert task_arguments(call(query=b"arg=a&other=x&arg=b%20c")) == ("a", "b c")
    assert task_arguments(call()) == ()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (b"{", "body"),
        (b'{"a": 1}', "body"),
        (b'[["nested"]]', "body[0]"),
        (b'["a", null]', "body[1]"),
        (b'["a\\u0000b"]', "body[0]"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(body: bytes, names: str) -> None:
    with pytest.raises(BadRequest) as error:
        task_arguments(call(body))
    assert error.value.message.startswith(names + ":")
