"""Random tokens for cookies and links; only their hash is ever stored."""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # The tokens carry 256 random bits: a plain hash is enough, and it can be looked up.
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_form_key() -> str:
    """The single-use key of one rendered form (the templates' ``csrf()`` puts it in every form)."""
    return secrets.token_urlsafe(18)
