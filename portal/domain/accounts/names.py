"""Accounts: sign-in names, display names, languages, and the young person's new account."""

from __future__ import annotations

import re
import secrets

from portal.domain.errors import Invalid, NotAllowed
from portal.i18n import lazy as _l
from portal.models import (
    Person,
)
from portal.settings import LANGUAGES
from portal.text import clean_text

LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,39}$")


# Staff sign in with their work e-mail address. A young person's sign-in name never holds an
# "@", so choosing one on the sign-up form can never tell whether a staff member exists.
WORK_EMAIL_RE = re.compile(r"^[a-z0-9._%+-]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)+$")


MAX_EMAIL = 254


MAX_NAME = 40


def check_display_name(value: str) -> str:
    name = clean_text(value)
    if not name:
        raise Invalid("display_name", _l("Tell us a first name or a nickname."))
    if len(name) > MAX_NAME:
        raise Invalid("display_name", _l("40 characters at most."))
    return name


def check_login(value: str) -> str:
    login = clean_text(value).lower()
    if not LOGIN_RE.match(login):
        raise Invalid(
            "login",
            _l(
                "Use 3 to 40 letters or numbers, without accents (no é or ç). "
                "You can also use a dot (.), a dash (-) or an underscore (_)."
            ),
        )
    return login


def check_work_email(value: str) -> str:
    """A staff member's work address, which is also their sign-in name (lower case)."""
    email = clean_text(value).lower()
    if len(email) > MAX_EMAIL or not WORK_EMAIL_RE.match(email):
        raise Invalid("email", _l("Write a work e-mail address, like name@service.be."))
    return email


def is_login_shape(value: str) -> bool:
    """A young person's sign-in name, or a staff member's work address."""
    return bool(LOGIN_RE.match(value)) or (
        len(value) <= MAX_EMAIL and bool(WORK_EMAIL_RE.match(value))
    )


def check_language(value: str) -> str:
    if value not in LANGUAGES:
        raise Invalid("language", _l("Choose French, Dutch or English."))
    return value


def new_user_handle() -> str:
    return secrets.token_hex(32)


async def login_taken(login: str) -> bool:
    return await Person.filter(login=login).exists()


class LimitedSession(NotAllowed):
    """The session reaches one dossier only (a worker's recovery link): no account-wide change."""


def require_whole_account(person: Person) -> None:
    """Refuse what changes the whole account in a session opened by a recovery link.

    Whoever holds the link (the worker who made it included) must not be able to keep the
    account: new codes, a password, a sign-in name, removing a passkey, an e-mail address
    for notices, a new request. The owner gets all of it back with one of her codes.
    """
    if person.scope_dossier_id is not None:
        raise LimitedSession("this session reaches one dossier only")


async def update_profile(person: Person, display_name: str, language: str) -> None:
    require_whole_account(person)
    name = check_display_name(display_name)
    lang = check_language(language)
    await Person.filter(id=person.id).update(display_name=name, language=lang)
    person.display_name, person.language = name, lang
