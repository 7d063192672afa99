"""The French a young person reads aloud: no middle-dot inclusive forms, no heavy phrasing."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
FRENCH = ROOT / "i18n" / "fr" / "LC_MESSAGES" / "messages.po"

# "travailleur·euse social·e", "un·e jeune", "intervenant·es": a letter, a middle dot, a letter.
# A middle dot between spaces (" · ") separates items and stays.
INCLUSIVE = re.compile(r"\w·\w")


def _french() -> dict[str, str]:
    with FRENCH.open("rb") as handle:
        catalogue = read_po(handle)
    return {
        # A parent's version of a sentence is its own entry, named "parent|…".
        (f"{m.context}|" if m.context else "")
        + str(m.id if isinstance(m.id, str) else m.id[0]): " ".join(
            [m.string] if isinstance(m.string, str) else m.string
        )
        for m in catalogue
        if m.id
    }


def test_no_french_string_uses_a_middle_dot_inclusive_form() -> None:
    left = {msgid: text for msgid, text in _french().items() if INCLUSIVE.search(text)}
    assert left == {}, "say it with plain words: 'la personne qui te suit', 'un ou une jeune'"


def test_the_pattern_catches_the_forms_it_is_meant_to() -> None:
    for heavy in ["Un·e travailleur·euse social·e", "les intervenant·es", "déconnecté·e"]:
        assert INCLUSIVE.search(heavy)
    assert not INCLUSIVE.search("En cours · 1 nouveauté")


def test_the_rewritten_sentences_say_it_plainly() -> None:
    french = _french()
    plain = [
        (
            "Nothing involving someone else is done without your agreement. "
            "You can stop at any time.",
            "On ne fait rien avec d’autres personnes sans ton accord.",
        ),
        ("Your social worker is bound by professional secrecy.", "La personne qui te suit"),
        (
            "This site is not for emergencies. A social worker answers within a few working "
            "days. If you need someone now, call one of these numbers.",
            "La réponse arrive en quelques jours.",
        ),
        (
            "A social worker answers you within %(days)s working days, the way you chose: "
            "here only, or by phone, text or e-mail.",
            "sauf le week-end",
        ),
    ]
    for msgid, words in plain:
        assert words in french[msgid], msgid
