"""A worker's recovery link is no master key: it opens one dossier, and the young person is told.

Lou has three dossiers: D1 in the first service, followed by Amina; D2 in the same service,
followed by her colleague Bea; D3 in a second service, followed by Chloé. Amina makes a
recovery link for D1 and uses it herself in another browser. She must get no more than she
could already read (D1), keep nothing of the account, and be named in all three journals.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from tortoise import timezone

from portal.domain import accounts
from portal.domain import staff as staff_rules
from portal.domain.actions import propose_action
from portal.domain.ending import end_help
from portal.models import (
    Action,
    ActionKind,
    ActionStatus,
    Assignment,
    Consent,
    Credential,
    CredentialKind,
    Dossier,
    DossierStatus,
    JournalEntry,
    LinkKind,
    OneTimeLink,
    Person,
    RecoveryCode,
    Request,
    Role,
    Session,
)
from portal.security.tokens import token_hash
from tests import factories
from tests.helpers import csrf_token
from tests.soft_authenticator import SoftAuthenticator

pytestmark = pytest.mark.asyncio(loop_scope="session")

LINK_RE = re.compile(r"/secours/([A-Za-z0-9_-]{20,})")


@dataclass
class World:
    app: Starlette
    amina: Person
    bea: Person
    chloe: Person
    lou: Person
    d1: Dossier
    d2: Dossier
    d3: Dossier
    clients: list[httpx.AsyncClient]

    def client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="https://testserver"
        )
        self.clients.append(client)
        return client


@pytest_asyncio.fixture(loop_scope="session")
async def world(app: Starlette, db: str) -> AsyncIterator[World]:
    passage = await factories.service("AMO Le Passage")
    autre = await factories.service("AMO La Source")
    amina = await factories.staff("amina@passage.be", service_=passage, name="Amina")
    bea = await factories.staff("bea@passage.be", service_=passage, name="Bea")
    chloe = await factories.staff("chloe@source.be", service_=autre, name="Chloé")
    lou = await factories.youth("lou", "Lou")
    d1 = await factories.followed_dossier(amina, lou, passage, "Secret un")
    d2 = await factories.followed_dossier(bea, lou, passage, "Secret deux")
    d3 = await factories.followed_dossier(chloe, lou, autre, "Secret trois")
    w = World(app, amina, bea, chloe, lou, d1, d2, d3, [])
    try:
        yield w
    finally:
        for client in w.clients:
            await client.aclose()


async def staff_client(w: World, login: str) -> httpx.AsyncClient:
    client = w.client()
    assert (await factories.sign_in_staff(client, login)).status_code == 303
    return client


async def make_link(
    w: World, amina: httpx.AsyncClient | None = None
) -> tuple[httpx.AsyncClient, str]:
    """Amina makes the link for D1, from her dossier page."""
    amina = amina or await staff_client(w, "amina@passage.be")
    token = await csrf_token(amina, f"/travail/dossiers/{w.d1.reference}")
    page = await amina.post(
        f"/travail/dossiers/{w.d1.reference}/lien-de-secours", data={"csrf_token": token}
    )
    assert page.status_code == 200
    found = LINK_RE.search(page.text)
    assert found
    return amina, found.group(1)


async def use_link(w: World, link: str) -> httpx.AsyncClient:
    """The link opened in a fresh browser, and its button pressed."""
    client = w.client()
    page = await client.get(f"/secours/{link}")
    assert page.status_code == 200
    token = await csrf_token(client, f"/secours/{link}")
    used = await client.post(f"/secours/{link}", data={"csrf_token": token})
    assert used.status_code == 303
    return client


async def add_passkey(client: httpx.AsyncClient) -> SoftAuthenticator:
    """A passkey added on the account page of this browser's session."""
    auth = SoftAuthenticator()
    headers = {"X-CSRF-Token": await csrf_token(client, "/compte")}
    options = await client.post("/compte/passkeys/options", headers=headers)
    assert options.status_code == 200
    added = await client.post(
        "/compte/passkeys",
        headers={**headers, "Content-Type": "application/json"},
        content=json.dumps({"credential": json.loads(auth.register(options.text))}),
    )
    assert added.status_code == 200, added.text
    return auth


async def passkey_sign_in(client: httpx.AsyncClient, auth: SoftAuthenticator) -> httpx.Response:
    headers = {"X-CSRF-Token": await csrf_token(client, "/connexion")}
    options = await client.post("/connexion/passkey/options", headers=headers)
    return await client.post(
        "/connexion/passkey",
        headers={**headers, "Content-Type": "application/json"},
        content=json.dumps({"credential": json.loads(auth.sign_in(options.text))}),
    )


