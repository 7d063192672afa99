"""Languages: choose one per request, and gettext for Jinja and Python that follows it."""

from __future__ import annotations

import gettext as gettext_module
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from typing import cast
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import negotiate_locale
from babel.dates import format_date, format_datetime, parse_pattern
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.settings import LANGUAGES, ROOT

CATALOGUES = ROOT / "i18n"
LANGUAGE_COOKIE = "lang"
BRUSSELS = ZoneInfo("Europe/Brussels")
LANGUAGE_NAMES = {"fr": "Français", "nl": "Nederlands", "en": "English"}

_current: ContextVar[str] = ContextVar("language", default="fr")


@cache
def translations(language: str) -> gettext_module.NullTranslations:
    return gettext_module.translation("messages", localedir=CATALOGUES, languages=[language])


def current_language() -> str:
    return _current.get()


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    return translations(_current.get()).pgettext(context, message)


def npgettext(context: str, singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).npgettext(context, singular, plural, n)


_ = gettext


def lazy(message: str) -> str:
    """Mark a string for extraction where it is defined; translate it where it is shown."""
    return message


@contextmanager
def use_language(language: str) -> Iterator[None]:
    token = _current.set(language if language in LANGUAGES else "fr")
    try:
        yield
    finally:
        _current.reset(token)


@cache
def _locale(language: str) -> Locale:
    # Parsed once per language: a timeline formats twenty moments per page.
    return Locale.parse(language)


@dataclass(frozen=True)
class _Names:
    """A language's names of days and months, read once from Babel's data (slow to look up)."""

    days: tuple[str, ...]
    short_days: tuple[str, ...]
    months: tuple[str, ...]  # January at 1
    short_months: tuple[str, ...]


@cache
def _names(language: str) -> _Names:
    locale = _locale(language)
    days, months = locale.days["format"], locale.months["format"]
    return _Names(
        days=tuple(days["wide"][n] for n in range(7)),
        short_days=tuple(days["abbreviated"][n] for n in range(7)),
        months=("", *(months["wide"][n] for n in range(1, 13))),
        short_months=("", *(months["abbreviated"][n] for n in range(1, 13))),
    )


# The fields of a date pattern our pages use, as Babel writes them. Babel formats each field
# through a general machinery, about 25 µs a moment, and a timeline shows twenty. A pattern
# with any other field is left to Babel.
_Field = Callable[[_Names, datetime], str]
_FIELDS: dict[str, _Field] = {
    "EEEE": lambda names, m: names.days[m.weekday()],
    "EEE": lambda names, m: names.short_days[m.weekday()],
    "d": lambda names, m: str(m.day),
    "dd": lambda names, m: f"{m.day:02d}",
    "MMMM": lambda names, m: names.months[m.month],
    "MMM": lambda names, m: names.short_months[m.month],
    "MM": lambda names, m: f"{m.month:02d}",
    "y": lambda names, m: str(m.year),
    "yyyy": lambda names, m: f"{m.year:04d}",
    "HH": lambda names, m: f"{m.hour:02d}",
    "H": lambda names, m: str(m.hour),
    "mm": lambda names, m: f"{m.minute:02d}",
}
_FIELD_NAME = re.compile(r"%\((\w+)\)s")


@cache
def _compiled(fmt: str) -> tuple[str, tuple[tuple[str, _Field], ...]] | None:
    """Babel's pattern as a format string and the fields it needs; None if one is not ours."""
    # A DateTimePattern's ``format`` is the %-string its ``apply`` fills in.
    template = cast("str", parse_pattern(fmt).format)
    names = _FIELD_NAME.findall(template)
    if any(name not in _FIELDS for name in names):
        return None
    return template, tuple((name, _FIELDS[name]) for name in dict.fromkeys(names))


def format_when(moment: datetime, fmt: str = "EEEE d MMMM y, HH:mm") -> str:
    """A moment as people in Belgium read it, in the current language (as Babel writes it)."""
    return _when(moment, fmt, current_language())


# A page shows the same moments at every view (its journal's twenty newest), and the text
# depends only on the instant, the pattern and the language: each is worked out once.
@lru_cache(maxsize=8192)
def _when(moment: datetime, fmt: str, language: str) -> str:
    local = moment.astimezone(BRUSSELS)
    compiled = _compiled(fmt)
    if compiled is None:
        return format_datetime(local, fmt, locale=_locale(language))
    template, fields = compiled
    names = _names(language)
    return template % {name: field(names, local) for name, field in fields}


def format_day(day: date) -> str:
    """A day as people read it: "mardi 24 novembre"."""
    return format_date(day, "EEEE d MMMM", locale=_locale(current_language()))


def choose_language(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The cookie if it names a language we have, else Accept-Language, else the default."""
    if cookie in LANGUAGES:
        return cookie
    if accept_language:
        wanted = []
        for part in accept_language.split(",")[:20]:
            tag = part.split(";")[0].strip().replace("-", "_")
            if tag and len(tag) <= 35 and tag.replace("_", "").isalnum():
                wanted.append(tag)
        found = negotiate_locale(wanted, list(LANGUAGES), sep="_")
        if found:
            return found.split("_")[0]
    return default


class LanguageMiddleware:
    """Set the language of each request in a context variable, and reset it afterwards."""

    def __init__(self, app: ASGIApp, default: str = "fr") -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        language = choose_language(
            connection.cookies.get(LANGUAGE_COOKIE),
            connection.headers.get("accept-language"),
            self.default,
        )
        scope.setdefault("state", {})["language"] = language
        with use_language(language):
            await self.app(scope, receive, send)
