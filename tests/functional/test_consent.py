"""Consent through the app: the subject grants and revokes, workers share, partners read."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from portal import proof
from portal.domain import signing
from portal.models import Consent, Dossier, JournalEntry, Partner, Person, Role, Share
from tests import factories
from tests.helpers import csrf_token


async def _setup() -> tuple[Dossier, Person]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "L’école me stresse.")
    school = await factories.partner("Athénée", secrecy=False)
    await factories.staff("prof", Role.PARTNER, partner_=school)
    return dossier, amina


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def test_grant_share_read_revoke_read_again(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    dossier, _amina = await _setup()
    school_id = (await Person.get(login="prof")).partner_id
    ref = dossier.reference

    # The young person sees the secrecy notice before anything, then grants in two steps.
    await factories.sign_in(client, "lou")
    grant_page = await client.get(f"/espace/{ref}/partenaires/{school_id}/accord")
    assert grant_page.status_code == 200
    assert "n’est pas tenu au secret professionnel" in grant_page.text
    token = await csrf_token(client, f"/espace/{ref}")
    form = {
        "csrf_token": token,
        "categories": ["request"],
        "duration": "1_month",
        "purpose": "Que l’école comprenne mes absences",
    }
    confirm = await client.post(f"/espace/{ref}/partenaires/{school_id}/accord", data=form)
    assert confirm.status_code == 200 and 'name="step" value="confirm"' in confirm.text
    assert await Consent.all().count() == 0
    granted = await client.post(
        f"/espace/{ref}/partenaires/{school_id}/accord", data={**form, "step": "confirm"}
    )
    assert granted.status_code == 303
    consent = await Consent.get()
    receipt = await client.get(granted.headers["location"])
    assert "Athénée" in receipt.text
    download = await client.get(f"/espace/{ref}/consentements/{consent.id}/recu.jwt")
    data = proof.check_receipt(download.text, await signing.jwks()).claims
    assert data["recipient_third_parties"][0]["party_name"] == "Athénée"
    assert data["services"][0]["purposes"][0]["piiCategory"] == ["request"]
    # Her space, where she takes it back: no address of her dossier in a partner's copy.
    assert data["withdrawal_method"] == "http://localhost:8000/espace"
    assert "attachment" in download.headers["content-disposition"]

    async with _client(app) as amina, _client(app) as prof:
        await factories.sign_in_staff(amina, "amina")
        token_a = await csrf_token(amina, f"/travail/dossiers/{ref}")
        refused = await amina.post(
            f"/travail/dossiers/{ref}/partager",
            data={
                "csrf_token": token_a,
                "partner": str(school_id),
                "categories": ["request", "messages"],
            },
        )
        assert refused.status_code == 409
        assert await Share.all().count() == 0
        shared = await amina.post(
            f"/travail/dossiers/{ref}/partager",
            data={"csrf_token": token_a, "partner": str(school_id), "categories": ["request"]},
        )
        assert shared.status_code == 303
        share = await Share.get()

        await factories.sign_in_staff(prof, "prof")
        inbox = await prof.get("/partenaire")
        assert f"/partenaire/partages/{share.id}" in inbox.text
        # What was passed on, as the partner says it: not in the young person's own words.
        assert "sa demande" in inbox.text and "ma demande" not in inbox.text
        read = await prof.get(f"/partenaire/partages/{share.id}")
        assert read.status_code == 200 and "L’école me stresse." in read.text

        # The young person revokes: one tap, one confirmation.
        confirm_revoke = await client.get(f"/espace/{ref}/consentements/{consent.id}/retirer")
        assert confirm_revoke.status_code == 200
        revoked = await client.post(
            f"/espace/{ref}/consentements/{consent.id}/retirer", data={"csrf_token": token}
        )
        assert revoked.status_code == 303
        again = await prof.get(f"/partenaire/partages/{share.id}")
        # Gone, said plainly, and nothing of what it held.
        assert again.status_code == 410 and "L’école me stresse." not in again.text
        assert "Le jeune a retiré son accord" in again.text
        assert f"/partenaire/partages/{share.id}" not in (await prof.get("/partenaire")).text

    page = await client.get(f"/espace/{ref}/partenaires")
    assert "Athénée" in page.text  # what was already passed on stays listed
    assert page.text.count("share") >= 0
    events = await JournalEntry.filter(dossier=dossier).values_list("event", flat=True)
    for event in ("consent.granted", "share.made", "share.read", "consent.revoked"):
        assert event in events
    timeline = await client.get(f"/espace/{ref}")
    assert "Athénée" in timeline.text or "partenaire" in timeline.text.lower()


async def test_nobody_else_reaches_the_consent_pages(client: httpx.AsyncClient) -> None:
    dossier, _amina = await _setup()
    ref = dossier.reference
    service = await factories.service("AMO Deux")
    await factories.staff("tom", service_=service)
    await factories.youth("sam", "Sam", Role.RELATIVE)
    await factories.staff("admin", Role.ADMIN, service_=service)
    paths = [
        f"/espace/{ref}/partenaires",
        f"/espace/{ref}/partenaires/annuaire",
        f"/travail/dossiers/{ref}/partager",
    ]
    for login in ("sam", "tom", "admin", "prof"):
        client.cookies.clear()
        if login == "sam":
            await factories.sign_in(client, login)
        else:
            await factories.sign_in_staff(client, login)
        for path in paths:
            assert (await client.get(path)).status_code == 404, (login, path)


async def test_a_forged_partner_or_category_is_refused_with_a_message(
    client: httpx.AsyncClient,
) -> None:
    dossier, _ = await _setup()
    ref = dossier.reference
    school_id = (await Person.get(login="prof")).partner_id
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, f"/espace/{ref}")
    assert (await client.get(f"/espace/{ref}/partenaires/99999/accord")).status_code == 404
    assert (await client.get(f"/espace/{ref}/partenaires/abc/accord")).status_code == 404
    bad = await client.post(
        f"/espace/{ref}/partenaires/{school_id}/accord",
        data={
            "csrf_token": token,
            "categories": ["everything"],
            "duration": "forever",
            "purpose": "x",
            "step": "confirm",
        },
    )
    assert bad.status_code == 422
    assert 'class="error' in bad.text
    assert await Consent.all().count() == 0


async def test_the_share_form_is_a_journaled_read(client: httpx.AsyncClient) -> None:
    """The form lists her agreed steps and her documents' names: opening it is in her journal."""
    dossier, _amina = await _setup()
    await factories.sign_in_staff(client, "amina")
    before = await JournalEntry.filter(dossier_id=dossier.id, event="dossier.read").count()
    page = await client.get(f"/travail/dossiers/{dossier.reference}/partager")
    assert page.status_code == 200
    after = await JournalEntry.filter(dossier_id=dossier.id, event="dossier.read").count()
    assert after == before + 1


