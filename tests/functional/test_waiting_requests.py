"""A worker reads a waiting request before taking it (a journaled look, own service only), and
the inbox shows the urgent requests first, then the oldest."""

from __future__ import annotations

import html

import httpx
import pytest
from starlette.applications import Starlette

from portal.domain import dossiers
from portal.domain.journal import Event
from portal.domain.requests import RequestForm, make_request
from portal.models import (
    Asker,
    ContactChannel,
    Dossier,
    DossierStatus,
    JournalEntry,
    Person,
    Request,
    Role,
    Service,
    Theme,
)
from tests import factories
from tests.helpers import csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="session")

WORDS = "Ma mère lit mes SMS, svp pas d’appel."


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _waiting(subject: Person, urgent: bool = False, words: str = WORDS) -> Dossier:
    """A request to the first service, with every safe-contact choice a worker must see."""
    service = await Service.all().order_by("id").first() or await factories.service()
    form = RequestForm(
        asker=Asker.YOUTH,
        themes=[Theme.FAMILY],
        words=words,
        contact_channel=ContactChannel.SMS,
        contact_details="0470 12 34 56",
        contact_hours="après 16 h",
        no_voicemail=True,
        others_read_messages=True,
        urgent=urgent,
    )
    return await make_request(subject, service, form)


