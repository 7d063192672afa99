"""Working days through the pages, with the pages' clock set (``portal.clock.now``): the admin's
closing days, the inbox's due dates and what is late, the date she is told on her pages."""

from __future__ import annotations

import html
from datetime import date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from starlette.applications import Starlette

from portal import clock
from portal.domain.messages import send_message
from portal.domain.requests import RequestForm, make_request
from portal.i18n import LANGUAGE_COOKIE
from portal.models import (
    Asker,
    ClosingPeriod,
    Dossier,
    Message,
    Person,
    Request,
    Role,
    Service,
    Theme,
)
from tests import factories
from tests.helpers import count_queries, csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="session")

BXL = ZoneInfo("Europe/Brussels")
# The mark of what is late (the page's hint also says the words).
LATE = '<strong class="late">en retard</strong>'


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=BXL).astimezone(ZoneInfo("UTC"))


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


def _set_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: moment)


async def _asked(
    subject: Person, service: Service, when: datetime, urgent: bool = False
) -> Dossier:
    dossier = await make_request(
        subject,
        service,
        RequestForm(asker=Asker.YOUTH, themes=[Theme.SCHOOL], words="Bonjour", urgent=urgent),
    )
    await Request.filter(dossier_id=dossier.id).update(created_at=when)
    await Dossier.filter(id=dossier.id).update(created_at=when)
    return dossier


async def _admin_world() -> tuple[Service, Service]:
    service = await factories.service()
    far = await factories.service("AMO du Nord")
    await factories.staff("admin", Role.ADMIN, service_=service)
    await factories.staff("ines", Role.ADMIN, service_=far)
    await factories.staff("amina", service_=service)
    await factories.operator()
    return service, far