async def test_promises_changed_while_she_reads_are_shown_again_before_she_agrees(
    client: httpx.AsyncClient,
) -> None:
    """What is copied onto her consent is what she read: a directory edit between her reading
    and her agreeing sends her back to read it, and nothing is recorded."""
    dossier, _amina = await _setup()
    ref, school_id = dossier.reference, (await Person.get(login="prof")).partner_id
    await factories.sign_in(client, "lou")
    page = await client.get(f"/espace/{ref}/partenaires/{school_id}/accord")
    read = re.search(r'name="promises" value="([0-9a-f]{32})"', page.text)
    assert read is not None
    form = {
        "csrf_token": await csrf_token(client, f"/espace/{ref}"),
        "categories": ["request"],
        "duration": "1_month",
        "purpose": "Que l’école comprenne mes absences",
        "promises": read.group(1),
    }
    confirm = await client.post(f"/espace/{ref}/partenaires/{school_id}/accord", data=form)
    assert f'name="promises" value="{read.group(1)}"' in confirm.text
    # Meanwhile, the directory says the school is now bound by secrecy.
    await Partner.filter(id=school_id).update(bound_by_secrecy=True)
    refused = await client.post(
        f"/espace/{ref}/partenaires/{school_id}/accord", data={**form, "step": "confirm"}
    )
    assert refused.status_code == 422
    assert "a changé pendant que tu lisais" in refused.text
    assert "Tenu au secret professionnel." in refused.text
    assert await Consent.all().count() == 0
    again = re.search(r'name="promises" value="([0-9a-f]{32})"', refused.text)
    assert again is not None and again.group(1) != read.group(1)
    granted = await client.post(
        f"/espace/{ref}/partenaires/{school_id}/accord",
        data={**form, "promises": again.group(1), "step": "confirm"},
    )
    assert granted.status_code == 303
    consent = await Consent.get()
    assert consent.promised["bound_by_secrecy"] is True