async def test_the_inbox_shows_urgent_requests_first_then_the_oldest(
    client: httpx.AsyncClient,
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    made = []
    for number, urgent in enumerate([False, True, False, True]):
        subject = await factories.youth(f"young{number}", f"Jeune {number}")
        made.append(await _waiting(subject, urgent=urgent, words=f"mots {number}"))
    expected = [made[1], made[3], made[0], made[2]]

    items = await dossiers.inbox(amina)
    assert [item.dossier.id for item in items] == [d.id for d in expected]

    await factories.sign_in_staff(client, "amina")
    page = await client.get("/travail")
    assert page.status_code == 200
    places = [page.text.index(d.reference) for d in expected]
    assert places == sorted(places)
    assert page.text.count("Urgent</strong>") == 2


async def test_the_urgent_box_of_the_form_is_stored(client: httpx.AsyncClient) -> None:
    await factories.service()
    values = {
        "asker": "youth",
        "birth_month": "3",
        "birth_year": "2010",
        "themes": ["family"],
        "words": "Je ne peux plus rentrer chez moi.",
        "contact_channel": "portal",
    }
    for step in ("who", "about", "contact"):
        token = await csrf_token(client, "/demande")
        data = {"csrf_token": token, "step": step, "go": "next", **values}
        if step != "who":
            # Ticked on "about"; the later steps carry it as a hidden field, as checked below.
            data["urgent"] = "1"
        answer = await client.post("/demande", data=data, follow_redirects=True)
        assert answer.status_code == 200
        if step == "about":
            assert '<input type="hidden" name="urgent" value="1">' in answer.text
    token = await csrf_token(client, "/demande")
    account = {
        "display_name": "Lou",
        "language": "fr",
        "login": "lou.urgent",
        "password": factories.YOUTH_PASSWORD,
    }
    sent = await client.post(
        "/demande",
        data={
            "csrf_token": token,
            "step": "account",
            "go": "password",
            "urgent": "1",
            **values,
            **account,
        },
    )
    assert sent.status_code == 303
    request = await Request.get()
    assert request.urgent is True


async def test_the_urgent_box_shows_the_emergency_numbers(client: httpx.AsyncClient) -> None:
    await factories.service()
    token = await csrf_token(client, "/demande")
    who = {"asker": "youth", "birth_month": "3", "birth_year": "2010"}
    page = await client.post(
        "/demande",
        data={"csrf_token": token, "step": "who", "go": "next", **who},
        follow_redirects=True,
    )
    assert 'name="urgent"' in page.text
    for number in ("112", "103", "107"):
        assert f'href="tel:{number}"' in page.text


async def test_a_worker_reads_a_waiting_request_and_the_young_person_sees_it(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth("lou", "Lou")
    dossier = await _waiting(lou, urgent=True)

    await factories.sign_in_staff(client, "amina")
    page = await client.get(f"/travail/demandes/{dossier.id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert WORDS in text
    assert "0470 12 34 56" in text and "après 16 h" in text
    assert "Ne pas laisser de message" in text
    assert f'action="/travail/demandes/{dossier.id}/prendre"' in page.text
    # A look, not a take: the request still waits, and the look is in its journal.
    assert (await Dossier.get(id=dossier.id)).status is DossierStatus.WAITING
    looks = await JournalEntry.filter(dossier_id=dossier.id, event=Event.DOSSIER_READ)
    assert len(looks) == 1 and looks[0].actor_id is not None

    async with _client(app) as young:
        await factories.sign_in(young, "lou")
        own = await young.get(f"/espace/{dossier.reference}")
        assert own.status_code == 200
        assert "Amina, de l’AMO, a lu ton dossier." in html.unescape(own.text)


async def test_a_worker_of_another_service_finds_nothing(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    far = await factories.service("AMO du Nord")
    await factories.staff("yann", service_=far, name="Yann")
    lou = await factories.youth("lou", "Lou")
    dossier = await _waiting(lou)
    assert dossier.service_id == service.id

    await factories.sign_in_staff(client, "yann")
    page = await client.get(f"/travail/demandes/{dossier.id}")
    assert page.status_code == 404
    assert WORDS not in html.unescape(page.text)
    assert await JournalEntry.filter(dossier_id=dossier.id, event=Event.DOSSIER_READ).count() == 0
    # The try is in the journal, as any refused read of a dossier.
    refused = await JournalEntry.filter(dossier_id=dossier.id, event=Event.DOSSIER_READ_REFUSED)
    assert len(refused) == 1
    # Nor can he take it.
    assert (await dossiers.inbox(await Person.get(login="yann"))) == []


@pytest.mark.parametrize("role", [Role.PARTNER, Role.ADMIN, Role.OPERATOR])
async def test_partners_admins_and_operators_cannot_read_a_waiting_request(
    client: httpx.AsyncClient, role: Role
) -> None:
    service = await factories.service()
    partner = await factories.partner() if role is Role.PARTNER else None
    await factories.staff(
        "staff",
        role,
        service_=service if role is Role.ADMIN else None,
        partner_=partner,
    )
    lou = await factories.youth("lou", "Lou")
    dossier = await _waiting(lou)

    await factories.sign_in_staff(client, "staff")
    page = await client.get(f"/travail/demandes/{dossier.id}")
    assert page.status_code == 404
    assert WORDS not in html.unescape(page.text)
    assert await JournalEntry.filter(dossier_id=dossier.id, event=Event.DOSSIER_READ).count() == 0


async def test_a_taken_request_is_not_read_here(client: httpx.AsyncClient) -> None:
    """Once taken, the request is read on the dossier's page, by the workers who follow it."""
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    await factories.staff("tom", service_=service, name="Tom")
    lou = await factories.youth("lou", "Lou")
    dossier = await _waiting(lou)
    await dossiers.take(amina, dossier.id)

    await factories.sign_in_staff(client, "tom")
    page = await client.get(f"/travail/demandes/{dossier.id}")
    assert page.status_code == 404
    assert WORDS not in html.unescape(page.text)
    assert await JournalEntry.filter(dossier_id=dossier.id, event=Event.DOSSIER_READ).count() == 0


async def test_the_young_person_cannot_use_the_workers_page(client: httpx.AsyncClient) -> None:
    await factories.service()
    lou = await factories.youth("lou", "Lou")
    dossier = await _waiting(lou)
    await factories.sign_in(client, "lou")
    page = await client.get(f"/travail/demandes/{dossier.id}")
    assert page.status_code == 404
