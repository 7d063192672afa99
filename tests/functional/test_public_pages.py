"""The public pages, through the whole app: content, languages, quick exit, query count."""

from __future__ import annotations

import re

import httpx
import pytest

from portal.demo import seed_demo
from tests.helpers import count_queries

PUBLIC_PAGES = ["/", "/droits", "/donnees", "/urgence", "/telephone", "/au-revoir"]
QUICK_EXIT = {"fr": "Quitter vite", "nl": "Snel weg", "en": "Quick exit"}


@pytest.mark.parametrize("path", PUBLIC_PAGES)
@pytest.mark.parametrize("language", ["fr", "nl", "en"])
async def test_each_public_page_in_each_language(
    client: httpx.AsyncClient, path: str, language: str
) -> None:
    client.cookies.set("lang", language)
    response = await client.get(path)
    assert response.status_code == 200
    assert f'<html lang="{language}">' in response.text
    # Quick exit comes first in the body, before anything else one can reach by keyboard.
    body = response.text.split("<body", 1)[1]
    focusable = r"<(a|button|select|textarea|input(?![^>]*type=\"hidden\"))\b[^>]*>"
    first_focusable = re.search(focusable, body)
    assert first_focusable and 'id="quick-exit"' in first_focusable.group(0)
    assert QUICK_EXIT[language] in body
    assert 'data-exit-url="https://www.meteo.be/fr/belgique"' in body


async def test_home_speaks_to_young_people_and_to_parents(client: httpx.AsyncClient) -> None:
    text = (await client.get("/")).text
    assert "moins de 22 ans" in text
    assert "parent" in text
    assert "Demander de l’aide" in text
    for promise in ("Gratuit", "Confidentiel", "Volontaire", "Tu décides", "Tu peux arrêter"):
        assert promise in text


async def test_home_lists_the_services_to_contact(client: httpx.AsyncClient) -> None:
    await seed_demo()
    text = (await client.get("/")).text
    assert "AMO Le Passage" in text
    assert 'href="tel:081000000"' in text
    with count_queries() as queries:
        await client.get("/")
    assert queries.count == 1


@pytest.mark.parametrize(
    ("language", "numbers", "absent"),
    [("fr", ["112", "103", "107"], ["102", "106"]), ("nl", ["112", "102", "106"], ["103", "107"])],
)
async def test_urgent_page_gives_the_real_numbers_of_each_community(
    client: httpx.AsyncClient, language: str, numbers: list[str], absent: list[str]
) -> None:
    client.cookies.set("lang", language)
    text = (await client.get("/urgence")).text
    for number in numbers:
        assert f'href="tel:{number}"' in text
    for number in absent:
        assert f'href="tel:{number}"' not in text


async def test_rights_page_names_each_right(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")
    text = (await client.get("/droits")).text
    for right in (
        "voluntary",
        "agreement",
        "professional secrecy",
        "read your own file",
        "take your agreement back",
        "come back",
    ):
        assert right in text


async def test_healthz_answers_when_the_database_does(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
