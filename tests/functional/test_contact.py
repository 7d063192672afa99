"""How to reach the young person safely: changed from her space, read first by her worker."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette

from portal.domain.accounts import LimitedSession
from portal.domain.dossiers import take
from portal.domain.requests import (
    ContactChoices,
    RequestForm,
    change_contact,
    make_request,
)
from portal.models import (
    Asker,
    ContactChannel,
    Dossier,
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

OLD_NUMBER = "0470 12 34 56"


@dataclass
class World:
    app: Starlette
    lou: Person
    dossier: Dossier
    service: Service

    @property
    def page(self) -> str:
        return f"/espace/{self.dossier.reference}/joindre"

    async def client(self, login: str, *, staff: bool = False) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="https://testserver"
        )
        signed = factories.sign_in_staff if staff else factories.sign_in
        assert (await signed(client, login)).status_code == 303
        return client


async def make_world(app: Starlette) -> World:
    """Lou asked to be reached by text message at her number; Amina follows her."""
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth("lou", "Lou")
    form = RequestForm(
        asker=Asker.YOUTH,
        themes=[Theme.FAMILY],
        words="Ça ne va pas à la maison",
        contact_channel=ContactChannel.SMS,
        contact_details=OLD_NUMBER,
    )
    dossier = await make_request(lou, service, form)
    await take(amina, dossier.id)
    return World(app, lou, dossier, service)


async def contact_state(dossier: Dossier) -> tuple[object, ...]:
    """What a refusal must leave as it was: the request's choices and the journal's steps (a
    refused look is journaled, by design)."""
    request = await Request.get(dossier_id=dossier.id)
    looks = ["dossier.read", "dossier.read_refused"]
    entries = await JournalEntry.filter(dossier_id=dossier.id).exclude(event__in=looks)
    return (
        request.contact_channel,
        request.contact_details,  # sealed anew at each change
        request.contact_hours,
        request.no_voicemail,
        request.others_read_messages,
        len(entries),
    )


def top_of(html: str) -> str:
    """The worker's page from its heading to the request section: what she reads first."""
    main = html.split('<main id="main"', 1)[1]
    return main.split('aria-labelledby="request-title"', 1)[0]


async def test_the_worker_sees_the_new_choices_and_not_the_old_ones(
    app: Starlette, db: str
) -> None:
    w = await make_world(app)
    amina = await w.client("amina", staff=True)
    before = top_of((await amina.get(f"/travail/dossiers/{w.dossier.reference}")).text)
    assert OLD_NUMBER in before and "Par SMS" in before and "Ne pas appeler" in before

    lou = await w.client("lou")
    form = await lou.get(w.page)
    assert form.status_code == 200
    # Her choices as they are now, ready to change.
    assert f'value="{OLD_NUMBER}"' in form.text
    assert re.search(r'value="sms" checked', form.text)
    token = await csrf_token(lou, w.page)
    answer = await lou.post(
        w.page,
        data={
            "csrf_token": token,
            "contact_channel": "portal",
            "contact_details": OLD_NUMBER,
            "contact_hours": "",
            "no_voicemail": "1",
            "others_read_messages": "1",
        },
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/espace/{w.dossier.reference}?joindre=ok#contact"
    mine = await lou.get(answer.headers["location"])
    assert "C’est changé" in mine.text
    assert "Seulement ici, sur ce site" in mine.text
    assert "Tu as changé la façon de te joindre." in mine.text

    page = await amina.get(f"/travail/dossiers/{w.dossier.reference}")
    top = top_of(page.text)
    assert "Seulement ici, sur ce site" in top
    assert "Ne pas appeler" in top
    assert "Ne pas laisser de message" in top
    assert "Quelqu’un d’autre lit ses messages" in top
    # The old way is gone from the whole page, not only from the top.
    assert OLD_NUMBER not in page.text
    assert "Par SMS" not in page.text
    assert "Lou a changé comment on peut le ou la joindre." in page.text
    # The journal says that it changed, never the number.
    entry = await JournalEntry.get(dossier_id=w.dossier.id, event="contact.changed")
    assert entry.actor_id == w.lou.id and entry.details == {}
    for client in (amina, lou):
        await client.aclose()


async def test_the_top_of_the_worker_page_says_how_to_reach_first(app: Starlette, db: str) -> None:
    w = await make_world(app)
    amina = await w.client("amina", staff=True)
    html = (await amina.get(f"/travail/dossiers/{w.dossier.reference}")).text
    main = html.split('<main id="main"', 1)[1]
    sections = re.findall(r"<(?:section|p)\b[^>]*>", main)
    # Right after the heading: how to reach, before the notice and anything else.
    assert 'id="contact"' in sections[1], sections[:3]
    await amina.aclose()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"contact_details": "pas un numéro"}, "contact_details", "Écris un numéro de téléphone"),
        ({"contact_details": "0470" + " 1" * 120}, "contact_details", "200 caractères"),
        ({"contact_hours": "x" * 201}, "contact_hours", "200 caractères"),
        ({"contact_channel": "pigeon"}, "contact_channel", "Choisis comment"),
        (
            {"contact_channel": "email", "contact_details": "lou.at.example"},
            "contact_details",
            "e-mail",
        ),
    ],
)
async def test_bad_choices_are_refused_keep_what_was_typed_and_change_nothing(
    app: Starlette, db: str, changes: dict[str, str], field: str, message: str
) -> None:
    w = await make_world(app)
    before = await contact_state(w.dossier)
    lou = await w.client("lou")
    data = {
        "csrf_token": await csrf_token(lou, w.page),
        "contact_channel": "sms",
        "contact_details": "0499 00 00 00",
        "contact_hours": "après 16 h",
        "no_voicemail": "1",
        **changes,
    }
    answer = await lou.post(w.page, data=data)
    assert answer.status_code == 422
    assert message in answer.text
    assert f'href="#f-{field}"' in answer.text  # the error summary points at the field
    if field != "contact_channel":
        assert f'value="{data[field]}"' in answer.text
    if field != "contact_hours":
        assert 'value="après 16 h"' in answer.text
    assert re.search(r'name="no_voicemail" value="1" checked', answer.text)
    assert await contact_state(w.dossier) == before
    # Without the CSRF token: refused before anything reads the form.
    data.pop("csrf_token")
    data.update(contact_channel="portal", contact_details="", contact_hours="")
    assert (await lou.post(w.page, data=data)).status_code == 403
    assert await contact_state(w.dossier) == before
    await lou.aclose()


