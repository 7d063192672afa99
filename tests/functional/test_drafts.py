"""Nothing typed is lost: a message, a step or the words of coming back, kept across a reload.

htmx sends the form's fields to the form's draft address as she types; these tests send what
it sends (the CSRF token in a header), then reload the page as a browser does.
"""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from portal.domain.ending import end_help
from portal.models import Dossier, Message, Person, RequestDraft, Role
from tests import factories
from tests.forms import form_on
from tests.helpers import csrf_token

WORDS = "Je n’ose pas le dire à ma mère, mais"
STEP_WORDS = "Appeler l’école pour le rendez-vous de jeudi"


async def _world() -> tuple[Dossier, Person, Person]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    # A colleague of the same service who does not follow the dossier.
    await factories.staff("tim", service_=service)
    lou = await factories.youth("lou", "Lou")
    dossier = await factories.followed_dossier(amina, lou, service)
    return dossier, lou, amina


async def _type(
    client: httpx.AsyncClient, path: str, fields: dict[str, str], page: str = "/"
) -> httpx.Response:
    """What htmx sends as she types: the form's fields, the CSRF token in the header."""
    token = await csrf_token(client, page)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    return await client.post(path, data=fields, headers=headers)


def _box(html: str, action: str, name: str = "body") -> str:
    return form_on(html, action)[name][0]


