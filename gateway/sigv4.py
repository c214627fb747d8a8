"""AWS Signature Version 4, checked on the gateway: boto3 and the aws CLI sign every request
(`Authorization: AWS4-HMAC-SHA256 Credential=KEY/DATE/REGION/SERVICE/aws4_request,
SignedHeaders=..., Signature=...`). faas takes the access key id `admin` with the control
plane's password as the secret key; the signature is recomputed as botocore computes it.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from urllib.parse import quote

from faas import credentials

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = 15 * 60.0  # AWS's window: an older (or future) signed request is not replayed
_FIELDS = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")


def is_sigv4(authorization: bytes | None) -> bool:
    return authorization is not None and authorization.startswith(ALGORITHM.encode())


def verify(
    method: str,
    raw_path: bytes,
    raw_query: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    secret: str,
) -> bool:
    """Whether the request's SigV4 signature was made with (`admin`, `secret`)."""
    values: dict[str, list[str]] = {}
    for key, value in headers:
        values.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    fields = dict(_FIELDS.findall((values.get("authorization") or [""])[0]))
    credential = fields.get("Credential", "").split("/")
    amz_date = (values.get("x-amz-date") or [""])[0]
    if len(credential) != 5 or "Signature" not in fields or not _fresh(amz_date):
        return False
    key_id, date, region, service, terminator = credential
    signed = fields.get("SignedHeaders", "").split(";")
    if "host" not in signed or any(name not in values for name in signed):
        return False
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in values[name])}\n" for name in signed
    )
    payload = (values.get("x-amz-content-sha256") or [hashlib.sha256(body).hexdigest()])[0]
    pairs = [pair.partition("=") for pair in raw_query.decode("latin-1").split("&") if pair]
    query = "&".join(f"{key}={value}" for key, _, value in sorted(pairs))
    path = quote(raw_path.decode("latin-1") or "/", safe="/~")  # encoded twice, as botocore does
    canonical = "\n".join([method, path, query, canonical_headers, ";".join(signed), payload])
    scope = "/".join([date, region, service, terminator])
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    to_sign = "\n".join([ALGORITHM, amz_date, scope, digest])
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, terminator):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    # Both compared, whatever the first says: the time taken tells nothing about either.
    user_ok = hmac.compare_digest(key_id.encode(), credentials.ADMIN_USER.encode())
    return user_ok & hmac.compare_digest(expected.encode(), fields["Signature"].encode())


def _fresh(amz_date: str) -> bool:
    """X-Amz-Date (20240101T120000Z) within MAX_SKEW of now."""
    try:
        signed = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        return False
    return abs(time.time() - signed) <= MAX_SKEW
