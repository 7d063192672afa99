"""What the directory says of partners, and services' opening hours, in the reader's language.

French is the reference: a missing Dutch or English text shows the French and says so. The
operator's forms edit the three languages; bad input is refused with what was typed kept.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from portal.demo import seed_demo
from portal.domain import consent as consent_rules
from portal.models import JournalEntry, Partner, PartnerChange, Person, Role, Service
from tests import factories
from tests.helpers import count_queries, csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="session")

NOTICE = {"nl": "(in het Frans)", "en": "(in French)"}
TEXTS = {
    "description": {
        "fr": "Le CPAS aide pour l’argent.",
        "nl": "Het OCMW helpt met geld.",
        "en": "The CPAS helps with money.",
    },
    "ethics_code": {
        "fr": "Secret professionnel des CPAS",
        "nl": "Beroepsgeheim van de OCMW’s",
        "en": "CPAS professional secrecy",
    },
    "secrecy_note": {
        "fr": "Rien n’est répété sans ton accord.",
        "nl": "Niets wordt verder verteld zonder je toestemming.",
        "en": "Nothing is repeated without your agreement.",
    },
}


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


def _columns(languages: tuple[str, ...] = ("fr", "nl", "en")) -> dict[str, str]:
    """The partner's texts as stored: French in the field itself, the others in ``_nl``/``_en``."""
    return {
        field if language == "fr" else f"{field}_{language}": by_language[language]
        for field, by_language in TEXTS.items()
        for language in languages
    }


async def _consenting_world(languages: tuple[str, ...]) -> tuple[str, int]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service)
    cpas = await factories.partner("CPAS de Namur")
    await Partner.filter(id=cpas.id).update(**_columns(languages))
    return dossier.reference, cpas.id


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
async def test_the_young_person_reads_the_partner_in_her_language(
    client: httpx.AsyncClient, language: str
) -> None:
    ref, partner_id = await _consenting_world(("fr", "nl", "en"))
    await factories.sign_in(client, "lou")
    client.cookies.set("lang", language)
    for path in (
        f"/espace/{ref}/partenaires/{partner_id}/accord",
        f"/espace/{ref}/partenaires/annuaire",
    ):
        page = await client.get(path)
        assert page.status_code == 200, path
        for field, by_language in TEXTS.items():
            assert by_language[language] in page.text, (path, field)
            for other in {"fr", "nl", "en"} - {language}:
                assert by_language[other] not in page.text, (path, field, other)
        assert "(in het Frans)" not in page.text and "(in French)" not in page.text


@pytest.mark.parametrize("language", ["nl", "en"])
async def test_a_missing_translation_shows_the_french_and_says_so(
    client: httpx.AsyncClient, language: str
) -> None:
    ref, partner_id = await _consenting_world(("fr",))
    await factories.sign_in(client, "lou")
    client.cookies.set("lang", language)
    page = await client.get(f"/espace/{ref}/partenaires/{partner_id}/accord")
    assert page.status_code == 200
    for by_language in TEXTS.values():
        # The French text, marked as French for screen readers, then the notice.
        assert f'<span lang="fr">{by_language["fr"]}</span>' in page.text
    assert page.text.count(NOTICE[language]) == len(TEXTS)
    # "Who sees what", once she has agreed: the same guarantees, the same notice.
    lou = await Person.get(login="lou")
    await consent_rules.grant(lou, ref, partner_id, ["request"], "until_stop", "Aide")
    page = await client.get(f"/espace/{ref}/partenaires")
    assert page.status_code == 200 and page.text.count(NOTICE[language]) == len(TEXTS)
    # In French, nothing to say.
    client.cookies.set("lang", "fr")
    page = await client.get(f"/espace/{ref}/partenaires/{partner_id}/accord")
    assert "(en français)" not in page.text and TEXTS["description"]["fr"] in page.text