async def _post(client: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    token = await csrf_token(client, "/admin/fermetures")
    return await client.post(path, data={"csrf_token": token, **data})


async def test_an_admin_adds_lists_and_removes_closing_days(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set_clock(monkeypatch, at(2027, 3, 1))
    service, _far = await _admin_world()
    await factories.sign_in_staff(client, "admin")

    page = html.unescape((await client.get("/admin/fermetures")).text)
    assert "Aucune fermeture prévue." in page
    # The coming public holidays, named in her language.
    assert "Lundi de Pâques" in page and "lundi 29 mars" in page

    added = await _post(
        client,
        "/admin/fermetures/ajouter",
        first_day="2027-07-19",
        last_day="2027-07-23",
        label="Fermeture d’été",
    )
    assert added.status_code == 303
    page = html.unescape((await client.get(added.headers["location"])).text)
    assert "La fermeture est ajoutée." in page
    assert "du lundi 19 juillet au vendredi 23 juillet" in page and "Fermeture d’été" in page
    closing = await ClosingPeriod.get(service_id=service.id)
    assert (closing.first_day, closing.last_day) == (date(2027, 7, 19), date(2027, 7, 23))

    refusals = [
        ({"first_day": "2027-07-23", "last_day": "2027-07-19"}, "vient le même jour"),
        ({"first_day": "2027-02-01", "last_day": "2027-02-02"}, "dans le passé"),
        ({"first_day": "2027-07-01", "last_day": "2027-09-30"}, "60 jours au plus"),
        ({"first_day": "19/07/2027", "last_day": "2027-07-23"}, "2027-07-19"),
        ({"first_day": "2027-02-31", "last_day": "2027-03-02"}, "n’existe pas"),
        ({"first_day": "2027-08-02", "last_day": "2027-08-02", "label": "x" * 300}, "80"),
        ({"first_day": "<script>", "last_day": ""}, "2027-07-19"),
    ]
    for data, words in refusals:
        refused = await _post(client, "/admin/fermetures/ajouter", **data)
        assert refused.status_code == 422, data
        text = html.unescape(refused.text)
        assert words in text, data
        # What she typed is kept.
        assert f'value="{data["first_day"]}"' in refused.text.replace("&lt;", "<").replace(
            "&gt;", ">"
        )
    assert await ClosingPeriod.all().count() == 1

    removed = await _post(client, f"/admin/fermetures/{closing.id}/retirer")
    assert removed.status_code == 303
    assert "La fermeture est retirée." in html.unescape(
        (await client.get(removed.headers["location"])).text
    )
    kept = await ClosingPeriod.get(id=closing.id)
    assert kept.removed_at is not None and kept.removed_by_id is not None
    for forged in ("999999", "abc", "-1"):
        assert (await _post(client, f"/admin/fermetures/{forged}/retirer")).status_code == 404


async def test_a_started_closing_stays(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, _far = await _admin_world()
    closing = await ClosingPeriod.create(
        service_id=service.id,
        first_day=date(2027, 7, 19),
        last_day=date(2027, 7, 23),
        created_at=at(2027, 3, 1),
    )
    _set_clock(monkeypatch, at(2027, 7, 20))
    await factories.sign_in_staff(client, "admin")
    page = html.unescape((await client.get("/admin/fermetures")).text)
    assert "commencée : elle reste" in page
    refused = await _post(client, f"/admin/fermetures/{closing.id}/retirer")
    assert refused.status_code == 422
    assert "déjà commencée" in html.unescape(refused.text)
    assert (await ClosingPeriod.get(id=closing.id)).removed_at is None


@pytest.mark.parametrize("login", ["ines", "amina", "operateur"])
async def test_nobody_else_sees_or_removes_a_services_closing_days(
    app: Starlette, db: str, monkeypatch: pytest.MonkeyPatch, login: str
) -> None:
    _set_clock(monkeypatch, at(2027, 3, 1))
    service, _far = await _admin_world()
    closing = await ClosingPeriod.create(
        service_id=service.id,
        first_day=date(2027, 7, 19),
        last_day=date(2027, 7, 23),
        label="Semaine secrète",
        created_at=at(2027, 3, 1),
    )
    async with _client(app) as intruder:
        await factories.sign_in_staff(intruder, login)
        page = await intruder.get("/admin/fermetures")
        if login == "ines":
            # Another service's admin has her own page, without the first service's closing.
            assert page.status_code == 200 and "Semaine secrète" not in page.text
        else:
            assert page.status_code == 404
        token = await csrf_token(intruder, "/")
        removed = await intruder.post(
            f"/admin/fermetures/{closing.id}/retirer", data={"csrf_token": token}
        )
        assert removed.status_code == 404
        added = await intruder.post(
            "/admin/fermetures/ajouter",
            data={"csrf_token": token, "first_day": "2027-08-02", "last_day": "2027-08-06"},
        )
        assert added.status_code == (303 if login == "ines" else 404)
    assert (await ClosingPeriod.get(id=closing.id)).removed_at is None
    assert await ClosingPeriod.filter(service_id=service.id).count() == 1


async def test_the_inbox_shows_due_dates_and_puts_late_ones_after_urgent_ones(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service, name="Amina")
    subjects = [await factories.youth(f"young{n}", f"Jeune {n}") for n in range(8)]
    # Friday evening before Easter Monday: due Thursday 1 April, late on Friday 2 April.
    late = await _asked(subjects[0], service, at(2027, 3, 26, 20))
    # Wednesday 31 March: due Monday 5 April.
    fine = await _asked(subjects[1], service, at(2027, 3, 25, 9))
    await Request.filter(dossier_id=fine.id).update(created_at=at(2027, 3, 31, 9))
    urgent = await _asked(subjects[2], service, at(2027, 4, 1, 9), urgent=True)
    _set_clock(monkeypatch, at(2027, 4, 2, 9))
    await factories.sign_in_staff(client, "amina")

    with count_queries() as few:
        page = html.unescape((await client.get("/travail")).text)
    places = [page.index(d.reference) for d in (urgent, late, fine)]
    assert places == sorted(places), "urgent first, then late, then the others"
    late_card = page[places[1] : places[2]]
    assert "À répondre au plus tard le jeudi 1 avril" in late_card and LATE in late_card
    fine_card = page[places[2] :].split("</li>")[0]
    assert "lundi 5 avril" in fine_card and LATE not in fine_card

    # Still on time the day before: nothing is late.
    _set_clock(monkeypatch, at(2027, 4, 1, 23))
    assert LATE not in html.unescape((await client.get("/travail")).text)

    for n in range(3, 8):
        await _asked(subjects[n], service, at(2027, 3, 26, 20))
    with count_queries() as many:
        await client.get("/travail")
    assert many.count == few.count, "one query per waiting request"


async def test_a_closing_week_moves_the_due_date_in_the_inbox(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service, name="Amina")
    asked = await _asked(await factories.youth(), service, at(2027, 7, 16, 18))
    _set_clock(monkeypatch, at(2027, 7, 23, 9))
    await factories.sign_in_staff(client, "amina")
    page = html.unescape((await client.get("/travail")).text)
    assert "jeudi 22 juillet" in page and LATE in page
    await ClosingPeriod.create(
        service_id=service.id,
        first_day=date(2027, 7, 19),
        last_day=date(2027, 7, 23),
        created_at=at(2027, 1, 1),
    )
    page = html.unescape((await client.get("/travail")).text)
    assert asked.reference in page
    assert "mercredi 28 juillet" in page and LATE not in page


async def test_her_unanswered_message_is_late_in_her_workers_list(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    quiet = await factories.followed_dossier(amina, await factories.youth("noa", "Noa"), service)
    lou = await factories.youth()
    waiting = await factories.followed_dossier(amina, lou, service)
    await send_message(lou, waiting.reference, "Tu es là ?")
    await Message.filter(dossier_id=waiting.id).update(created_at=at(2027, 3, 26, 20))
    await Dossier.filter(id=waiting.id).update(last_activity_at=at(2027, 3, 26, 20))
    await Dossier.filter(id=quiet.id).update(last_activity_at=at(2027, 4, 1, 9))
    _set_clock(monkeypatch, at(2027, 4, 1, 9))
    await factories.sign_in_staff(client, "amina")
    page = html.unescape((await client.get("/travail")).text)
    mine = page[page.index("Mes dossiers") :]
    row = mine[mine.index(waiting.reference) :].split("</li>")[0]
    # Two working days after Friday evening, Easter Monday aside: Wednesday 31 March.
    assert "un message à répondre au plus tard le mercredi 31 mars" in row
    assert LATE in row
    # Late first, though the other dossier moved more lately.
    assert mine.index(waiting.reference) < mine.index(quiet.reference)

    await send_message(amina, waiting.reference, "Oui, je suis là.")
    await Message.filter(dossier_id=waiting.id, author_id=amina.id).update(
        created_at=at(2027, 3, 31, 10)
    )
    page = html.unescape((await client.get("/travail")).text)
    assert "un message à répondre" not in page and LATE not in page


async def test_she_reads_the_date_by_which_someone_answers(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await factories.service()
    lou = await factories.youth()
    dossier = await _asked(lou, service, at(2027, 3, 26, 20))
    _set_clock(monkeypatch, at(2027, 3, 26, 20))
    await factories.sign_in(client, "lou")
    sent = html.unescape((await client.get(f"/espace/{dossier.reference}/envoye")).text)
    assert "Au plus tard le jeudi 1 avril." in sent
    assert "sauf le week-end, les jours fériés et les jours où l’AMO est fermée" in sent
    waiting = html.unescape((await client.get(f"/espace/{dossier.reference}")).text)
    assert "Au plus tard le jeudi 1 avril." in waiting
    assert "fermée en ce moment" not in waiting

    # Her page in the summer closing: the service says so, and when it opens again.
    await ClosingPeriod.create(
        service_id=service.id,
        first_day=date(2027, 7, 19),
        last_day=date(2027, 7, 23),
        created_at=at(2027, 1, 1),
    )
    await Request.filter(dossier_id=dossier.id).update(created_at=at(2027, 7, 20, 10))
    _set_clock(monkeypatch, at(2027, 7, 21, 10))
    waiting = html.unescape((await client.get(f"/espace/{dossier.reference}")).text)
    assert "L’AMO est fermée en ce moment. Elle rouvre le lundi 26 juillet." in waiting
    assert "Au plus tard le mercredi 28 juillet." in waiting
    _set_clock(monkeypatch, at(2027, 7, 29, 10))
    waiting = html.unescape((await client.get(f"/espace/{dossier.reference}")).text)
    assert "Nous avons du retard pour te répondre." in waiting
    _set_clock(monkeypatch, at(2027, 7, 21, 10))
    for language, words in (
        ("nl", "Uiterlijk op woensdag 28 juli."),
        ("en", "At the latest on Wednesday 28 July."),
    ):
        client.cookies.set(LANGUAGE_COOKIE, language)
        assert words in (await client.get(f"/espace/{dossier.reference}/envoye")).text
