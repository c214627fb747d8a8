"""OpenFaaS compatibility against real Docker and Redis: a stack.yml deployed with `faas deploy
-f`, and every OpenFaaS route driven with exactly the requests faas-cli sends (faas-cli's
proxy package), including Basic auth from `faas-cli login`, name suffixes and error statuses."""

from __future__ import annotations

import base64
import http.client
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from faas.build.images import build_function_image
from faas.engines.docker import DockerBackend
from faas.settings import Settings
from tests.conftest import Gateway, run_containers, wait_until
from tests.integration.image_fixtures import IMAGES
from tests.integration.test_cli import faas
from tests.integration.test_queue import Receiver

FIXTURE = Path(__file__).parent.parent / "fixtures" / "openfaas"
AGENT = "faas-cli/0.17.0 (openfaas; linux; amd64)"


@pytest.fixture(scope="module")
def http_image(docker_backend: DockerBackend, base_image: str) -> str:
    """The python3-http fixture built as `faas deploy -f` builds it."""
    built = build_function_image(
        docker_backend,
        FIXTURE / "hello-http",
        "hello-http",
        base_image=base_image,
        ca_bundle=Settings.from_env().build_ca_bundle,
    )
    return built.tag


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=0)
    yield server
    server.close()


def cli_client(gateway: Gateway) -> httpx.Client:
    """What faas-cli sends after `faas-cli login -u admin`: Basic auth, its User-Agent."""
    assert gateway.password is not None
    token = base64.b64encode(f"admin:{gateway.password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}", "User-Agent": AGENT}
    return httpx.Client(base_url=gateway.url, headers=headers, timeout=60, trust_env=False)


def status(gateway: Gateway, name: str) -> dict[str, Any]:
    response = gateway.http.get(f"/system/function/{name}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_stack_yml_deploys_a_python3_http_function_that_answers(
    gateway: Gateway, tmp_path: Path, base_image: str
) -> None:
    folder = tmp_path / "project"
    shutil.copytree(FIXTURE, folder)
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    deployed = faas("deploy", "-f", str(folder / "stack.yml"), env=env)
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    assert "deployed hello-http" in deployed.stdout
    assert "requests: ignored" in deployed.stdout  # what faas does not use is said

    called = gateway.http.post("/function/hello-http.openfaas-fn/x?name=stack", content=b"12345")
    assert called.status_code == 200, called.text
    assert called.text.startswith("Hello, stack! 5 bytes")
    assert int(called.headers["x-start-time"]) > 0
    as_json = gateway.http.get("/function/hello-http/json")
    assert (as_json.status_code, as_json.json()["hello"]) == (201, "world")

    described = status(gateway, "hello-http")
    assert described["config"]["environment"] == {"FROM_FILE": "****", "GREETING_STYLE": "****"}
    assert described["config"]["scale"] == {"min": 1, "max": 3}  # from com.openfaas.scale.*
    assert described["limits"] == {"memory": "64Mi", "cpu": "250m"}
    assert described["annotations"] == {"topic": "greetings"}
    # scale.min 1: one container stays up.
    wait_until(lambda: status(gateway, "hello-http")["availableReplicas"] >= 1, 30)

    shown = faas("describe", "hello-http", env=env).stdout
    assert "lang: python3-http" in shown and "annotations:  topic=greetings" in shown, shown

    # A folder holding a stack.yml deploys it too; unchanged code is not rebuilt.
    again = faas("deploy", str(folder), env=env)
    assert again.returncode == 0 and "updated hello-http" in again.stdout, again.stderr

    removed = faas("remove", "hello-http", env=env)
    assert removed.returncode == 0
    wait_until(lambda: not run_containers({"faas.function": "hello-http"}), 30)


