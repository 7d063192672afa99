"""Staff: invitations by an admin, two factors from the first sign-in, the partner directory."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
from starlette.applications import Starlette
from tortoise import timezone

from portal.models import Credential, CredentialKind, OneTimeLink, Partner, Person, Role, Session
from portal.settings import Settings
from tests import factories
from tests.helpers import csrf_token


async def _admin(client: httpx.AsyncClient) -> Person:
    service = await factories.service()
    admin = await factories.staff("admin", Role.ADMIN, service_=service)
    assert (await factories.sign_in_staff(client, "admin")).status_code == 303
    return admin


async def _invite(client: httpx.AsyncClient, settings: Settings, **form: str) -> str:
    """Invite through the admin's page; the link is read from the e-mail, never from the page."""
    token = await csrf_token(client, "/admin/personnes")
    data = {"csrf_token": token, "role": "worker", "display_name": "Nadia"}
    data["email"] = "nadia@amo-test.be"
    data.update(form)
    sent = await client.post("/admin/personnes/inviter", data=data)
    assert sent.status_code == 303, sent.text
    page = await client.get(sent.headers["location"])
    assert f"Invitation envoyée à {data['email']}" in page.text
    link = factories.invitation_links(settings.var_dir)[-1]
    assert link not in sent.text + page.text
    return link


