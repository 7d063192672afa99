"""Accounts: a young person's or a parent's own new account, by password or passkey."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.transactions import in_transaction

from portal.domain.accounts.names import (
    check_display_name,
    check_language,
    check_login,
    login_taken,
    new_user_handle,
)
from portal.domain.accounts.passkeys import store_passkey
from portal.domain.accounts.passwords import check_new_password, keep_first_codes
from portal.domain.errors import Invalid
from portal.domain.forms import acting_once
from portal.i18n import lazy as _l
from portal.models import (
    SUBJECT_ROLES,
    Credential,
    CredentialKind,
    Person,
    Role,
)
from portal.security.passkeys import PasskeyData
from portal.security.passwords import hash_password


@dataclass
class NewSubject:
    """What a young person or a relative gives to make an account: no e-mail, no phone."""

    role: Role
    display_name: str
    language: str


def check_new_subject(role: str, display_name: str, language: str) -> NewSubject:
    if role not in {r.value for r in SUBJECT_ROLES}:
        raise Invalid(
            "role", _l("Tell us whether you are a young person, or a parent or relative.")
        )
    return NewSubject(
        role=Role(role),
        display_name=check_display_name(display_name),
        language=check_language(language),
    )


async def create_subject_with_password(
    new: NewSubject, login: str, password: str, *, form_key: str | None = None
) -> Person:
    """A subject whose only way in is a password (at least 15 characters).

    The ten recovery codes are made with the account, in the same transaction; the welcome
    page shows them once (``take_first_codes``).
    """
    login = check_login(login)
    check_new_password(password, sole_factor=True, context=(login, new.display_name))
    async with acting_once(form_key):
        if await login_taken(login):
            raise Invalid("login", _l("This sign-in name is already taken. Try another one."))
        person = await Person.create(
            role=new.role,
            display_name=new.display_name,
            language=new.language,
            login=login,
            user_handle=new_user_handle(),
        )
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )
        await keep_first_codes(person)
    return person


async def create_subject_with_passkey(
    new: NewSubject, user_handle: str, passkey: PasskeyData
) -> Person:
    async with in_transaction():
        person = await Person.create(
            role=new.role,
            display_name=new.display_name,
            language=new.language,
            user_handle=user_handle,
        )
        await store_passkey(person, passkey)
        await keep_first_codes(person)
    return person
