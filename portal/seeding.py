"""Services, people and dossiers made as the site makes them: the demo, bench and tests' data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from tortoise.transactions import in_transaction

from portal.domain import accounts, journal
from portal.domain.dossiers import take
from portal.domain.journal import Event
from portal.domain.requests import RequestForm, make_request
from portal.models import (
    Asker,
    ContactChannel,
    Credential,
    CredentialKind,
    Dossier,
    Partner,
    Person,
    Role,
    Sector,
    Service,
    Theme,
)
from portal.security.passwords import hash_password


async def service(
    name: str, communes: Sequence[str] = ("Namur",), response_days: int = 3, **details: Any
) -> Service:
    return await Service.create(
        name=name, communes=list(communes), response_days=response_days, **details
    )


async def partner(
    name: str, sector: Sector = Sector.CPAS, bound_by_secrecy: bool = True, **details: Any
) -> Partner:
    return await Partner.create(
        name=name, sector=sector, bound_by_secrecy=bound_by_secrecy, **details
    )


async def staff(
    login: str,
    role: Role,
    *,
    password: str,
    totp_secret: str,
    name: str | None = None,
    service: Service | None = None,
    partner: Partner | None = None,
) -> Person:
    """A staff member with a password and a known TOTP secret: an accepted invitation's end."""
    async with in_transaction():
        person = await Person.create(
            login=login,
            role=role,
            display_name=name or login.title(),
            service=service,
            partner=partner,
            user_handle=accounts.new_user_handle(),
        )
        await Credential.create(
            person=person, kind=CredentialKind.PASSWORD, secret=hash_password(password)
        )
        await Credential.create(person=person, kind=CredentialKind.TOTP, secret=totp_secret)
    return person


async def subject(
    login: str,
    name: str,
    *,
    password: str,
    role: Role = Role.YOUTH,
    language: str = "fr",
    born: tuple[int, int] = (2010, 3),
) -> Person:
    """A young person (born in that year and month) or a relative, signing in with a password."""
    new = accounts.check_new_subject(role.value, name, language)
    person = await accounts.create_subject_with_password(new, login, password)
    if role is Role.YOUTH:
        # As the request form does, the first time a young person asks.
        person.birth_year, person.birth_month = born
        await person.save(update_fields=["birth_year", "birth_month"])
    return person


async def request(
    asker: Person,
    service_: Service,
    words: str,
    themes: Sequence[Theme] = (Theme.SCHOOL,),
    *,
    others_read_messages: bool = False,
    today: date | None = None,
) -> Dossier:
    """A young person's own request, waiting for a worker of ``service_``."""
    form = RequestForm(
        asker=Asker.YOUTH,
        themes=list(themes),
        words=words,
        contact_channel=ContactChannel.PORTAL,
        others_read_messages=others_read_messages,
    )
    return await make_request(asker, service_, form, today=today)


async def followed_dossier(
    worker: Person, asker: Person, service_: Service, words: str, theme: Theme = Theme.SCHOOL
) -> Dossier:
    """A young person's request, taken by ``worker``."""
    dossier = await request(asker, service_, words, [theme])
    await take(worker, dossier.id)
    return dossier


async def lengthen_journal(dossier: Dossier, worker: Person, entries: int) -> int:
    """Append the worker's reads until the journal holds ``entries``; return its length.

    Each read is a real entry, chained and MAC'd by the journal itself, 500 per transaction.
    """
    await dossier.refresh_from_db(fields=["journal_seq"])
    while dossier.journal_seq < entries:
        async with in_transaction():
            for _ in range(min(500, entries - dossier.journal_seq)):
                await journal.record(dossier, Event.DOSSIER_READ, worker)
        await dossier.refresh_from_db(fields=["journal_seq"])
    return dossier.journal_seq
