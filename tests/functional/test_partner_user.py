"""The partner user reads who shared what and how to reach them; an ended agreement is said plainly.

Tried as the partner user, as a partner of another organisation, and as every staff role.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import timezone

from portal.domain import consent as rules
from portal.domain.errors import NotFound, Withdrawn
from portal.models import Consent, Dossier, JournalEntry, Person, Role, Service, Share
from tests import factories

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET = "Je dors chez une amie depuis lundi."


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _world() -> tuple[Dossier, Person, Person, Share]:
    """Amina of AMO Le Passage shares Lou's request with the CPAS, where Julie works."""
    passage = await factories.service("AMO Le Passage")
    await Service.filter(id=passage.id).update(
        phone="081 00 00 00",
        email="contact@lepassage.example",
        address="Rue de l'Ange 12, 5000 Namur",
        hours="Lundi–vendredi 9h–17h",
        hours_nl="Maandag–vrijdag 9–17 uur",
    )
    amina = await factories.staff("amina", service_=passage, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, passage, SECRET)
    cpas = await factories.partner("CPAS de Namur")
    julie = await factories.staff("julie", Role.PARTNER, partner_=cpas, name="Julie")
    await rules.grant(lou, dossier.reference, cpas.id, ["request"], "until_stop", "Un logement")
    share = await rules.share(amina, dossier.reference, cpas.id, ["request"])
    assert julie.partner_id == cpas.id
    return dossier, lou, julie, share


async def test_a_share_says_who_shared_it_and_how_to_reach_them(
    client: httpx.AsyncClient,
) -> None:
    _dossier, _lou, _julie, share = await _world()
    await factories.sign_in_staff(client, "julie")

    inbox = await client.get("/partenaire")
    assert inbox.status_code == 200
    assert "par Amina (AMO Le Passage)" in inbox.text

    page = await client.get(f"/partenaire/partages/{share.id}")
    assert page.status_code == 200 and SECRET in page.text
    assert "Partagé par" in page.text and "Amina (AMO Le Passage)" in page.text
    assert "Pour joindre AMO Le Passage" in page.text
    assert 'href="tel:081000000"' in page.text
    assert 'href="mailto:contact@lepassage.example"' in page.text
    assert "Rue de l&#39;Ange 12, 5000 Namur" in page.text
    assert "Lundi–vendredi 9h–17h" in page.text

    # In Dutch: the service's hours as the directory holds them in Dutch.
    client.cookies.set("lang", "nl")
    page = await client.get(f"/partenaire/partages/{share.id}")
    assert "Gedeeld door" in page.text and "Maandag–vrijdag 9–17 uur" in page.text


async def test_after_a_revoke_the_partner_reads_that_the_agreement_was_taken_back(
    client: httpx.AsyncClient,
) -> None:
    dossier, lou, julie, share = await _world()
    await factories.sign_in_staff(client, "julie")
    assert (await client.get(f"/partenaire/partages/{share.id}")).status_code == 200
    consent = await share.consent
    await rules.revoke(lou, dossier.reference, consent.id)
    reads = await JournalEntry.filter(dossier=dossier, event="share.read").count()

    page = await client.get(f"/partenaire/partages/{share.id}")
    assert page.status_code == 410
    assert "Le jeune a retiré son accord" in page.text
    # Nothing of the share: not its words, not its purpose, not who shared it or from where.
    for shown in (SECRET, "Un logement", "Amina", "AMO Le Passage", "081 00 00 00"):
        assert shown not in page.text, shown
    assert "Cette page n’existe pas" not in page.text
    # An ended agreement is not a read: nothing is written in the young person's journal.
    assert await JournalEntry.filter(dossier=dossier, event="share.read").count() == reads

    for language, words in (
        ("nl", "De jongere heeft de toestemming ingetrokken"),
        ("en", "The young person took back their agreement"),
    ):
        client.cookies.set("lang", language)
        page = await client.get(f"/partenaire/partages/{share.id}")
        assert page.status_code == 410 and words in page.text

    with pytest.raises(Withdrawn) as refused:
        await rules.partner_read(julie, share.id)
    assert refused.value.revoked


async def test_an_agreement_past_its_time_says_it_has_ended(client: httpx.AsyncClient) -> None:
    _dossier, _lou, _julie, share = await _world()
    await Consent.filter(id=share.consent_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    await factories.sign_in_staff(client, "julie")
    page = await client.get(f"/partenaire/partages/{share.id}")
    assert page.status_code == 410
    assert "L’accord du jeune a pris fin" in page.text and SECRET not in page.text


async def test_another_partner_or_a_forged_id_still_gets_the_plain_404(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    dossier, lou, _julie, share = await _world()
    school = await factories.partner("Athénée", secrecy=False)
    await factories.staff("prof", Role.PARTNER, partner_=school)
    consent = await share.consent

    async with _client(app) as prof:
        await factories.sign_in_staff(prof, "prof")
        for moment in ("active", "revoked"):
            if moment == "revoked":
                await rules.revoke(lou, dossier.reference, consent.id)
            for share_id in (share.id, share.id + 1000, 0):
                page = await prof.get(f"/partenaire/partages/{share_id}")
                assert page.status_code == 404, (moment, share_id)
                assert "Cette page n’existe pas" in page.text
                assert "retiré son accord" not in page.text and SECRET not in page.text

    # The partner who received it: a share id that was never its own is a plain 404 too.
    await factories.sign_in_staff(client, "julie")
    forged = await client.get(f"/partenaire/partages/{share.id + 1000}")
    assert forged.status_code == 404 and "retiré son accord" not in forged.text
    with pytest.raises(NotFound) as refused:
        await rules.partner_read(await Person.get(login="prof"), share.id)
    assert not isinstance(refused.value, Withdrawn)


@pytest.mark.parametrize("role", [Role.WORKER, Role.ADMIN, Role.OPERATOR])
async def test_staff_reach_no_share_active_or_revoked(
    client: httpx.AsyncClient, role: Role
) -> None:
    dossier, lou, _julie, share = await _world()
    passage = await Service.get(name="AMO Le Passage")
    where = {} if role is Role.OPERATOR else {"service_": passage}
    await factories.staff("staff", role, **where)
    await factories.sign_in_staff(client, "staff")
    consent = await share.consent
    for moment in ("active", "revoked"):
        if moment == "revoked":
            await rules.revoke(lou, dossier.reference, consent.id)
        for path in ("/partenaire", f"/partenaire/partages/{share.id}"):
            page = await client.get(path)
            assert page.status_code == 404, (role, moment, path)
            assert "retiré son accord" not in page.text and SECRET not in page.text
    assert await JournalEntry.filter(event="share.read").count() == 0