async def code_hashes(person: Person) -> list[str]:
    hashes = await RecoveryCode.filter(person_id=person.id).values_list("code_hash", flat=True)
    return sorted(str(h) for h in hashes)


# --- The link opens one dossier -----------------------------------------------------------------


async def test_the_link_opens_only_the_dossier_it_was_given_for(world: World) -> None:
    w = world
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    session = await Session.filter(person_id=w.lou.id, ended_at__isnull=True).get()
    assert session.scope_dossier_id == w.d1.id

    space = await held.get("/espace")
    assert space.status_code == 200
    assert w.d1.reference in space.text
    assert w.d2.reference not in space.text and w.d3.reference not in space.text

    mine = await held.get(f"/espace/{w.d1.reference}")
    assert mine.status_code == 200 and "Secret un" in mine.text
    for other, words in ((w.d2, "Secret deux"), (w.d3, "Secret trois")):
        for page in ("", "/partenaires", "/export", "/export.json", "/arreter", "/effacer"):
            refused = await held.get(f"/espace/{other.reference}{page}")
            assert refused.status_code == 404, (other.reference, page)
            assert words not in refused.text
    # The refused tries are written in the other dossiers, as anyone's would be.
    assert await JournalEntry.filter(dossier_id=w.d2.id, event="dossier.read_refused").exists()


async def test_the_link_keeps_nothing_of_the_account(world: World) -> None:
    w = world
    await Credential.create(
        person=w.lou, kind=CredentialKind.PASSKEY, credential_id=b"lou-phone", public_key=b"k"
    )
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    codes = await code_hashes(w.lou)
    secrets_before = await Credential.filter(person_id=w.lou.id).values_list("id", "secret")
    token = await csrf_token(held, "/compte")
    passkey = await Credential.get(person_id=w.lou.id, credential_id=b"lou-phone")

    refused = {
        "/compte/codes": {},
        "/compte/mot-de-passe": {"current": factories.YOUTH_PASSWORD, "new_password": "x" * 40},
        f"/compte/passkeys/{passkey.id}/supprimer": {},
        "/compte/avis": {"email": "amina@example.org", "notify": "1"},
        "/compte/profil": {"display_name": "Pas Lou", "language": "nl"},
    }
    for path, fields in refused.items():
        answer = await held.post(path, data={"csrf_token": token, **fields})
        assert answer.status_code == 403, path
        assert "lien de secours" in answer.text, path
    # A new request would open a new dossier: not through a link either.
    assert (await held.get("/demande")).status_code == 403

    assert await code_hashes(w.lou) == codes
    assert await Credential.filter(person_id=w.lou.id).values_list("id", "secret") == (
        secrets_before
    )
    lou = await Person.get(id=w.lou.id)
    assert (lou.display_name, lou.language, lou.email) == ("Lou", "fr", "")
    # Her account page says why, and offers only what stays within the dossier.
    page = await held.get("/compte")
    assert page.status_code == 200
    assert "/compte/codes" not in page.text and "/compte/mot-de-passe" not in page.text


async def test_the_link_cannot_agree_in_the_young_persons_place(world: World) -> None:
    """Whoever holds the link may be the worker who proposed the step: no agreement through it."""
    w = world
    cpas = await factories.partner("CPAS")
    step = await propose_action(
        w.amina, w.d1.reference, ActionKind.PARTNER_CONTACT, "Appeler le CPAS", "", [cpas.id]
    )
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    token = await csrf_token(held, f"/espace/{w.d1.reference}")
    agree = await held.post(
        f"/espace/{w.d1.reference}/demarches/{step.id}/oui", data={"csrf_token": token}
    )
    assert agree.status_code == 403 and "lien de secours" in agree.text
    grant = await held.post(
        f"/espace/{w.d1.reference}/partenaires/{cpas.id}/accord",
        data={
            "csrf_token": token,
            "categories": "request",
            "duration": "until_stop",
            "purpose": "Pour l’aide",
            "step": "confirm",
        },
    )
    assert grant.status_code == 403
    assert (await Action.get(id=step.id)).status is ActionStatus.PROPOSED
    assert not await Consent.exists()
    # Saying no stays possible.
    decline = await held.post(
        f"/espace/{w.d1.reference}/demarches/{step.id}/non", data={"csrf_token": token}
    )
    assert decline.status_code == 303
    assert (await Action.get(id=step.id)).status is ActionStatus.DECLINED


