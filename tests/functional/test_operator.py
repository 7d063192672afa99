"""The installation's operator: services and the partner directory, and nothing of any dossier.

Two services in every test that crosses them; each rule is tried by the roles that must fail.
"""

from __future__ import annotations

import httpx
import pyotp
import pytest
from starlette.applications import Starlette

from portal.demo import DEMO_PASSWORD, DEMO_TOTP, seed_demo
from portal.domain import consent as consent_rules
from portal.models import (
    Dossier,
    JournalEntry,
    Partner,
    PartnerChange,
    Person,
    Request,
    Role,
    Service,
)
from tests import factories
from tests.helpers import csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _operator(client: httpx.AsyncClient) -> Person:
    operator = await factories.operator()
    signed = await factories.sign_in_staff(client, "operateur")
    assert signed.status_code == 303 and signed.headers["location"].endswith("/operateur")
    return operator


PARTNER_FORM = {
    "name": "CPAS Test",
    "sector": "cpas",
    "communes": "Namur",
    "bound_by_secrecy": "1",
    "ethics_code": "Secret professionnel",
    "description": "",
    "contact": "081 00 00 01",
    "is_active": "1",
}


async def test_the_operator_reads_no_dossier_and_no_share(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    cpas = await factories.partner("CPAS")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "Secret de Lou")
    await consent_rules.grant(lou, dossier.reference, cpas.id, ["request"], "until_stop", "Aide")
    share = await consent_rules.share(amina, dossier.reference, cpas.id, ["request"])
    await _operator(client)
    reads_before = await JournalEntry.filter(event="dossier.read").count()
    ref = dossier.reference
    for path in (
        "/espace",
        f"/espace/{ref}",
        f"/espace/{ref}/partenaires",
        f"/espace/{ref}/export",
        f"/travail/dossiers/{ref}",
        "/travail",
        "/partenaire",
        f"/partenaire/partages/{share.id}",
        "/admin/personnes",
        "/admin/chiffres",
    ):
        page = await client.get(path)
        assert page.status_code == 404, (path, page.status_code)
        assert "Secret de Lou" not in page.text
    assert await JournalEntry.filter(event="dossier.read").count() == reads_before
    assert await JournalEntry.filter(event="share.read").count() == 0
    home = await client.get("/operateur")
    assert home.status_code == 200 and "AMO Test" in home.text
    assert "Secret de Lou" not in home.text and lou.display_name not in home.text


async def test_the_operator_sets_up_a_service_and_bad_input_is_kept(
    client: httpx.AsyncClient,
) -> None:
    await _operator(client)
    token = await csrf_token(client, "/operateur")
    bad = await client.post(
        "/operateur/services/nouveau",
        data={
            "csrf_token": token,
            "name": "AMO La Boussole",
            "communes": "Liège, Seraing",
            "response_days": "45",
            "email": "",
        },
    )
    assert bad.status_code == 422
    assert 'value="AMO La Boussole"' in bad.text and 'value="Liège, Seraing"' in bad.text
    assert "de 1 à 30" in bad.text
    assert await Service.all().count() == 0
    for wrong in ({"name": ""}, {"name": "x" * 5000}, {"response_days": "3.5"}):
        data = {"csrf_token": token, "name": "AMO", "response_days": "3", **wrong}
        assert (await client.post("/operateur/services/nouveau", data=data)).status_code == 422
    assert await Service.all().count() == 0
    made = await client.post(
        "/operateur/services/nouveau",
        data={
            "csrf_token": token,
            "name": "AMO La Boussole",
            "communes": "Liège, Seraing, Herstal",
            "response_days": "5",
            "email": "contact@laboussole.be",
        },
    )
    assert made.status_code == 303
    service = await Service.get(name="AMO La Boussole")
    assert service.communes == ["Liège", "Seraing", "Herstal"] and service.response_days == 5
    page = await client.get(made.headers["location"])
    assert page.status_code == 200 and 'value="contact@laboussole.be"' in page.text
    changed = await client.post(
        f"/operateur/services/{service.id}/modifier",
        data={
            "csrf_token": token,
            "name": "AMO La Boussole",
            "communes": "Liège",
            "response_days": "4",
            "hours": "Lundi–vendredi 10h–18h",
        },
    )
    assert changed.status_code == 303
    await service.refresh_from_db()
    assert service.communes == ["Liège"] and service.hours == "Lundi–vendredi 10h–18h"
    for path in (
        "/operateur/services/999999",
        "/operateur/services/abc",
        "/operateur/services/99999999999",
        "/operateur/services/-1",
        "/operateur/partenaires/99999999999",
        "/operateur/partenaires/%C2%BF",
    ):
        assert (await client.get(path)).status_code == 404
    for path in (
        "/operateur/services/999999/modifier",
        "/operateur/services/99999999999/modifier",
        "/operateur/partenaires/99999999999/modifier",
    ):
        data = {"csrf_token": token, "name": "X", "sector": "cpas", "response_days": "3"}
        missing = await client.post(path, data=data)
        assert missing.status_code == 404, path


