"""Secrets kept in the database, sealed with Fernet (AES-128-CBC + HMAC-SHA256, `cryptography`).

Today that is each workspace's code-server password (`sessions.password_sealed`). The keys
come from `BERTH_SECRET_KEY` (one or more Fernet keys, comma-separated), else from the file
`BERTH_SECRET_KEY_FILE` (as a Kubernetes Secret is mounted), else from `secret.key` in the
data directory, created on first use with mode 0600 (the embedded/dev default). The first key
seals; every key opens, so a key is rotated by putting the new one first, and dropped once
nothing sealed with it is left (workspace passwords are wiped when their session ends).

The portal and the reconciler must see the same keys: with a shared database and separate
processes, set BERTH_SECRET_KEY or BERTH_SECRET_KEY_FILE for both.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE_NAME = "secret.key"


class SealError(Exception):
    """A sealed value that none of the configured keys opens (or that was tampered with)."""


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("no secret key")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except ValueError as exc:
            raise ValueError(
                "a secret key is not a Fernet key (32 url-safe base64-encoded bytes; make one "
                "with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from exc

    @classmethod
    def ephemeral(cls) -> SecretBox:
        """A box with a fresh key nothing else knows: for tests and tools that never reopen."""
        return cls([Fernet.generate_key().decode()])

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise SealError(
                "a sealed secret does not open with the configured keys (BERTH_SECRET_KEY)"
            ) from exc


def _split(text: str) -> list[str]:
    return [k.strip() for k in text.replace("\n", ",").split(",") if k.strip()]


def _data_dir_key(data_dir: Path) -> str:
    """The data directory's key, created once (0600, never replaced) if there is none.

    Written to a private temporary file and linked into place, so two processes starting at
    once agree on one key and neither reads a half-written file.
    """
    path = data_dir / KEY_FILE_NAME
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = data_dir / f".{KEY_FILE_NAME}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(Fernet.generate_key().decode() + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first: use theirs
            pass
        finally:
            tmp.unlink()
    return path.read_text()


def load_box(key: str | None, key_file: Path | None, data_dir: Path) -> SecretBox:
    """The box for the configured keys (see the module's docstring for where they come from)."""
    if key:
        return SecretBox(_split(key))
    if key_file is not None:
        return SecretBox(_split(key_file.read_text()))
    return SecretBox(_split(_data_dir_key(data_dir)))
