"""Dates as people in Belgium read them, in French, Dutch and English."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from portal import i18n
from portal.settings import LANGUAGES

PORTAL = Path(__file__).resolve().parents[2] / "portal"
# Every pattern the pages and the code pass, found in their text: a new one needs its line below.
USED = re.compile(r"""(?:when\(|format_when\([^,]+,\s*)"([^"]+)"\)""")

# Tuesday 24 November 2026, 14:05 in UTC: 15:05 in Brussels, in winter time.
MOMENT = datetime(2026, 11, 24, 14, 5, tzinfo=UTC)
EXPECTED = {
    "EEEE d MMMM y, HH:mm": {
        "fr": "mardi 24 novembre 2026, 15:05",
        "nl": "dinsdag 24 november 2026, 15:05",
        "en": "Tuesday 24 November 2026, 15:05",
    },
    "EEEE d MMMM, HH:mm": {
        "fr": "mardi 24 novembre, 15:05",
        "nl": "dinsdag 24 november, 15:05",
        "en": "Tuesday 24 November, 15:05",
    },
    "EEEE d MMMM y": {
        "fr": "mardi 24 novembre 2026",
        "nl": "dinsdag 24 november 2026",
        "en": "Tuesday 24 November 2026",
    },
    "d MMMM y": {"fr": "24 novembre 2026", "nl": "24 november 2026", "en": "24 November 2026"},
    "d MMMM y, HH:mm": {
        "fr": "24 novembre 2026, 15:05",
        "nl": "24 november 2026, 15:05",
        "en": "24 November 2026, 15:05",
    },
    "d MMM y": {"fr": "24 nov. 2026", "nl": "24 nov 2026", "en": "24 Nov 2026"},
    "d MMM y, HH:mm": {
        "fr": "24 nov. 2026, 15:05",
        "nl": "24 nov 2026, 15:05",
        "en": "24 Nov 2026, 15:05",
    },
    "d MMM, HH:mm": {"fr": "24 nov., 15:05", "nl": "24 nov, 15:05", "en": "24 Nov, 15:05"},
    "EEEE HH:mm": {"fr": "mardi 15:05", "nl": "dinsdag 15:05", "en": "Tuesday 15:05"},
    "EEEE d MMMM": {
        "fr": "mardi 24 novembre",
        "nl": "dinsdag 24 november",
        "en": "Tuesday 24 November",
    },
    "d MMMM, HH:mm": {
        "fr": "24 novembre, 15:05",
        "nl": "24 november, 15:05",
        "en": "24 November, 15:05",
    },
    # The time of a meeting, beside its day.
    "HH:mm": {"fr": "15:05", "nl": "15:05", "en": "15:05"},
    # The day in Brussels, to tell whether two looks fell on the same day.
    "yyyy-MM-dd": {"fr": "2026-11-24", "nl": "2026-11-24", "en": "2026-11-24"},
}


def _patterns_in_use() -> set[str]:
    found = {i18n.format_when.__defaults__[0]} if i18n.format_when.__defaults__ else set()
    for path in [*PORTAL.rglob("*.html"), *PORTAL.rglob("*.py")]:
        found.update(USED.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_pattern_in_use_is_checked() -> None:
    patterns = _patterns_in_use()
    assert {"EEEE d MMMM, HH:mm", "d MMMM y", "d MMM, HH:mm", "EEEE HH:mm"} <= patterns
    assert patterns <= EXPECTED.keys()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_pattern_in_use_reads_in_the_language(language: str) -> None:
    with i18n.use_language(language):
        for pattern, texts in EXPECTED.items():
            assert i18n.format_when(MOMENT, pattern) == texts[language], pattern


@pytest.mark.parametrize(
    ("moment", "fr", "nl", "en"),
    [
        (
            datetime(2026, 5, 1, 9, 5, tzinfo=UTC),
            "vendredi 1 mai 2026, 11:05",
            "vrijdag 1 mei 2026, 11:05",
            "Friday 1 May 2026, 11:05",
        ),
        # Both changes of the clock in Brussels, either side of the change.
        (
            datetime(2026, 3, 29, 0, 59, tzinfo=UTC),
            "dimanche 29 mars 2026, 01:59",
            "zondag 29 maart 2026, 01:59",
            "Sunday 29 March 2026, 01:59",
        ),
        (
            datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
            "dimanche 29 mars 2026, 03:00",
            "zondag 29 maart 2026, 03:00",
            "Sunday 29 March 2026, 03:00",
        ),
        (
            datetime(2026, 10, 25, 0, 59, tzinfo=UTC),
            "dimanche 25 octobre 2026, 02:59",
            "zondag 25 oktober 2026, 02:59",
            "Sunday 25 October 2026, 02:59",
        ),
        (
            datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
            "dimanche 25 octobre 2026, 02:00",
            "zondag 25 oktober 2026, 02:00",
            "Sunday 25 October 2026, 02:00",
        ),
        # Another day, month and year in Brussels than in UTC.
        (
            datetime(1999, 12, 31, 23, 0, tzinfo=UTC),
            "samedi 1 janvier 2000, 00:00",
            "zaterdag 1 januari 2000, 00:00",
            "Saturday 1 January 2000, 00:00",
        ),
    ],
)
def test_a_moment_is_told_in_brussels_time(moment: datetime, fr: str, nl: str, en: str) -> None:
    for language, expected in (("fr", fr), ("nl", nl), ("en", en)):
        with i18n.use_language(language):
            assert i18n.format_when(moment) == expected


def test_a_day_reads_in_the_language() -> None:
    days = {"fr": [], "nl": [], "en": []}
    for language, texts in days.items():
        with i18n.use_language(language):
            texts.extend(i18n.format_day(day) for day in (date(2026, 2, 1), date(2026, 12, 24)))
    assert days == {
        "fr": ["dimanche 1 février", "jeudi 24 décembre"],
        "nl": ["zondag 1 februari", "donderdag 24 december"],
        "en": ["Sunday 1 February", "Thursday 24 December"],
    }


def test_any_pattern_babel_knows_can_be_used() -> None:
    with i18n.use_language("en"):
        assert i18n.format_when(MOMENT, "h:mm a") == "3:05 PM"


def test_a_moment_worked_out_once_is_still_each_languages_own() -> None:
    # The text is kept per instant, pattern and language: asked again in another language,
    # or as the same instant in another time zone, it is that language's text of that instant.
    same_instant = MOMENT.astimezone(i18n.BRUSSELS)
    texts: dict[str, set[str]] = {}
    for _ in range(2):
        for language in LANGUAGES:
            with i18n.use_language(language):
                texts.setdefault(language, set()).add(i18n.format_when(MOMENT, "EEEE HH:mm"))
                texts[language].add(i18n.format_when(same_instant, "EEEE HH:mm"))
    assert texts == {"fr": {"mardi 15:05"}, "nl": {"dinsdag 15:05"}, "en": {"Tuesday 15:05"}}
