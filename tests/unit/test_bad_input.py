"""Bad input to the parsers is a ManifestError/BadRequest naming the field, never a crash."""

from __future__ import annotations

import asyncio
import ipaddress
import math

import pytest
from starlette.requests import Request

from faas.cli.functions import parse_headers as _headers
from faas.errors import BadRequest, FunctionNotFound, ManifestError
from faas.manifest.spec import check_name, parse_manifest, validate_name
from faas.queue.callbacks import CallbackSender, check_url, refused
from faas.queue.outcomes import batch_failure
from faas.queue.triggers import failed_items
from faas.units import parse_duration, parse_size
from gateway.params import image_reference, number, stream_id, whole_number


@pytest.mark.parametrize("name", ["hello\n", "hello\r", "he\x00llo", "hello\t", "\nhello"])
def test_names_with_control_characters_are_refused(name: str) -> None:
    with pytest.raises(ManifestError, match=r"^name: "):
        validate_name(name)
    with pytest.raises(FunctionNotFound):
        check_name(name)


@pytest.mark.parametrize(
    "value", [math.nan, math.inf, -math.inf, "9" * 400, "9" * 400 + "h", "30sx"]
)
@pytest.mark.parametrize("key", ["timeout", "keep_alive"])
def test_durations_must_be_finite_and_well_formed(key: str, value: object) -> None:
    with pytest.raises(ManifestError, match=f"^{key}: "):
        parse_manifest({"name": "a", key: value})


def test_units_refuse_non_finite_values_with_short_messages() -> None:
    with pytest.raises(ValueError, match="finite") as caught:
        parse_duration("9" * 10_000)
    assert len(str(caught.value)) < 100
    with pytest.raises(ValueError, match="finite"):
        parse_size("9" * 400 + "Gi")
    with pytest.raises(ValueError):
        parse_size(math.nan)


def test_keep_alive_has_an_upper_bound() -> None:
    with pytest.raises(ManifestError, match=r"^keep_alive: must be at most"):
        parse_manifest({"name": "a", "keep_alive": 1e300})


@pytest.mark.parametrize("cpus", [math.nan, math.inf, 1e300])
def test_cpus_must_be_a_finite_number_in_range(cpus: float) -> None:
    with pytest.raises(ManifestError, match=r"^cpus: "):
        parse_manifest({"name": "a", "cpus": cpus})


def test_environment_refuses_nul_and_names_with_newlines() -> None:
    with pytest.raises(ManifestError, match=r"^environment.A: must not contain a NUL"):
        parse_manifest({"name": "a", "environment": {"A": "x\x00y"}})
    with pytest.raises(ManifestError, match="not a valid variable name"):
        parse_manifest({"name": "a", "environment": {"A\n": "x"}})


def test_handler_and_stream_names_are_matched_whole() -> None:
    with pytest.raises(ManifestError, match=r"^handler: "):
        parse_manifest({"name": "a", "handler": "handler.handle\n"})
    with pytest.raises(ManifestError, match=r"^triggers\[0\].stream: "):
        parse_manifest({"name": "a", "triggers": [{"stream": "votes\n"}]})


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::10.0.0.1",  # NAT64 of a private address
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b:1::8.8.8.8",  # local-use NAT64 prefix
        "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
        "2002:7f00:0001::1",  # 6to4 of 127.0.0.1
        "::127.0.0.1",  # IPv4-compatible
        "::ffff:192.168.1.1",
    ],
)
def test_callbacks_refuse_ipv6_forms_of_private_addresses(address: str) -> None:
    assert refused(ipaddress.ip_address(address))
    with pytest.raises(BadRequest, match="X-Callback-Url"):
        check_url(f"http://[{address}]/hook", allow_private=False)


@pytest.mark.parametrize("address", ["64:ff9b::8.8.8.8", "2002:0808:0808::1", "2606:4700::1"])
def test_callbacks_accept_public_addresses_in_those_forms(address: str) -> None:
    assert not refused(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    ("option", "problem"),
    [
        ("X-Name: café", "printable ASCII"),
        ("X-Name: a\x07b", "printable ASCII"),
        ("Ünicode: x", "expected NAME:VALUE"),
        ("no colon", "expected NAME:VALUE"),
        ("X Name: x", "expected NAME:VALUE"),
    ],
)
def test_invoke_header_option_errors_name_the_flag(option: str, problem: str) -> None:
    with pytest.raises(BadRequest, match=f"^-H .*{problem}"):
        _headers((option,))


def test_invoke_header_option_accepts_ordinary_headers() -> None:
    assert _headers(("X-A: 1", "Empty:", "Accept: text/plain; q=0.5")) == {
        "X-A": "1",
        "Empty": "",
        "Accept": "text/plain; q=0.5",
    }


def _request(query: str) -> Request:
    return Request({"type": "http", "query_string": query.encode(), "headers": []})


@pytest.mark.parametrize(
    "query", ["tail=-1", "tail=1e3", "tail=²", "tail=100001", "tail=" + "9" * 30]
)
def test_whole_numbers_out_of_range_are_bad_requests(query: str) -> None:
    with pytest.raises(BadRequest, match=r"^tail must be a whole number from 0 to 100000"):
        whole_number(_request(query), "tail", 0, 100_000)


@pytest.mark.parametrize("query", ["since=nan", "since=inf", "since=-1", "since=1e300", "since=x"])
def test_numbers_must_be_finite_and_in_range(query: str) -> None:
    with pytest.raises(BadRequest, match=r"^since must be a number from 0 to"):
        number(_request(query), "since", 0, 1e10)


@pytest.mark.parametrize("query", ["before=x", "before=1-", "before=-1", "before=" + "9" * 21])
def test_stream_ids_are_checked(query: str) -> None:
    with pytest.raises(BadRequest, match=r"^before must be an entry id"):
        stream_id(_request(query), "before")
    assert stream_id(_request("before=1700000000000-3"), "before") == "1700000000000-3"


@pytest.mark.parametrize("image", ["", "UPPER:1", "a b", "x\n", "a:", "../etc", 42, None])
def test_image_references_are_checked(image: object) -> None:
    with pytest.raises(BadRequest, match=r"^image: "):
        image_reference(image)
    assert image_reference("127.0.0.1:5000/faas/hello:0a1b") == "127.0.0.1:5000/faas/hello:0a1b"


def test_a_callback_that_fails_in_an_unforeseen_way_still_reaches_the_record() -> None:
    outcomes: list[dict[str, str]] = []

    async def deliver() -> None:
        sender = CallbackSender(allow_private=True, max_attempts=1)
        sender.send("http://a/\udcff", {}, b"", outcomes.append)  # httpx cannot encode it
        await sender.close()

    asyncio.run(deliver())
    assert [o["callback_status"] for o in outcomes] == ["failed"]
    assert outcomes[0]["callback_error"].startswith("UnicodeEncodeError")


def test_function_answers_nested_too_deeply_are_no_batch_failures() -> None:
    nested = b'{"batchItemFailures": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert batch_failure(nested) is None
    assert failed_items(nested, {"1-0"}) == set()
