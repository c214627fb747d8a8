"""The control plane's credentials: one secret, generated once, readable by its user only.

The gateway accepts it as HTTP Basic (user `admin`, OpenFaaS's default, so `faas-cli login`
works) or as a Bearer token. Where it comes from, the first that applies:

    FAAS_ADMIN_PASSWORD          the secret itself (compose, CI)
    FAAS_ADMIN_PASSWORD_FILE     a file holding it (Docker/Swarm secrets, a shared volume)
    $FAAS_HOME/admin-password    the default file

The gateway and `faas up` create a missing file (`ensure`); clients only read it (`find`), so
a client never invents a secret that no gateway knows. Rotation: replace the file or the
variable, restart the gateways (`rotate` writes a new file for `faas auth rotate`).
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from faas.errors import ConfigError
from faas.settings import Settings

ADMIN_USER = "admin"
SECRET_BYTES = 32  # of entropy: 43 URL-safe characters


def ensure(settings: Settings) -> str:
    """The secret; a missing file is created with a fresh one (gateway start, `faas up`)."""
    found = find(settings)
    if found is not None:
        return found
    path = settings.password_file
    _publish(path, secrets.token_urlsafe(SECRET_BYTES), replace=False)
    found = _read(path)
    if found is None:  # removed again between our link and our read: nothing sensible to do
        raise ConfigError(f"{path} vanished while it was being created; start again")
    return found


def find(settings: Settings) -> str | None:
    """The secret if one exists (clients: `faas`, GatewayClient); None when there is none."""
    if settings.admin_password:
        return settings.admin_password.strip()
    return _read(settings.password_file)


def rotate(settings: Settings) -> str:
    """Replace the file's secret with a fresh one; gateways use it once restarted."""
    if settings.admin_password:
        raise ConfigError(
            "the password comes from FAAS_ADMIN_PASSWORD: change that variable instead"
        )
    fresh = secrets.token_urlsafe(SECRET_BYTES)
    _publish(settings.password_file, fresh, replace=True)
    return fresh


def ensure_secret_file(path: Path) -> str:
    """The secret in `path`; a missing (or empty) file gets a fresh one, mode 0600 (the
    embedded Redis's password)."""
    try:
        found = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        found = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if found:
        return found
    _publish(path, secrets.token_urlsafe(SECRET_BYTES), replace=True)
    return path.read_text(encoding="utf-8").strip()


def basic_authorization(password: str) -> str:
    """The `Authorization` header value a client sends."""
    pair = f"{ADMIN_USER}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the control plane's password from {path}: {exc} "
            "(FAAS_ADMIN_PASSWORD_FILE, default $FAAS_HOME/admin-password)"
        ) from None
    if not text:
        raise ConfigError(
            f"{path} is empty: put the password in it, or remove it to have a new one generated"
        )
    return text


def _publish(path: Path, secret: str, *, replace: bool) -> None:
    """Write `secret` to a private temporary file (mkstemp: O_EXCL, mode 0600), then give it
    its name in one step. Without `replace`, an existing file wins (link fails): gateways that
    start together all end up reading the same, complete secret."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(secret + "\n")
            file.flush()
            os.fsync(file.fileno())
        if replace:
            os.replace(temporary, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
