"""Staff who arrive and leave: invitations the inviter cannot complete, deactivation, hand-over.

Each test tries to break a rule as the wrong person: the inviter using her own invitation, the
admin of another service reaching into this one, a deactivated account signing in again.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage

import httpx
import pyotp
import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette

from portal.domain import staff as staff_rules
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.models import (
    Assignment,
    Credential,
    CredentialKind,
    JournalEntry,
    OneTimeLink,
    Person,
    Role,
    Service,
    Session,
)
from portal.security.passkeys import PasskeyError
from portal.settings import Settings
from tests import factories
from tests.helpers import csrf_token
from tests.soft_authenticator import SoftAuthenticator
from tests.unit.test_passkeys import add_passkey
from tests.unit.test_passkeys import sign_in as passkey_sign_in

pytestmark = pytest.mark.asyncio(loop_scope="session")

PASSWORD = "rivière-calme-2026"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content: bytes = envelope.content  # type: ignore[attr-defined]
        message = message_from_bytes(content, policy=email_policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _browser(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _post(client: httpx.AsyncClient, page: str, action: str, **data: str) -> httpx.Response:
    token = await csrf_token(client, page)
    return await client.post(action, data={"csrf_token": token, **data})


async def _two_services() -> tuple[Service, Service]:
    one = await factories.service("AMO Un")
    two = await factories.service("AMO Deux")
    await factories.staff("admin1", Role.ADMIN, service_=one, name="Alice")
    await factories.staff("admin2", Role.ADMIN, service_=two, name="Bea")
    return one, two


async def _accept(app: Starlette, link: str) -> httpx.Response:
    """The invitee, in her own browser: a password, then the first code of her app."""
    async with _browser(app) as own:
        page = f"/invitation/{link}"
        step = await _post(own, page, page, password=PASSWORD)
        assert step.status_code == 200, step.text
        person = await Person.get(links__token_hash=staff_rules.token_hash(link))
        secret = (await Credential.get(person=person, kind=CredentialKind.TOTP)).secret
        return await _post(own, page, f"{page}/code", code=pyotp.TOTP(secret).now())


# --- Invitations ---------------------------------------------------------------------------


async def test_an_invitation_goes_by_smtp_and_never_through_the_admins_pages(
    client: httpx.AsyncClient, app: Starlette, settings: Settings, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    app.state.settings = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=port)
    await _two_services()
    await factories.sign_in_staff(client, "admin1")
    sent = await _post(
        client,
        "/admin/personnes",
        "/admin/personnes/inviter",
        role="worker",
        display_name="Nadia",
        email="Nadia@AMO-un.be",
    )
    assert sent.status_code == 303
    page = await client.get(sent.headers["location"])
    assert "Invitation envoyée à nadia@amo-un.be" in page.text
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    assert mail["To"] == "nadia@amo-un.be"
    body = mail.get_body(("plain",))
    assert body is not None
    link = re.findall(r"https://testserver/invitation/([\w-]{43})", body.get_content())[0]
    # Nothing the inviter receives holds the link; only its hash is stored.
    assert link not in sent.text + str(sent.headers) + page.text
    assert link not in (await client.get("/admin/personnes")).text
    assert not await OneTimeLink.filter(token_hash=link).exists()
    assert not (settings.var_dir / "outbox").exists()
    done = await _accept(app, link)
    assert done.status_code == 303 and done.headers["location"] == "/travail"
    nadia = await Person.get(login="nadia@amo-un.be")
    assert nadia.is_active and nadia.role is Role.WORKER


async def test_the_inviter_cannot_use_her_invitation_and_it_works_once(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    await _two_services()
    await factories.sign_in_staff(client, "admin1")
    await _post(
        client,
        "/admin/personnes",
        "/admin/personnes/inviter",
        role="admin",
        display_name="Zoé",
        email="zoe@amo-un.be",
    )
    link = factories.invitation_links(settings.var_dir)[-1]
    page = f"/invitation/{link}"
    # Signed in as the inviter: every step asks to sign out first, and shows nothing.
    shown = await client.get(page)
    assert shown.status_code == 403 and "Zoé" not in shown.text
    token = await csrf_token(client, "/admin/personnes")
    tried = [
        await client.post(page, data={"csrf_token": token, "password": PASSWORD}),
        await client.post(f"{page}/code", data={"csrf_token": token, "code": "123456"}),
        await client.post(f"{page}/passkey/options", data={"csrf_token": token}),
    ]
    assert [r.status_code for r in tried] == [403, 403, 403]
    zoe = await Person.get(login="zoe@amo-un.be")
    assert await Credential.filter(person=zoe).count() == 0 and not zoe.is_active
    # The person it was sent to completes it, once.
    assert (await _accept(app, link)).status_code == 303
    async with _browser(app) as again:
        assert (await again.get(page)).status_code == 404
    assert (await client.get(page)).status_code == 404


async def test_the_operator_invites_a_partner_user_and_cannot_use_the_link(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    await factories.operator("operator@portail.be")
    cpas = await factories.partner("CPAS de Namur")
    assert (await factories.sign_in_staff(client, "operator@portail.be")).status_code == 303
    sent = await _post(
        client,
        "/operateur/personnes",
        "/operateur/personnes/inviter",
        role="partner",
        display_name="Julie",
        email="julie@cpas-namur.be",
        partner=str(cpas.id),
    )
    assert sent.status_code == 303
    listing = await client.get(sent.headers["location"])
    assert "Invitation envoyée à julie@cpas-namur.be" in listing.text
    assert "CPAS de Namur" in listing.text
    link = factories.invitation_links(settings.var_dir)[-1]
    assert link not in listing.text
    assert (await client.get(f"/invitation/{link}")).status_code == 403
    done = await _accept(app, link)
    assert done.status_code == 303 and done.headers["location"] == "/partenaire"
    julie = await Person.get(login="julie@cpas-namur.be")
    assert julie.partner_id == cpas.id and julie.is_active
    invitation = await OneTimeLink.get(person=julie)
    assert invitation.email == "julie@cpas-namur.be" and invitation.used_at is not None


async def test_an_admin_invites_into_her_own_service_only(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    one, _two = await _two_services()
    cpas = await factories.partner("CPAS")
    await factories.sign_in_staff(client, "admin2")
    forged = [
        {"role": "worker", "service": str(one.id)},
        {"role": "admin", "service": str(one.id)},
        {"role": "partner", "partner": str(cpas.id)},
        {"role": "operator"},
        {"role": "worker", "service": "1 OR 1=1"},
        {"role": "worker", "partner": str(cpas.id)},
    ]
    for fields in forged:
        refused = await _post(
            client,
            "/admin/personnes",
            "/admin/personnes/inviter",
            display_name="Intruse",
            email="intruse@amo-un.be",
            **fields,
        )
        assert refused.status_code == 422, fields
        assert 'value="Intruse"' in refused.text
    assert not await Person.filter(display_name="Intruse").exists()
    assert await OneTimeLink.all().count() == 0
    assert not (settings.var_dir / "outbox").exists()


async def test_bad_input_on_the_invitation_form_stores_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await _two_services()
    await factories.operator("operator@portail.be")
    await factories.sign_in_staff(client, "operator@portail.be")
    cases = [
        {"role": "admin", "display_name": "Zoé", "email": "pas une adresse"},
        {"role": "admin", "display_name": "Zoé", "email": "zoe@amo.be", "service": ""},
        {"role": "admin", "display_name": "Zoé", "email": "zoe@amo.be", "service": "999999"},
        {"role": "admin", "display_name": "Zoé", "email": "zoe@amo.be", "service": "-1"},
        {"role": "admin", "display_name": "", "email": "zoe@amo.be", "service": "1"},
        {"role": "admin", "display_name": "Z" * 41, "email": "zoe@amo.be", "service": "1"},
        {"role": "partner", "display_name": "Zoé", "email": "zoe@amo.be", "partner": "x"},
        {"role": "worker", "display_name": "Zoé", "email": "zoe@amo.be", "service": "1"},
        {"role": "admin", "display_name": "Zoé", "email": "a" * 250 + "@amo.be"},
        {"role": "admin", "display_name": "Zoé", "email": "admin1", "service": "1"},
    ]
    for fields in cases:
        refused = await _post(
            client, "/operateur/personnes", "/operateur/personnes/inviter", **fields
        )
        assert refused.status_code == 422, fields
        assert 'class="error' in refused.text
    assert await Person.filter(role=Role.ADMIN).count() == 2
    assert await OneTimeLink.all().count() == 0


async def test_an_address_with_an_account_is_not_invited_twice(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    await _two_services()
    await factories.sign_in_staff(client, "admin1")
    fields = {"role": "worker", "display_name": "Nadia", "email": "nadia@amo-un.be"}
    first = await _post(client, "/admin/personnes", "/admin/personnes/inviter", **fields)
    assert first.status_code == 303
    again = await _post(client, "/admin/personnes", "/admin/personnes/inviter", **fields)
    assert again.status_code == 422 and "déjà un compte" in again.text
    assert await Person.filter(login="nadia@amo-un.be").count() == 1


async def test_sending_again_replaces_the_link(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    await _two_services()
    await factories.sign_in_staff(client, "admin1")
    await _post(
        client,
        "/admin/personnes",
        "/admin/personnes/inviter",
        role="worker",
        display_name="Nadia",
        email="nadia@amo-un.be",
    )
    nadia = await Person.get(login="nadia@amo-un.be")
    again = await _post(client, "/admin/personnes", f"/admin/personnes/{nadia.id}/renvoyer")
    assert again.status_code == 303
    old, new = factories.invitation_links(settings.var_dir)
    async with _browser(app) as own:
        assert (await own.get(f"/invitation/{old}")).status_code == 404
        assert (await own.get(f"/invitation/{new}")).status_code == 200
    # Nobody else's invitation is sent again: another service's admin finds nothing.
    async with _browser(app) as far:
        await factories.sign_in_staff(far, "admin2")
        refused = await _post(far, "/admin/personnes", f"/admin/personnes/{nadia.id}/renvoyer")
        assert refused.status_code == 404
    assert len(factories.invitation_links(settings.var_dir)) == 2


async def test_in_production_without_smtp_the_form_refuses_kindly(
    client: httpx.AsyncClient, app: Starlette, settings: Settings
) -> None:
    app.state.settings = dataclasses.replace(settings, env="production")
    await _two_services()
    await factories.sign_in_staff(client, "admin1")
    page = await client.get("/admin/personnes")
    assert "SMTP_HOST" in page.text
    refused = await _post(
        client,
        "/admin/personnes",
        "/admin/personnes/inviter",
        role="worker",
        display_name="Nadia",
        email="nadia@amo-un.be",
    )
    assert refused.status_code == 422 and "SMTP_HOST" in refused.text
    assert not await Person.filter(display_name="Nadia").exists()
    assert not (settings.var_dir / "outbox").exists()


async def test_the_server_command_makes_an_invitation_issued_by_nobody(db: str) -> None:
    one, _two = await _two_services()
    cpas = await factories.partner("CPAS")
    new = await staff_rules.check_server_invitation("admin", "Zoé", "zoe@amo-un.be", one.id, None)
    zoe, token = await staff_rules.invite_from_server(new)
    link = await OneTimeLink.get(person=zoe)
    assert link.issued_by_id is None and link.token_hash == staff_rules.token_hash(token)
    assert zoe.service_id == one.id and zoe.role is Role.ADMIN and not zoe.is_active
    for bad in [
        ("operator", "Zoé", "x@amo.be", one.id, None),
        ("worker", "Zoé", "x@amo.be", None, None),
        ("worker", "Zoé", "x@amo.be", one.id, cpas.id),
        ("partner", "Zoé", "x@amo.be", one.id, cpas.id),
        ("partner", "Zoé", "x@amo.be", None, 999),
        ("admin", "Zoé", "not an address", one.id, None),
    ]:
        with pytest.raises(Invalid):
            await staff_rules.check_server_invitation(*bad)
    with pytest.raises(Invalid):
        await staff_rules.invite_from_server(new)
    assert await Person.filter(login="x@amo.be").count() == 0


# --- Deactivation ---------------------------------------------------------------------------


async def test_a_deactivated_worker_is_signed_out_and_never_signs_in_again(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    one, _two = await _two_services()
    amina = await factories.staff("amina", service_=one, name="Amina")
    browser = secrets.token_urlsafe(32)
    laptop = SoftAuthenticator()
    await add_passkey(amina, laptop, browser)
    async with _browser(app) as desk, _browser(app) as half:
        assert (await factories.sign_in_staff(desk, "amina")).status_code == 303
        assert (await desk.get("/travail")).status_code == 200
        # Another browser stopped at the second factor.
        assert (await factories.sign_in(half, "amina", factories.STAFF_PASSWORD)).status_code == 303
        await factories.sign_in_staff(client, "admin1")
        page = f"/admin/personnes/{amina.id}/depart"
        done = await _post(client, page, f"/admin/personnes/{amina.id}/desactiver")
        assert done.status_code == 303
        assert (await desk.get("/travail")).status_code == 303
        token = await csrf_token(half, "/connexion/code")
        code = await half.post(
            "/connexion/code", data={"csrf_token": token, "code": factories.totp_now()}
        )
        assert code.status_code != 303 or code.headers["location"] != "/travail"
        assert (await half.get("/travail")).status_code == 303
        refused = await factories.sign_in_staff(desk, "amina")
        assert refused.status_code != 303
    with pytest.raises(PasskeyError):
        await passkey_sign_in(laptop, browser)
    assert await Session.filter(person=amina, ended_at__isnull=True).count() == 0
    amina = await Person.get(id=amina.id)
    admin = await Person.get(login="admin1")
    assert not amina.is_active and amina.deactivated_by_id == admin.id
    listing = await client.get("/admin/personnes")
    assert "départ le" in listing.text


async def test_a_deactivated_partner_user_reads_no_share(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    _one, _two = await _two_services()
    await factories.operator("operator@portail.be")
    cpas = await factories.partner("CPAS")
    julie = await factories.staff("julie@cpas.be", Role.PARTNER, partner_=cpas, name="Julie")
    async with _browser(app) as desk:
        assert (await factories.sign_in_staff(desk, "julie@cpas.be")).status_code == 303
        assert (await desk.get("/partenaire")).status_code == 200
        await factories.sign_in_staff(client, "operator@portail.be")
        done = await _post(
            client, "/operateur/personnes", f"/operateur/personnes/{julie.id}/desactiver"
        )
        assert done.status_code == 303
        assert (await desk.get("/partenaire")).status_code == 303
        assert (await factories.sign_in_staff(desk, "julie@cpas.be")).status_code != 303
        assert (await desk.get("/partenaire")).status_code == 303


async def test_who_may_deactivate_whom(client: httpx.AsyncClient, app: Starlette) -> None:
    one, _two = await _two_services()
    await factories.operator("operator@portail.be")
    amina = await factories.staff("amina", service_=one, name="Amina")
    admin1 = await Person.get(login="admin1")
    # The admin of another service: her pages do not know Amina.
    await factories.sign_in_staff(client, "admin2")
    assert (await client.get(f"/admin/personnes/{amina.id}/depart")).status_code == 404
    for action in ("desactiver", "sessions/fin"):
        refused = await _post(client, "/admin/personnes", f"/admin/personnes/{amina.id}/{action}")
        assert refused.status_code == 404
    assert "Amina" not in (await client.get("/admin/personnes")).text
    # Nobody deactivates herself.
    await factories.sign_in_staff(client, "admin1")
    page = f"/admin/personnes/{admin1.id}/depart"
    refused = await _post(client, page, f"/admin/personnes/{admin1.id}/desactiver")
    assert refused.status_code == 422
    # The operator deactivates admins and partner users, not workers.
    async with _browser(app) as operator:
        await factories.sign_in_staff(operator, "operator@portail.be")
        refused = await _post(
            operator, "/operateur/personnes", f"/operateur/personnes/{amina.id}/desactiver"
        )
        assert refused.status_code == 404
        done = await _post(
            operator, "/operateur/personnes", f"/operateur/personnes/{admin1.id}/desactiver"
        )
        assert done.status_code == 303
    assert (await client.get("/admin/personnes")).status_code == 303
    assert (await Person.get(id=amina.id)).is_active
    assert not (await Person.get(id=admin1.id)).is_active


# --- Hand-over --------------------------------------------------------------------------------


async def test_a_leaver_hands_each_dossier_over_and_the_young_person_is_told(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    one, two = await _two_services()
    amina = await factories.staff("amina", service_=one, name="Amina")
    tom = await factories.staff("tom", service_=one, name="Tom")
    sara = await factories.staff("sara", service_=one, name="Sara")
    far = await factories.staff("far", service_=two, name="Loin")
    lou = await factories.youth("lou", "Lou")
    noa = await factories.youth("noa", "Noa")
    alone = await factories.followed_dossier(amina, lou, one, "Mon secret de Lou")
    shared = await factories.followed_dossier(amina, noa, one, "Mon secret de Noa")
    await Assignment.create(dossier=shared, worker=sara)
    await factories.sign_in_staff(client, "admin1")
    page = f"/admin/personnes/{amina.id}/depart"
    action = f"/admin/personnes/{amina.id}/desactiver"
    form = await client.get(page)
    assert alone.reference in form.text and shared.reference in form.text
    for secret in ("Mon secret", "Lou", "Noa", "lou", "noa"):
        assert secret not in form.text

    # Without a colleague for the dossier nobody else follows: refused, nothing changed.
    refused = await _post(client, page, action)
    assert refused.status_code == 422 and "Choisis qui suit chaque dossier" in refused.text
    # A colleague of another service, or someone who is not a colleague: refused too.
    for forged in (far.id, amina.id, 999_999):
        refused = await _post(client, page, action, **{f"dossier-{alone.id}": str(forged)})
        assert refused.status_code == 422
    assert (await Person.get(id=amina.id)).is_active
    assert await Assignment.filter(worker=amina, ended_at__isnull=True).count() == 2
    assert not await JournalEntry.filter(event="dossier.handed_over").exists()

    done = await _post(client, page, action, **{f"dossier-{alone.id}": str(tom.id)})
    assert done.status_code == 303
    assert not await Assignment.filter(worker=amina, ended_at__isnull=True).exists()
    assert await Assignment.filter(dossier=alone, worker=tom, ended_at__isnull=True).exists()
    assert await Assignment.filter(dossier=shared, worker=sara, ended_at__isnull=True).exists()
    entry = await JournalEntry.get(dossier=alone, event="dossier.handed_over")
    assert entry.details["from"] == amina.id and entry.details["to"] == tom.id

    async with _browser(app) as young:
        await factories.sign_in(young, "lou")
        mine = await young.get(f"/espace/{alone.reference}")
        assert "Amina ne te suit plus. Tom te suit maintenant." in mine.text
    async with _browser(app) as young:
        await factories.sign_in(young, "noa")
        mine = await young.get(f"/espace/{shared.reference}")
        assert "Amina ne te suit plus." in mine.text
        assert "te suit maintenant" not in mine.text
    async with _browser(app) as desk:
        await factories.sign_in_staff(desk, "tom")
        assert (await desk.get(f"/travail/dossiers/{alone.reference}")).status_code == 200
    listing = await client.get("/admin/personnes")
    assert "Mon secret" not in listing.text


async def test_handing_over_is_the_domain_s_rule_too(db: str) -> None:
    one, _two = await _two_services()
    amina = await factories.staff("amina", service_=one, name="Amina")
    tom = await factories.staff("tom", service_=one, name="Tom")
    lou = await factories.youth("lou", "Lou")
    dossier = await factories.followed_dossier(amina, lou, one)
    admin2 = await Person.get(login="admin2")
    with pytest.raises(NotFound):
        await staff_rules.deactivate(admin2, amina.id, everything_to=tom.id)
    with pytest.raises(NotFound):
        await staff_rules.leaving(admin2, amina.id)
    worker = await Person.get(id=tom.id)
    with pytest.raises(NotAllowed):
        await staff_rules.deactivate(worker, amina.id, everything_to=tom.id)
    admin1 = await Person.get(login="admin1")
    await staff_rules.deactivate(admin1, amina.id, everything_to=tom.id)
    # Twice is once.
    await staff_rules.deactivate(admin1, amina.id, everything_to=tom.id)
    assert await JournalEntry.filter(dossier=dossier, event="dossier.handed_over").count() == 1
    # The last worker of a dossier leaves only with a colleague to take it over.
    with pytest.raises(Invalid):
        await staff_rules.deactivate(admin1, tom.id)


async def test_forged_numbers_and_fields_are_refused_never_a_500(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    one, _two = await _two_services()
    amina = await factories.staff("amina", service_=one, name="Amina")
    lou = await factories.youth("lou", "Lou")
    dossier = await factories.followed_dossier(amina, lou, one)
    await factories.sign_in_staff(client, "admin1")
    for odd in ("²", "\u0661", "-1", "1e3", "9" * 30, "%00", "0x1"):
        assert (await client.get(f"/admin/personnes/{odd}/depart")).status_code == 404
        assert (await client.get(f"/admin/personnes?personne={odd}&fait=envoi")).status_code == 200
        for action in ("desactiver", "renvoyer", "sessions/fin"):
            answer = await _post(client, "/admin/personnes", f"/admin/personnes/{odd}/{action}")
            assert answer.status_code == 404, (odd, action)
        page = f"/admin/personnes/{amina.id}/depart"
        answer = await _post(
            client,
            page,
            f"/admin/personnes/{amina.id}/desactiver",
            all=odd,
            **{f"dossier-{dossier.id}": odd, f"dossier-{odd}": "1"},
        )
        assert answer.status_code == 422, odd
        answer = await _post(
            client,
            "/admin/personnes",
            "/admin/personnes/inviter",
            role="worker",
            display_name="Zoé",
            email="zoe@amo-un.be",
            service=odd,
        )
        assert answer.status_code == 422, odd
    assert (await Person.get(id=amina.id)).is_active
    assert not await Person.filter(display_name="Zoé").exists()
