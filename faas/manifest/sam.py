"""AWS SAM templates (`template.yaml`): each `AWS::Serverless::Function` becomes a faas
function with `contract: lambda`, its code the CodeUri folder. What faas cannot do is skipped
and reported, never an error: `SamTemplate.skipped` lists it, one line each.

    Handler, CodeUri, Runtime (python3.x)   handler, the folder built, (the base image's Python)
    MemorySize (MB), Timeout (s)            memory, timeout
    Environment.Variables                   environment (plain values; intrinsics skipped)
    Events: Api / HttpApi                   /function/NAME/<path>, API Gateway v1 / v2 events
    Events: Schedule / ScheduleV2           a cron trigger (rate(...) and cron(...) translated)
    Events: SQS / Kinesis / DynamoDB        a stream trigger on the Redis stream named after
                                            the queue (its QueueName, else its logical id)
    Globals.Function                        defaults for all of the above

CloudFormation's short tags (!Ref, !Sub, !GetAtt, ...) load as their long forms
({"Ref": ...}, {"Fn::Sub": ...}); a !Ref to a template parameter takes its Default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from faas.errors import ManifestError
from faas.manifest.spec import FunctionSpec, parse_manifest

FUNCTION = "AWS::Serverless::Function"
_USED = {"Handler", "CodeUri", "Runtime", "MemorySize", "Timeout", "Environment", "Events",
         "FunctionName", "Description"}  # fmt: skip
# `seconds` is faas's own (EventBridge stops at minutes): a schedule to try out locally.
_RATE = re.compile(r"rate\(\s*(\d+)\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)")
_CRON = re.compile(r"cron\((.+)\)")


@dataclass(frozen=True)
class SamFunction:
    spec: FunctionSpec
    code: Path  # the CodeUri folder, built as the function's code
    logical_id: str
    routes: tuple[str, ...] = ()  # "GET /hello" from Api/HttpApi events


@dataclass
class SamTemplate:
    functions: list[SamFunction] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads CloudFormation's short-form tags instead of failing on them."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _intrinsic)


def is_sam_template(path: Path) -> bool:
    """A file (not a function folder) that declares itself a SAM or CloudFormation template."""
    if not path.is_file() or path.suffix not in (".yaml", ".yml", ".json"):
        return False
    head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    return "AWS::Serverless" in head or "AWSTemplateFormatVersion" in head


def load_template(path: Path) -> SamTemplate:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # a SafeLoader
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ManifestError("", f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("Resources"), Mapping):
        raise ManifestError("Resources", f"{path}: a SAM template needs a Resources mapping")
    return parse_template(data, path.parent)


def parse_template(data: Mapping[str, Any], base: Path) -> SamTemplate:
    template = SamTemplate()
    resources: Mapping[str, Any] = data["Resources"]
    params = {k: v.get("Default") for k, v in (data.get("Parameters") or {}).items()
              if isinstance(v, Mapping)}  # fmt: skip
    globals_ = (data.get("Globals") or {}).get("Function") or {}
    for logical_id, resource in resources.items():
        kind = resource.get("Type") if isinstance(resource, Mapping) else None
        if kind != FUNCTION:
            template.skipped.append(f"{logical_id}: {kind} resources are not deployed by faas")
            continue
        properties = {**globals_, **(resource.get("Properties") or {})}
        env = {**(globals_.get("Environment") or {}).get("Variables", {})}
        env.update(
            ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables", {})
        )
        try:
            template.functions.append(
                _function(logical_id, properties, env, resources, params, base, template.skipped)
            )
        except ManifestError as exc:
            sep = "." if exc.field else ": "  # the message starts with the field, if any
            template.skipped.append(f"{logical_id}{sep}{exc.message}")
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # odd shapes: reported
            template.skipped.append(f"{logical_id}: cannot read its properties ({exc})")
    return template


def function_name(logical_id: str) -> str:
    """HelloWorldFunction -> hello-world-function (a valid faas name)."""
    kebab = re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", logical_id).lower()
    kebab = re.sub(r"[^a-z0-9-]+", "-", kebab).strip("-")
    return kebab[:63].rstrip("-") or "function"


def _function(
    logical_id: str,
    props: Mapping[str, Any],
    env: Mapping[str, Any],
    resources: Mapping[str, Any],
    params: Mapping[str, Any],
    base: Path,
    skipped: list[str],
) -> SamFunction:
    runtime = props.get("Runtime")
    if not (isinstance(runtime, str) and runtime.startswith("python3")):
        raise ManifestError("Runtime", f"{runtime!r} is not a python3.x runtime")
    given = props.get("FunctionName")
    name = function_name(given if isinstance(given, str) else logical_id)
    code_uri = props.get("CodeUri", ".")
    if not isinstance(code_uri, str):
        raise ManifestError("CodeUri", "must be a local folder (S3 locations are not fetched)")
    code = (base / code_uri).resolve()
    manifest: dict[str, Any] = {"name": name, "contract": "lambda"}
    if "Handler" in props:
        manifest["handler"] = props["Handler"]
    if "MemorySize" in props:
        manifest["memory"] = f"{int(props['MemorySize'])}Mi"
    if "Timeout" in props:
        manifest["timeout"] = f"{props['Timeout']}s"
    environment = {}
    for key, value in env.items():
        value = _resolve(value, params)
        if isinstance(value, str | int | float | bool):
            environment[key] = value
        else:
            skipped.append(f"{logical_id}.Environment.{key}: an intrinsic faas cannot resolve")
    if environment:
        manifest["environment"] = environment
    for key in sorted(set(props) - _USED):
        skipped.append(f"{logical_id}.{key}: not used by faas")
    triggers: list[dict[str, Any]] = []
    routes: list[str] = []
    http_event: str | None = None
    for event_id, event in (props.get("Events") or {}).items():
        kind = event.get("Type") if isinstance(event, Mapping) else None
        eprops = (event.get("Properties") or {}) if isinstance(event, Mapping) else {}
        where = f"{logical_id}.Events.{event_id}"
        if kind in ("Api", "HttpApi"):
            http_event = http_event or ("apigateway-v1" if kind == "Api" else "apigateway-v2")
            routes.append(f"{str(eprops.get('Method', 'ANY')).upper()} {eprops.get('Path', '/')}")
        elif kind in ("Schedule", "ScheduleV2"):
            expression = eprops.get("Schedule") or eprops.get("ScheduleExpression")
            schedule = schedule_expression(_resolve(expression, params))
            if (
                schedule is None
                or eprops.get("Enabled") is False
                or eprops.get("State") == "DISABLED"
            ):
                skipped.append(f"{where}: schedule {expression!r} not translated or disabled")
            else:
                triggers.append({"schedule": schedule})
        elif kind in ("SQS", "Kinesis", "DynamoDB", "MSK", "MQ"):
            source = eprops.get("Queue") or eprops.get("Stream")
            stream = _stream_name(source, resources, params)
            if stream is None:
                skipped.append(f"{where}: cannot tell which queue or stream {source!r} is")
                continue
            trigger = {"stream": stream, "batch_size": int(eprops.get("BatchSize", 10))}
            triggers.append(trigger)
            if kind != "SQS":
                skipped.append(
                    f"{where}: {kind} records arrive in SQS's shape from stream {stream!r}"
                )
        else:
            skipped.append(f"{where}: {kind} events are not supported")
    if triggers:
        manifest["triggers"] = triggers
    if http_event:
        manifest["lambda"] = {"event": http_event}
    spec = parse_manifest(manifest)
    module = spec.handler.rsplit(".", 1)[0].replace(".", "/")
    if not (code / f"{module}.py").is_file() and not (code / module / "__init__.py").is_file():
        raise ManifestError("Handler", f"module {module}.py not found in {code}")
    return SamFunction(spec, code, logical_id, tuple(routes))


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, Mapping) and set(value) == {"Ref"} and value["Ref"] in params:
        return params[value["Ref"]]
    return value


def _stream_name(
    source: Any, resources: Mapping[str, Any], params: Mapping[str, Any]
) -> str | None:
    """The Redis stream for an SQS queue or a stream: by ARN, !GetAtt Q.Arn or !Ref Q."""
    source = _resolve(source, params)
    logical = None
    if isinstance(source, Mapping):
        if "Fn::GetAtt" in source:
            logical = source["Fn::GetAtt"][0]
        elif "Ref" in source:
            logical = source["Ref"]
    elif isinstance(source, str):
        return re.sub(r"[^A-Za-z0-9:._/-]", "-", source.rsplit(":", 1)[-1].rsplit("/", 1)[-1])
    if not isinstance(logical, str):
        return None
    properties = (resources.get(logical) or {}).get("Properties") or {}
    given = properties.get("QueueName") or properties.get("Name")
    return given if isinstance(given, str) else logical


def schedule_expression(expression: Any) -> str | None:
    """EventBridge's rate(5 minutes) / cron(0 12 * * ? *) as a faas schedule, else None."""
    if not isinstance(expression, str):
        return None
    if match := _RATE.fullmatch(expression.strip()):
        count, unit = match.groups()
        return f"@every {count}{unit[0]}"
    if match := _CRON.fullmatch(expression.strip()):
        fields = match.group(1).split()
        if len(fields) == 6:  # minutes hours day-of-month month day-of-week year
            fields = fields[:5]
        if len(fields) != 5 or any(("L" in f or "W" in f or "#" in f) for f in fields):
            return None
        fields = ["*" if f == "?" else f for f in fields]
        # EventBridge numbers days of the week 1-7 from Sunday; cron 0-6.
        fields[4] = re.sub(r"\d", lambda m: str(int(m.group()) - 1), fields[4])
        return " ".join(fields)
    return None
