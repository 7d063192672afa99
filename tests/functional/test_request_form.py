"""The request form keeps what was typed: a reload comes back to the same step with every word,
a wrong year of birth has a way back, and the words speak to whoever asks."""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from portal.models import Dossier, Person, RequestDraft
from tests import factories
from tests.forms import form_on
from tests.helpers import csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="session")

WHO = {"asker": "youth", "birth_month": "3", "birth_year": "2010"}
WORDS = "Je n’ose pas le dire à mes parents. Ça dure depuis la rentrée."


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _step(client: httpx.AsyncClient, step: str, go: str = "next", **values: Any) -> str:
    """A step sent without JavaScript: a redirect to /demande itself, which shows the next."""
    token = await csrf_token(client, "/demande")
    answer = await client.post(
        "/demande", data={"csrf_token": token, "step": step, "go": go, **values}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/demande"
    page = await client.get("/demande")
    assert page.status_code == 200
    return page.text


async def test_a_reload_comes_back_to_the_same_step_with_the_words(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await factories.service()
    page = await _step(client, "who", **WHO)
    assert form_on(page, "/demande")["step"] == ["about"]

    # Words typed, not sent yet: the counter (htmx sends the whole form with it) keeps them.
    token = await csrf_token(client, "/demande")
    fields = form_on(page, "/demande")
    fields.update(words=[WORDS], themes=["school"], csrf_token=[token])
    count = await client.post("/demande/compter", data=fields, headers={"HX-Request": "true"})
    assert count.status_code == 200
    reloaded = await client.get("/demande")
    kept = form_on(reloaded.text, "/demande")
    assert kept["step"] == ["about"]
    assert kept["words"] == [WORDS]
    assert kept["birth_year"] == ["2010"]

    # The next step, reloaded: still there, the words travelling with it.
    page = await _step(client, "about", **WHO, themes=["school"], words=WORDS)
    assert form_on(page, "/demande")["step"] == ["contact"]
    again = form_on((await client.get("/demande")).text, "/demande")
    assert again["step"] == ["contact"] and again["words"] == [WORDS]

    # "Back" is a step too: the words come back in their box.
    back = await _step(client, "contact", go="back", **WHO, themes=["school"], words=WORDS)
    assert form_on(back, "/demande")["step"] == ["about"]
    assert f"{WORDS}</textarea>" in html.unescape(back)

    # Another browser (another phone) finds an empty form.
    async with _client(app) as other:
        blank = form_on((await other.get("/demande")).text, "/demande")
        assert blank["step"] == ["who"] and blank["words"] == [""]


async def test_the_draft_is_sealed_and_gone_once_sent(client: httpx.AsyncClient) -> None:
    await factories.service()
    await _step(client, "who", **WHO)
    await _step(client, "about", **WHO, themes=["school"], words=WORDS)
    drafts = await RequestDraft.all()
    assert len(drafts) == 1
    assert "rentrée" not in drafts[0].sealed and "2010" not in drafts[0].sealed

    token = await csrf_token(client, "/demande")
    account = {"display_name": "Lou", "language": "fr", "login": "lou.draft"}
    sent = await client.post(
        "/demande",
        data={
            "csrf_token": token,
            "step": "account",
            "go": "password",
            "password": factories.YOUTH_PASSWORD,
            "contact_channel": "portal",
            "themes": ["school"],
            "words": WORDS,
            **WHO,
            **account,
        },
    )
    assert sent.status_code == 303 and "/envoye" in sent.headers["location"]
    assert await RequestDraft.all().count() == 0
    # A new request starts blank.
    assert form_on((await client.get("/demande")).text, "/demande")["step"] == ["who"]


async def test_a_wrong_year_of_birth_has_a_way_back_with_the_answers(
    client: httpx.AsyncClient,
) -> None:
    await factories.service()
    token = await csrf_token(client, "/demande")
    too_old = {"asker": "youth", "birth_month": "3", "birth_year": "1990"}
    answer = await client.post(
        "/demande", data={"csrf_token": token, "step": "who", "go": "next", **too_old}
    )
    assert answer.status_code == 200
    way_back = form_on(answer.text, "/demande")
    assert way_back["birth_year"] == ["1990"] and way_back["asker"] == ["youth"]
    assert 'name="go" value="change"' in answer.text
    # Nothing is kept for someone the AMO cannot help.
    assert await RequestDraft.all().count() == 0

    back = await client.post("/demande", data={**way_back, "go": "change"})
    assert back.status_code == 200
    form = form_on(back.text, "/demande")
    assert form["step"] == ["who"]
    assert 'id="f-birth-year"' in back.text and 'value="1990"' in back.text
    assert await RequestDraft.all().count() == 0 and await Person.all().count() == 0

    fixed = await _step(client, "who", **{**too_old, "birth_year": "2010"})
    assert form_on(fixed, "/demande")["step"] == ["about"]


async def test_the_form_never_asks_for_no_email_beside_an_email_field(
    client: httpx.AsyncClient,
) -> None:
    await factories.service()
    await _step(client, "who", **WHO)
    contact = await _step(client, "about", **WHO, themes=["school"])
    assert "adresse e-mail" in html.unescape(contact)  # offered, optional, on this step
    account = html.unescape(
        await _step(client, "contact", **WHO, themes=["school"], contact_channel="portal")
    )
    assert "Pas d’e-mail" not in account
    data = html.unescape((await client.get("/donnees")).text)
    assert "jamais" in data and "ni une adresse e-mail" not in data


async def test_a_parent_is_spoken_to_as_a_parent(client: httpx.AsyncClient) -> None:
    # A parent's words, in the portal's one voice: "tu" from the first step to their space,
    # never a switch to "vous" in the middle of the form.
    await factories.service()
    parent = {"asker": "relative", "birth_month": "5", "birth_year": "2012"}
    about = html.unescape(await _step(client, "who", **parent))
    assert "sur le ou la jeune et sur toi" in about
    assert "Coche si ça ne peut pas attendre" in about
    page = await _step(client, "about", **parent, themes=["family"])
    contact = html.unescape(page).replace("\u00a0", " ")
    assert "Comment te joindre sans risque ?" in contact
    account = html.unescape(
        await _step(client, "contact", **parent, themes=["family"], contact_channel="portal")
    )
    assert "Envoie ta demande" in account
    for step in (about, contact, account):
        assert " vous " not in step and "Vous " not in step and "votre" not in step.lower()

    token = await csrf_token(client, "/demande")
    sent = await client.post(
        "/demande",
        data={
            "csrf_token": token,
            "step": "account",
            "go": "password",
            "password": factories.YOUTH_PASSWORD,
            "display_name": "Maman de Lou",
            "language": "fr",
            "login": "maman.lou",
            "contact_channel": "portal",
            "themes": ["family"],
            **parent,
        },
    )
    assert sent.status_code == 303
    page = html.unescape((await client.get(sent.headers["location"])).text)
    assert "Ta demande est envoyée" in page
    assert "te répondra dans les 3 jours, sauf le week-end" in page
    assert "votre" not in page.lower()
    assert await Dossier.all().count() == 1


async def test_a_young_person_reads_who_answers_and_when_in_plain_words(
    client: httpx.AsyncClient,
) -> None:
    await factories.service()
    token = await csrf_token(client, "/demande")
    sent = await client.post(
        "/demande",
        data={
            "csrf_token": token,
            "step": "account",
            "go": "password",
            "password": factories.YOUTH_PASSWORD,
            "display_name": "Lou",
            "language": "fr",
            "login": "lou.words",
            "contact_channel": "portal",
            "themes": ["school"],
            **WHO,
        },
    )
    page = html.unescape((await client.get(sent.headers["location"])).text)
    assert (
        "Quelqu’un de l’équipe de l’AMO te répondra dans les 3 jours, sauf le week-end, les jours"
        " fériés et les jours où l’AMO est fermée." in page
    )
    assert "ouvrables" not in page and "travailleur·euse" not in page


async def test_a_late_word_count_does_not_take_the_form_back(client: httpx.AsyncClient) -> None:
    """The counter's request can arrive after "Continue": the next step stays."""
    await factories.service()
    about = await _step(client, "who", **WHO)
    fields = form_on(about, "/demande")
    await _step(client, "about", **WHO, themes=["school"], words=WORDS)
    token = await csrf_token(client, "/demande")
    fields.update(words=[WORDS[:10]], themes=["school"], csrf_token=[token])
    late = await client.post("/demande/compter", data=fields, headers={"HX-Request": "true"})
    assert late.status_code == 200
    kept = form_on((await client.get("/demande")).text, "/demande")
    assert kept["step"] == ["contact"] and kept["words"] == [WORDS]


async def test_quick_exit_takes_the_draft_with_it(client: httpx.AsyncClient) -> None:
    # Someone comes into the room: what she was typing must not wait on the server for
    # whoever picks up the phone next, even for the draft's two hours.
    await factories.service()
    await _step(client, "who", **WHO)
    await _step(client, "about", **WHO, themes=["school"], words=WORDS)
    assert await RequestDraft.all().count() == 1
    token = await csrf_token(client, "/demande")
    left = await client.post("/sortie", data={"csrf_token": token})
    assert left.status_code == 303
    assert await RequestDraft.all().count() == 0
    page = await client.get("/demande")
    assert form_on(page.text, "/demande")["step"] == ["who"] and "rentrée" not in page.text
