"""The public pages, through the whole app: content, languages, headers."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.helpers import count_queries

pytestmark = pytest.mark.asyncio(loop_scope="session")

PUBLIC_PAGES = ["/", "/droits", "/donnees", "/urgence"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
async def test_public_page_answers_in_french_by_default(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert '<html lang="fr">' in response.text
    assert "Quitter vite" in response.text


async def test_home_speaks_to_young_people_and_parents(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert "moins de 22 ans" in response.text
    assert "Demander de l’aide" in response.text or "Demander de l'aide" in response.text
    with count_queries() as queries:
        await client.get("/")
    assert queries.count == 1