@pytest.mark.parametrize("who", ["noa", "sam", "amina", "tom", "yann", "cpas", "admin"])
async def test_nobody_else_sees_or_changes_how_to_reach_her(
    app: Starlette, db: str, who: str
) -> None:
    """Another young person, a parent, her own worker, a colleague, another service's worker,
    a partner and an admin: 404 on the page and on the form, and nothing changes."""
    w = await make_world(app)
    far = await factories.service("AMO du Nord")
    await factories.youth("noa", "Noa")
    await factories.youth("sam", "Sam", Role.RELATIVE)
    await factories.staff("tom", service_=w.service)
    await factories.staff("yann", service_=far)
    await factories.staff("admin", Role.ADMIN, service_=w.service)
    await factories.staff("cpas", Role.PARTNER, partner_=await factories.partner("CPAS"))
    before = await contact_state(w.dossier)
    client = await w.client(who, staff=who not in {"noa", "sam"})
    assert (await client.get(w.page)).status_code == 404
    token = await csrf_token(client, "/compte")
    data = {"csrf_token": token, "contact_channel": "phone", "contact_details": "0499 99 99 99"}
    assert (await client.post(w.page, data=data)).status_code == 404
    assert await contact_state(w.dossier) == before
    await client.aclose()


async def test_a_parent_changes_how_to_reach_them_in_their_own_dossier(
    app: Starlette, db: str
) -> None:
    service = await factories.service()
    sam = await factories.youth("sam", "Sam", Role.RELATIVE)
    form = RequestForm(
        asker=Asker.RELATIVE,
        themes=[Theme.FAMILY],
        concerned_birth_year=2012,
        concerned_birth_month=5,
        contact_channel=ContactChannel.PHONE,
        contact_details="081 00 00 00",
    )
    dossier = await make_request(sam, service, form)
    w = World(app, sam, dossier, service)
    client = await w.client("sam")
    token = await csrf_token(client, w.page)
    data = {
        "csrf_token": token,
        "contact_channel": "email",
        "contact_details": "sam@example.be",
        "contact_hours": "le soir",
    }
    assert (await client.post(w.page, data=data)).status_code == 303
    request = await Request.get(dossier_id=dossier.id)
    assert request.contact_channel is ContactChannel.EMAIL
    # Sealed with the dossier's key, like the request form's.
    assert "sam@example.be" not in request.contact_details
    assert "sam@example.be" in (await client.get(f"/espace/{dossier.reference}")).text
    await client.aclose()


async def test_a_recovery_link_session_cannot_redirect_the_workers_calls(
    app: Starlette, db: str
) -> None:
    """Whoever holds a link opened for one dossier must not change where the worker calls."""
    w = await make_world(app)
    before = await contact_state(w.dossier)
    limited = await Person.get(id=w.lou.id)
    limited.scope_dossier_id = w.dossier.id
    choices = ContactChoices(ContactChannel.PHONE, "0499 99 99 99", "", False, False)
    with pytest.raises(LimitedSession):
        await change_contact(limited, w.dossier.reference, choices)
    assert await contact_state(w.dossier) == before
