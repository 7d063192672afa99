"""Taking and giving dossiers: one worker wins a race, and only within their own service."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from portal.domain import dossiers
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.domain.requests import RequestForm, make_request
from portal.models import Asker, Assignment, Dossier, DossierStatus, JournalEntry, Role, Theme
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


def test_working_days_skip_the_weekend() -> None:
    friday = date(2026, 11, 20)
    assert dossiers.add_working_days(friday, 3) == date(2026, 11, 25)
    assert dossiers.working_days_between(friday, date(2026, 11, 23)) == 1
