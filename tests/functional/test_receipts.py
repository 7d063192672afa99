"""Signed consent receipts through the app: she and the partner's users download them; nobody
else; what the partner promised stays as it was when she agreed, whatever the directory says
later; a revoke shows in the next receipt, with its history."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.applications import Starlette

from portal import proof
from portal.domain import consent as rules
from portal.domain import receipts
from portal.models import Consent, Dossier, JournalEntry, Partner, Person, Role, Share, SigningKey
from tests import factories
from tests.forms import filled, form_on
from tests.helpers import csrf_token


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _world() -> tuple[Dossier, Consent, Share, Partner]:
    service = await factories.service("AMO Le Passage")
    amina = await factories.staff("amina", service_=service, name="Amina")
    await factories.staff("tom", service_=service, name="Tom")
    await factories.staff("admin", Role.ADMIN, service_=service)
    await factories.operator()
    lou = await factories.youth("lou", "Lou")
    await factories.youth("noa", "Noa")
    dossier = await factories.followed_dossier(amina, lou, service, "Je cherche un logement")
    cpas = await factories.partner("CPAS de Namur")
    await Partner.filter(id=cpas.id).update(
        ethics_code="Code du travail social", adheres_youth_code=True
    )
    school = await factories.partner("Athénée", secrecy=False)
    await factories.staff("julie", Role.PARTNER, partner_=cpas)
    await factories.staff("prof", Role.PARTNER, partner_=school)
    consent = await rules.grant(lou, dossier.reference, cpas.id, ["request"], "until_stop", "Logé")
    share = await rules.share(amina, dossier.reference, cpas.id, ["request"])
    return dossier, consent, share, cpas


async def _public_keys(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys: dict[str, Any] = response.json()
    return keys


def _is_receipt_file(response: httpx.Response, consent_id: int) -> None:
    assert response.status_code == 200, response.status_code
    assert response.headers["content-type"] == "application/jwt"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="consent-receipt-{consent_id}.jwt"'
    )
    assert "no-store" in response.headers["cache-control"]


async def test_she_reads_her_receipt_and_downloads_it_signed(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    dossier, consent, _share, cpas = await _world()
    await factories.sign_in(client, "lou")
    page = await client.get(f"/espace/{dossier.reference}/consentements/{consent.id}")
    assert page.status_code == 200
    for shown in (
        "Télécharger le reçu signé",
        'href="/verifier"',
        "CPAS de Namur t’a promis",
        "Tenu au secret professionnel.",
        "Code du travail social",
        "Suit le code de déontologie de l’aide à la jeunesse.",
        "Toi, sous le numéro ",
        "Fédération Wallonie-Bruxelles",
    ):
        assert shown in page.text, shown
    download = await client.get(f"/espace/{dossier.reference}/consentements/{consent.id}/recu.jwt")
    _is_receipt_file(download, consent.id)
    async with _client(app) as anyone:
        checked = proof.check_receipt(
            download.text, await _public_keys(anyone), audience=f"partner:{cpas.id}"
        )
    assert checked.active
    summary = proof.receipt_summary(checked.claims)
    assert (summary.controller, summary.partner, summary.purposes) == (
        "AMO Le Passage",
        "CPAS de Namur",
        ["Logé"],
    )
    assert summary.promised["ethics_code"] == "Code du travail social"


async def test_the_partner_user_downloads_the_receipt_its_share_was_made_under(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    dossier, consent, share, cpas = await _world()
    await factories.sign_in_staff(client, "julie")
    page = await client.get(f"/partenaire/partages/{share.id}")
    assert f"/partenaire/partages/{share.id}/recu.jwt" in page.text
    reads = await JournalEntry.filter(dossier_id=dossier.id, event="share.read").count()
    download = await client.get(f"/partenaire/partages/{share.id}/recu.jwt")
    _is_receipt_file(download, consent.id)
    checked = proof.check_receipt(
        download.text, await _public_keys(client), audience=f"partner:{cpas.id}"
    )
    assert checked.claims["record_id"] == receipts.pseudonym("record", consent.id)
    # The partner learns no number of hers that another partner could match.
    assert dossier.reference not in json.dumps(checked.claims)
    # Journaled as its other reads are, and she reads it in plain words.
    entry = await JournalEntry.filter(dossier_id=dossier.id, event="share.read").order_by("-seq")
    assert len(entry) == reads + 1
    assert entry[0].details == {"share": share.id, "partner": cpas.id, "receipt": consent.id}
    async with _client(app) as lou:
        await factories.sign_in(lou, "lou")
        mine = await lou.get(f"/espace/{dossier.reference}")
    assert "CPAS de Namur a téléchargé le reçu de ton accord." in mine.text

    # Once she takes it back: the partner learns only that (410), and no read is written.
    await rules.revoke(await Person.get(login="lou"), dossier.reference, consent.id)
    gone = await client.get(f"/partenaire/partages/{share.id}/recu.jwt")
    assert gone.status_code == 410 and "Logé" not in gone.text
    assert await JournalEntry.filter(dossier_id=dossier.id, event="share.read").count() == (
        reads + 1
    )


async def _snapshot() -> dict[str, Any]:
    return {
        "consents": await Consent.all().order_by("id").values_list("id", "revoked_at", "promised"),
        "journal": await JournalEntry.exclude(event="dossier.read_refused").count(),
        "keys": await SigningKey.all().count(),
    }


async def test_nobody_else_gets_either_receipt(app: Starlette, db: str) -> None:
    dossier, consent, share, _cpas = await _world()
    hers = f"/espace/{dossier.reference}/consentements/{consent.id}"
    paths = (hers, f"{hers}/recu.jwt", f"/partenaire/partages/{share.id}/recu.jwt")
    people = {
        "another young person": ("noa", False),
        "the worker who follows her": ("amina", True),
        "a colleague": ("tom", True),
        "the service's admin": ("admin", True),
        "the operator": ("operateur", True),
        "another partner's user": ("prof", True),
    }
    before = await _snapshot()
    for who, (login, staff) in people.items():
        async with _client(app) as visitor:
            if staff:
                await factories.sign_in_staff(visitor, login)
            else:
                await factories.sign_in(visitor, login)
            for path in paths:
                response = await visitor.get(path)
                assert response.status_code == 404, (who, path, response.status_code)
                assert "eyJ" not in response.text and "Logé" not in response.text, (who, path)
    # The partner's own user reaches no young person's receipt page either.
    async with _client(app) as julie:
        await factories.sign_in_staff(julie, "julie")
        for path in paths[:2]:
            assert (await julie.get(path)).status_code == 404
    assert await _snapshot() == before


async def test_what_the_partner_promised_stays_as_it_was_when_she_agreed(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    dossier, consent, _share, cpas = await _world()
    kept = (await Consent.get(id=consent.id)).promised
    assert kept["bound_by_secrecy"] is True and kept["ethics_code"] == "Code du travail social"

    # The operator edits the partner through the directory's own page.
    async with _client(app) as operator:
        await factories.sign_in_staff(operator, "operateur")
        action = f"/operateur/partenaires/{cpas.id}/modifier"
        form = form_on((await operator.get(f"/operateur/partenaires/{cpas.id}")).text, action)
        edited = await operator.post(
            action,
            data=filled(
                form,
                name="CPAS de Namur-Centre",
                bound_by_secrecy="",
                adheres_youth_code="",
                ethics_code="Charte interne",
            ),
        )
        assert edited.status_code == 303
    now = await Partner.get(id=cpas.id)
    assert (now.name, now.bound_by_secrecy, now.ethics_code) == (
        "CPAS de Namur-Centre",
        False,
        "Charte interne",
    )
    assert (await Consent.get(id=consent.id)).promised == kept

    await factories.sign_in(client, "lou")
    page = await client.get(f"/espace/{dossier.reference}/consentements/{consent.id}")
    assert "CPAS de Namur t’a promis" in page.text
    assert "Tenu au secret professionnel." in page.text
    assert "Code du travail social" in page.text and "Charte interne" not in page.text
    assert "Aujourd’hui, l’annuaire dit autre chose sur :" in page.text
    assert "secret professionnel, le code de déontologie" in page.text
    download = await client.get(f"/espace/{dossier.reference}/consentements/{consent.id}/recu.jwt")
    claims = proof.check_receipt(download.text, await _public_keys(client)).claims
    (party,) = claims["recipient_third_parties"]
    assert party["party_name"] == "CPAS de Namur"
    assert party["promised"]["bound_by_secrecy"] is True
    assert party["codes_of_conduct"] == [
        "Code du travail social",
        "Code de déontologie de l'aide à la jeunesse",
    ]
    assert claims["services"][0]["purposes"][0]["thirdPartyName"] == "CPAS de Namur"

    # An agreement given after the edit keeps what the directory says now.
    lou = await Person.get(login="lou")
    later = await rules.grant(lou, dossier.reference, cpas.id, ["identity"], "1_month", "Suivi")
    assert later.promised["name"] == "CPAS de Namur-Centre"
    assert later.promised["bound_by_secrecy"] is False
    fresh = await client.get(f"/espace/{dossier.reference}/consentements/{later.id}")
    assert "l’annuaire dit autre chose" not in fresh.text


async def test_after_a_revoke_her_next_receipt_says_so_with_its_history(
    client: httpx.AsyncClient,
) -> None:
    dossier, consent, _share, _cpas = await _world()
    await factories.sign_in(client, "lou")
    base = f"/espace/{dossier.reference}/consentements/{consent.id}"
    first = await client.get(f"{base}/recu.jwt")
    token = await csrf_token(client, f"{base}/retirer")
    revoked = await client.post(f"{base}/retirer", data={"csrf_token": token})
    assert revoked.status_code == 303
    second = await client.get(f"{base}/recu.jwt")
    published = await _public_keys(client)
    assert proof.check_receipt(first.text, published).active
    checked = proof.check_receipt(second.text, published)
    assert not checked.active
    assert [e["event_state"] for e in checked.claims["events"]] == [proof.GIVEN, proof.WITHDRAWN]
    assert proof.receipt_summary(checked.claims).state == "revoked"
    page = await client.get(base)
    assert "Retiré" in page.text and "Historique" in page.text
    assert "Télécharger le reçu signé" in page.text