def test_stack_yml_dockerfile_function_is_built_and_answers(
    gateway: Gateway, tmp_path: Path
) -> None:
    shutil.copytree(IMAGES / "http_echo", tmp_path / "web")
    (tmp_path / "stack.yml").write_text(
        "version: 1.0\nfunctions:\n  web:\n    lang: dockerfile\n    handler: ./web\n"
        "    image: me/web:latest\n    readonly_root_filesystem: false\n"
        "    environment: {GREETING: hi}\n"
    )
    deployed = faas("deploy", "-f", str(tmp_path / "stack.yml"), env=gateway.cli_env())
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    assert "building web (dockerfile)" in deployed.stdout and "deployed web" in deployed.stdout
    called = gateway.http.post("/function/web.openfaas-fn/p?q=1", content=b"body")
    assert called.status_code == 200, called.text
    echoed = called.json()
    assert (echoed["path"], echoed["body"], echoed["env"]) == ("/p", "body", "hi")
    described = status(gateway, "web")
    assert described["contract"] == "http" and described["image"].startswith("faas/function:")
    assert described["readOnlyRootFilesystem"] is False and described["relaxed"]
    assert faas("remove", "web", env=gateway.cli_env()).returncode == 0
    wait_until(lambda: not run_containers({"faas.function": "web"}), 30)


def test_stack_yml_errors_are_one_line(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "handler.py").write_text("def handle(e, c):\n    return 1\n")
    for lang, words in (
        ("dockerfile", "has no Dockerfile"),
        ("node18", "'node18' is not supported: faas runs python3-http, python3-http-debian"),
    ):
        (tmp_path / "stack.yml").write_text(
            f"version: 1.0\nfunctions:\n  fn:\n    lang: {lang}\n    handler: ./fn\n"
        )
        result = faas("deploy", "-f", str(tmp_path / "stack.yml"))
        assert result.returncode == 1 and words in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_every_openfaas_route_with_faas_cli_requests(
    make_gateway: Callable[..., Gateway], http_image: str, receiver: Receiver
) -> None:
    gateway = make_gateway(FAAS_CALLBACK_ALLOW_PRIVATE="true")
    cli = cli_client(gateway)
    # No login yet: faas-cli sends an empty Bearer; the gateway says 401, never 500.
    # (http.client: httpx refuses a header value ending in a space.)
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
    connection.request("GET", "/system/functions", headers={"Authorization": "Bearer "})
    assert connection.getresponse().status == 401
    connection.close()
    assert cli.get("/system/info").json()["provider"]["provider"] == "faas"  # faas-cli version
    assert cli.get("/system/namespaces").json() == ["openfaas-fn"]  # faas-cli namespace list

    # faas-cli secret create / list (types.Secret)
    created = cli.post("/system/secrets", json={"name": "greeting", "value": "hi from a secret"})
    assert created.status_code == 201, created.text
    assert cli.get("/system/secrets").json() == [{"name": "greeting"}]

    # faas-cli deploy --image IMAGE --name hi --label ... --annotation ...: PUT, then POST.
    deployment = {
        "service": "hi",
        "image": http_image,
        "namespace": "openfaas-fn",
        "envVars": {"MODE": "cli"},
        "secrets": ["greeting"],
        "labels": {"com.openfaas.scale.min": "1", "com.openfaas.scale.max": "2"},
        "annotations": {"faas.lang": "python3-http"},
        "limits": {"memory": "96Mi", "cpu": "200m"},
    }
    assert cli.put("/system/functions", json=deployment).status_code == 404
    first = cli.post("/system/functions", json=deployment)
    assert first.status_code == 202, first.text
    assert cli.put("/system/functions", json=deployment).status_code == 200

    # faas-cli list / describe (types.FunctionStatus)
    (listed,) = cli.get("/system/functions").json()
    assert listed["name"] == "hi" and listed["image"] == http_image
    assert listed["envVars"] == {"MODE": "****"} and listed["secrets"] == ["greeting"]
    described = cli.get("/system/function/hi", params={"namespace": "openfaas-fn", "usage": "1"})
    assert described.status_code == 200 and described.json()["limits"]["memory"] == "96Mi"
    wait_until(lambda: status(gateway, "hi")["availableReplicas"] == 1, 30)

    # faas-cli invoke hi (sync): /function/hi.openfaas-fn, stdin as the body
    invoked = cli.post(
        "/function/hi.openfaas-fn", content=b"abc", headers={"Content-Type": "text/plain"}
    )
    assert invoked.status_code == 200, invoked.text
    assert invoked.text == f"Hello, world! 3 bytes, agent {AGENT}"
    assert invoked.headers["x-call-id"] and invoked.headers["x-start-time"]
    secret = cli.get("/function/hi.openfaas-fn/env")
    assert secret.text == "hi from a secret"

    # faas-cli invoke --async hi, with a callback
    url = f"http://127.0.0.1:{receiver.port}/done"
    queued = cli.post(
        "/async-function/hi.openfaas-fn", content=b"q", headers={"X-Callback-Url": url}
    )
    assert queued.status_code == 202, queued.text
    call_id = queued.headers["x-call-id"]
    assert queued.headers["x-start-time"]
    wait_until(lambda: len(receiver.received) == 1, 30)
    headers, body = receiver.received[0]
    assert headers["x-call-id"] == call_id and headers["x-function-status"] == "200"
    assert body.startswith(b"Hello, world! 1 bytes")

    # faas-cli scale hi --replicas 2 (ScaleServiceRequest)
    scaled = cli.post(
        "/system/scale-function/hi",
        json={"serviceName": "hi", "replicas": 2, "namespace": "openfaas-fn"},
    )
    assert scaled.status_code == 202, scaled.text
    wait_until(lambda: status(gateway, "hi")["availableReplicas"] == 2, 30)
    assert len(run_containers({"faas.function": "hi"})) == 2

    # faas-cli logs hi --tail=false --since=... (NDJSON of logs.Message)
    def log_messages() -> list[dict[str, Any]]:
        query = {"name": "hi", "namespace": "openfaas-fn", "follow": "false", "tail": "100"}
        response = cli.get("/system/logs", params=query)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in response.text.splitlines()]

    wait_until(lambda: any("hello-http POST /" in m["text"] for m in log_messages()), 30)
    messages = [m for m in log_messages() if "hello-http" in m["text"]]
    assert {(m["name"], m["namespace"]) for m in messages} == {("hi", "openfaas-fn")}
    assert all(m["timestamp"].endswith("Z") for m in messages)
    # Current containers' lines name their instance (removed ones' lines have "").
    live = {c.id[:12] for c in run_containers({"faas.function": "hi"})}
    assert {m["instance"] for m in messages} & live
    # follow=true streams: the first lines arrive at once, the stream stays open.
    with cli.stream("GET", "/system/logs", params={"name": "hi", "follow": "true"}) as stream:
        assert stream.status_code == 200
        first_line = next(stream.iter_lines())
        assert json.loads(first_line)["name"] == "hi"

    # Prometheus: OpenFaaS's names next to faas's own
    metrics = cli.get("/metrics").text
    assert 'gateway_function_invocation_total{code="200",function_name="hi"}' in metrics
    assert 'gateway_functions_seconds_bucket{code="200",function_name="hi"' in metrics
    assert 'gateway_service_count{function_name="hi"} 2.0' in metrics
    assert 'faas_calls_total{code="200",function="hi"}' in metrics

    missing = cli.post("/system/functions", json={"service": "x", "image": "no/such:image"})
    assert missing.status_code == 400 and missing.json()["error"]["message"].startswith("image:")

    # faas-cli remove hi (DeleteFunctionRequest); a second remove: 404
    removed = cli.request("DELETE", "/system/functions", json={"functionName": "hi"})
    assert removed.status_code == 200
    assert (
        cli.request("DELETE", "/system/functions", json={"functionName": "hi"}).status_code == 404
    )
    wait_until(lambda: not run_containers({"faas.function": "hi"}), 30)
    # faas-cli secret remove
    assert cli.request("DELETE", "/system/secrets", json={"name": "greeting"}).status_code == 200
    cli.close()