async def test_the_link_cannot_end_the_help(world: World) -> None:
    """Ending stops every consent and step at once: the young person's own step, not a link's."""
    w = world
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    assert (await held.get(f"/espace/{w.d1.reference}/arreter")).status_code == 403
    token = await csrf_token(held, f"/espace/{w.d1.reference}")
    answer = await held.post(
        f"/espace/{w.d1.reference}/arreter", data={"csrf_token": token, "reason": ""}
    )
    assert answer.status_code == 403 and "lien de secours" in answer.text
    assert (await Dossier.get(id=w.d1.id)).status is DossierStatus.OPEN
    with pytest.raises(accounts.LimitedSession):
        limited = await Person.get(id=w.lou.id)
        limited.scope_dossier_id = w.d1.id
        await end_help(limited, w.d1.reference)


async def test_the_link_signs_out_only_what_the_link_opened(world: World) -> None:
    """Her own phone stays signed in: a link's holder may be the worker who made it."""
    w = world
    phone = w.client()
    assert (await factories.sign_in(phone, "lou")).status_code == 303
    amina, link = await make_link(w)
    held = await use_link(w, link)
    other = await use_link(w, (await make_link(w, amina))[1])
    token = await csrf_token(held, "/compte")
    out = await held.post("/compte/sessions/fin", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await held.get("/compte")).status_code == 303
    assert (await other.get("/compte")).status_code == 303
    assert (await phone.get("/compte")).status_code == 200


async def test_the_link_cannot_bring_an_ended_dossier_back(world: World) -> None:
    """Coming back is a new request: only the young person makes it, never a link's holder."""
    w = world
    await end_help(w.lou, w.d1.reference)
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    requests_before = await Request.filter(dossier_id=w.d1.id).count()
    assert (await held.get(f"/espace/{w.d1.reference}/revenir")).status_code == 403
    token = await csrf_token(held, f"/espace/{w.d1.reference}")
    answer = await held.post(
        f"/espace/{w.d1.reference}/revenir",
        data={
            "csrf_token": token,
            "themes": "school",
            "words": "Je veux revenir",
            "contact_channel": "portal",
        },
    )
    assert answer.status_code == 403 and "lien de secours" in answer.text
    assert (await Dossier.get(id=w.d1.id)).status is DossierStatus.ENDED
    assert await Request.filter(dossier_id=w.d1.id).count() == requests_before


async def test_the_worker_cannot_use_her_link_from_her_own_session(world: World) -> None:
    w = world
    amina, link = await make_link(w)
    assert (await amina.get(f"/secours/{link}")).status_code == 404
    token = await csrf_token(amina, "/travail")
    assert (await amina.post(f"/secours/{link}", data={"csrf_token": token})).status_code == 404
    stored = await OneTimeLink.get(kind=LinkKind.RECOVERY)
    assert stored.used_at is None and stored.dossier_id == w.d1.id
    # Her own session is untouched.
    assert (await amina.get("/travail")).status_code == 200


async def test_a_passkey_added_through_the_link_opens_the_same_dossier_only(world: World) -> None:
    w = world
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    auth = await add_passkey(held)
    stored = await Credential.get(credential_id=auth.credential_id)
    assert stored.person_id == w.lou.id and stored.scope_dossier_id == w.d1.id

    later = w.client()
    signed = await passkey_sign_in(later, auth)
    assert signed.status_code == 200, signed.text
    assert (await later.get(f"/espace/{w.d1.reference}")).status_code == 200
    assert (await later.get(f"/espace/{w.d2.reference}")).status_code == 404
    assert (await later.get(f"/espace/{w.d3.reference}")).status_code == 404
    token = await csrf_token(later, "/compte")
    assert (await later.post("/compte/codes", data={"csrf_token": token})).status_code == 403


async def test_what_the_worker_kept_of_her_link_ends_when_she_leaves(world: World) -> None:
    """She used her own link and added a passkey there: once she leaves, neither reads D1."""
    w = world
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    auth = await add_passkey(held)
    # Lou's own passkey, made before, in her whole account: it stays.
    await Credential.create(
        person=w.lou, kind=CredentialKind.PASSKEY, credential_id=b"lou-phone", public_key=b"k"
    )

    admin = await factories.staff(
        "admin@passage.be", Role.ADMIN, service_=await w.d1.service, name="Admin"
    )
    await staff_rules.deactivate(admin, w.amina.id, everything_to=w.bea.id)

    gone = await held.get(f"/espace/{w.d1.reference}", follow_redirects=False)
    assert gone.status_code != 200 and "Secret un" not in gone.text
    assert not await Credential.exists(credential_id=auth.credential_id)
    assert await Credential.exists(credential_id=b"lou-phone")
    later = w.client()
    signed = await passkey_sign_in(later, auth)
    assert signed.status_code != 200
    assert "Secret un" not in (await later.get(f"/espace/{w.d1.reference}")).text


