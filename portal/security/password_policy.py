"""Which passwords we accept: long enough, not common, not guessable (NIST SP 800-63B)."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable
from functools import cache
from importlib.resources import files

from portal.i18n import lazy as _l

MIN_SOLE_FACTOR = 15
MIN_WITH_SECOND_FACTOR = 8
MAX_LENGTH = 256

# Normalising a long string takes time: anything this long is refused before we try.
_MAX_RAW_LENGTH = 4 * MAX_LENGTH
# What people add around a common password to satisfy old rules: "Password123!".
_DECORATION = string.digits + string.punctuation + string.whitespace
# Runs that people type without thinking. Each is also read backwards and may wrap round.
_RUNS = (
    "0123456789",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertyuiopasdfghjklzxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "qwertzuiopasdfghjklyxcvbnm",
)
# A short unit said again and again ("hahahaha", "123123123") is no stronger than the unit.
_LONGEST_REPEATED_UNIT = 4
_SHORTEST_CONTEXT = 3

# Control characters cannot be typed on every device, and a NUL byte breaks some software.
_CONTROL = frozenset({"Cc", "Cs"})


@cache
def common_passwords() -> frozenset[str]:
    """The most common passwords, lowercase: read once, on first use."""
    text = (files("portal") / "data" / "common-passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line)


def password_problem(
    password: str, *, sole_factor: bool, context: Iterable[str] = ()
) -> str | None:
    """Say what is wrong with a password, or None when it is acceptable.

    The answer is an English msgid: the caller translates it with gettext. ``sole_factor``
    is true when the password is the only thing needed to sign in. ``context`` holds what
    the person is known by (sign-in name, pseudonym), which the password must not contain.
    """
    if any(unicodedata.category(char) in _CONTROL for char in password):
        return _l("Use only letters, numbers, spaces and symbols: no invisible characters.")
    if len(password) > _MAX_RAW_LENGTH:
        return _l("Your password is too long (256 characters at most).")
    # NIST counts code points after normalisation: "é" typed in one or two parts is one.
    password = unicodedata.normalize("NFC", password)
    if sole_factor and len(password) < MIN_SOLE_FACTOR:
        return _l("Use at least 15 characters. A few words in a row are easy to remember.")
    if len(password) < MIN_WITH_SECOND_FACTOR:
        return _l("Use at least 8 characters. A few words in a row are easy to remember.")
    if len(password) > MAX_LENGTH:
        return _l("Your password is too long (256 characters at most).")
    folded = password.casefold()
    if _is_common(folded):
        return _l("This password is one of the most common ones. Choose another one.")
    if _is_run(folded):
        return _l("This password is too easy to guess. Avoid repeated letters and sequences.")
    for item in context:
        needle = unicodedata.normalize("NFC", item).casefold().strip()
        if len(needle) >= _SHORTEST_CONTEXT and needle in folded:
            return _l("Your password must not contain your sign-in name or your nickname.")
    return None


def _is_common(folded: str) -> bool:
    common = common_passwords()
    core = folded.strip(_DECORATION)
    unit = _repeated_unit(core)
    return folded in common or core in common or unit in common


def _repeated_unit(text: str) -> str:
    """The shortest piece that the text repeats whole ("abcabc" -> "abc"), else the text."""
    period = (text + text).find(text, 1)
    return text[:period] if 0 < period < len(text) else text


def _is_run(folded: str) -> bool:
    if len(_repeated_unit(folded)) <= _LONGEST_REPEATED_UNIT:
        return True
    for run in _RUNS:
        # Enough turns of the run to hold the password, starting anywhere in it.
        turns = len(folded) // len(run) + 2
        if folded in run * turns or folded in run[::-1] * turns:
            return True
    return False
