"""Taking and giving dossiers: one worker wins a race, and only within their own service; what a
page of a dossier reads back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tortoise.exceptions import IncompleteInstanceError
from tortoise.transactions import in_transaction

from portal.domain import dossiers, journal
from portal.domain.actions import propose_action
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.domain.messages import send_message
from portal.domain.requests import RequestForm, make_request
from portal.models import (
    ActionKind,
    ActionStatus,
    Asker,
    Assignment,
    Dossier,
    DossierStatus,
    JournalEntry,
    Message,
    Role,
    Theme,
)
from portal.security.sessions import load_session, start_session
from tests import factories


async def _dossier() -> Dossier:
    from portal.models import Service

    service = await Service.first()
    assert service is not None
    lou = await factories.youth()
    return await make_request(lou, service, RequestForm(asker=Asker.YOUTH, themes=[Theme.MONEY]))


async def test_ten_workers_taking_at_once_one_gets_it_the_others_are_told(db: str) -> None:
    service = await factories.service()
    workers = [await factories.staff(f"worker{i}", service_=service) for i in range(10)]
    dossier = await _dossier()
    results = await asyncio.gather(
        *(dossiers.take(worker, dossier.id) for worker in workers), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, Dossier)]
    told = [r for r in results if isinstance(r, NotAllowed)]
    assert len(won) == 1 and len(told) == 9, results
    assert await Assignment.filter(dossier_id=dossier.id).count() == 1
    assert await JournalEntry.filter(dossier_id=dossier.id, event="dossier.taken").count() == 1
    assert (await Dossier.get(id=dossier.id)).status is DossierStatus.OPEN


async def test_a_worker_of_another_service_cannot_take_or_give(db: str) -> None:
    await factories.service("AMO Un")
    other = await factories.service("AMO Deux")
    outsider = await factories.staff("zoe", service_=other)
    colleague = await factories.staff("eli", service_=other)
    dossier = await _dossier()
    with pytest.raises(NotFound):
        await dossiers.take(outsider, dossier.id)
    with pytest.raises(NotFound):
        await dossiers.assign(outsider, dossier.id, colleague.id)
    assert await Assignment.all().count() == 0


async def test_giving_to_someone_outside_the_service_is_refused(db: str) -> None:
    service = await factories.service("AMO Un")
    other = await factories.service("AMO Deux")
    amina = await factories.staff("amina", service_=service)
    outsider = await factories.staff("zoe", service_=other)
    partner = await factories.staff("cpas", Role.PARTNER, partner_=await factories.partner())
    dossier = await _dossier()
    await dossiers.take(amina, dossier.id)
    for person in (outsider, partner):
        with pytest.raises(Invalid):
            await dossiers.assign(amina, dossier.id, person.id)
    assert await Assignment.filter(dossier_id=dossier.id).count() == 1


@pytest.mark.parametrize("role", [Role.YOUTH, Role.PARTNER, Role.ADMIN])
async def test_only_workers_have_an_inbox(db: str, role: Role) -> None:
    service = await factories.service()
    person = (
        await factories.youth()
        if role is Role.YOUTH
        else await factories.staff("x", role, service_=service)
    )
    with pytest.raises(NotFound):
        await dossiers.inbox(person)


async def test_a_page_reads_back_what_was_written_and_of_its_authors_only_their_name(
    db: str,
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    partner = await factories.partner("CPAS de Namur")
    dossier = await factories.followed_dossier(amina, lou, service, "Chez moi ✨")
    sent = await send_message(amina, dossier.reference, "Bonjour ✨")
    await propose_action(
        amina, dossier.reference, ActionKind.ORIENTATION, "Voir le CPAS", "Le CPAS", []
    )
    async with in_transaction():
        await journal.record(dossier, "share.made", amina, {"partner": partner.id})

    view = await dossiers.open_dossier(lou, dossier.reference)
    message, action, entry = view.messages[-1], view.actions[0], view.timeline[0]
    stored = await Message.get(id=sent.id)
    # Moments come back aware, in UTC, as written; texts unsealed; JSON and enums as they were.
    assert message.created_at == stored.created_at
    assert message.created_at.utcoffset() == timedelta(0)
    assert entry.at == (await JournalEntry.get(id=entry.id)).at
    assert entry.at.utcoffset() == timedelta(0)
    assert (message.body, action.description) == ("Bonjour ✨", "Voir le CPAS")
    assert view.request.words == "Chez moi ✨" and view.request.themes == ["school"]
    assert action.kind is ActionKind.ORIENTATION and action.status is ActionStatus.PROPOSED
    assert (entry.event, entry.details) == ("share.made", {"partner": partner.id})
    assert view.partner_names == {partner.id: "CPAS de Namur"}
    # The people who wrote: their name and role, nothing else of their account, never saved.
    for author in (message.author, action.author, entry.actor, view.workers[0]):
        assert (author.id, author.display_name, author.role) == (amina.id, "Amina", Role.WORKER)
        with pytest.raises(AttributeError):
            _ = author.email
        with pytest.raises(IncompleteInstanceError):
            await author.save()


async def test_a_session_reads_back_aware_moments_and_its_whole_person(db: str) -> None:
    lou = await factories.youth()
    token, started = await start_session(lou, "Firefox")
    session = await load_session(token)
    assert session is not None and session.id == started.id
    assert session.last_seen_at == started.last_seen_at
    assert session.expires_at.utcoffset() == timedelta(0)
    assert (session.person.id, session.person.role) == (lou.id, Role.YOUTH)
    assert (session.person.login, session.person.created_at) == (lou.login, lou.created_at)