async def test_the_link_does_not_tell_who_follows_her_elsewhere(world: World) -> None:
    """Chloé (another service) made a link too: the holder of Amina's link does not learn it."""
    w = world
    await accounts.issue_recovery_link(w.chloe, w.d3.id)
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    for path in (
        "/compte/liens-de-secours",
        f"/espace/{w.d1.reference}",
        f"/espace/{w.d1.reference}/export",
        f"/espace/{w.d1.reference}/export.json",
    ):
        page = await held.get(path)
        assert page.status_code == 200, path
        assert "Chlo" not in page.text and "La Source" not in page.text, path
    # The signed proof of the journal, whose entries are as written, is not given there.
    export = await held.get(f"/espace/{w.d1.reference}/export.json")
    assert export.json()["journal_proof"] is None
    page = await held.get(f"/espace/{w.d1.reference}/export")
    assert 'id="journal-head"' not in page.text
    assert "La preuve signée de ce journal est donnée dans ton compte entier" in page.text
    # Lou herself, in her whole account, is told who made each link.
    lou = w.client()
    assert (await factories.sign_in(lou, "lou")).status_code == 303
    notice = await lou.get("/compte/liens-de-secours")
    assert "Chloé" in notice.text and "AMO La Source" in notice.text


async def test_the_link_stops_when_its_maker_stops_following_the_dossier(world: World) -> None:
    """Whoever holds it gets no more than its maker could read: once she no longer follows
    the dossier (it came back and waits for a worker), the unused link opens nothing."""
    w = world
    _amina, link = await make_link(w)
    # What a coming back does to the dossier's workers.
    await Assignment.filter(dossier_id=w.d1.id).update(ended_at=timezone.now())
    client = w.client()
    token = await csrf_token(client, "/")
    used = await client.post(f"/secours/{link}", data={"csrf_token": token})
    assert used.status_code == 404
    assert not await Session.filter(person_id=w.lou.id).exists()


async def test_the_link_does_not_show_her_devices_or_her_passkeys(world: World) -> None:
    """Where and when she signs in, and her own passkeys, are her account's, not the dossier's."""
    w = world
    await Credential.create(
        person=w.lou,
        kind=CredentialKind.PASSKEY,
        credential_id=b"lou-phone",
        public_key=b"k",
        label="Téléphone de Lou",
    )
    own = w.client()
    own.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0"
    assert (await factories.sign_in(own, "lou")).status_code == 303
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    page = await held.get("/compte")
    assert page.status_code == 200
    assert "Téléphone de Lou" not in page.text and "Firefox" not in page.text


async def test_a_recovery_code_gives_back_the_whole_account(world: World) -> None:
    w = world
    codes = await accounts.regenerate_recovery_codes(w.lou)
    _amina, link = await make_link(w)
    await use_link(w, link)
    owner = w.client()
    token = await csrf_token(owner, "/connexion/secours")
    assert (
        await owner.post("/connexion/secours", data={"csrf_token": token, "code": codes[0]})
    ).status_code == 303
    space = await owner.get("/espace")
    for dossier in (w.d1, w.d2, w.d3):
        assert dossier.reference in space.text
    token = await csrf_token(owner, "/compte")
    assert (await owner.post("/compte/codes", data={"csrf_token": token})).status_code == 200


# --- Written everywhere, shown first ----------------------------------------------------------


async def test_the_issue_and_the_use_are_written_in_every_dossier(world: World) -> None:
    w = world
    _amina, link = await make_link(w)
    await use_link(w, link)
    for dossier in (w.d1, w.d2, w.d3):
        for event in ("recovery_link.issued", "recovery_link.used"):
            entry = await JournalEntry.get(dossier_id=dossier.id, event=event)
            assert entry.details["by"] == w.amina.id, (dossier.reference, event)
            assert entry.details["service_name"] == "AMO Le Passage"

    owner = w.client()
    assert (await factories.sign_in(owner, "lou")).status_code == 303
    page = await owner.get(f"/espace/{w.d3.reference}")
    assert "Amina (AMO Le Passage) a fait un lien de secours pour ton compte." in page.text
    assert "Le lien de secours fait par Amina a été utilisé." in page.text

    # Chloé, of the other service, reads that a link was made, not by whom nor where.
    chloe = await staff_client(w, "chloe@source.be")
    page = await chloe.get(f"/travail/dossiers/{w.d3.reference}")
    assert page.status_code == 200
    assert "Un lien de secours a été fait pour ce compte." in page.text
    assert "Amina" not in page.text and "Le Passage" not in page.text


