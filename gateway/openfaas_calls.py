"""OpenFaaS's conventions on the way in, applied by `gateway.call_paths` before anything else.

- `name.openfaas-fn` (what faas-cli puts in `/function/` paths) becomes `name` in the path, so
  every layer behind (API keys, limits, CORS, the call paths, `/system` routes) sees one name:
  a suffix is never a way around a function's policy.
- Calls get OpenFaaS's `X-Start-Time` (Unix nanoseconds when the gateway received the call),
  on the request the function sees and on the response.
"""

from __future__ import annotations

from starlette.types import Scope

from faas.manifest.openfaas import NAMESPACE

SUFFIX = b"." + NAMESPACE.encode()
NAMED_PREFIXES = (
    b"/function/",
    b"/async-function/",
    b"/system/function/",
    b"/system/scale-function/",
    b"/system/logs/",
)
START_HEADER = b"x-start-time"


def without_namespace(scope: Scope) -> Scope:
    """The scope with `name.openfaas-fn` in a named path spelled `name`."""
    raw: bytes = scope["raw_path"]
    prefix = next((p for p in NAMED_PREFIXES if raw.startswith(p)), None)
    if prefix is None:
        return scope
    name, slash, rest = raw[len(prefix) :].partition(b"/")
    if not name.endswith(SUFFIX):
        return scope
    raw = prefix + name[: -len(SUFFIX)] + slash + rest
    path: str = scope["path"]
    text_prefix = prefix.decode()
    text_name, text_slash, text_rest = path[len(text_prefix) :].partition("/")
    text_name = text_name.removesuffix(SUFFIX.decode())
    return {**scope, "raw_path": raw, "path": text_prefix + text_name + text_slash + text_rest}