async def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def test_a_message_typed_is_back_after_a_reload_sealed_and_gone_once_sent(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, _amina = await _world()
    await factories.sign_in(client, "lou")
    page = f"/espace/{dossier.reference}"
    action = f"{page}/messages"
    html = (await client.get(page)).text
    # The box says where its words go as they are typed, and never changes the address.
    assert f'hx-post="{page}/brouillon/messages"' in html
    assert 'hx-push-url="false" hx-replace-url="false"' in html
    assert _box(html, action) == ""

    typed = await _type(client, f"{page}/brouillon/messages", {"body": WORDS}, page)
    assert typed.status_code == 204 and typed.text == ""
    drafts = await RequestDraft.all()
    assert len(drafts) == 1
    # Sealed: neither the words nor the dossier are in the row in clear.
    assert "ose" not in drafts[0].sealed and dossier.reference not in drafts[0].key_hash

    reloaded = (await client.get(page)).text
    assert _box(reloaded, action) == WORDS

    fields = form_on(reloaded, action)
    fields["body"] = [WORDS + " je veux partir."]
    sent = await client.post(action, data=fields)
    assert sent.status_code == 303
    assert await Message.all().count() == 1
    assert await RequestDraft.all().count() == 0
    assert _box((await client.get(page)).text, action) == ""


async def test_a_draft_on_its_way_when_the_form_is_sent_is_not_kept(
    client: httpx.AsyncClient,
) -> None:
    # htmx waits 800 ms after the last key: its request can arrive after "Send". It carries the
    # form's single-use key, which the message used: the box stays empty after the send.
    dossier, _lou, _amina = await _world()
    await factories.sign_in(client, "lou")
    page = f"/espace/{dossier.reference}"
    fields = form_on((await client.get(page)).text, f"{page}/messages")
    fields["body"] = [WORDS]
    assert (await client.post(f"{page}/messages", data=fields)).status_code == 303
    late = await _type(
        client,
        f"{page}/brouillon/messages",
        {"body": WORDS, "form_key": fields["form_key"][0]},
        page,
    )
    assert late.status_code == 204
    assert await RequestDraft.all().count() == 0


async def test_the_worker_keeps_her_message_and_her_step(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, _amina = await _world()
    await factories.sign_in_staff(client, "amina")
    page = f"/travail/dossiers/{dossier.reference}"
    assert (
        await _type(client, f"{page}/brouillon/messages", {"body": WORDS}, page)
    ).status_code == 204
    step = {"description": STEP_WORDS, "mode": "propose", "kind": "partner_contact"}
    assert (await _type(client, f"{page}/brouillon/demarches", step, page)).status_code == 204
    assert await RequestDraft.all().count() == 2

    html = (await client.get(page)).text
    assert _box(html, f"{page}/messages") == WORDS
    # The step's draft is back in the form it was typed in, which opens by itself.
    assert '<details class="card" id="propose-step" open>' in html
    assert 'id="f-description" name="description"' in html
    assert f">{STEP_WORDS}</textarea>" in html
    assert html.count(STEP_WORDS) == 1

    # Written down as a talk instead: the step's draft goes, the message's stays.
    step["mode"] = "record"
    assert (await _type(client, f"{page}/brouillon/demarches", step, page)).status_code == 204
    html = (await client.get(page)).text
    assert '<details class="card" id="record-step" open>' in html
    fields = form_on(html, f"{page}/demarches")
    assert fields["mode"] == ["record"] and fields["description"] == [STEP_WORDS]
    fields["kind"] = ["listening"]
    assert (await client.post(f"{page}/demarches", data=fields)).status_code == 303
    assert await RequestDraft.all().count() == 1
    html = (await client.get(page)).text
    assert STEP_WORDS in html  # now a step of the dossier
    assert 'id="record-step" open' not in html and _box(html, f"{page}/messages") == WORDS


async def test_nobody_else_keeps_a_draft_for_the_dossier(app: Starlette, db: str) -> None:
    dossier, _lou, _amina = await _world()
    await factories.youth("noa", "Noa")
    await factories.staff("tom", service_=await factories.service("AMO Deux"))
    cpas = await factories.partner("CPAS")
    await factories.staff("cpas", Role.PARTNER, partner_=cpas)
    ref = dossier.reference
    tries = {
        # Another young person, on her dossier's own addresses.
        "noa": [f"/espace/{ref}/brouillon/messages", f"/espace/{ref}/brouillon/revenir"],
        # A worker of another service, a colleague not following it, a partner.
        "tom": [f"/travail/dossiers/{ref}/brouillon/messages"],
        "tim": [
            f"/travail/dossiers/{ref}/brouillon/messages",
            f"/travail/dossiers/{ref}/brouillon/demarches",
            f"/espace/{ref}/brouillon/messages",
        ],
        "cpas": [
            f"/travail/dossiers/{ref}/brouillon/messages",
            f"/espace/{ref}/brouillon/messages",
        ],
    }
    for login, paths in tries.items():
        async with await _client(app) as other:
            if login == "noa":
                await factories.sign_in(other, login)
            else:
                await factories.sign_in_staff(other, login)
            for path in paths:
                answer = await _type(
                    other, path, {"body": "intrusion", "description": "intrusion", "mode": "record"}
                )
                assert answer.status_code == 404, (login, path, answer.status_code)
    assert await RequestDraft.all().count() == 0


async def test_lou_and_amina_on_the_same_dossier_each_find_only_their_own(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    dossier, _lou, _amina = await _world()
    await factories.sign_in(client, "lou")
    page = f"/espace/{dossier.reference}"
    assert (
        await _type(client, f"{page}/brouillon/messages", {"body": WORDS}, page)
    ).status_code == 204
    async with await _client(app) as worker:
        await factories.sign_in_staff(worker, "amina")
        html = (await worker.get(f"/travail/dossiers/{dossier.reference}")).text
        assert WORDS not in html


async def test_bad_drafts_are_refused_and_nothing_is_kept(client: httpx.AsyncClient) -> None:
    dossier, _lou, _amina = await _world()
    await factories.sign_in(client, "lou")
    page = f"/espace/{dossier.reference}"
    too_long = await _type(client, f"{page}/brouillon/messages", {"body": "a" * 4001}, page)
    assert too_long.status_code == 422
    # Not a form of hers (a worker's step), nor any form at all.
    for place in ("demarches", "inconnu", "messages.."):
        answer = await _type(client, f"{page}/brouillon/{place}", {"body": WORDS}, page)
        assert answer.status_code == 404, place
    # Coming back is for an ended dossier: this one is open.
    answer = await _type(client, f"{page}/brouillon/revenir", {"words": WORDS}, page)
    assert answer.status_code == 404
    # Without the CSRF token: refused before anything.
    assert (
        await client.post(f"{page}/brouillon/messages", data={"body": WORDS})
    ).status_code == 403
    assert await RequestDraft.all().count() == 0


async def test_a_forged_step_form_keeps_nothing(client: httpx.AsyncClient) -> None:
    dossier, _lou, _amina = await _world()
    await factories.sign_in_staff(client, "amina")
    page = f"/travail/dossiers/{dossier.reference}"
    forged = {"description": STEP_WORDS, "mode": "everything"}
    assert (await _type(client, f"{page}/brouillon/demarches", forged, page)).status_code == 404
    long = {"description": "a" * 2001, "mode": "record"}
    assert (await _type(client, f"{page}/brouillon/demarches", long, page)).status_code == 422
    assert await RequestDraft.all().count() == 0


async def test_sign_out_and_quick_exit_take_every_draft_with_them(
    client: httpx.AsyncClient,
) -> None:
    dossier, _lou, _amina = await _world()
    for leave in ("/deconnexion", "/sortie"):
        await factories.sign_in(client, "lou")
        page = f"/espace/{dossier.reference}"
        assert (
            await _type(client, f"{page}/brouillon/messages", {"body": WORDS}, page)
        ).status_code == 204
        assert await RequestDraft.all().count() == 1
        token = await csrf_token(client, page)
        assert (await client.post(leave, data={"csrf_token": token})).status_code == 303
        assert await RequestDraft.all().count() == 0, leave


async def test_the_words_of_coming_back_are_kept_until_she_comes_back(
    client: httpx.AsyncClient,
) -> None:
    dossier, lou, _amina = await _world()
    await end_help(lou, dossier.reference)
    await factories.sign_in(client, "lou")
    page = f"/espace/{dossier.reference}/revenir"
    html = (await client.get(page)).text
    assert f'hx-post="/espace/{dossier.reference}/brouillon/revenir"' in html
    typed = await _type(
        client, f"/espace/{dossier.reference}/brouillon/revenir", {"words": WORDS}, page
    )
    assert typed.status_code == 204
    # An ended dossier has no message box: no draft of a message for it.
    message = await _type(
        client, f"/espace/{dossier.reference}/brouillon/messages", {"body": WORDS}, page
    )
    assert message.status_code == 404
    fields = form_on((await client.get(page)).text, page)
    assert fields["words"] == [WORDS]
    fields["themes"] = ["school"]
    assert (await client.post(page, data=fields)).status_code == 303
    assert await RequestDraft.all().count() == 0
