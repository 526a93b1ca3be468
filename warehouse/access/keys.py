"""The pseudonym key: HUB_PSEUDONYM_KEY, or one generated once under <var>/secrets (mode 0600).

Every host that serves analysts must use the same key, or pseudonyms stop agreeing between them:
in production set HUB_PSEUDONYM_KEY (32+ characters) from the secret store. Locally the generated
file does; losing it only changes the pseudonyms (none are stored), it reveals nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

from hub.settings import Settings
from warehouse.errors import WarehouseError

MIN_KEY_CHARS = 32
KEY_FILE = Path("secrets") / "pseudonym.key"


class PseudonymKeyError(WarehouseError):
    """The pseudonym key is missing, too short or readable by others; the message says how to fix it."""

    kind = "fatal"


def pseudonym_key(settings: Settings) -> bytes:
    """The HMAC key as bytes: the setting if given, else the generated file (created on first use)."""
    if settings.pseudonym_key is not None:
        text = settings.pseudonym_key.get_secret_value()
        if len(text) < MIN_KEY_CHARS:
            raise PseudonymKeyError(
                f"HUB_PSEUDONYM_KEY has {len(text)} characters; use at least {MIN_KEY_CHARS} "
                "(e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return text.encode()
    return _key_file(Path(settings.var_dir) / KEY_FILE)


def role_key(key: bytes, role: str) -> bytes:
    """The key one role's pseudonyms are made with: the same number gives the same pseudonym in every
    resource that role reads, but pseudonyms one department hands on do not join with another's."""
    return hmac.new(key, f"role:{role}".encode(), hashlib.sha256).digest()


def _key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        # O_EXCL: of two first users at once, one creates the key and the other reads it.
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(handle, "w") as out:
        out.write(secrets.token_hex(32))
    return _read(path)


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise PseudonymKeyError(
            f"{path} is readable by others (mode {mode:o}): `chmod 600 {path}`, or set HUB_PSEUDONYM_KEY"
        )
    text = path.read_text(encoding="ascii").strip()
    if len(text) < MIN_KEY_CHARS:
        raise PseudonymKeyError(
            f"{path} holds a key of {len(text)} characters; delete it to generate a new one, or set HUB_PSEUDONYM_KEY"
        )
    return text.encode()
