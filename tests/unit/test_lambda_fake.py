"""The Lambda API and API Gateway events end to end over the fake engine (no Docker)."""

from __future__ import annotations

import base64
import json

from tests.unit.fake_gateway import Stack, run, until

INVOKE = "/2015-03-31/functions/{}/invocations"


def test_invoke_api_and_api_gateway_over_the_fake_engine(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            await gw.register("lambda-echo")
            ok = await gw.http.post(INVOKE.format("lambda-echo"), content=b'{"n": 1}')
            assert ok.status_code == 200, ok.text
            assert ok.headers["x-amz-executed-version"] == "$LATEST"
            result = ok.json()
            assert result["event"] == {"n": 1}
            assert result["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "lambda-echo"
            assert result["context"]["aws_request_id"] == ok.headers["x-amzn-requestid"]

            failed = await gw.http.post(INVOKE.format("lambda-echo"), content=b'{"fail": "x"}')
            assert (
                failed.status_code == 200 and failed.headers["x-amz-function-error"] == "Unhandled"
            )
            assert failed.json()["errorType"] == "ValueError"

            dry = await gw.http.post(
                INVOKE.format("lambda-echo"), headers={"X-Amz-Invocation-Type": "DryRun"}
            )
            assert dry.status_code == 204
            bad_type = await gw.http.post(
                INVOKE.format("lambda-echo"), headers={"X-Amz-Invocation-Type": "Later"}
            )
            assert bad_type.status_code == 400
            assert bad_type.headers["x-amzn-errortype"] == "InvalidParameterValueException"
            missing = await gw.http.post(INVOKE.format("nope"), content=b"{}")
            assert missing.status_code == 404
            assert missing.headers["x-amzn-errortype"] == "ResourceNotFoundException"
            assert "Function not found" in missing.json()["message"]
            not_json = await gw.http.post(INVOKE.format("lambda-echo"), content=b"{")
            assert not_json.headers["x-amzn-errortype"] == "InvalidRequestContentException"

            queued = await gw.http.post(
                INVOKE.format("lambda-echo"),
                content=b'{"print": "queued"}',
                headers={"X-Amz-Invocation-Type": "Event"},
            )
            assert queued.status_code == 202 and queued.content == b""
            call_id = queued.headers["x-amzn-requestid"]

            async def succeeded() -> bool:
                record = (await gw.http.get(f"/system/calls/{call_id}")).json()
                return record.get("status") == "succeeded"

            await until(succeeded, 10, "the Event invocation to run")

            http = await gw.call("lambda-echo", "/items/7?x=1", b"hi", content_type="text/plain")
            assert http.status_code == 201, http.text
            event = http.json()["event"]
            assert event["rawPath"] == "/items/7" and event["body"] == "hi"
            assert http.headers.get_list("set-cookie") == ["session=abc; Path=/", "theme=dark"]
            assert "x-faas-start" in http.headers  # the call path's own headers are kept

            listed = await gw.http.get("/2015-03-31/functions/")  # Basic credentials
            assert [f["FunctionName"] for f in listed.json()["Functions"]] == ["lambda-echo"]
            assert json.loads(listed.content)["Functions"][0]["MemorySize"] == 64

    run(scenario)


def test_invoke_checks_the_request_schema_and_tails_the_calls_last_4_kb(stack: Stack) -> None:
    async def scenario() -> None:
        async with stack.gateway() as gw:
            schema = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
            await gw.register("lambda-echo", request_schema=schema)
            wrong = await gw.http.post(INVOKE.format("lambda-echo"), content=b'{"n": "x"}')
            assert wrong.status_code == 400, wrong.text
            assert wrong.headers["x-amzn-errortype"] == "InvalidRequestContentException"
            assert "/n" in wrong.json()["message"]
            empty = await gw.http.post(INVOKE.format("lambda-echo"))  # Lambda's {}: no "n"
            assert empty.status_code == 400

            # 600 short lines: more than the 200 newest lines Tail used to read, less than 4 KB
            # in those 200; the tail is the call's last 4 KB whatever the line count.
            lines = "\n".join(f"line-{i:04}" for i in range(600))
            event = json.dumps({"n": 1, "print": lines}).encode()
            tailed = await gw.http.post(
                INVOKE.format("lambda-echo"), content=event, headers={"X-Amz-Log-Type": "Tail"}
            )
            assert tailed.status_code == 200, tailed.text
            log = base64.b64decode(tailed.headers["x-amz-log-result"])
            assert len(log) == 4096
            assert b"line-0599\n" in log and log.rstrip().splitlines()[-1].startswith(b"REPORT")

    run(scenario)
