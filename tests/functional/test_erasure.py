"""Rule 7: an erased dossier leaves its subject's space; an account goes when nothing is open.

What stays is a content-free trace, which the service's anonymous figures still count.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from portal.app import create_app
from portal.domain import account_deletion, ending, figures
from portal.domain.accounts import LimitedSession, login_taken
from portal.domain.dossiers import take
from portal.domain.requests import RequestForm, make_request
from portal.domain.retention import erase_expired
from portal.models import (
    Asker,
    Credential,
    Dossier,
    DossierStatus,
    JournalEntry,
    OneTimeLink,
    Person,
    RecoveryCode,
    Role,
    Session,
    Theme,
)
from portal.security.sessions import SESSION_COOKIE
from portal.settings import Settings
from tests import factories
from tests.figures_data import ask, follow
from tests.helpers import csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="session")

WORDS = "Je dors chez une amie."


async def _lou_with_two_dossiers() -> tuple[Person, Dossier, Dossier]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    gone = await factories.followed_dossier(amina, lou, service, WORDS, Theme.HOUSING)
    kept = await factories.followed_dossier(amina, lou, service, "Autre chose", Theme.SCHOOL)
    return lou, gone, kept


async def test_after_erasing_nothing_of_the_dossier_stays_in_her_space(
    client: httpx.AsyncClient,
) -> None:
    lou, gone, kept = await _lou_with_two_dossiers()
    await ending.end_help(lou, gone.reference)
    await factories.sign_in(client, "lou")
    before = await client.get("/espace")
    assert before.text.count("Ma demande du") == 2
    token = await csrf_token(client, f"/espace/{gone.reference}")
    erased = await client.post(
        f"/espace/{gone.reference}/effacer", data={"csrf_token": token, "confirm": "second"}
    )
    assert erased.headers["location"] == "/espace?fait=1"

    space = await client.get(erased.headers["location"])
    assert "Ton dossier est effacé. Plus personne ne peut le lire." in space.text
    # No card, no date of the request, no reference, no status: only the other dossier.
    assert space.text.count("Ma demande du") == 1
    assert gone.reference not in space.text and kept.reference in space.text
    assert "Terminé" not in space.text
    looks = await JournalEntry.filter(dossier_id=gone.id).count()
    for page in ("", "/effacer", "/export", "/export.json", "/fin", "/revenir", "/partenaires"):
        answer = await client.get(f"/espace/{gone.reference}{page}")
        assert answer.status_code == 404, page
        assert WORDS not in answer.text
    # Her own tries are not refused looks to journal: the journal stays as the erasure left it.
    assert await JournalEntry.filter(dossier_id=gone.id).count() == looks
    assert (await client.get("/espace")).text.count("Ma demande du") == 1


async def test_a_dossier_the_portal_erased_leaves_no_news_and_no_card(
    client: httpx.AsyncClient,
) -> None:
    from datetime import timedelta

    from tortoise import timezone

    lou, gone, kept = await _lou_with_two_dossiers()
    await ending.end_help(lou, gone.reference)
    await factories.sign_in(client, "lou")
    for dossier in (gone, kept):  # everything so far is seen: news are seen where they are
        await client.get(f"/espace/{dossier.reference}")
    later = timezone.now() + timedelta(days=400)
    await erase_expired(later, 30)  # the notice
    await erase_expired(later + timedelta(days=31), 30)  # the erasure
    assert (await Dossier.get(id=gone.id)).erased_at is not None
    page = await client.get("/compte")
    assert page.status_code == 200
    space = await client.get("/espace")
    assert gone.reference not in space.text and space.text.count("Ma demande du") == 1
    # The header's count of what is new does not point at a dossier she cannot see.
    assert 'class="badge"' not in page.text


async def test_the_erase_page_promises_what_the_backups_keep(db: str, settings: Settings) -> None:
    service = await factories.service()
    lou = await factories.youth()
    amina = await factories.staff("amina", service_=service)
    dossier = await factories.followed_dossier(amina, lou, service, WORDS)
    await ending.end_help(lou, dossier.reference)
    for days in (30, 7):
        app = create_app(
            Settings(**{**settings.__dict__, "backup_retention_days": days}),
            manage_database=False,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            await factories.sign_in(c, "lou")
            page = await c.get(f"/espace/{dossier.reference}/effacer")
            assert f"Ni à partir d’une copie de sauvegarde, après {days} jours" in page.text
            assert "ancienne copie" not in page.text
            data = await c.get("/donnees")
            assert f"après {days} jours" in data.text and "ancienne copie" not in data.text


# --- Deleting the whole account ------------------------------------------------------------------


async def _mine(person: Person) -> dict[str, int]:
    return {
        "credentials": await Credential.filter(person_id=person.id).count(),
        "sessions": await Session.filter(person_id=person.id).count(),
        "codes": await RecoveryCode.filter(person_id=person.id).count(),
        "links": await OneTimeLink.filter(person_id=person.id).count(),
    }


async def test_a_young_person_deletes_her_account(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    lou, gone, kept = await _lou_with_two_dossiers()
    await ending.end_help(lou, gone.reference)
    await ending.erase(lou, gone.reference)
    await ending.end_help(lou, kept.reference)
    await factories.sign_in(client, "lou")
    old_cookie = client.cookies.get(SESSION_COOKIE)
    account = await client.get("/compte")
    assert 'href="/compte/supprimer"' in account.text
    page = await client.get("/compte/supprimer")
    assert page.status_code == 200
    assert "Tes dossiers sont effacés" in page.text
    assert "Ton nom de connexion redevient libre" in page.text
    assert f"/espace/{kept.reference}/export" in page.text  # a copy first, if she wants
    token = await csrf_token(client, "/compte/supprimer")

    unticked = await client.post("/compte/supprimer", data={"csrf_token": token})
    assert unticked.status_code == 422
    assert "Coche la case" in unticked.text
    assert (await Person.get(id=lou.id)).is_active

    deleted = await client.post(
        "/compte/supprimer", data={"csrf_token": token, "understood": "yes"}
    )
    assert deleted.status_code == 303
    assert deleted.headers["location"] == "/compte/supprime"
    assert deleted.headers["clear-site-data"] == '"cache", "storage"'
    cleared = deleted.headers.get_list("set-cookie")
    assert any(c.startswith(f"{SESSION_COOKIE}=") and "Max-Age=0" in c for c in cleared)
    said = await client.get("/compte/supprime")
    assert "Ton compte est supprimé. Ta session est fermée." in said.text

    # Everything that let her in is gone; the old cookie opens nothing.
    assert await _mine(lou) == {"credentials": 0, "sessions": 0, "codes": 0, "links": 0}
    stolen = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    )
    async with stolen:
        stolen.cookies.set(SESSION_COOKIE, old_cookie or "", domain="testserver")
        assert (await stolen.get("/espace")).status_code == 303
        assert (await factories.sign_in(stolen, "lou")).status_code != 303
    # What stays has no name, no sign-in name, no address; her name is free again.
    trace = await Person.get(id=lou.id)
    assert (trace.login, trace.display_name, trace.email) == (None, "—", "")
    assert not trace.is_active and trace.user_handle is None
    assert not await login_taken("lou")
    for dossier in (gone, kept):
        after = await Dossier.get(id=dossier.id)
        assert after.erased_at is not None and after.wrapped_key is None


async def test_deleting_is_refused_while_a_request_is_open(client: httpx.AsyncClient) -> None:
    lou, gone, kept = await _lou_with_two_dossiers()
    await ending.end_help(lou, gone.reference)
    await factories.sign_in(client, "lou")
    before = await _mine(lou)
    page = await client.get("/compte/supprimer")
    assert "Tu ne peux pas encore supprimer ton compte" in page.text
    assert f"/espace/{kept.reference}/arreter" in page.text
    assert 'name="understood"' not in page.text
    token = await csrf_token(client, "/compte/supprimer")
    refused = await client.post(
        "/compte/supprimer", data={"csrf_token": token, "understood": "yes"}
    )
    assert refused.status_code == 409
    assert "une demande est encore en cours" in refused.text
    assert await _mine(lou) == before
    assert (await Person.get(id=lou.id)).login == "lou"
    assert (await Dossier.get(id=gone.id)).wrapped_key is not None
    assert (await client.get("/espace")).status_code == 200


async def test_a_parent_deletes_their_account(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    parent = await factories.youth("sam", "Sam", Role.RELATIVE)
    amina = await factories.staff("amina", service_=service)
    form = RequestForm(
        asker=Asker.RELATIVE,
        themes=[Theme.FAMILY],
        words="Mon fils",
        concerned_birth_year=2011,
        concerned_birth_month=4,
    )
    dossier = await make_request(parent, service, form)
    await take(amina, dossier.id)
    await ending.end_help(parent, dossier.reference)
    await factories.sign_in(client, "sam")
    page = await client.get("/compte/supprimer")
    assert "Tes demandes au sujet du ou de la jeune sont effacées" in page.text
    token = await csrf_token(client, "/compte/supprimer")
    deleted = await client.post(
        "/compte/supprimer", data={"csrf_token": token, "understood": "yes"}
    )
    assert deleted.headers["location"] == "/compte/supprime"
    assert not (await Person.get(id=parent.id)).is_active
    assert (await Dossier.get(id=dossier.id)).erased_at is not None


@pytest.mark.parametrize("role", [Role.WORKER, Role.ADMIN, Role.PARTNER, Role.OPERATOR])
async def test_staff_cannot_delete_an_account_this_way(
    client: httpx.AsyncClient, role: Role
) -> None:
    service = await factories.service()
    partner = await factories.partner()
    lou = await factories.youth()
    amina = await factories.staff("amina", service_=service)
    dossier = await factories.followed_dossier(amina, lou, service, WORDS)
    await ending.end_help(lou, dossier.reference)
    login = "amina" if role is Role.WORKER else f"staff-{role.value}"
    if role is not Role.WORKER:
        await factories.staff(
            login,
            role,
            service_=service if role is Role.ADMIN else None,
            partner_=partner if role is Role.PARTNER else None,
        )
    await factories.sign_in_staff(client, login)
    staff = await Person.get(login=login)
    mine_before, lou_before = await _mine(staff), await _mine(lou)
    assert (await client.get("/compte/supprimer")).status_code == 404
    token = await csrf_token(client, "/compte")
    for data in ({}, {"person_id": str(lou.id)}, {"login": "lou"}):
        answer = await client.post(
            "/compte/supprimer", data={"csrf_token": token, "understood": "yes", **data}
        )
        assert answer.status_code == 404
    assert await _mine(staff) == mine_before and await _mine(lou) == lou_before
    assert (await Person.get(id=lou.id)).is_active and (await Person.get(id=staff.id)).is_active
    assert (await Dossier.get(id=dossier.id)).erased_at is None
    with pytest.raises(account_deletion.NotFound):
        await account_deletion.delete_account(staff)


async def test_another_young_person_deletes_only_her_own_account(
    client: httpx.AsyncClient,
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    noa = await factories.youth("noa", "Noa")
    dossier = await factories.followed_dossier(amina, lou, service, WORDS)
    await ending.end_help(lou, dossier.reference)
    await factories.sign_in(client, "noa")
    token = await csrf_token(client, "/compte/supprimer")
    deleted = await client.post(
        "/compte/supprimer",
        data={"csrf_token": token, "understood": "yes", "person_id": str(lou.id)},
    )
    assert deleted.status_code == 303
    assert not (await Person.get(id=noa.id)).is_active
    assert (await Person.get(id=lou.id)).is_active
    assert (await Dossier.get(id=dossier.id)).erased_at is None


async def test_a_session_opened_by_a_recovery_link_cannot_delete_the_account(db: str) -> None:
    lou, gone, kept = await _lou_with_two_dossiers()
    for dossier in (gone, kept):
        await ending.end_help(lou, dossier.reference)
    lou.scope_dossier_id = gone.id
    with pytest.raises(LimitedSession):
        await account_deletion.delete_account(lou)
    assert (await Person.get(id=lou.id)).is_active
    assert await Dossier.filter(subject_id=lou.id, erased_at__isnull=False).count() == 0


async def test_the_figures_still_count_what_was_erased_and_deleted(db: str) -> None:
    service = await factories.service()
    admin = await factories.staff("admin", Role.ADMIN, service_=service)
    worker = await factories.staff("amina", service_=service)
    asked = [await ask(service, [Theme.MONEY], age=16) for _ in range(6)]
    followed = await follow(worker, asked)
    for item in followed:
        await ending.end_help(item.subject, item.dossier.reference)
    for item in followed[:3]:
        await ending.erase(item.subject, item.dossier.reference)
    for item in followed[3:]:
        await account_deletion.delete_account(item.subject)
    assert await Dossier.filter(status=DossierStatus.ENDED, erased_at__isnull=True).count() == 0
    data = await figures.service_figures(admin, figures.Period.default())
    assert data.requests == figures.Cell(6, figures.Mark.SHOWN)
    assert {r.key: r.cell for r in data.themes.rows}["money"].value == 6
    assert {r.key: r.cell for r in data.erasures.rows}["erased"].value == 6
    # The age band came from a birth month kept without a name.
    ages = {r.key: r.cell for r in data.ages.rows}
    assert sum(c.value or 0 for c in ages.values()) == 6


async def test_erasing_takes_the_meetings_and_the_concertation_rows_too(db: str) -> None:
    from datetime import timedelta

    from tortoise import timezone

    from portal.domain import appointments
    from portal.models import (
        Action,
        ActionKind,
        ActionStatus,
        Appointment,
        AskedBy,
        Concertation,
        PlaceKind,
    )

    lou, gone, kept = await _lou_with_two_dossiers()
    amina = await Person.get(login="amina")
    for dossier in (gone, kept):
        proposal = appointments.Proposal(
            timezone.now() + timedelta(days=3), 60, PlaceKind.HEARING, "Tribunal", "Juge"
        )
        await appointments.propose(amina, dossier.reference, proposal)
        step = await Action.create(
            dossier_id=dossier.id,
            kind=ActionKind.CONCERTATION,
            involves_third_party=True,
            status=ActionStatus.DONE,
            author_id=amina.id,
        )
        await Concertation.create(
            action_id=step.id,
            dossier_id=dossier.id,
            asked_by=AskedBy.FAMILY,
            asked_at=timezone.now(),
            categories=["actions"],
        )
    await ending.end_help(lou, gone.reference)
    await ending.erase(lou, gone.reference)
    assert await Appointment.filter(dossier_id=gone.id).count() == 0
    assert await Concertation.filter(dossier_id=gone.id).count() == 0
    # The other dossier keeps its own; the erased one keeps its steps and journal.
    assert await Appointment.filter(dossier_id=kept.id).count() == 1
    assert await Concertation.filter(dossier_id=kept.id).count() == 1
    assert await Action.filter(dossier_id=gone.id).count() >= 2
    assert await JournalEntry.filter(dossier_id=gone.id, event="dossier.erased").count() == 1
