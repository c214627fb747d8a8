"""What a secret may be called: the name is a file name in every instance that mounts it."""

from __future__ import annotations

import re

from faas.errors import ManifestError

SECRET_NAME_RULE = (
    "letters, digits, '-', '_' and '.', starting and ending with a letter or digit, at most 64"
)
# fullmatch: no '/', no leading '.', so never a path outside the secrets folder.
_SECRET_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9])?")


def validate_secret_name(name: object, field: str = "name") -> str:
    """`name` if it is a valid secret name, else ManifestError (400) naming `field`."""
    if not isinstance(name, str) or not name:
        raise ManifestError(field, f"must be a non-empty string ({SECRET_NAME_RULE})")
    if not _SECRET_NAME.fullmatch(name) or ".." in name:
        raise ManifestError(field, f"{name[:80]!r} is not a valid secret name ({SECRET_NAME_RULE})")
    return name
