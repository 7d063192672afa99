"""Accounts: passkeys added, listed and removed."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from portal.domain.accounts.names import require_whole_account
from portal.domain.errors import Invalid, NotFound
from portal.domain.forms import acting_once
from portal.i18n import lazy as _l
from portal.models import (
    Credential,
    CredentialKind,
    Person,
)
from portal.security.passkeys import PasskeyData


async def store_passkey(person: Person, passkey: PasskeyData) -> Credential:
    if await Credential.filter(credential_id=passkey.credential_id).exists():
        raise Invalid("passkey", _l("This passkey is already registered."))
    return await Credential.create(
        person=person,
        kind=CredentialKind.PASSKEY,
        label=passkey.label[:80],
        credential_id=passkey.credential_id,
        public_key=passkey.public_key,
        sign_count=passkey.sign_count,
        transports=passkey.transports,
        # Made in a session opened by a recovery link: it opens that one dossier, no more.
        scope_dossier_id=person.scope_dossier_id,
    )


async def add_passkey(person: Person, passkey: PasskeyData) -> Credential:
    """Add a passkey; in a session limited to one dossier, the passkey is limited the same."""
    async with in_transaction():
        return await store_passkey(person, passkey)


async def ways_in(person: Person) -> list[Credential]:
    return await Credential.filter(person_id=person.id).order_by("created_at")


async def remove_passkey(
    person: Person, credential_id: int, *, form_key: str | None = None
) -> None:
    """Remove one of one's passkeys, never the last way into the whole account."""
    require_whole_account(person)
    async with acting_once(form_key):
        await Person.select_for_update().get(id=person.id)
        credential = await Credential.filter(
            id=credential_id, person_id=person.id, kind=CredentialKind.PASSKEY
        ).first()
        if credential is None:
            raise NotFound("no such passkey")
        # A passkey limited to one dossier is no way into the whole account.
        others = (
            await Credential.filter(person_id=person.id, scope_dossier_id__isnull=True)
            .exclude(id=credential.id)
            .exclude(kind=CredentialKind.TOTP)
            .count()
        )
        if others == 0:
            raise Invalid("passkey", _l("This is your only way in. Add another one first."))
        if person.is_staff and not await _staff_keeps_two_factors(person, credential.id):
            raise Invalid("passkey", _l("This is your only way in. Add another one first."))
        await credential.delete()


async def _staff_keeps_two_factors(person: Person, removing: int) -> bool:
    remaining = await Credential.filter(person_id=person.id).exclude(id=removing)
    kinds = {c.kind for c in remaining}
    return (
        CredentialKind.PASSKEY in kinds or {CredentialKind.PASSWORD, CredentialKind.TOTP} <= kinds
    )