def test_an_image_faas_did_not_build_answers_through_the_openfaas_api(
    gateway: Gateway, user_image: Callable[[str], str]
) -> None:
    """faas-cli deploy --image IMAGE: any image serving HTTP on 8080 is an HTTP image function."""
    cli = cli_client(gateway)
    image = user_image("http_echo")
    body = {"service": "echo", "image": image, "envVars": {"GREETING": "hello"}}
    created = cli.post("/system/functions", json=body)
    assert created.status_code == 202, created.text
    assert created.json()["contract"] == "http" and created.json()["port"] == 8080
    answer = cli.post("/function/echo.openfaas-fn/some/path?x=1", content=b"ping")
    assert answer.status_code == 200, answer.text
    echoed = answer.json()
    assert (echoed["path"], echoed["query"], echoed["body"]) == ("/some/path", "x=1", "ping")
    assert echoed["env"] == "hello" and echoed["writable_root"] is False
    # The deploy started a container (as OpenFaaS's do): the call may find it still starting.
    assert answer.headers["x-faas-start"] in ("cold", "prewarm")
    assert cli.post("/function/echo", content=b"again").headers["x-faas-start"] == "warm"
    queued = cli.post("/async-function/echo", content=b"later")
    assert queued.status_code == 202, queued.text
    call_id = queued.headers["x-call-id"]

    def finished() -> bool:
        return cli.get(f"/system/calls/{call_id}").json().get("status") == "succeeded"

    wait_until(finished, 60)
    scaled = cli.post("/system/scale-function/echo", json={"serviceName": "echo", "replicas": 2})
    assert scaled.status_code == 202, scaled.text
    wait_until(lambda: len(run_containers({"faas.function": "echo"})) >= 2, 60)
    removed = cli.request("DELETE", "/system/functions", json={"functionName": "echo"})
    assert removed.status_code == 200
    wait_until(lambda: not run_containers({"faas.function": "echo"}), 30)
    cli.close()


