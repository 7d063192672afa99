"""Accounts: who may exist, and the rules for their ways in."""

from __future__ import annotations

import pyotp
from tortoise.transactions import in_transaction

from portal.domain.errors import Invalid
from portal.i18n import lazy as _l
from portal.models import Credential, CredentialKind, Person, Role
from portal.security.passwords import hash_password

STAFF_MIN_PASSWORD = 8
SOLE_FACTOR_MIN_PASSWORD = 15
MAX_PASSWORD = 256


def check_password(password: str, *, sole_factor: bool) -> None:
    """Length only (NIST SP 800-63B): no composition rules."""
    minimum = SOLE_FACTOR_MIN_PASSWORD if sole_factor else STAFF_MIN_PASSWORD
    if len(password) < minimum:
        raise Invalid("password", _l("Your password is too short."))
    if len(password) > MAX_PASSWORD:
        raise Invalid("password", _l("Your password is too long (256 characters at most)."))


async def create_admin(*, login: str, display_name: str, password: str) -> str:
    """Create an admin with a password and a TOTP secret; return the secret to enrol."""
    check_password(password, sole_factor=False)
    if await Person.filter(login=login).exists():
        raise Invalid("login", _l("This sign-in name is already taken."))
    secret = pyotp.random_base32()
    async with in_transaction():
        person = await Person.create(login=login, role=Role.ADMIN, display_name=display_name)
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )
        await Credential.create(person=person, kind=CredentialKind.TOTP, secret=secret)
    return secret
