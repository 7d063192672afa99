"""The server's keys, set once at start from the settings."""

from __future__ import annotations

import hashlib

_journal_key: bytes | None = None


def configure(journal_key: str) -> None:
    global _journal_key
    # Derive a fixed-length key so the MAC does not depend on how the secret was written.
    _journal_key = hashlib.sha256(b"portal-journal:" + journal_key.encode()).digest()


def journal_key() -> bytes:
    if _journal_key is None:
        raise RuntimeError("The journal key was not configured (portal.keys.configure).")
    return _journal_key