def _faas_cli() -> str | None:
    return os.environ.get("FAAS_CLI_BIN") or shutil.which("faas-cli")


@pytest.mark.skipif(_faas_cli() is None, reason="no faas-cli binary (FAAS_CLI_BIN or PATH)")
def test_real_faas_cli_drives_faas(
    gateway: Gateway, http_image: str, tmp_path: Path, base_image: str
) -> None:
    """The real faas-cli (built from its public source, never part of this project)."""
    binary = _faas_cli()
    assert binary is not None and gateway.password is not None
    env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", ""), "OPENFAAS_URL": gateway.url}

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )

    login = cli("login", "-u", "admin", "--password-stdin", stdin=gateway.password)
    assert login.returncode == 0, login.stderr
    version = cli("version")
    assert "faas" in version.stdout and "docker" in version.stdout, version.stdout
    assert "openfaas-fn" in cli("namespace", "list").stdout

    deploy_args = ("deploy", "--image", http_image, "--name", "hi")
    deployed = cli(*deploy_args, "--annotation", "faas.lang=python3-http")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert "Deployed. 202" in deployed.stdout
    assert "Deployed. 200" in cli(*deploy_args, "--annotation", "faas.lang=python3-http").stdout
    assert "hi" in cli("list").stdout
    described = cli("describe", "hi")
    assert described.returncode == 0 and http_image in described.stdout, described.stderr

    invoked = cli("invoke", "hi", stdin="abc")
    assert invoked.returncode == 0, invoked.stderr
    assert invoked.stdout.startswith("Hello, world! 3 bytes, agent faas-cli/")
    queued = cli("invoke", "hi", "--async", stdin="q")
    assert queued.returncode == 0 and "asynchronously" in queued.stderr + queued.stdout

    def logged() -> bool:
        return "hello-http POST /" in cli("logs", "hi", "--tail=false").stdout

    wait_until(logged, 30)

    created = cli("secret", "create", "cli-secret", "--from-literal", "v4lue")
    assert created.returncode == 0, created.stdout + created.stderr
    assert "cli-secret" in cli("secret", "list").stdout
    assert cli("secret", "remove", "cli-secret").returncode == 0
    assert "cli-secret" not in cli("secret", "list").stdout

    removed = cli("remove", "hi")
    assert removed.returncode == 0, removed.stderr
    assert "hi" not in cli("list").stdout.split()
    wait_until(lambda: not run_containers({"faas.function": "hi"}), 30)

    # faas-cli deploy -f: without OpenFaaS's templates here, --read-template=false.
    stack = tmp_path / "stack.yml"
    stack.write_text(
        "version: 1.0\nprovider: {name: openfaas}\nfunctions:\n  from-stack:\n"
        f"    lang: python3-http\n    handler: ./h\n    image: {http_image}\n"
        "    annotations: {faas.lang: python3-http}\n"
        "    labels: {com.openfaas.scale.max: '2'}\n"
    )
    from_stack = cli("deploy", "-f", str(stack), "--read-template=false")
    assert from_stack.returncode == 0, from_stack.stdout + from_stack.stderr
    assert gateway.http.get("/function/from-stack.openfaas-fn?name=y").text.startswith("Hello, y!")
    assert status(gateway, "from-stack")["config"]["scale"]["max"] == 2
    assert cli("remove", "-f", str(stack)).returncode == 0

    # faas-cli up --skip-push with lang: dockerfile: faas-cli builds the folder's Dockerfile
    # with `docker build` and deploys the local tag (no registry). faas-cli wants the
    # `template/dockerfile/template.yml` that `faas-cli template store pull dockerfile` fetches
    # from GitHub; there is no GitHub here, so the test writes its one needed line.
    shutil.copytree(IMAGES / "http_echo", tmp_path / "web")
    (tmp_path / "template" / "dockerfile").mkdir(parents=True)
    (tmp_path / "template" / "dockerfile" / "template.yml").write_text("language: dockerfile\n")
    tag = f"faas-test-up-{tmp_path.name[-8:].lower()}:0.1"
    (tmp_path / "up.yml").write_text(
        f"version: 1.0\nprovider: {{name: openfaas, gateway: {gateway.url}}}\nfunctions:\n"
        f"  web:\n    lang: dockerfile\n    handler: ./web\n    image: {tag}\n"
        "    environment: {GREETING: from-up}\n"
    )
    try:
        up = cli("up", "--skip-push", "-f", "up.yml", "--build-arg", f"BASE={base_image}")
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        assert "Deployed. 202" in up.stdout
        answer = gateway.http.post("/function/web.openfaas-fn/up?x=1", content=b"hi")
        assert answer.status_code == 200, answer.text
        assert answer.json()["body"] == "hi" and answer.json()["env"] == "from-up"
        assert status(gateway, "web")["config"]["contract"] == "http"
        again = cli("up", "--skip-push", "-f", "up.yml", "--build-arg", f"BASE={base_image}")
        assert again.returncode == 0 and "Deployed. 200" in again.stdout, again.stderr
        assert cli("remove", "-f", "up.yml").returncode == 0
        wait_until(lambda: not run_containers({"faas.function": "web"}), 30)
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True, check=False)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/system/functions", {"service": "x"}, "image"),
        ("POST", "/system/functions", {"service": "x", "image": "no/such:1"}, "image"),
        ("POST", "/system/functions", {"service": "", "image": "a:1"}, "service"),
        (
            "PUT",
            "/system/functions",
            {"service": "x", "image": "a:1", "namespace": "n"},
            "namespace",
        ),
        ("DELETE", "/system/functions", {}, "functionName"),
        ("DELETE", "/system/functions", {"functionName": 5}, "functionName"),
        ("POST", "/system/scale-function/x", {"replicas": "2"}, "replicas"),
    ],
)
def test_bad_bodies_are_4xx_naming_the_field(
    gateway: Gateway, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = gateway.http.request(method, path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith(f"{field}: "), response.text


@pytest.mark.parametrize("spares", ["0", "1"])
def test_a_multi_file_python3_http_function_imports_its_siblings(
    make_gateway: Callable[..., Gateway], tmp_path: Path, base_image: str, spares: str
) -> None:
    """OpenFaaS's template imports `function.handler`: relative imports must work here too,
    in the function's own image and in a generic runtime that loads the code on the call."""
    gateway = make_gateway(FAAS_GENERIC_POOL=spares)
    handler = tmp_path / "multi"
    handler.mkdir()
    (handler / "greeting.py").write_text("TEXT = 'sibling'\n")
    (handler / "handler.py").write_text(
        "from .greeting import TEXT\n"
        "from function.greeting import TEXT as SAME\n\n"
        "def handle(event, context):\n"
        "    return {'statusCode': 200, 'body': TEXT + '/' + SAME}\n"
    )
    (tmp_path / "stack.yml").write_text(
        "version: 1.0\nfunctions:\n  multi:\n    lang: python3-http-debian\n    handler: ./multi\n"
    )
    env = {**gateway.cli_env(), "FAAS_BASE_IMAGE": base_image}
    deployed = faas("deploy", str(tmp_path), env=env)
    assert deployed.returncode == 0, deployed.stderr + deployed.stdout
    if spares == "1":
        wait_until(lambda: status(gateway, "multi")["generic"]["spares"] == 1, 60, 0.05)
    answer = gateway.http.post("/function/multi")
    assert (answer.status_code, answer.text) == (200, "sibling/sibling"), answer.text
    assert answer.headers["x-faas-start"] == ("prewarm" if spares == "1" else "cold")
    assert faas("remove", "multi", env=env).returncode == 0
