"""Documents through the app: every upload route against every hostile file, and who may open."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from portal.domain import consent as consent_rules
from portal.domain import documents, ending
from portal.domain import dossiers as dossier_rules
from portal.domain.actions import record_action
from portal.models import (
    ActionKind,
    Document,
    JournalEntry,
    Message,
    Role,
    Share,
    SharedDocument,
    Theme,
)
from tests import factories, files
from tests.helpers import count_queries, csrf_token

LIMITS = documents.Limits(10 * 1024 * 1024, 20)


async def _world() -> dict[str, Any]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "mots", Theme.SCHOOL)
    return {"service": service, "amina": amina, "lou": lou, "dossier": dossier}


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _upload(
    client: httpx.AsyncClient,
    url: str,
    name: str,
    data: bytes,
    media_type: str = "image/jpeg",
    **fields: str,
) -> httpx.Response:
    token = await csrf_token(client, url.rsplit("/", 1)[0])
    return await client.post(
        url,
        data={"csrf_token": token, **fields},
        files={"file": (name, data, media_type)},
    )


ROUTES = [("lou", "/espace/{ref}/documents"), ("amina", "/travail/dossiers/{ref}/documents")]


@pytest.mark.parametrize(("who", "route"), ROUTES)
async def test_every_hostile_file_on_every_upload_route_is_a_422_and_stores_nothing(
    client: httpx.AsyncClient, who: str, route: str
) -> None:
    world = await _world()
    if who == "lou":
        await factories.sign_in(client, "lou")
    else:
        await factories.sign_in_staff(client, "amina")
    url = route.format(ref=world["dossier"].reference)
    messages = await Message.all().count()
    for what, name, data in files.HOSTILE:
        response = await _upload(client, url, name, data, body="Ma lettre, à garder")
        assert response.status_code == 422, what
        assert "Ma lettre, à garder" in response.text, what
        assert 'role="alert"' in response.text, what
    assert await Document.all().count() == 0
    assert await Message.all().count() == messages
    # A form without any file, and a step id of nothing: words, not a crash.
    token = await csrf_token(client, url.rsplit("/", 1)[0])
    missing = await client.post(
        url, data={"csrf_token": token, "body": "x"}, files={"x": ("", b"")}
    )
    assert missing.status_code == 422 and "photo" in missing.text.lower()
    forged = await _upload(client, url, "p.png", files.png(), "image/png", action="99999")
    assert forged.status_code == 422
    assert await Document.all().count() == 0


async def test_a_photo_is_added_shown_and_opened_with_strict_headers(
    client: httpx.AsyncClient,
) -> None:
    world = await _world()
    reference = world["dossier"].reference
    await factories.sign_in(client, "lou")
    sent = await _upload(
        client, f"/espace/{reference}/documents", "IMG_1.jpg", files.jpeg_with_gps(), body="Voilà"
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("#documents")
    page = await client.get(f"/espace/{reference}")
    assert "IMG_1.jpg" in page.text and 'id="documents"' in page.text
    link = re.search(rf"/espace/{reference}/documents/(\d+)", page.text)
    assert link
    opened = await client.get(link.group(0))
    assert opened.status_code == 200
    assert opened.headers["content-type"] == "image/jpeg"
    assert opened.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert opened.headers["x-content-type-options"] == "nosniff"
    assert opened.headers["cache-control"] == "no-store"
    assert opened.headers["content-disposition"].startswith("inline;")
    assert b"PhoneMaker" not in opened.content and opened.content.startswith(b"\xff\xd8")


async def test_a_pdf_is_a_download_and_a_workers_download_is_journaled(
    client: httpx.AsyncClient,
) -> None:
    world = await _world()
    reference = world["dossier"].reference
    step = await record_action(world["amina"], reference, ActionKind.LISTENING, "On a parlé")
    await factories.sign_in_staff(client, "amina")
    sent = await _upload(
        client,
        f"/travail/dossiers/{reference}/documents",
        "décision CPAS.pdf",
        files.pdf(),
        "application/pdf",
        action=str(step.id),
    )
    assert sent.status_code == 303
    document = await Document.get(dossier_id=world["dossier"].id)
    assert document.action_id == step.id and document.message_id is None
    opened = await client.get(f"/travail/dossiers/{reference}/documents/{document.id}")
    assert opened.status_code == 200 and opened.content == files.pdf()
    assert opened.headers["content-disposition"].startswith("attachment;")
    assert "UTF-8''d%C3%A9cision%20CPAS.pdf" in opened.headers["content-disposition"]
    entries = JournalEntry.filter(dossier_id=world["dossier"].id)
    events = await entries.values_list("event", flat=True)
    assert "document.added" in events and "document.read" in events


async def test_nobody_else_opens_a_document_staff_included(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await _world()
    reference = world["dossier"].reference
    document = await documents.add_document(world["lou"], reference, files.png(), "p.png", LIMITS)
    other_service = await factories.service("AMO Autre")
    people = {
        "marc": await factories.staff("marc", service_=world["service"]),
        "zoe": await factories.staff("zoe", service_=other_service),
        "adm": await factories.staff("adm", Role.ADMIN, service_=world["service"]),
        "operateur": await factories.operator(),
        "julie": await factories.staff(
            "julie", Role.PARTNER, partner_=await factories.partner("CPAS")
        ),
    }
    await factories.youth("noa", "Noa")
    paths = [
        f"/espace/{reference}/documents/{document.id}",
        f"/travail/dossiers/{reference}/documents/{document.id}",
    ]
    for login in [*people, "noa"]:
        async with _client(app) as other:
            if login == "noa":
                await factories.sign_in(other, "noa")
            else:
                await factories.sign_in_staff(other, login)
            for path in paths:
                response = await other.get(path)
                assert response.status_code == 404, (login, path)
                assert b"\x89PNG" not in response.content
    # The subject does not open it through the worker's route, nor the worker through hers.
    await factories.sign_in(client, "lou")
    assert (await client.get(paths[1])).status_code == 404
    assert (await client.get(paths[0])).status_code == 200


async def test_erasure_leaves_no_row_and_the_download_is_404(client: httpx.AsyncClient) -> None:
    world = await _world()
    reference = world["dossier"].reference
    document = await documents.add_document(world["lou"], reference, files.pdf(), "l.pdf", LIMITS)
    await ending.end_help(world["lou"], reference)
    await ending.erase(world["lou"], reference)
    assert await Document.all().count() == 0
    await factories.sign_in(client, "lou")
    assert (await client.get(f"/espace/{reference}/documents/{document.id}")).status_code == 404


async def test_the_twenty_first_file_is_refused(app: Starlette, client: httpx.AsyncClient) -> None:
    world = await _world()
    reference = world["dossier"].reference
    for number in range(20):
        await documents.add_document(world["lou"], reference, files.png(), f"{number}.png", LIMITS)
    await factories.sign_in(client, "lou")
    response = await _upload(client, f"/espace/{reference}/documents", "21.png", files.png())
    assert response.status_code == 422 and "20" in response.text
    assert await Document.all().count() == 20


async def test_the_upload_takes_a_large_body_but_other_routes_keep_their_cap(
    client: httpx.AsyncClient,
) -> None:
    world = await _world()
    reference = world["dossier"].reference
    await factories.sign_in(client, "lou")
    big = files.pdf(b"/Padding (" + b"x" * (3 * 1024 * 1024) + b") ")
    response = await _upload(client, f"/espace/{reference}/documents", "gros.pdf", big)
    assert response.status_code == 303
    token = await csrf_token(client, f"/espace/{reference}")
    message = await client.post(
        f"/espace/{reference}/messages", data={"csrf_token": token, "body": "x" * 300_000}
    )
    assert message.status_code == 413
    # A file far over the limit is refused before it is read whole, with words about files.
    huge = await _upload(
        client, f"/espace/{reference}/documents", "film.pdf", b"%PDF-" + b"x" * (12 * 1024 * 1024)
    )
    assert huge.status_code == 413 and "10" in huge.text and "PDF" in huge.text
    assert await Document.all().count() == 1
    # A multipart body without its token is refused like any other form.
    refused = await client.post(
        f"/espace/{reference}/documents", files={"file": ("p.png", files.png(), "image/png")}
    )
    assert refused.status_code == 403


async def test_the_export_holds_the_documents(client: httpx.AsyncClient) -> None:
    world = await _world()
    reference = world["dossier"].reference
    await documents.add_document(world["lou"], reference, files.pdf(), "lettre.pdf", LIMITS)
    await factories.sign_in(client, "lou")
    data = json.loads((await client.get(f"/espace/{reference}/export.json")).text)
    (document,) = data["documents"]
    assert document["name"] == "lettre.pdf" and document["type"] == "application/pdf"
    assert base64.b64decode(document["content"]) == files.pdf()
    page = await client.get(f"/espace/{reference}/export")
    assert "lettre.pdf" in page.text and f"/espace/{reference}/documents/" in page.text


async def _share_world() -> dict[str, Any]:
    world = await _world()
    cpas = await factories.partner("CPAS")
    school = await factories.partner("École")
    await factories.staff("julie", Role.PARTNER, partner_=cpas)
    await factories.staff("prof", Role.PARTNER, partner_=school)
    reference = world["dossier"].reference
    document = await documents.add_document(world["lou"], reference, files.pdf(), "l.pdf", LIMITS)
    world.update(cpas=cpas, school=school, document=document)
    return world


async def test_a_share_of_documents_needs_a_consent_that_covers_them(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await _share_world()
    reference, document = world["dossier"].reference, world["document"]
    # A consent for the request only: the documents cannot go.
    await consent_rules.grant(
        world["lou"], reference, world["school"].id, ["request"], "until_stop", "École"
    )
    await factories.sign_in_staff(client, "amina")
    url = f"/travail/dossiers/{reference}/partager"
    token = await csrf_token(client, url)
    refused = await client.post(
        url,
        data={
            "csrf_token": token,
            "partner": str(world["school"].id),
            "categories": ["documents"],
            "documents": [str(document.id)],
        },
    )
    assert refused.status_code == 409
    assert await SharedDocument.all().count() == 0
    # Covered: the worker picks the document, the partner's user opens it, once.
    consent = await consent_rules.grant(
        world["lou"], reference, world["cpas"].id, ["documents"], "until_stop", "Aide"
    )
    page = await client.get(url)
    assert 'name="documents"' in page.text and "l.pdf" in page.text
    made = await client.post(
        url,
        data={
            "csrf_token": token,
            "partner": str(world["cpas"].id),
            "categories": ["documents"],
            "documents": [str(document.id)],
        },
    )
    assert made.status_code == 303
    share = await Share.get(partner_id=world["cpas"].id)
    path = f"/partenaire/partages/{share.id}/documents/{document.id}"
    async with _client(app) as julie:
        await factories.sign_in_staff(julie, "julie")
        listing = await julie.get(f"/partenaire/partages/{share.id}")
        assert path in listing.text
        opened = await julie.get(path)
        assert opened.status_code == 200 and opened.content == files.pdf()
        assert opened.headers["content-security-policy"] == "default-src 'none'; sandbox"
        # Another document of the dossier, not sent with this share: not found.
        other = await documents.add_document(world["lou"], reference, files.png(), "p.png", LIMITS)
        assert (
            await julie.get(f"/partenaire/partages/{share.id}/documents/{other.id}")
        ).status_code == 404
        # Another partner's user finds nothing.
        async with _client(app) as prof:
            await factories.sign_in_staff(prof, "prof")
            assert (await prof.get(path)).status_code == 404
        events = await JournalEntry.filter(dossier_id=world["dossier"].id).values_list(
            "event", flat=True
        )
        assert "document.shared" in events and "share.read" in events
        # Taken back: gone at once, 410 as the share itself.
        await consent_rules.revoke(world["lou"], reference, consent.id)
        gone = await julie.get(path)
        assert gone.status_code == 410 and b"%PDF" not in gone.content


async def test_a_forged_document_of_another_dossier_is_refused_in_a_share(
    client: httpx.AsyncClient,
) -> None:
    world = await _share_world()
    reference = world["dossier"].reference
    noa = await factories.youth("noa", "Noa")
    other = await factories.followed_dossier(world["amina"], noa, world["service"], "x")
    foreign = await documents.add_document(noa, other.reference, files.png(), "n.png", LIMITS)
    await consent_rules.grant(
        world["lou"], reference, world["cpas"].id, ["documents"], "until_stop", "Aide"
    )
    await factories.sign_in_staff(client, "amina")
    url = f"/travail/dossiers/{reference}/partager"
    token = await csrf_token(client, url)
    response = await client.post(
        url,
        data={
            "csrf_token": token,
            "partner": str(world["cpas"].id),
            "categories": ["documents"],
            "documents": [str(foreign.id)],
        },
    )
    assert response.status_code == 422
    assert await Share.all().count() == 0 and await SharedDocument.all().count() == 0


@pytest.mark.parametrize("who", ["lou", "amina"])
async def test_the_dossier_page_makes_the_same_queries_with_1_or_12_documents(
    client: httpx.AsyncClient, who: str
) -> None:
    world = await _world()
    reference = world["dossier"].reference
    step = await record_action(world["amina"], reference, ActionKind.LISTENING, "On a parlé")
    await documents.add_document(world["lou"], reference, files.png(), "zero.png", LIMITS)
    if who == "lou":
        await factories.sign_in(client, "lou")
        path = f"/espace/{reference}"
    else:
        await factories.sign_in_staff(client, "amina")
        path = f"/travail/dossiers/{reference}"
    await client.get(path)
    with count_queries() as few:
        first = await client.get(path)
    for number in range(1, 12):
        await documents.add_document(
            world["amina"], reference, files.png(), f"{number}.png", LIMITS, action_id=step.id
        )
    await client.get(path)
    with count_queries() as many:
        page = await client.get(path)
    assert first.status_code == page.status_code == 200
    # Each is shown under its step and in the list, each by its name.
    # (A photo without transparency is stored as a JPEG, and named so.)
    assert page.text.count("11.jpg") == 2 and page.text.count("zero.jpg") == 2
    assert few.count == many.count, (few.queries, many.queries)


async def test_a_document_of_a_step_no_longer_listed_still_shows(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await _world()
    reference = world["dossier"].reference
    old = await record_action(world["amina"], reference, ActionKind.LISTENING, "Ancien")
    await documents.add_document(
        world["lou"], reference, files.pdf(), "ancien.pdf", LIMITS, action_id=old.id
    )
    await record_action(world["amina"], reference, ActionKind.LISTENING, "Récent")
    # The page shows the latest steps only: here, one.
    monkeypatch.setattr(dossier_rules, "ACTION_LIMIT", 1)
    await factories.sign_in(client, "lou")
    page = await client.get(f"/espace/{reference}")
    assert page.status_code == 200
    assert "ancien.pdf" in page.text and "avec une démarche" in page.text


async def test_without_a_session_cookie_an_upload_keeps_the_small_cap(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    world = await _world()
    reference = world["dossier"].reference
    url = f"/espace/{reference}/documents"
    body = files.pdf(b"/Padding (" + b"x" * (400 * 1024) + b") ")
    # Signed out, a body just over the cap of forms is refused before it is read.
    anonymous = _client(app)
    token = await csrf_token(anonymous, "/")
    refused = await anonymous.post(
        url, data={"csrf_token": token}, files={"file": ("l.pdf", body, "application/pdf")}
    )
    assert refused.status_code == 413
    # Even when it says nothing of its length: counted as it comes, refused past the small cap.

    async def pieces() -> Any:
        for _ in range(12):
            yield b"x" * (64 * 1024)

    streamed = await anonymous.post(
        url,
        content=pieces(),
        headers={"content-type": "multipart/form-data; boundary=b", "x-csrf-token": token},
    )
    assert streamed.status_code == 413
    # Signed in, the same file is taken.
    await factories.sign_in(client, "lou")
    taken = await _upload(client, url, "l.pdf", body, "application/pdf")
    assert taken.status_code == 303
    assert await Document.all().count() == 1
