"""The Lambda API's CreateFunction and UpdateFunctionCode: a zip upload (`Code.ZipFile`,
base64 in the JSON body, as boto3 sends it) becomes a function folder, built into an image by
faas's builder (requirements.txt included) and registered with `contract: lambda`. An Image
package (`PackageType: Image`, `Code.ImageUri`) names a local image built on the Lambda
Runtime API, registered as it is with `contract: lambda-image`.

Control plane only (gateway/lambda_api.py checks the credentials first). The zip is unpacked
into a temporary folder with every member checked: no absolute paths, no `..`, no links, at
most MAX_UNZIPPED bytes in all (Lambda's own limit), so an upload cannot write elsewhere.
"""

from __future__ import annotations

import asyncio
import binascii
import io
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from faas.build.images import build_function_image
from faas.errors import BuildError, FaasError
from faas.manifest.spec import FunctionSpec, parse_manifest
from faas.registry.store import FunctionRecord
from gateway.lambda_shapes import AwsError

MAX_UNZIPPED = 250 * 1024 * 1024
DEFAULT_HANDLER = "lambda_function.lambda_handler"


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidParameterValueException", 400, message)


def spec_from_request(name: str, body: dict[str, Any]) -> FunctionSpec:
    """The manifest a CreateFunction request describes (errors name the Lambda field)."""
    package = body.get("PackageType", "Zip")
    if package not in ("Zip", "Image"):
        raise _invalid(f"PackageType: Zip or Image, got {package!r}")
    manifest: dict[str, Any] = {"name": name, "contract": "lambda"}
    if package == "Image":  # a local image on the Lambda Runtime API (contract lambda-image)
        if body.get("ImageConfig"):
            raise _invalid("ImageConfig: faas runs the image's own ENTRYPOINT, CMD and WORKDIR")
        manifest.update(contract="lambda-image", image=image_uri(body.get("Code")))
    else:
        runtime = body.get("Runtime")
        if runtime is not None and not (isinstance(runtime, str) and runtime.startswith("python3")):
            raise _invalid(f"Runtime: faas runs python3.x functions only, got {runtime!r}")
        manifest["handler"] = body.get("Handler") or DEFAULT_HANDLER
    if "MemorySize" in body:
        manifest["memory"] = f"{body['MemorySize']}Mi"
    if "Timeout" in body:
        manifest["timeout"] = f"{body['Timeout']}s"
    variables = (body.get("Environment") or {}).get("Variables")
    if variables:
        manifest["environment"] = variables
    try:
        return parse_manifest(manifest)
    except FaasError as exc:
        raise _invalid(exc.message) from None


def image_uri(code: Any) -> str:
    """`Code.ImageUri` of an Image package: a local image (faas never pulls)."""
    if not isinstance(code, dict) or not isinstance(code.get("ImageUri"), str):
        raise _invalid("Code: an Image package gives Code.ImageUri (a local image)")
    return str(code["ImageUri"])


async def register_image(state: Any, spec: FunctionSpec, image: str) -> FunctionRecord:
    """Register a Lambda image function (CreateFunction/UpdateFunctionCode with ImageUri)."""
    if not await state["lifecycle"].image_exists(image):
        raise _invalid(f"Code.ImageUri: {image!r} is not a local image (docker build it first)")
    record: FunctionRecord = await state["registry"].put(spec, image, "")
    state["catalog"].put(record)
    state["invoker"].sync(record)
    return record


def zip_bytes(code: Any) -> bytes:
    if not isinstance(code, dict) or not isinstance(code.get("ZipFile"), str):
        raise _invalid("Code: give the code as ZipFile (S3 and image locations are not fetched)")
    try:
        return binascii.a2b_base64(code["ZipFile"], strict_mode=True)
    except (binascii.Error, ValueError):
        raise _invalid("Code.ZipFile: not base64") from None


def unpack(data: bytes, folder: Path) -> None:
    """Write the zip's files under `folder`, refusing unsafe members (nothing written then)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as exc:
        raise _invalid(f"Code.ZipFile: not a zip archive ({exc})") from None
    total = 0
    for member in members:
        parts = member.filename.split("/")
        if member.filename.startswith("/") or ".." in parts or "\\" in member.filename:
            raise _invalid(f"Code.ZipFile: unsafe path {member.filename!r}")
        if stat.S_ISLNK(member.external_attr >> 16):
            raise _invalid(f"Code.ZipFile: {member.filename!r} is a link")
        total += member.file_size
    if total > MAX_UNZIPPED:
        raise AwsError("CodeStorageExceededException", 400, "unzipped code over 250 MB")
    for member in members:
        target = folder / member.filename
        if member.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as source, open(target, "wb") as sink:
            shutil.copyfileobj(source, sink)


async def build_and_register(state: Any, spec: FunctionSpec, zipped: bytes) -> FunctionRecord:
    """Unpack, check the handler module is there, build, register; the new record."""
    settings = state["settings"]
    with tempfile.TemporaryDirectory(prefix="faas-lambda-") as tmp:
        folder = Path(tmp)
        await asyncio.to_thread(unpack, zipped, folder)
        module = spec.handler.rsplit(".", 1)[0].replace(".", "/")
        if (
            not (folder / f"{module}.py").is_file()
            and not (folder / module / "__init__.py").is_file()
        ):
            raise _invalid(f"Handler: module {module}.py is not in the zip")
        try:
            built = await asyncio.to_thread(
                build_function_image,
                state["builder"],
                folder,
                spec.name,
                base_image=settings.base_image,
                ca_bundle=settings.build_ca_bundle,
            )
        except BuildError as exc:
            raise _invalid(f"the build failed: {exc.message}") from None
    record: FunctionRecord = await state["registry"].put(spec, built.tag, built.code_hash)
    state["catalog"].put(record)
    state["invoker"].sync(record)
    return record