async def test_the_worker_searches_the_directory_in_her_language(
    client: httpx.AsyncClient,
) -> None:
    _ref, _partner_id = await _consenting_world(("fr", "en"))
    await factories.sign_in_staff(client, "amina")
    client.cookies.set("lang", "en")
    page = await client.get("/travail/annuaire")
    assert page.status_code == 200 and TEXTS["description"]["en"] in page.text
    assert TEXTS["description"]["fr"] not in page.text
    client.cookies.set("lang", "nl")
    page = await client.get("/travail/annuaire")
    assert TEXTS["description"]["fr"] in page.text and "(in het Frans)" in page.text


@pytest.mark.parametrize(
    ("language", "hours"),
    [
        ("fr", "Lundi–vendredi 9h–17h, mercredi jusqu'à 19h"),
        ("nl", "Maandag–vrijdag 9–17 uur, woensdag tot 19 uur"),
        ("en", "Monday–Friday 9:00–17:00, Wednesday until 19:00"),
    ],
)
async def test_the_demo_services_hours_in_each_language(
    client: httpx.AsyncClient, language: str, hours: str
) -> None:
    await seed_demo()
    client.cookies.set("lang", language)
    home = await client.get("/")
    assert hours.replace("'", "&#39;") in home.text
    # The request form's choice of a service (two services in the demo) shows them too.
    token = await csrf_token(client, "/demande")
    step = await client.post(
        "/demande",
        data={"csrf_token": token, "step": "service", "go": "filter", "commune": ""},
        follow_redirects=True,  # each step ends in a redirect to the form itself
    )
    assert step.status_code == 200 and hours.replace("'", "&#39;") in step.text
    # Every demo partner has its three languages.
    for partner in await Partner.all():
        for field in ("description", "ethics_code", "secrecy_note"):
            assert all(getattr(partner, f"{field}{s}") for s in ("", "_nl", "_en")), (
                partner.name,
                field,
            )


async def test_hours_without_a_translation_show_the_french_and_say_so(
    client: httpx.AsyncClient,
) -> None:
    await Service.create(name="AMO Seule", hours="Mardi 14h–18h", communes=["Namur"])
    client.cookies.set("lang", "en")
    home = await client.get("/")
    assert '<span lang="fr">Mardi 14h–18h</span> <span class="fallback">(in French)</span>' in (
        home.text
    )
    with count_queries() as queries:
        await client.get("/")
    assert queries.count == 1


PARTNER_FORM = {
    "name": "CPAS Test",
    "sector": "cpas",
    "communes": "Namur",
    "bound_by_secrecy": "1",
    "contact": "081 00 00 01",
    "is_active": "1",
}


async def test_the_operator_edits_the_three_languages_and_too_long_is_refused_kept(
    client: httpx.AsyncClient,
) -> None:
    await factories.operator()
    await factories.sign_in_staff(client, "operateur")
    token = await csrf_token(client, "/operateur/partenaires")
    form: dict[str, Any] = {**PARTNER_FORM, **_columns(), "csrf_token": token}
    made = await client.post("/operateur/partenaires/nouveau", data=form)
    assert made.status_code == 303
    partner = await Partner.get(name="CPAS Test")
    for column, value in _columns().items():
        assert getattr(partner, column) == value, column
    edit = await client.get(f"/operateur/partenaires/{partner.id}")
    for field in TEXTS:
        for suffix, language in (("", "fr"), ("_nl", "nl"), ("_en", "en")):
            assert f'id="f-{field}{suffix}"' in edit.text
            assert f'lang="{language}"' in edit.text

    for column, limit in (
        ("description_nl", 1500),
        ("ethics_code_en", 300),
        ("secrecy_note_nl", 500),
    ):
        token = await csrf_token(client, f"/operateur/partenaires/{partner.id}")
        typed = "x" * (limit + 1)
        refused = await client.post(
            f"/operateur/partenaires/{partner.id}/modifier",
            data={**form, "csrf_token": token, column: typed, "description_en": "Kept in English"},
        )
        assert refused.status_code == 422, column
        assert f'id="f-{column}-error"' in refused.text
        assert typed in refused.text and "Kept in English" in refused.text
        await partner.refresh_from_db()
        assert partner.description_en == TEXTS["description"]["en"]
        assert getattr(partner, column) == _columns()[column]

    # A Dutch change of a promise: kept in the history by its language, and told once.
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service)
    await consent_rules.grant(lou, dossier.reference, partner.id, ["request"], "until_stop", "A")
    token = await csrf_token(client, f"/operateur/partenaires/{partner.id}")
    changed = await client.post(
        f"/operateur/partenaires/{partner.id}/modifier",
        data={
            **form,
            "csrf_token": token,
            "ethics_code_nl": "Nieuwe code",
            "secrecy_note_en": "New words.",
            "secrecy_note_nl": "Nieuwe woorden.",
        },
    )
    assert changed.status_code == 303
    change = await PartnerChange.filter(partner_id=partner.id).order_by("-id").first()
    assert change is not None
    assert set(change.changes) == {"ethics_code_nl", "secrecy_note_en", "secrecy_note_nl"}
    told = await JournalEntry.get(dossier_id=dossier.id, event="partner.changed")
    assert told.details["fields"] == ["bound_by_secrecy", "ethics_code"]
    history = await client.get(f"/operateur/partenaires/{partner.id}")
    assert "Code de déontologie suivi (Nederlands)" in history.text


