"""Accounts of staff: the first admin and operator, invitations and their links."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from tortoise import timezone
from tortoise.transactions import in_transaction

from portal.domain.accounts.names import (
    check_display_name,
    check_work_email,
    login_taken,
    new_user_handle,
)
from portal.domain.accounts.passkeys import store_passkey
from portal.domain.accounts.passwords import check_new_password, check_totp
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.i18n import lazy as _l
from portal.models import (
    Credential,
    CredentialKind,
    LinkKind,
    OneTimeLink,
    Person,
    Role,
    Service,
)
from portal.security.passkeys import PasskeyData
from portal.security.passwords import hash_password
from portal.security.tokens import new_token, token_hash

INVITATION_LIFETIME = timedelta(hours=72)


async def create_admin(*, login: str, display_name: str, password: str, service_id: int) -> str:
    """Create a service's admin with a password and a TOTP secret; return the secret to enrol.

    An admin always belongs to a service that exists: one without would see no figures, could
    invite nobody, and nothing would say which staff are hers.
    """
    return await _create_manager(Role.ADMIN, login, display_name, password, service_id)


async def create_operator(*, login: str, display_name: str, password: str) -> str:
    """Create the installation's operator (services, the partner directory); return the TOTP
    secret to enrol."""
    return await _create_manager(Role.OPERATOR, login, display_name, password, None)


async def _create_manager(
    role: Role, login: str, display_name: str, password: str, service_id: int | None
) -> str:
    login = check_work_email(login)
    name = check_display_name(display_name)
    check_new_password(password, sole_factor=False, context=(login, name))
    secret = pyotp.random_base32()
    async with in_transaction():
        service = None
        if role is Role.ADMIN:
            service = await Service.filter(id=service_id).first() if service_id else None
            if service is None:
                raise Invalid("service", _l("No service has this number."))
        if await login_taken(login):
            raise Invalid("email", _l("This address already has an account."))
        person = await Person.create(
            login=login,
            role=role,
            display_name=name,
            service=service,
            user_handle=new_user_handle(),
        )
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )
        await Credential.create(person=person, kind=CredentialKind.TOTP, secret=secret)
    return secret


async def renew_link(issuer: Person, person_id: int, kind: LinkKind) -> str:
    """The one-time link just made for this person, with a new token; the old one stops working.

    A link is shown once and only its hash is kept. When the form that made it is sent twice
    (a double tap), the browser shows the second answer: that answer gets the same link (the
    same person, the same expiry, one journal entry) under a token it can show.
    """
    async with in_transaction():
        link = (
            await OneTimeLink.filter(
                person_id=person_id,
                kind=kind,
                issued_by_id=issuer.id,
                used_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .order_by("-id")
            .select_for_update()
            .first()
        )
        if link is None:
            raise NotFound("no such link")
        token = new_token()
        await OneTimeLink.filter(id=link.id).update(token_hash=token_hash(token))
    return token


async def find_link(token: str, kind: LinkKind) -> OneTimeLink:
    """A link that is still valid: not used, not expired. Anything else is simply not found."""
    if not token or len(token) > 100:
        raise NotFound("no such link")
    link = (
        await OneTimeLink.filter(token_hash=token_hash(token), kind=kind, used_at__isnull=True)
        .select_related("person")
        .first()
    )
    if link is None or timezone.now() >= link.expires_at:
        raise NotFound("no such link")
    return link


async def consume_link(link: OneTimeLink) -> None:
    used = await OneTimeLink.filter(id=link.id, used_at__isnull=True).update(used_at=timezone.now())
    if used != 1:
        raise NotFound("link already used")


class SignedInElsewhere(NotAllowed):
    """An invitation opened in a browser where someone is signed in: they sign out first."""


def nobody_signed_in(signed_in: Person | None) -> None:
    # Whoever is signed in here (the inviter above all) cannot become the person invited.
    if signed_in is not None:
        raise SignedInElsewhere("sign out first")


async def _invitation(token: str) -> OneTimeLink:
    link = await find_link(token, LinkKind.INVITATION)
    person = link.person
    if person.deactivated_at is not None or person.is_active or not person.login:
        raise NotFound("no such invitation")
    return link


async def open_invitation(token: str, signed_in: Person | None) -> Person:
    """The person an invitation is for; only in a browser where nobody is signed in."""
    link = await _invitation(token)
    nobody_signed_in(signed_in)
    return link.person


async def accept_invitation_with_password(
    token: str, password: str, signed_in: Person | None, *, form_key: str | None = None
) -> tuple[Person, str]:
    """The invited person chooses a password; returns their TOTP secret.

    Their sign-in name is the work address the invitation was sent to. The account stays
    inactive until the first TOTP code is confirmed (``confirm_invitation_totp``).
    """
    link = await _invitation(token)
    nobody_signed_in(signed_in)
    person = link.person
    login = person.login or ""
    check_new_password(password, sole_factor=False, context=(login, person.display_name))
    secret = pyotp.random_base32()
    async with acting_once(form_key):
        await Credential.filter(person_id=person.id).delete()
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )
        await Credential.create(person=person, kind=CredentialKind.TOTP, secret=secret)
    return person, secret


async def confirm_invitation_totp(token: str, code: str, signed_in: Person | None) -> Person:
    """The first code from the authenticator app proves the enrolment; the account opens."""
    link = await _invitation(token)
    nobody_signed_in(signed_in)
    person = link.person
    if not await check_totp(person, code):
        raise Invalid(
            "code", _l("This code is not right. Check the time on your phone and try again.")
        )
    async with in_transaction():
        await consume_link(link)
        await Person.filter(id=person.id, deactivated_at__isnull=True).update(is_active=True)
        person.is_active = True
    return person


async def accept_invitation_with_passkey(
    token: str, passkey: PasskeyData, signed_in: Person | None
) -> Person:
    link = await _invitation(token)
    nobody_signed_in(signed_in)
    person = link.person
    async with in_transaction():
        await consume_link(link)
        await Credential.filter(person_id=person.id).delete()
        await store_passkey(person, passkey)
        await Person.filter(id=person.id, deactivated_at__isnull=True).update(is_active=True)
        person.is_active = True
    return person