def _other(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def test_an_invited_worker_chooses_a_password_and_enrols_totp(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    await _admin(client)
    link = await _invite(client, settings)
    nadia = await Person.get(display_name="Nadia")
    assert not nadia.is_active and nadia.role is Role.WORKER
    assert nadia.login == "nadia@amo-test.be"
    # Only the hash of the link's token is kept.
    assert not await OneTimeLink.filter(token_hash=link).exists()

    async with _other(app) as new:
        page = await new.get(f"/invitation/{link}")
        assert page.status_code == 200 and "nadia@amo-test.be" in page.text
        token = await csrf_token(new, f"/invitation/{link}")
        step = await new.post(
            f"/invitation/{link}", data={"csrf_token": token, "password": "short"}
        )
        assert step.status_code == 422
        step = await new.post(
            f"/invitation/{link}", data={"csrf_token": token, "password": "nadia-is-here-2026"}
        )
        assert step.status_code == 422  # the password holds the person's name
        step = await new.post(
            f"/invitation/{link}", data={"csrf_token": token, "password": "rivière-calme-2026"}
        )
        assert step.status_code == 200 and "<svg" in step.text
        secret = (await Credential.get(person=nadia, kind=CredentialKind.TOTP)).secret
        wrong = await new.post(
            f"/invitation/{link}/code", data={"csrf_token": token, "code": "000000"}
        )
        assert wrong.status_code == 422
        assert not (await Person.get(id=nadia.id)).is_active
        done = await new.post(
            f"/invitation/{link}/code", data={"csrf_token": token, "code": pyotp.TOTP(secret).now()}
        )
        assert done.status_code == 303 and done.headers["location"] == "/travail"
        assert (await Person.get(id=nadia.id)).is_active
        # The link worked once.
        assert (await new.get(f"/invitation/{link}")).status_code == 404


async def test_an_expired_invitation_opens_nothing(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    await _admin(client)
    link = await _invite(client, settings)
    await OneTimeLink.all().update(expires_at=timezone.now() - timedelta(seconds=1))
    async with _other(app) as new:
        assert (await new.get(f"/invitation/{link}")).status_code == 404
        token = await csrf_token(new)
        refused = await new.post(
            f"/invitation/{link}", data={"csrf_token": token, "password": "rivière-calme-2026"}
        )
        assert refused.status_code == 404
    assert await Credential.filter(person__display_name="Nadia").count() == 0


async def test_invitations_last_72_hours(client: httpx.AsyncClient, settings: Settings) -> None:
    await _admin(client)
    await _invite(client, settings)
    link = await OneTimeLink.get()
    hours = (link.expires_at - link.created_at).total_seconds() / 3600
    assert round(hours) == 72
    assert link.email == "nadia@amo-test.be"


async def test_an_admin_invites_no_partner_user(client: httpx.AsyncClient) -> None:
    await _admin(client)
    cpas = await factories.partner("CPAS")
    token = await csrf_token(client, "/admin/personnes")
    for role in ("partner", "youth", "operator"):
        refused = await client.post(
            "/admin/personnes/inviter",
            data={
                "csrf_token": token,
                "role": role,
                "display_name": "Julie",
                "email": "julie@cpas.be",
                "partner": str(cpas.id),
            },
        )
        assert refused.status_code == 422 and 'value="Julie"' in refused.text
    assert not await Person.filter(display_name="Julie").exists()
    assert await OneTimeLink.all().count() == 0


async def test_an_admin_ends_a_staff_members_sessions(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    admin = await _admin(client)
    amina = await factories.staff("amina", service_=await factories.service("AMO"), name="Amina")
    await Person.filter(id=amina.id).update(service_id=admin.service_id)
    async with _other(app) as desk:
        await factories.sign_in_staff(desk, "amina")
        assert (await desk.get("/travail")).status_code == 200
        token = await csrf_token(client, "/admin/personnes")
        ended = await client.post(
            f"/admin/personnes/{amina.id}/sessions/fin", data={"csrf_token": token}
        )
        assert ended.status_code == 303
        assert (await desk.get("/travail")).status_code == 303
    assert await Session.filter(person=amina, ended_at__isnull=True).count() == 0


async def test_the_directory_keeps_guarantees_and_refuses_bad_input(
    client: httpx.AsyncClient,
) -> None:
    await factories.operator()
    assert (await factories.sign_in_staff(client, "operateur")).status_code == 303
    token = await csrf_token(client, "/operateur/partenaires")
    bad = await client.post(
        "/operateur/partenaires/nouveau",
        data={
            "csrf_token": token,
            "name": "Maison de jeunes",
            "sector": "casino",
            "communes": "Namur",
            "description": "<b>hi</b>",
        },
    )
    assert bad.status_code == 422 and 'value="Maison de jeunes"' in bad.text
    assert await Partner.all().count() == 0
    ok = await client.post(
        "/operateur/partenaires/nouveau",
        data={
            "csrf_token": token,
            "name": "Maison de jeunes",
            "sector": "youth_organisation",
            "communes": "Namur, Jambes",
            "bound_by_secrecy": "1",
            "adheres_youth_code": "1",
            "ethics_code": "Code de déontologie de l’aide à la jeunesse",
            "description": "Un lieu pour se retrouver.",
            "contact": "081 00 00 09",
            "is_active": "1",
        },
    )
    assert ok.status_code == 303
    partner = await Partner.get(name="Maison de jeunes")
    assert partner.bound_by_secrecy and partner.communes == ["Namur", "Jambes"]


async def test_workers_find_a_relay_by_guarantees(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    await factories.staff("amina", service_=service)
    await Partner.create(
        name="Partenaire Alpha",
        sector="school",
        communes=["Namur"],
        bound_by_secrecy=True,
        adheres_youth_code=False,
    )
    await Partner.create(
        name="Partenaire Bravo",
        sector="saj",
        communes=["Namur"],
        bound_by_secrecy=True,
        adheres_youth_code=True,
    )
    await Partner.create(
        name="Partenaire Charlie",
        sector="youth_organisation",
        communes=["Liège"],
        bound_by_secrecy=False,
    )
    await factories.sign_in_staff(client, "amina")
    found = await client.get("/travail/annuaire?secrecy=1&youth_code=1&commune=namur")
    assert "Partenaire Bravo" in found.text
    assert "Partenaire Alpha" not in found.text and "Partenaire Charlie" not in found.text
    bad = await client.get("/travail/annuaire?sector=nope")
    assert bad.status_code == 200 and 'class="error' in bad.text
    assert "Partenaire Bravo" not in bad.text
