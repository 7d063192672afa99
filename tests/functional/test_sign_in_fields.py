"""The sign-in name's field and words: a phone must not "correct" the name, and a 16-year-old
reads what it may hold; an e-mail address is optional and said to be."""

from __future__ import annotations

from html.parser import HTMLParser

import httpx
import pytest

from portal.models import Role
from tests import factories
from tests.helpers import csrf_token


class Inputs(HTMLParser):
    """Each input's attributes, by name, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.by_name: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name"):
            self.by_name[str(values["name"])] = values


def inputs(html: str) -> dict[str, dict[str, str | None]]:
    parser = Inputs()
    parser.feed(html)
    return parser.by_name


@pytest.mark.parametrize("path", ["/connexion", "/compte/nouveau"])
async def test_the_sign_in_name_is_typed_as_it_is(client: httpx.AsyncClient, path: str) -> None:
    login = inputs((await client.get(path)).text)["login"]
    assert login["autocapitalize"] == "none"
    assert login["spellcheck"] == "false"
    assert login["autocomplete"] == "username"
    # Only attributes a browser knows: nothing escaped into a name of its own.
    assert all(name.isalpha() or name in {"aria-describedby"} for name in login), login


async def test_the_work_address_of_new_staff_is_typed_as_it_is(client: httpx.AsyncClient) -> None:
    service = await factories.service()
    await factories.staff("claire@amo.example", Role.ADMIN, service_=service)
    assert (await factories.sign_in_staff(client, "claire@amo.example")).status_code == 303
    email = inputs((await client.get("/admin/personnes")).text)["email"]
    assert email["autocapitalize"] == "none" and email["spellcheck"] == "false"


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", "Mets 3 à 40 lettres ou chiffres, sans accents (pas de é ni de ç)."),
        ("nl", "Gebruik 3 tot 40 letters of cijfers, zonder accenten (geen é of ç)."),
        ("en", "Use 3 to 40 letters or numbers, without accents (no é or ç)."),
    ],
)
async def test_what_a_sign_in_name_may_hold_is_said_plainly(
    client: httpx.AsyncClient, language: str, words: str
) -> None:
    client.cookies.set("lang", language)
    page = (await client.get("/compte/nouveau")).text
    assert words in page
    assert "caractères :" not in page and "tekens:" not in page
    # The refusal says it in the same words.
    token = await csrf_token(client, "/compte/nouveau")
    form = {"csrf_token": token, "role": "youth", "display_name": "Noé", "language": language}
    form |= {"login": "noé", "password": factories.YOUTH_PASSWORD, "way": "password"}
    refused = await client.post("/compte/nouveau", data=form)
    assert refused.status_code == 422
    assert refused.text.count(words) == 3  # the hint, the error by the field, the summary


async def test_the_optional_e_mail_is_never_said_to_be_never_asked(
    client: httpx.AsyncClient,
) -> None:
    data = (await client.get("/donnees")).text
    assert "ni une adresse e-mail" not in data
    new = (await client.get("/compte/nouveau")).text
    assert "Pas besoin d’e-mail ni de numéro de téléphone." in new
    await factories.youth()
    assert (await factories.sign_in(client, "lou")).status_code == 303
    account = (await client.get("/compte")).text
    assert "Adresse e-mail (facultatif)" in account
    assert "Tu n’en as pas besoin pour utiliser le site." in account
