"""Lambda support without Docker: the manifest fields, the runtime's adapter, the event and
response shapes, SigV4 checks and SAM templates."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from faas.errors import ManifestError, PayloadTooLarge
from faas.lambda_events import api_gateway_event, scheduled_event, sqs_event
from faas.manifest.sam import function_name, load_template, schedule_expression
from faas.manifest.spec import parse_manifest
from faas.pool.hardening import function_env
from faas.runtime import lambda_adapter
from faas.runtime.adapter import Context, Event, invoke
from gateway import sigv4
from gateway.lambda_api import split_name
from gateway.lambda_shapes import aws_error, proxy_response

SAM = Path(__file__).parents[1] / "fixtures" / "sam" / "template.yaml"

# -- manifest -------------------------------------------------------------------------------


def test_contract_lambda_round_trips_and_tells_the_runtime() -> None:
    spec = parse_manifest({"name": "f", "contract": "lambda", "lambda": {"event": "apigateway-v1"}})
    assert spec.contract == "lambda" and spec.lambda_options is not None
    assert parse_manifest(spec.to_manifest()) == spec
    env = function_env(spec)
    assert env["FAAS_ADAPTER"] == "lambda" and env["FAAS_MEMORY_MB"] == "128"
    native = parse_manifest({"name": "f"})
    assert "contract" not in native.to_manifest() and "FAAS_ADAPTER" not in function_env(native)
    assert parse_manifest({"name": "f", "contract": "lambda"}).lambda_options.event == (  # type: ignore[union-attr]
        "apigateway-v2"
    )


@pytest.mark.parametrize(
    ("manifest", "field"),
    [
        ({"contract": "aws"}, "contract"),
        ({"lambda": {"event": "apigateway-v2"}}, "lambda"),  # without contract: lambda
        ({"contract": "lambda", "lambda": {"event": "sqs"}}, "lambda.event"),
        ({"contract": "lambda", "lambda": {"evnt": "x"}}, "lambda.evnt"),
        ({"contract": "lambda", "lambda": "v2"}, "lambda"),
    ],
)
def test_bad_lambda_fields_name_the_field(manifest: dict[str, object], field: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest({"name": "f", **manifest})
    assert caught.value.field == field


# -- the runtime's adapter --------------------------------------------------------------------


def _call(handler: object, body: bytes, **headers: str) -> tuple[int, dict[str, str], bytes]:
    wrapped = lambda_adapter.wrap(handler)  # type: ignore[arg-type]
    event = Event("POST", "/", None, headers, body)
    status, pairs, data = invoke(wrapped, event, Context("fn", "call-1", False, 1500.0))
    return status, {k.lower(): v for k, v in pairs}, data


def test_the_adapter_passes_the_event_and_a_lambda_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAAS_MEMORY_MB", "256")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    saved = dict(os.environ)
    try:
        lambda_adapter.set_environment("fn", "app.handler", "/opt/faas/function")
        assert os.environ["AWS_LAMBDA_FUNCTION_NAME"] == "fn"
        assert os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
        assert os.environ["_HANDLER"] == "app.handler"
        assert os.environ["LAMBDA_TASK_ROOT"] == "/opt/faas/function"
        assert os.environ["AWS_REGION"] == "us-east-1"
        seen = {}

        def handler(event: object, context: lambda_adapter.LambdaContext) -> object:
            seen.update(
                event=event,
                id=context.aws_request_id,
                arn=context.invoked_function_arn,
                left=context.get_remaining_time_in_millis(),
                client=context.client_context,
            )
            return {"ok": 1}

        client = base64.b64encode(b'{"custom": {"a": 1}}').decode()
        arn = "arn:aws:lambda:us-east-1:000000000000:function:fn:$LATEST"
        status, _, body = _call(
            handler,
            b'{"n": 2}',
            **{"Lambda-Runtime-Invoked-Function-Arn": arn, "Lambda-Runtime-Client-Context": client},
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert (status, json.loads(body)) == (200, {"ok": 1})
    assert seen["event"] == {"n": 2} and seen["id"] == "call-1" and seen["arn"] == arn
    assert 0 < seen["left"] <= 1500 and seen["client"] == {"custom": {"a": 1}}


def test_errors_take_lambdas_shape() -> None:
    def failing(event: object, context: object) -> None:
        raise KeyError("missing")

    status, headers, body = _call(failing, b"{}")
    error = json.loads(body)
    assert status == 500 and headers["x-faas-function-error"] == "Unhandled"
    assert error["errorType"] == "KeyError" and error["errorMessage"] == "'missing'"
    assert error["stackTrace"] and "failing" in error["stackTrace"][-1]
    status, _, body = _call(lambda e, c: e, b"{not json")
    assert json.loads(body)["errorType"] == "Runtime.UnmarshalError"
    status, _, body = _call(lambda e, c: {1, 2}, b"")
    assert json.loads(body)["errorType"] == "Runtime.MarshalError"
    assert _call(lambda e, c: e, b"")[2] == b"{}"  # no payload: an empty event


# -- events and responses ---------------------------------------------------------------------

HEADERS = [(b"content-type", b"text/plain"), (b"cookie", b"a=1; b=2"), (b"x-m", b"1"),
           (b"x-m", b"2"), (b"x-faas-force", b"cold")]  # fmt: skip


def test_api_gateway_v2_event() -> None:
    event = api_gateway_event("apigateway-v2", "GET", b"/a%20b/c", b"q=1&q=2", HEADERS, b"hi")
    assert event["rawPath"] == "/a b/c" and event["pathParameters"] == {"proxy": "a b/c"}
    assert event["queryStringParameters"] == {"q": "1,2"} and event["rawQueryString"] == "q=1&q=2"
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-m"] == "1,2" and "x-faas-force" not in event["headers"]
    assert (event["body"], event["isBase64Encoded"]) == ("hi", False)
    binary = api_gateway_event("apigateway-v2", "POST", b"/", b"", [], b"\xff\x00")
    assert binary["isBase64Encoded"] and base64.b64decode(binary["body"]) == b"\xff\x00"
    assert "pathParameters" not in binary and "queryStringParameters" not in binary


def test_api_gateway_v1_event() -> None:
    event = api_gateway_event("apigateway-v1", "PUT", b"/x", b"q=1&q=2", HEADERS, b"")
    assert event["httpMethod"] == "PUT" and event["path"] == "/x"
    assert event["multiValueHeaders"]["x-m"] == ["1", "2"] and event["headers"]["x-m"] == "2"
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert event["queryStringParameters"] == {"q": "2"} and event["body"] is None
    assert event["requestContext"]["resourcePath"] == "/{proxy+}"


def test_proxy_responses_as_api_gateway_makes_them() -> None:
    status, headers, body = proxy_response(
        "apigateway-v2",
        {"statusCode": 302, "headers": {"Location": "/x"}, "multiValueHeaders": {"X-A": ["1", "2"]},
         "cookies": ["s=1"], "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True},
    )  # fmt: skip
    assert status == 302 and body == b"\x00"
    assert headers.count((b"x-a", b"1")) == 1 and (b"set-cookie", b"s=1") in headers
    assert proxy_response("apigateway-v2", {"plain": 1}) == (
        200, [(b"content-type", b"application/json")], b'{"plain": 1}'
    )  # fmt: skip
    assert proxy_response("apigateway-v1", {"plain": 1})[0] == 502  # v1 needs statusCode
    framed = proxy_response(
        "apigateway-v1", {"statusCode": 200, "headers": {"Content-Length": "9"}}
    )
    assert framed[1] == [(b"content-type", b"application/json")]
    assert proxy_response("apigateway-v2", {"statusCode": 99})[0] == 502
    assert proxy_response("apigateway-v2", {"statusCode": 200, "headers": {"a\nb": "x"}})[0] == 502


def test_trigger_events() -> None:
    records = json.loads(sqs_event("orders", [("1700000000000-0", {b"id": b"7"}, 2)]))["Records"]
    assert records[0]["messageId"] == "1700000000000-0" and json.loads(records[0]["body"]) == {
        "id": "7"
    }
    assert records[0]["attributes"]["ApproximateReceiveCount"] == "2"
    assert records[0]["eventSource"] == "aws:sqs" and records[0]["eventSourceARN"].endswith(
        ":orders"
    )
    tick = json.loads(scheduled_event("f", 0, "@hourly", "2026-01-01T00:00:00Z"))
    assert tick["detail-type"] == "Scheduled Event" and tick["source"] == "aws.events"


def test_names_arns_and_aws_errors() -> None:
    assert split_name("fn") == ("fn", None)
    assert split_name("fn:$LATEST") == ("fn", "$LATEST")
    assert split_name("arn:aws:lambda:eu-west-1:123456789012:function:fn:prod") == ("fn", "prod")
    assert split_name("123456789012%3Afunction%3Afn") == ("fn", None)
    err = aws_error(PayloadTooLarge("big"))
    assert (err.error_type, err.status) == ("RequestEntityTooLargeException", 413)


def test_sigv4_as_botocore_signs_it() -> None:
    pytest.importorskip("botocore")
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = "http://127.0.0.1:8080/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af?Qualifier=%24LATEST&b="
    request = AWSRequest("GET", url, data=b"{}", headers={"X-Extra": "  a   b "})
    SigV4Auth(Credentials("admin", "s3cret"), "lambda", "us-east-1").add_auth(request)
    prepared = request.prepare()
    path, _, query = prepared.url.split("8080", 1)[1].partition("?")
    headers = [(k.lower().encode(), v.encode() if isinstance(v, str) else v)
               for k, v in prepared.headers.items()]  # fmt: skip
    headers.append((b"host", b"127.0.0.1:8080"))
    args = ("GET", path.encode(), query.encode(), headers, b"{}")
    assert sigv4.verify(*args, "s3cret")
    assert not sigv4.verify(*args, "other")
    assert not sigv4.verify("GET", path.encode(), query.encode(), headers, b"{x}", "s3cret")
    stale = [(k, b"20200101T000000Z" if k == b"x-amz-date" else v) for k, v in headers]
    assert not sigv4.verify("GET", path.encode(), query.encode(), stale, b"{}", "s3cret")


# -- SAM --------------------------------------------------------------------------------------


def test_sam_template_becomes_lambda_functions_and_says_what_it_skipped() -> None:
    template = load_template(SAM)
    by_name = {f.spec.name: f for f in template.functions}
    assert sorted(by_name) == ["api-function", "nightly-function", "orders-function"]
    api = by_name["api-function"].spec
    assert api.contract == "lambda" and api.handler == "api.handler"
    assert api.memory == 64 * 1024 * 1024 and api.timeout == 5.0
    assert dict(api.environment) == {"STAGE": "local", "GREETING": "hello"}
    assert api.lambda_options is not None and api.lambda_options.event == "apigateway-v2"
    assert by_name["api-function"].routes == ("GET /hello",)
    orders = by_name["orders-function"].spec.triggers[0]
    assert (orders.stream, orders.batch_size) == ("sam-orders", 5)  # type: ignore[union-attr]
    assert by_name["nightly-function"].spec.triggers[0].schedule == "@every 1s"  # type: ignore[union-attr]
    assert any(line.startswith("OrdersQueue: AWS::SQS::Queue") for line in template.skipped)
    assert any("Environment.TABLE" in line for line in template.skipped)


def test_sam_details(tmp_path: Path) -> None:
    assert function_name("HelloWorldFunction") == "hello-world-function"
    assert schedule_expression("rate(5 minutes)") == "@every 5m"
    assert schedule_expression("cron(0 12 ? * 2-6 *)") == "0 12 * * 1-5"
    assert schedule_expression("cron(0 12 L * ? *)") is None
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  Js:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: nodejs20.x, Handler: index.handler}\n"
    )
    assert load_template(template).skipped == [
        "Js.Runtime: 'nodejs20.x' is not a python3.x runtime"
    ]
    template.write_text("Resources: [\n")
    with pytest.raises(ManifestError, match="not valid YAML"):
        load_template(template)
