"""The key that encrypts secret values at rest, and the box that uses it.

Secret values live in the stack's Redis, encrypted with Fernet (AES-128-CBC and HMAC-SHA256,
from the `cryptography` package): whoever can read Redis (a backup, a dump, a function that
was given a Redis binding) sees ciphertext only. The key is a file readable by its user only,
created once like the admin password (`faas.credentials`), by `faas up` or the first gateway:

    FAAS_SECRETS_KEY_FILE    the file (give every gateway of a stack the same one)
    $FAAS_HOME/secrets-key   the default

Rotation: put a new key on the file's first line and keep the old ones below it; values are
decrypted with any of them and encrypted with the first, so `faas secret update` re-encrypts.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from faas import credentials
from faas.errors import ConfigError
from faas.settings import Settings


class SecretBox:
    """Encrypts and decrypts secret values with the stack's key(s)."""

    def __init__(self, keys: list[bytes]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:  # not 32 url-safe base64-encoded bytes
            raise ConfigError(f"the secrets key is not a Fernet key: {exc}") from None

    def seal(self, value: bytes) -> bytes:
        sealed: bytes = self._fernet.encrypt(value)
        return sealed

    def open(self, token: bytes) -> bytes:
        try:
            value: bytes = self._fernet.decrypt(token)
            return value
        except InvalidToken:
            raise ConfigError(
                "a secret in Redis was encrypted with another key than FAAS_SECRETS_KEY_FILE's "
                "(default $FAAS_HOME/secrets-key): give every gateway the same file, or create "
                "the secret again with `faas secret update`"
            ) from None


def ensure_key(settings: Settings) -> SecretBox:
    """The stack's box; a missing key file is created with a fresh key (gateway, `faas up`)."""
    path = settings.secrets_key_path
    if not path.exists():
        # Same publication as the admin password: private temporary file, then a link that
        # loses to a key another gateway published first, so all of them read the same key.
        credentials._publish(path, Fernet.generate_key().decode("ascii"), replace=False)
    try:
        lines = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the secrets key from {path}: {exc} "
            "(FAAS_SECRETS_KEY_FILE, default $FAAS_HOME/secrets-key)"
        ) from None
    if not lines:
        raise ConfigError(f"{path} is empty: put a key in it, or remove it to have one generated")
    return SecretBox([line.encode("ascii") for line in lines])