async def test_a_change_of_what_a_partner_promises_is_kept_and_told(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    cpas = await factories.partner("CPAS Test")
    lou = await factories.youth("lou", "Lou")
    noa = await factories.youth("noa", "Noa")
    consenting = await factories.followed_dossier(amina, lou, service)
    revoked = await factories.followed_dossier(amina, noa, service)
    await consent_rules.grant(lou, consenting.reference, cpas.id, ["request"], "until_stop", "A")
    given = await consent_rules.grant(
        noa, revoked.reference, cpas.id, ["request"], "until_stop", "B"
    )
    await consent_rules.revoke(noa, revoked.reference, given.id)
    operator = await _operator(client)
    token = await csrf_token(client, f"/operateur/partenaires/{cpas.id}")
    form = {**PARTNER_FORM, "csrf_token": token, "ethics_code": ""}
    form.pop("bound_by_secrecy")
    answer = await client.post(f"/operateur/partenaires/{cpas.id}/modifier", data=form)
    assert answer.status_code == 303

    change = await PartnerChange.get(partner_id=cpas.id)
    assert change.changed_by_id == operator.id
    assert change.changes["bound_by_secrecy"] == [True, False]
    assert set(change.changes) == {"bound_by_secrecy", "communes", "contact"}
    assert change.changes["communes"] == [[], ["Namur"]]
    assert (await Partner.get(id=cpas.id)).bound_by_secrecy is False
    told = await JournalEntry.get(dossier_id=consenting.id, event="partner.changed")
    assert told.actor_id == operator.id
    assert told.details == {"partner": cpas.id, "fields": ["bound_by_secrecy"]}
    assert not await JournalEntry.exists(dossier_id=revoked.id, event="partner.changed")

    history = await client.get(f"/operateur/partenaires/{cpas.id}")
    assert "Historique de cette fiche" in history.text
    assert "Opérateur" in history.text and "Tenu au secret professionnel" in history.text

    async with _client(app) as youth:
        assert (await factories.sign_in(youth, "lou")).status_code == 303
        page = await youth.get(f"/espace/{consenting.reference}")
        assert "Ce que promet CPAS Test a changé : secret professionnel." in page.text
    async with _client(app) as other:
        assert (await factories.sign_in(other, "noa")).status_code == 303
        page = await other.get(f"/espace/{revoked.reference}")
        assert "Ce que promet" not in page.text

    # The same form again changes nothing and tells nobody twice.
    token = await csrf_token(client, f"/operateur/partenaires/{cpas.id}")
    again = await client.post(
        f"/operateur/partenaires/{cpas.id}/modifier", data={**form, "csrf_token": token}
    )
    assert again.status_code == 303
    assert await PartnerChange.filter(partner_id=cpas.id).count() == 1
    assert await JournalEntry.filter(event="partner.changed").count() == 1


async def test_a_change_that_promises_nothing_new_tells_nobody(
    client: httpx.AsyncClient,
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    cpas = await factories.partner("CPAS Test")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service)
    await consent_rules.grant(lou, dossier.reference, cpas.id, ["request"], "until_stop", "A")
    await _operator(client)
    token = await csrf_token(client, f"/operateur/partenaires/{cpas.id}")
    form = {**PARTNER_FORM, "csrf_token": token, "communes": "", "contact": "081 99 99 99"}
    form["ethics_code"] = ""
    assert (
        await client.post(f"/operateur/partenaires/{cpas.id}/modifier", data=form)
    ).status_code == 303
    change = await PartnerChange.get(partner_id=cpas.id)
    assert change.changes == {"contact": ["", "081 99 99 99"]}
    assert not await JournalEntry.exists(event="partner.changed")


async def test_nobody_but_the_operator_changes_the_directory(app: Starlette, db: str) -> None:
    passage = await factories.service("AMO Le Passage")
    boussole = await factories.service("AMO La Boussole")
    cpas = await factories.partner("CPAS Test")
    await factories.staff("claire", Role.ADMIN, service_=passage)
    await factories.staff("ines", Role.ADMIN, service_=boussole)
    await factories.staff("amina", service_=passage)
    await factories.staff("julie", Role.PARTNER, partner_=cpas)
    await factories.youth("lou")
    before = await Partner.all().values_list("id", "name", "bound_by_secrecy", "is_active")
    for login in ("claire", "ines", "amina", "julie", "lou"):
        async with _client(app) as intruder:
            if login == "lou":
                assert (await factories.sign_in(intruder, login)).status_code == 303
            else:
                assert (await factories.sign_in_staff(intruder, login)).status_code == 303
            token = await csrf_token(intruder)
            for path in ("/operateur/partenaires", f"/operateur/partenaires/{cpas.id}"):
                assert (await intruder.get(path)).status_code == 404, (login, path)
            form = {**PARTNER_FORM, "csrf_token": token, "name": "Pris"}
            form.pop("bound_by_secrecy")
            form.pop("is_active")
            for path in (
                f"/operateur/partenaires/{cpas.id}/modifier",
                "/operateur/partenaires/nouveau",
                "/operateur/services/nouveau",
                f"/operateur/services/{passage.id}/modifier",
            ):
                refused = await intruder.post(path, data={**form, "response_days": "3"})
                assert refused.status_code == 404, (login, path, refused.status_code)
            # The old addresses of the editor are gone for everyone.
            for path in ("/admin/partenaires", f"/admin/partenaires/{cpas.id}"):
                assert (await intruder.get(path)).status_code == 404
            page = await intruder.get("/compte")
            assert "/operateur/partenaires" not in page.text
    assert await Partner.all().values_list("id", "name", "bound_by_secrecy", "is_active") == before
    assert await PartnerChange.all().count() == 0
    assert await Service.all().order_by("id").values_list("name", flat=True) == [
        "AMO Le Passage",
        "AMO La Boussole",
    ]


async def test_an_admin_sees_only_her_own_service(app: Starlette, db: str) -> None:
    passage = await factories.service("AMO Le Passage")
    boussole = await factories.service("AMO La Boussole")
    cpas = await factories.partner("CPAS Test")
    await factories.staff("claire", Role.ADMIN, service_=passage, name="Claire")
    amina = await factories.staff("amina", service_=passage, name="Amina")
    await factories.staff("ines", Role.ADMIN, service_=boussole, name="Inès")
    yann = await factories.staff("yann", service_=boussole, name="Yann")
    await factories.staff("julie", Role.PARTNER, partner_=cpas, name="Julie")
    # Counts under 5 are hidden in the figures: enough requests in each to read them.
    for index in range(6):
        subject = await factories.youth(f"jeune{index}", f"Jeune{index}")
        await factories.followed_dossier(amina, subject, passage)
    for index in range(7):
        subject = await factories.youth(f"ado{index}", f"Ado{index}")
        await factories.followed_dossier(yann, subject, boussole)
    assert await Dossier.filter(service_id=passage.id).count() == 6

    async with _client(app) as ines:
        assert (await factories.sign_in_staff(ines, "ines")).status_code == 303
        staff = await ines.get("/admin/personnes")
        assert staff.status_code == 200 and "Yann" in staff.text
        for name in ("Amina", "Claire", "Julie"):
            assert name not in staff.text
        figures = await ines.get("/admin/chiffres.csv")
        assert figures.status_code == 200
    async with _client(app) as claire:
        assert (await factories.sign_in_staff(claire, "claire")).status_code == 303
        theirs = await claire.get("/admin/chiffres.csv")
    assert "AMO La Boussole" in figures.text and "AMO Le Passage" not in figures.text
    assert _requests_in(figures.text) == 7
    assert _requests_in(theirs.text) == 6


def _requests_in(csv_text: str) -> int:
    """The number of requests in a figures export (its first counted line)."""
    for line in csv_text.splitlines():
        cells = [c.strip('"') for c in line.split(",")]
        if len(cells) >= 3 and cells[0].lower().startswith(("requests", "demandes")):
            return int(cells[2])
    raise AssertionError(csv_text[:500])


async def test_with_no_service_yet_the_portal_says_it_is_not_open(
    client: httpx.AsyncClient,
) -> None:
    home = await client.get("/")
    assert home.status_code == 200
    form = await client.get("/demande")
    assert form.status_code == 200
    assert "Le portail n’est pas encore ouvert." in form.text
    assert 'href="/urgence"' in form.text
    token = await csrf_token(client, "/")
    sent = await client.post(
        "/demande",
        data={
            "csrf_token": token,
            "step": "account",
            "asker": "youth",
            "birth_month": "3",
            "birth_year": "2010",
            "themes": "school",
            "words": "Bonjour",
            "display_name": "Lou",
            "language": "fr",
            "login": "lou",
            "password": factories.YOUTH_PASSWORD,
            "go": "password",
        },
    )
    assert sent.status_code == 200 and "pas encore ouvert" in sent.text
    options = await client.post(
        "/demande/passkey/options", data={"csrf_token": token, "asker": "youth"}
    )
    assert options.status_code == 422 and "pas encore ouvert" in options.json()["error"]
    assert await Person.all().count() == 0 and await Request.all().count() == 0


async def test_an_admin_cannot_invite_an_operator(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    await factories.staff("admin", Role.ADMIN, service_=service)
    assert (await factories.sign_in_staff(client, "admin")).status_code == 303
    token = await csrf_token(client, "/admin/personnes")
    forged = await client.post(
        "/admin/personnes/inviter",
        data={"csrf_token": token, "role": "operator", "display_name": "Moi", "partner": ""},
    )
    assert forged.status_code == 422
    assert not await Person.exists(role=Role.OPERATOR)


async def _demo_sign_in(client: httpx.AsyncClient, login: str) -> str:
    """Sign a demo staff member in as the README says; where they land."""
    token = await csrf_token(client, "/connexion")
    first = await client.post(
        "/connexion", data={"csrf_token": token, "login": login, "password": DEMO_PASSWORD}
    )
    assert first.status_code == 303, login
    token = await csrf_token(client, "/connexion/code")
    code = pyotp.TOTP(DEMO_TOTP).now()
    landed = await client.post("/connexion/code", data={"csrf_token": token, "code": code})
    assert landed.status_code == 303, login
    return str(landed.headers["location"])


async def test_the_demo_has_two_services_kept_apart(app: Starlette, db: str) -> None:
    assert await seed_demo()
    passage = await Service.get(name="AMO Le Passage (démo)")
    boussole = await Service.get(name="AMO La Boussole (démo)")
    assert boussole.communes == ["Liège", "Seraing", "Herstal"]
    lou = await Person.get(login="lou")
    waiting = await Dossier.get(subject_id=lou.id, service_id=passage.id)
    landings = {
        "operateur@portail.example": "/operateur",
        "claire@lepassage.example": "/admin/personnes",
        "ines@laboussole.example": "/admin/personnes",
        "amina@lepassage.example": "/travail",
        "yann@laboussole.example": "/travail",
        "julie@cpas-namur.example": "/partenaire",
    }
    for login, place in landings.items():
        async with _client(app) as staff:
            assert (await _demo_sign_in(staff, login)).endswith(place), login
            page = await staff.get(place)
            assert page.status_code == 200, login
            if login == "yann@laboussole.example":
                assert waiting.reference not in page.text
            if login == "amina@lepassage.example":
                assert waiting.reference in page.text
            if login == "ines@laboussole.example":
                assert "Yann" in page.text and "Amina" not in page.text
            if login == "operateur@portail.example":
                assert (
                    "AMO Le Passage (démo)" in page.text and "AMO La Boussole (démo)" in page.text
                )
    assert not await seed_demo()


async def test_an_admin_left_without_a_service_sees_nobody(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service, name="Amina")
    cpas = await factories.partner("CPAS")
    await factories.staff("julie", Role.PARTNER, partner_=cpas, name="Julie")
    # As the old create-admin made them, before an admin needed a service.
    await factories.staff("orphan", Role.ADMIN)
    assert (await factories.sign_in_staff(client, "orphan")).status_code == 303
    staff = await client.get("/admin/personnes")
    # No service, no staff to keep: the page is not hers, and it shows nobody.
    assert staff.status_code == 404
    assert "Amina" not in staff.text and "Julie" not in staff.text
    assert (await client.get("/admin/chiffres")).status_code == 404
