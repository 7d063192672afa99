"""The core loop through the app: ask, take, read, write, propose, agree, do — as each role."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from portal import keys
from portal.domain import journal
from portal.models import (
    Action,
    ActionStatus,
    Dossier,
    DossierStatus,
    JournalEntry,
    Message,
    Person,
    Request,
    Role,
)
from tests import factories
from tests.helpers import count_queries, csrf_token

STEP_ONE = {"asker": "youth", "birth_month": "3", "birth_year": "2010"}
ABOUT = {"themes": ["school", "family"], "words": "Ça ne va plus à l’école."}
CONTACT = {"contact_channel": "portal", "contact_details": "", "contact_hours": ""}


async def _post_step(
    client: httpx.AsyncClient, step: str, values: dict[str, Any], go: str = "next"
) -> httpx.Response:
    """One step sent as a browser without JavaScript sends it: a step done is a redirect to
    /demande itself (followed here), the last step a redirect to the page that says "sent"."""
    token = await csrf_token(client)
    data = {"csrf_token": token, "step": step, "go": go, **values}
    follow = step != "account"
    return await client.post("/demande", data=data, follow_redirects=follow)


async def _ask(client: httpx.AsyncClient, **extra: Any) -> httpx.Response:
    """Walk every step without JavaScript, then send with a new password account."""
    values: dict[str, Any] = {**STEP_ONE, **ABOUT, **CONTACT}
    values.update(extra)
    assert (await _post_step(client, "who", values)).status_code == 200
    assert (await _post_step(client, "about", values)).status_code == 200
    assert (await _post_step(client, "contact", values)).status_code == 200
    account = {
        "display_name": "Lou",
        "language": "fr",
        "login": "lou",
        "password": factories.YOUTH_PASSWORD,
    }
    return await _post_step(client, "account", {**values, **account}, go="password")


async def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def test_a_young_person_asks_and_gets_a_waiting_dossier(client: httpx.AsyncClient) -> None:
    await factories.service()
    response = await _ask(client)
    assert response.status_code == 303
    reference = re.search(r"/espace/([A-Z0-9-]+)/envoye", response.headers["location"])
    assert reference
    dossier = await Dossier.get(reference=reference.group(1)).prefetch_related("subject")
    assert dossier.status is DossierStatus.WAITING
    assert dossier.subject.login == "lou" and dossier.subject.birth_year == 2010
    request = await Request.get(dossier=dossier)
    assert request.themes == ["school", "family"]
    assert keys.box(dossier).open(request.words, "request.words") == ABOUT["words"]
    sent = await client.get(response.headers["location"])
    assert sent.status_code == 200
    assert "dans les 3 jours, sauf le week-end" in sent.text
    # The account made on the way has its recovery codes, shown here once.
    assert len(factories.codes_in(sent.text)) == 10
    again = await client.get(response.headers["location"])
    assert factories.codes_in(again.text) == []


async def test_a_step_refused_keeps_everything_typed(client: httpx.AsyncClient) -> None:
    await factories.service()
    values = {**STEP_ONE, **ABOUT, "contact_channel": "phone", "contact_details": "abc"}
    response = await _post_step(client, "contact", values)
    assert response.status_code == 422
    assert 'value="abc"' in response.text
    assert 'name="words" value="Ça ne va plus à l’école."' in response.text
    back = await _post_step(client, "contact", values, go="back")
    assert "Ça ne va plus à l’école.</textarea>" in back.text
    assert await Dossier.all().count() == 0


@pytest.mark.parametrize(
    "who",
    [
        {"asker": "youth", "birth_month": "1", "birth_year": "2000"},
        {"asker": "relative", "birth_month": "1", "birth_year": "1990"},
    ],
)
async def test_not_eligible_gets_a_kind_answer_and_nothing_is_stored(
    client: httpx.AsyncClient, who: dict[str, str]
) -> None:
    await factories.service()
    response = await _post_step(client, "who", who)
    assert response.status_code == 200
    assert "22" in response.text and "107" in response.text
    assert await Person.all().count() == 0 and await Dossier.all().count() == 0


async def test_a_forged_birth_at_the_last_step_is_caught(client: httpx.AsyncClient) -> None:
    await factories.service()
    values = {
        **STEP_ONE,
        **ABOUT,
        **CONTACT,
        "birth_year": "1980",
        "display_name": "Lou",
        "language": "fr",
        "login": "lou",
        "password": factories.YOUTH_PASSWORD,
    }
    response = await _post_step(client, "account", values, go="password")
    assert "22" in response.text
    assert await Person.all().count() == 0 and await Dossier.all().count() == 0


@pytest.mark.parametrize("role", [Role.WORKER, Role.ADMIN, Role.PARTNER])
async def test_staff_cannot_open_a_dossier_for_someone(
    client: httpx.AsyncClient, role: Role
) -> None:
    service = await factories.service()
    partner = await factories.partner() if role is Role.PARTNER else None
    await factories.staff(
        "staff", role, service_=service if role is not Role.PARTNER else None, partner_=partner
    )
    await factories.sign_in_staff(client, "staff")
    assert (await client.get("/demande")).status_code == 403
    values = {**STEP_ONE, **ABOUT, **CONTACT}
    response = await _post_step(client, "account", values, go="send")
    assert response.status_code == 403
    assert await Dossier.all().count() == 0


async def _waiting_dossier(
    name: str = "Lou", login: str = "lou", role: Role = Role.YOUTH
) -> tuple[Dossier, Person]:
    from portal.domain.requests import RequestForm, make_request
    from portal.models import Asker, Service, Theme

    service = await Service.first()
    assert service is not None
    person = await factories.youth(login, name, role)
    form = RequestForm(
        asker=Asker.YOUTH if role is Role.YOUTH else Asker.RELATIVE,
        themes=[Theme.SCHOOL],
        words="Mes mots à moi",
        concerned_birth_year=None if role is Role.YOUTH else 2012,
        concerned_birth_month=None if role is Role.YOUTH else 5,
    )
    return await make_request(person, service, form), person


async def test_the_whole_loop(client: httpx.AsyncClient, app: Starlette) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service, name="Amina")
    dossier, _lou = await _waiting_dossier()

    # The worker's inbox shows the request without its words; taking it opens the dossier.
    await factories.sign_in_staff(client, "amina")
    inbox = await client.get("/travail")
    assert dossier.reference in inbox.text and "Mes mots à moi" not in inbox.text
    token = await csrf_token(client, "/travail")
    taken = await client.post(f"/travail/demandes/{dossier.id}/prendre", data={"csrf_token": token})
    assert taken.headers["location"] == f"/travail/dossiers/{dossier.reference}"
    page = await client.get(taken.headers["location"])
    assert "Mes mots à moi" in page.text
    assert "no hidden notes" in page.text or "pas de notes cachées" in page.text

    # A message, then a step with the school, proposed.
    await client.post(
        f"/travail/dossiers/{dossier.reference}/messages",
        data={"csrf_token": token, "body": "Bonjour Lou, je suis Amina."},
    )
    await client.post(
        f"/travail/dossiers/{dossier.reference}/demarches",
        data={
            "csrf_token": token,
            "mode": "propose",
            "kind": "partner_contact",
            "description": "Contacter l’école",
            "third_party": "L’école",
        },
    )
    action = await Action.get(dossier=dossier)
    assert action.status is ActionStatus.PROPOSED

    # It cannot be done before the young person agreed.
    early = await client.post(
        f"/travail/dossiers/{dossier.reference}/demarches/{action.id}/fait",
        data={"csrf_token": token},
    )
    assert early.status_code == 409
    assert (await Action.get(id=action.id)).status is ActionStatus.PROPOSED

    # The young person reads, sees the reads, agrees.
    async with await _client(app) as lou:
        await factories.sign_in(lou, "lou")
        mine = await lou.get(f"/espace/{dossier.reference}")
        assert "Bonjour Lou, je suis Amina." in mine.text
        assert "Contacter l’école" in mine.text
        assert "Amina, de l’AMO, a lu ton dossier" in mine.text
        confirm = await lou.get(f"/espace/{dossier.reference}/demarches/{action.id}/oui")
        assert confirm.status_code == 200
        token_lou = await csrf_token(lou, f"/espace/{dossier.reference}")
        agreed = await lou.post(
            f"/espace/{dossier.reference}/demarches/{action.id}/oui",
            data={"csrf_token": token_lou, "reason": ""},
        )
        assert agreed.status_code == 303
        # A double tap changes nothing.
        again = await lou.post(
            f"/espace/{dossier.reference}/demarches/{action.id}/non",
            data={"csrf_token": token_lou, "reason": ""},
        )
        assert again.status_code == 303
    assert (await Action.get(id=action.id)).status is ActionStatus.AGREED

    done = await client.post(
        f"/travail/dossiers/{dossier.reference}/demarches/{action.id}/fait",
        data={"csrf_token": token},
    )
    assert done.status_code == 303
    assert (await Action.get(id=action.id)).status is ActionStatus.DONE
    events = (
        await JournalEntry.filter(dossier=dossier).order_by("seq").values_list("event", flat=True)
    )
    assert events[:3] == ["request.made", "dossier.taken", "dossier.read"]
    assert "action.agreed" in events and events[-1] == "action.done"


async def test_each_worker_page_view_writes_one_journal_entry(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    dossier, _ = await _waiting_dossier()
    from portal.domain.dossiers import take

    await take(amina, dossier.id)
    await factories.sign_in_staff(client, "amina")
    before = await JournalEntry.filter(dossier=dossier, event="dossier.read").count()
    await client.get(f"/travail/dossiers/{dossier.reference}")
    await client.get(f"/travail/dossiers/{dossier.reference}?page=2")
    after = await JournalEntry.filter(dossier=dossier, event="dossier.read").count()
    assert after - before == 2


async def _fill_journal(dossier: Dossier, count: int) -> None:
    from tortoise.transactions import in_transaction

    async with in_transaction():
        for _ in range(count):
            await journal.record(dossier, "dossier.read", None)


@pytest.mark.parametrize("who", ["subject", "worker"])
async def test_the_dossier_page_makes_the_same_queries_with_10_or_1000_entries(
    client: httpx.AsyncClient, who: str
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    dossier, _ = await _waiting_dossier()
    from portal.domain.dossiers import take

    await take(amina, dossier.id)
    if who == "subject":
        await factories.sign_in(client, "lou")
        path = f"/espace/{dossier.reference}"
    else:
        await factories.sign_in_staff(client, "amina")
        path = f"/travail/dossiers/{dossier.reference}"
    await _fill_journal(dossier, 10)
    await client.get(path)
    # Something new on both measured views: the subject's then marks it seen, in both.
    await _fill_journal(dossier, 1)
    with count_queries() as small:
        assert (await client.get(path)).status_code == 200
    await _fill_journal(dossier, 1000)
    with count_queries() as large:
        assert (await client.get(path)).status_code == 200
    assert small.count == large.count, (small.queries, large.queries)
    # The worker's page reads one more: the agreements active now, beside the share button.
    # Both read their forms' drafts (one query, what was typed before a reload): the worker's
    # page went from 17 to 18; the subject's (11) stays under its ceiling. Both list the
    # dossier's documents (one query, whatever their number) and read the meetings to come
    # (one query): the worker's page went to 20.
    assert small.count <= (16 if who == "subject" else 20), small.count


async def test_a_worker_not_assigned_finds_nothing_and_the_try_is_journaled(
    client: httpx.AsyncClient,
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    await factories.staff("tom", service_=service)
    dossier, _ = await _waiting_dossier()
    from portal.domain.dossiers import take

    await take(amina, dossier.id)
    await factories.sign_in_staff(client, "tom")
    response = await client.get(f"/travail/dossiers/{dossier.reference}")
    assert response.status_code == 404
    assert "Mes mots" not in response.text
    assert await JournalEntry.filter(dossier=dossier, event="dossier.read_refused").count() == 1
    token = await csrf_token(client, "/travail")
    refused = await client.post(
        f"/travail/dossiers/{dossier.reference}/messages",
        data={"csrf_token": token, "body": "intrusion"},
    )
    assert refused.status_code == 404
    assert await Message.all().count() == 0


async def test_another_services_worker_sees_nothing_of_it(client: httpx.AsyncClient) -> None:
    await factories.service("AMO Un")
    other = await factories.service("AMO Deux")
    await factories.staff("zoe", service_=other)
    dossier, _ = await _waiting_dossier()
    await factories.sign_in_staff(client, "zoe")
    inbox = await client.get("/travail")
    assert dossier.reference not in inbox.text
    token = await csrf_token(client, "/travail")
    take = await client.post(f"/travail/demandes/{dossier.id}/prendre", data={"csrf_token": token})
    assert take.status_code == 404
    found = await client.post(
        "/travail/chercher", data={"csrf_token": token, "reference": dossier.reference}
    )
    assert found.status_code == 422
    assert (await Dossier.get(id=dossier.id)).status is DossierStatus.WAITING


async def test_a_parent_and_a_young_person_never_read_each_others_dossier(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await factories.service()
    youth_dossier, _ = await _waiting_dossier("Lou", "lou")
    parent_dossier, _ = await _waiting_dossier("Sam", "sam", Role.RELATIVE)
    await factories.sign_in(client, "sam")
    assert (await client.get(f"/espace/{youth_dossier.reference}")).status_code == 404
    assert (await client.get(f"/espace/{parent_dossier.reference}")).status_code == 200
    async with await _client(app) as lou:
        await factories.sign_in(lou, "lou")
        assert (await lou.get(f"/espace/{parent_dossier.reference}")).status_code == 404
        assert (await lou.get(f"/espace/{youth_dossier.reference}")).status_code == 200
        # Lou sees that someone tried, not who.
        page = await lou.get(f"/espace/{youth_dossier.reference}")
        # The page's random CSRF tokens may hold the three letters by chance: not a name.
        shown = re.sub(r'name="csrf_token" value="[^"]*"', "", page.text)
        assert "Sam" not in shown


async def test_an_admin_reads_no_dossier(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    await factories.staff("admin", Role.ADMIN, service_=service)
    dossier, _ = await _waiting_dossier()
    await factories.sign_in_staff(client, "admin")
    assert (await client.get(f"/travail/dossiers/{dossier.reference}")).status_code == 404
    assert (await client.get(f"/espace/{dossier.reference}")).status_code == 404
    assert (await client.get("/travail")).status_code == 404


@pytest.mark.parametrize("body", ["", "   \n  ", "x" * 4001])
async def test_a_refused_message_keeps_the_text_and_stores_nothing(
    client: httpx.AsyncClient, body: str
) -> None:
    await factories.service()
    dossier, _ = await _waiting_dossier()
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, f"/espace/{dossier.reference}")
    response = await client.post(
        f"/espace/{dossier.reference}/messages", data={"csrf_token": token, "body": body}
    )
    assert response.status_code == 422
    assert await Message.all().count() == 0


async def test_a_message_with_html_is_shown_as_text(client: httpx.AsyncClient) -> None:
    await factories.service()
    dossier, _ = await _waiting_dossier()
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, f"/espace/{dossier.reference}")
    await client.post(
        f"/espace/{dossier.reference}/messages",
        data={"csrf_token": token, "body": "<script>alert(1)</script>"},
    )
    page = await client.get(f"/espace/{dossier.reference}")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_a_direct_step_is_recorded_without_asking(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    dossier, _ = await _waiting_dossier()
    from portal.domain.dossiers import take

    await take(amina, dossier.id)
    await factories.sign_in_staff(client, "amina")
    token = await csrf_token(client, "/travail")
    ok = await client.post(
        f"/travail/dossiers/{dossier.reference}/demarches",
        data={
            "csrf_token": token,
            "mode": "record",
            "kind": "listening",
            "description": "Un moment d’écoute",
            "third_party": "",
        },
    )
    assert ok.status_code == 303
    assert (await Action.get(dossier=dossier)).status is ActionStatus.DONE
    # A third-party kind cannot be slipped in as a direct step.
    refused = await client.post(
        f"/travail/dossiers/{dossier.reference}/demarches",
        data={
            "csrf_token": token,
            "mode": "record",
            "kind": "partner_contact",
            "description": "Appeler l’école",
            "third_party": "",
        },
    )
    assert refused.status_code == 422
    assert "Appeler l’école" in refused.text
    forged = await client.post(
        f"/travail/dossiers/{dossier.reference}/demarches",
        data={"csrf_token": token, "mode": "record", "kind": "hack", "description": "x"},
    )
    assert forged.status_code == 422
    assert await Action.all().count() == 1


async def test_with_several_services_the_person_chooses_one_by_commune(
    client: httpx.AsyncClient,
) -> None:
    from portal.models import Service

    namur = await Service.create(name="AMO Namur", communes=["Namur", "Jambes"])
    await Service.create(name="AMO Liège", communes=["Liège"])
    values: dict[str, Any] = {**STEP_ONE, **ABOUT, **CONTACT}
    after_who = await _post_step(client, "who", values)
    assert "AMO Namur" in after_who.text and "AMO Liège" in after_who.text
    found = await _post_step(client, "service", {**values, "commune": "jambes"}, go="filter")
    assert "AMO Namur" in found.text and "AMO Liège" not in found.text
    none = await _post_step(client, "service", {**values, "service": "999"})
    assert none.status_code == 422
    chosen = await _post_step(client, "service", {**values, "service": str(namur.id)})
    assert chosen.status_code == 200 and 'name="themes"' in chosen.text
    assert await Dossier.all().count() == 0


async def test_the_subject_reads_why_they_said_no_where_the_worker_reads_it(
    client: httpx.AsyncClient,
) -> None:
    """No hidden notes: what the young person wrote when declining is in their dossier too."""
    from portal.domain.actions import answer_action, propose_action
    from portal.domain.dossiers import take
    from portal.models import ActionKind

    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    dossier, lou = await _waiting_dossier()
    await take(amina, dossier.id)
    action = await propose_action(
        amina, dossier.reference, ActionKind.PARTNER_CONTACT, "Appeler l’école", "L’école"
    )
    await answer_action(lou, dossier.reference, action.id, False, "Pas avant <b>juin</b>")
    await factories.sign_in(client, "lou")
    mine = await client.get(f"/espace/{dossier.reference}")
    assert "Pas avant &lt;b&gt;juin&lt;/b&gt;" in mine.text