async def test_the_operator_edits_the_hours_in_three_languages(client: httpx.AsyncClient) -> None:
    service = await factories.service("AMO La Boussole")
    await factories.operator()
    await factories.sign_in_staff(client, "operateur")
    token = await csrf_token(client, f"/operateur/services/{service.id}")
    form = {
        "csrf_token": token,
        "name": "AMO La Boussole",
        "communes": "Liège",
        "response_days": "5",
        "hours": "Lundi 9h–12h",
        "hours_nl": "Maandag 9–12 uur",
        "hours_en": "Monday 9:00–12:00",
    }
    assert (
        await client.post(f"/operateur/services/{service.id}/modifier", data=form)
    ).status_code == 303
    await service.refresh_from_db()
    assert (service.hours, service.hours_nl, service.hours_en) == (
        "Lundi 9h–12h",
        "Maandag 9–12 uur",
        "Monday 9:00–12:00",
    )
    page = await client.get(f"/operateur/services/{service.id}")
    assert 'value="Maandag 9–12 uur"' in page.text and 'value="Monday 9:00–12:00"' in page.text

    typed = "y" * 301
    refused = await client.post(
        f"/operateur/services/{service.id}/modifier",
        data={**form, "hours_nl": typed, "hours_en": "Tuesday"},
    )
    assert refused.status_code == 422
    assert 'id="f-hours_nl-error"' in refused.text and "300 caractères maximum." in refused.text
    assert f'value="{typed}"' in refused.text and 'value="Tuesday"' in refused.text
    await service.refresh_from_db()
    assert service.hours_nl == "Maandag 9–12 uur" and service.hours_en == "Monday 9:00–12:00"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.WORKER, Role.PARTNER])
async def test_nobody_but_the_operator_writes_a_translation(
    client: httpx.AsyncClient, role: Role
) -> None:
    service = await factories.service()
    cpas = await factories.partner("CPAS Test")
    where: dict[str, Any] = {"partner_": cpas} if role is Role.PARTNER else {"service_": service}
    await factories.staff("staff", role, **where)
    await factories.sign_in_staff(client, "staff")
    token = await csrf_token(client, "/")
    partner_form = {**PARTNER_FORM, **_columns(), "csrf_token": token}
    answer = await client.post(f"/operateur/partenaires/{cpas.id}/modifier", data=partner_form)
    assert answer.status_code == 404
    service_form = {"csrf_token": token, "name": "AMO Test", "response_days": "3"}
    answer = await client.post(
        f"/operateur/services/{service.id}/modifier", data={**service_form, "hours_nl": "Nooit"}
    )
    assert answer.status_code == 404
    cpas_now = await Partner.get(id=cpas.id)
    assert cpas_now.description_nl == "" and cpas_now.ethics_code_en == ""
    assert (await Service.get(id=service.id)).hours_nl == ""
    assert not await PartnerChange.exists()
