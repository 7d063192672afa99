"""Dates as people read them: our quick formatting writes exactly what Babel writes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from babel.dates import format_datetime

from portal import i18n
from portal.settings import LANGUAGES

PORTAL = Path(__file__).resolve().parents[2] / "portal"
# Every pattern the pages and the code pass, found in their text: a new one is checked too.
USED = re.compile(r"""(?:when\(|format_when\([^,]+,\s*)"([^"]+)"\)""")


def _patterns_in_use() -> set[str]:
    found = {i18n.format_when.__defaults__[0]} if i18n.format_when.__defaults__ else set()
    for path in [*PORTAL.rglob("*.html"), *PORTAL.rglob("*.py")]:
        found.update(USED.findall(path.read_text(encoding="utf-8")))
    return found


def _moments() -> list[datetime]:
    # Every month and weekday, midnight and noon, and both changes of the clock in Brussels.
    start = datetime(2026, 1, 1, 0, 7, 3, tzinfo=UTC)
    every = [start + timedelta(hours=31 * n) for n in range(300)]
    clock_changes = [
        datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 59, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 0, tzinfo=UTC),
    ]
    return every + clock_changes


def test_the_patterns_in_use_are_found() -> None:
    patterns = _patterns_in_use()
    assert {"EEEE d MMMM, HH:mm", "d MMMM y", "d MMM, HH:mm", "EEEE HH:mm"} <= patterns


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_pattern_in_use_reads_as_babel_writes_it(language: str) -> None:
    locale = i18n._locale(language)
    with i18n.use_language(language):
        for pattern in sorted(_patterns_in_use()):
            assert i18n._compiled(pattern) is not None, f"{pattern} is left to Babel"
            for moment in _moments():
                expected = format_datetime(moment.astimezone(i18n.BRUSSELS), pattern, locale=locale)
                assert i18n.format_when(moment, pattern) == expected, (pattern, moment)


def test_a_pattern_with_another_field_is_left_to_babel() -> None:
    moment = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
    with i18n.use_language("en"):
        assert i18n._compiled("h:mm a") is None
        assert i18n.format_when(moment, "h:mm a") == "3:05 PM"


def test_a_moment_worked_out_once_is_still_each_languages_own() -> None:
    # The text is kept per instant, pattern and language: asked again in another language,
    # or as the same instant in another time zone, it is that language's text of that instant.
    moment = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
    same_instant = moment.astimezone(i18n.BRUSSELS)
    texts = {}
    for _ in range(2):
        for language in LANGUAGES:
            with i18n.use_language(language):
                texts.setdefault(language, set()).add(i18n.format_when(moment, "EEEE HH:mm"))
                texts[language].add(i18n.format_when(same_instant, "EEEE HH:mm"))
    assert texts == {"fr": {"mardi 15:05"}, "nl": {"dinsdag 15:05"}, "en": {"Tuesday 15:05"}}
