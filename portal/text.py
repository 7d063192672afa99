"""Text as people type it, made clean before it is kept: one normal form, no control characters."""

from __future__ import annotations

import re
import unicodedata

# Line breaks, and the zero-width joiner that emoji sequences are made of.
KEPT = frozenset({"\n", "\u200d"})


def clean_text(value: str) -> str:
    """NFC, no control characters, single spaces, trimmed."""
    value = unicodedata.normalize("NFC", value)
    value = "".join(ch for ch in value if ch in KEPT or unicodedata.category(ch)[0] != "C")
    return " ".join(value.split())


def clean_multiline(value: str) -> str:
    """NFC, line breaks kept (at most two in a row), other control characters dropped."""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n"))
    value = "".join(ch for ch in value if ch in KEPT or unicodedata.category(ch)[0] != "C")
    value = re.sub(r"\n{3,}", "\n\n", value)
    return "\n".join(line.rstrip() for line in value.strip().split("\n"))
