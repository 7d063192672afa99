"""Random passphrases of everyday words, to suggest when someone chooses a password."""

from __future__ import annotations

import math
import secrets
from functools import cache
from importlib.resources import files

LANGUAGES = ("fr", "nl", "en")
DEFAULT_LANGUAGE = "fr"
SEPARATOR = "-"


@cache
def word_list(language: str) -> tuple[str, ...]:
    """The words of one language (French for a code we do not have), read once."""
    if language not in LANGUAGES:
        language = DEFAULT_LANGUAGE
    text = (files("portal") / "data" / f"words-{language}.txt").read_text("utf-8")
    # A word listed twice would be drawn twice as often: keep each once.
    return tuple(sorted({line.strip() for line in text.splitlines() if line.strip()}))


def suggest_passphrase(language: str, words: int = 5) -> str:
    """Some words drawn at random from the language's list, joined with hyphens."""
    if words < 1:
        raise ValueError("a passphrase needs at least one word")
    chosen = word_list(language)
    return SEPARATOR.join(secrets.choice(chosen) for _ in range(words))


def passphrase_entropy_bits(language: str, words: int = 5) -> float:
    """How many bits a passphrase from ``suggest_passphrase(language, words)`` is worth."""
    return words * math.log2(len(word_list(language)))
