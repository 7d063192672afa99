"""Rules 1 and 2: a dossier exists only because its subject asked, and only for under-22s."""

from __future__ import annotations

from datetime import date

import pytest

from portal import keys
from portal.domain.errors import Invalid, NotAllowed
from portal.domain.requests import RequestForm, is_under_age_limit, make_request
from portal.models import Asker, Dossier, JournalEntry, Person, Request, Role, Service, Theme

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("year", "month", "eligible"),
    [
        (2010, 5, True),
        (2004, 12, True),  # turns 22 next month
        (2004, 11, True),  # turns 22 this month: benefit of the doubt
        (2004, 10, False),  # turned 22 last month
        (1990, 1, False),
    ],
)
def test_under_22_on_the_day_of_the_request(year: int, month: int, eligible: bool) -> None:
    assert is_under_age_limit(year, month, TODAY) is eligible


async def _service() -> Service:
    return await Service.create(name="AMO test")


def _form(asker: Asker = Asker.YOUTH, **extra: object) -> RequestForm:
    return RequestForm(asker=asker, themes=[Theme.SCHOOL], **extra)  # type: ignore[arg-type]


async def test_a_young_person_asking_becomes_the_subject_of_a_waiting_dossier(db: str) -> None:
    service = await _service()
    youth = await Person.create(role=Role.YOUTH, display_name="Lou", birth_year=2010, birth_month=3)
    dossier = await make_request(youth, service, _form(words="Ça ne va pas."), today=TODAY)
    assert dossier.subject_id == youth.id and dossier.status == "waiting"
    assert len(dossier.reference) == 9
    stored = await Request.get(dossier=dossier)
    assert "Ça ne va pas." not in stored.words  # sealed with the dossier's key
    assert keys.box(dossier).open(stored.words, "request.words") == "Ça ne va pas."
    entries = await JournalEntry.filter(dossier=dossier)
    assert [e.event for e in entries] == ["request.made"]


@pytest.mark.parametrize("role", [Role.WORKER, Role.PARTNER, Role.ADMIN])
async def test_nobody_but_the_subject_can_open_a_dossier(db: str, role: Role) -> None:
    service = await _service()
    staff = await Person.create(role=role, display_name="Staff", birth_year=2010, birth_month=1)
    with pytest.raises(NotAllowed):
        await make_request(staff, service, _form(), today=TODAY)
    assert await Dossier.all().count() == 0


async def test_a_relative_cannot_ask_as_if_they_were_the_young_person(db: str) -> None:
    service = await _service()
    parent = await Person.create(role=Role.RELATIVE, display_name="Sam")
    with pytest.raises(NotAllowed):
        await make_request(parent, service, _form(Asker.YOUTH), today=TODAY)
    assert await Dossier.all().count() == 0


async def test_too_old_gets_a_refusal_and_nothing_is_stored(db: str) -> None:
    service = await _service()
    adult = await Person.create(role=Role.YOUTH, display_name="Max", birth_year=2000, birth_month=1)
    with pytest.raises(Invalid) as refusal:
        await make_request(adult, service, _form(), today=TODAY)
    assert refusal.value.field == "birth"
    assert await Dossier.all().count() == 0
    assert await Request.all().count() == 0
    assert await JournalEntry.all().count() == 0


@pytest.mark.parametrize(
    ("year", "month"), [(None, None), (1899, 5), (2027, 1), (2026, 12), (2010, 13), (2010, 0)]
)
async def test_a_relative_about_an_impossible_birth_is_refused(
    db: str, year: int | None, month: int | None
) -> None:
    service = await _service()
    parent = await Person.create(role=Role.RELATIVE, display_name="Sam")
    form = _form(Asker.RELATIVE, concerned_birth_year=year, concerned_birth_month=month)
    with pytest.raises(Invalid):
        await make_request(parent, service, form, today=TODAY)
    assert await Dossier.all().count() == 0


async def test_words_longer_than_4000_characters_are_refused(db: str) -> None:
    service = await _service()
    youth = await Person.create(role=Role.YOUTH, display_name="Lou", birth_year=2010, birth_month=3)
    with pytest.raises(Invalid):
        await make_request(youth, service, _form(words="a" * 4001), today=TODAY)
    assert await Dossier.all().count() == 0