async def test_her_next_sign_in_shows_the_link_first(world: World) -> None:
    w = world
    _amina, link = await make_link(w)
    held = await use_link(w, link)
    # In the session the link opened, the notice is shown but cannot be dismissed for her.
    notice = await held.get("/compte/liens-de-secours?next=/espace")
    assert notice.status_code == 200 and "Amina" in notice.text
    token = await csrf_token(held, "/compte/liens-de-secours")
    link_id = (await OneTimeLink.get(kind=LinkKind.RECOVERY)).id
    went = await held.post(
        "/compte/liens-de-secours", data={"csrf_token": token, "up_to": str(link_id)}
    )
    assert went.status_code == 303
    assert (await OneTimeLink.get(id=link_id)).shown_at is None

    owner = w.client()
    signed = await factories.sign_in(owner, "lou")
    assert signed.headers["location"].startswith("/compte/liens-de-secours")
    notice = await owner.get(signed.headers["location"])
    assert notice.status_code == 200
    assert "Amina (AMO Le Passage)" in notice.text
    assert "Il a été utilisé" in notice.text
    assert "/compte/sessions/fin" in notice.text
    token = await csrf_token(owner, "/compte/liens-de-secours")
    seen = await owner.post(
        "/compte/liens-de-secours",
        data={"csrf_token": token, "up_to": str(link_id), "next": "https://evil.example/"},
    )
    assert seen.status_code == 303 and seen.headers["location"] == "/espace"
    assert (await OneTimeLink.get(id=link_id)).shown_at is not None

    again = w.client()
    assert (await factories.sign_in(again, "lou")).headers["location"] == "/espace"


async def test_a_link_made_after_the_notice_was_drawn_is_still_shown(world: World) -> None:
    w = world
    amina, _link = await make_link(w)
    owner = w.client()
    signed = await factories.sign_in(owner, "lou")
    token = await csrf_token(owner, signed.headers["location"])
    first = (await OneTimeLink.get(kind=LinkKind.RECOVERY)).id
    # Her second sign-in would reuse the same one-time code: the same browser makes another.
    await make_link(w, amina)
    await owner.post("/compte/liens-de-secours", data={"csrf_token": token, "up_to": str(first)})
    left = await OneTimeLink.filter(kind=LinkKind.RECOVERY, shown_at__isnull=True).count()
    assert left == 1


async def test_bad_input_on_the_notice_form_changes_nothing(world: World) -> None:
    w = world
    await make_link(w)
    owner = w.client()
    await factories.sign_in(owner, "lou")
    token = await csrf_token(owner, "/compte/liens-de-secours")
    for up_to in ("abc", "9" * 30, "", "-1", "١٢"):
        answer = await owner.post(
            "/compte/liens-de-secours", data={"csrf_token": token, "up_to": up_to}
        )
        assert answer.status_code == 303
    assert await OneTimeLink.filter(shown_at__isnull=False).count() == 0


# --- Codes for every account, shown once -------------------------------------------------------


async def test_a_new_account_sees_its_ten_codes_once(app: Starlette, db: str) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        token = await csrf_token(client, "/compte/nouveau")
        made = await client.post(
            "/compte/nouveau",
            data={
                "csrf_token": token,
                "role": "youth",
                "display_name": "Mo",
                "language": "fr",
                "login": "mo.z",
                "password": factories.YOUTH_PASSWORD,
                "way": "password",
            },
        )
        assert made.status_code == 303 and made.headers["location"] == "/compte/bienvenue"
        person = await Person.get(login="mo.z")
        assert await accounts.unused_recovery_codes(person) == accounts.RECOVERY_CODES
        welcome = await client.get("/compte/bienvenue")
        codes = factories.codes_in(welcome.text)
        assert len(codes) == accounts.RECOVERY_CODES
        stored = await code_hashes(person)
        assert sorted(token_hash(code) for code in codes) == stored
        again = await client.get("/compte/bienvenue")
        assert factories.codes_in(again.text) == []
        assert codes[0] not in again.text
