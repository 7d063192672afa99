"""Test data for the figures: requests, answers, steps, consents and endings, through the rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

from tortoise import timezone

from portal.domain import consent as consent_rules
from portal.domain import figures
from portal.domain.actions import record_action
from portal.domain.dossiers import take
from portal.domain.requests import RequestForm, make_request
from portal.models import (
    ActionKind,
    Asker,
    Dossier,
    Partner,
    Person,
    Request,
    Role,
    Service,
    Theme,
)

# Words people wrote: none may ever reach the figures.
SECRET_WORDS = "Mon beau-père crie tous les soirs et j’ai peur"
SECRET_STEP = "Écoute longue au téléphone avec Zoé"
SECRET_PURPOSE = "Pour trouver un logement à Jambes"

_numbers = itertools.count(1)


def birth_year_for(age: int) -> int:
    """A birth year that puts a young person born in June at ``age`` or ``age - 1`` today."""
    return figures.this_month().year - age


async def subject(role: Role = Role.YOUTH, age: int = 16) -> Person:
    """A young person or a parent with an account (no password: they never sign in here)."""
    number = next(_numbers)
    return await Person.create(
        role=role,
        display_name=f"Zébulon{number}",
        login=f"zebulon{number}",
        birth_year=birth_year_for(age) if role is Role.YOUTH else None,
        birth_month=6 if role is Role.YOUTH else None,
    )


async def ask(
    service: Service,
    themes: list[Theme],
    *,
    asker: Asker = Asker.YOUTH,
    age: int = 16,
) -> Dossier:
    """One request for help, made by its subject the way the form does it."""
    if asker is Asker.YOUTH:
        person = await subject(Role.YOUTH, age)
        form = RequestForm(asker=asker, themes=themes, words=SECRET_WORDS)
    else:
        person = await subject(Role.RELATIVE)
        form = RequestForm(
            asker=asker,
            themes=themes,
            words=SECRET_WORDS,
            concerned_birth_year=birth_year_for(age),
            concerned_birth_month=6,
        )
    return await make_request(person, service, form)


async def ask_many(
    service: Service,
    count: int,
    themes: list[Theme],
    *,
    asker: Asker = Asker.YOUTH,
    age: int = 16,
) -> list[Dossier]:
    return [await ask(service, themes, asker=asker, age=age) for _ in range(count)]


async def subject_of(dossier: Dossier) -> Person:
    return await Person.get(id=dossier.subject_id)


@dataclass
class Followed:
    dossier: Dossier
    subject: Person


async def follow(worker: Person, dossiers: list[Dossier]) -> list[Followed]:
    """A worker takes each dossier (a first answer on the same day)."""
    followed = []
    for dossier in dossiers:
        await take(worker, dossier.id)
        followed.append(Followed(dossier, await subject_of(dossier)))
    return followed


async def listen(worker: Person, followed: list[Followed]) -> None:
    for item in followed:
        await record_action(worker, item.dossier.reference, ActionKind.LISTENING, SECRET_STEP)


async def consent_to(partner: Partner, followed: list[Followed]) -> None:
    for item in followed:
        await consent_rules.grant(
            item.subject,
            item.dossier.reference,
            partner.id,
            ["request"],
            "until_stop",
            SECRET_PURPOSE,
        )


async def backdate(dossier: Dossier, days: int) -> None:
    """Move a request back in time (only its creation: the journal is never touched)."""
    moment = timezone.now() - timedelta(days=days)
    await Request.filter(dossier_id=dossier.id).update(created_at=moment)
    await Dossier.filter(id=dossier.id).update(created_at=moment)
