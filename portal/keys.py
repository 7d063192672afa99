"""The server's keys, set once at start from the settings, and each dossier's box."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from portal.security.crypto import Box, Erased, new_data_key, parse_master_key, unwrap, wrap

_journal_key: bytes | None = None
_master_key: bytes | None = None


def configure(journal_key: str, master_key: str | None = None) -> None:
    global _journal_key, _master_key
    # A fixed-length key, so the MAC does not depend on how the secret was written.
    _journal_key = hashlib.sha256(b"portal-journal:" + journal_key.encode()).digest()
    if master_key is not None:
        _master_key = parse_master_key(master_key)


def journal_key() -> bytes:
    if _journal_key is None:
        raise RuntimeError("The journal key was not configured (portal.keys.configure).")
    return _journal_key


def master_key() -> bytes:
    if _master_key is None:
        raise RuntimeError("The master key was not configured (portal.keys.configure).")
    return _master_key


def new_wrapped_key(dossier_id: int) -> bytes:
    """A fresh data key for a new dossier, returned wrapped: it is never stored in clear."""
    return wrap(master_key(), dossier_id, new_data_key())


def box(dossier: Any) -> Box:
    """The box of this dossier. An erased dossier has none."""
    wrapped = dossier.wrapped_key
    if wrapped is None:
        raise Erased("this dossier was erased")
    return Box(dossier.id, unwrap(master_key(), dossier.id, bytes(wrapped)))


def open_fields(dossier_box: Box, objects: Iterable[Any], table: str, names: Iterable[str]) -> None:
    """Replace sealed attributes by their text, on objects loaded only to be shown."""
    wanted = tuple(names)
    for obj in objects:
        for name in wanted:
            setattr(obj, name, dossier_box.open(getattr(obj, name), f"{table}.{name}"))
