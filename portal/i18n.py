"""Languages: choose one per request, and gettext for Jinja and Python that follows it."""

from __future__ import annotations

import gettext as gettext_module
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

from babel.core import negotiate_locale
from babel.dates import format_date, format_datetime
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


@dataclass(frozen=True)
class InLanguage:
    """A text of the directory in the reader's language, or in French when it lacks one."""

    text: str
    language: str
    # French shown in place of the reader's language: the page says so.
    fallback: bool


def in_language(record: object, field: str) -> InLanguage:
    """``record.field`` (French, the reference) or ``record.field_nl`` / ``field_en``.

    A translation the operator has not written falls back to the French text, marked so that
    the page can say it is in French.
    """
    french = str(getattr(record, field))
    language = current_language()
    if language == "fr":
        return InLanguage(french, "fr", False)
    translated = str(getattr(record, f"{field}_{language}"))
    if translated:
        return InLanguage(translated, language, False)
    return InLanguage(french, "fr", bool(french))


def format_when(moment: datetime, fmt: str = "EEEE d MMMM y, HH:mm") -> str:
    """A moment as people in Belgium read it, in the current language."""
    return _when(moment, fmt, current_language())


# A page shows the same moments at every view (its journal's newest entries), and Babel takes
# some 25 µs for each: the text depends only on the instant, the pattern and the language.
@lru_cache(maxsize=8192)
def _when(moment: datetime, fmt: str, language: str) -> str:
    return format_datetime(moment.astimezone(BRUSSELS), fmt, locale=language)


def format_day(day: date) -> str:
    """A day as people read it: "mardi 24 novembre"."""
    return format_date(day, "EEEE d MMMM", locale=current_language())


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
