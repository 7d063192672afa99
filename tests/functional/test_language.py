"""Choosing a language: cookie, else Accept-Language, else French. Forged values change nothing."""

from __future__ import annotations

import re

import httpx
import pytest

from portal.i18n import choose_language
from portal.labels import KINDS
from tests import factories
from tests.helpers import csrf_token


@pytest.mark.parametrize(
    ("cookie", "accept", "expected"),
    [
        (None, None, "fr"),
        (None, "nl-BE,nl;q=0.9,en;q=0.5", "nl"),
        (None, "en-GB,en;q=0.8", "en"),
        (None, "de-DE,de;q=0.9", "fr"),
        ("en", "nl-BE", "en"),
        ("xx", "nl-BE", "nl"),
        ("<script>", None, "fr"),
        (None, "zz;q=abc,,,;;<script>alert(1)</script>", "fr"),
        (None, "a" * 5000, "fr"),
        (None, "\x00nl", "fr"),
    ],
)
def test_choose_language(cookie: str | None, accept: str | None, expected: str) -> None:
    assert choose_language(cookie, accept, "fr") == expected


@pytest.mark.parametrize(
    "accept", ["nl;q=2,,,en;q=-1", "*", "<img src=x onerror=alert(1)>", "en-US;q=0.5, nl;q=0.9"]
)
async def test_forged_accept_language_still_gives_a_page(
    client: httpx.AsyncClient, accept: str
) -> None:
    response = await client.get("/", headers={"Accept-Language": accept})
    assert response.status_code == 200
    assert "<img src=x" not in response.text


async def test_unknown_language_cookie_falls_back_to_accept_language(
    client: httpx.AsyncClient,
) -> None:
    client.cookies.set("lang", "klingon")
    response = await client.get("/droits", headers={"Accept-Language": "nl-BE"})
    assert '<html lang="nl">' in response.text


async def test_switching_language_keeps_you_on_the_same_page(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client, "/droits")
    response = await client.post(
        "/langue", data={"csrf_token": token, "language": "nl", "next": "/droits"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/droits"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lang=nl") and "Secure" in cookie and "SameSite=lax" in cookie
    page = await client.get("/droits")
    assert '<html lang="nl">' in page.text


async def test_switching_language_with_the_htmx_header(client: httpx.AsyncClient) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/langue", data={"language": "en", "next": "/urgence"}, headers={"X-CSRF-Token": token}
    )
    assert response.status_code == 303 and response.headers["location"] == "/urgence"


@pytest.mark.parametrize(
    "target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x", ""]
)
async def test_switching_language_never_leaves_the_site(
    client: httpx.AsyncClient, target: str
) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/langue", data={"csrf_token": token, "language": "en", "next": target}
    )
    assert response.headers["location"] == "/"


async def test_an_unknown_language_is_refused_and_nothing_changes(
    client: httpx.AsyncClient,
) -> None:
    token = await csrf_token(client)
    response = await client.post(
        "/langue", data={"csrf_token": token, "language": "de", "next": "/"}
    )
    assert response.status_code == 400
    assert "lang=" not in response.headers.get("set-cookie", "")
    assert '<html lang="fr">' in response.text


@pytest.mark.parametrize("token", [None, "", "0" * 64, "forged"])
async def test_a_post_without_a_valid_csrf_token_is_refused(
    client: httpx.AsyncClient, token: str | None
) -> None:
    await client.get("/")  # the browser has its CSRF cookie
    data = {"language": "nl", "next": "/"}
    if token is not None:
        data["csrf_token"] = token
    response = await client.post("/langue", data=data)
    assert response.status_code == 403
    assert "lang=" not in response.headers.get("set-cookie", "")
    assert "Cette page a expiré" in response.text  # the kind page, in the visitor’s language


async def test_a_token_from_another_browser_is_refused(
    client: httpx.AsyncClient, app: object
) -> None:
    token = await csrf_token(client)
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as other:
        await other.get("/")
        response = await other.post("/langue", data={"csrf_token": token, "language": "nl"})
    assert response.status_code == 403


async def test_language_switching_is_not_possible_by_get(client: httpx.AsyncClient) -> None:
    response = await client.get("/langue?language=nl&next=/")
    assert response.status_code == 405
    assert "lang=" not in response.headers.get("set-cookie", "")


async def test_the_kinds_of_step_read_in_the_workers_language(client: httpx.AsyncClient) -> None:
    # The list of kinds is named once per language: each language gets its own names.
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service)
    await factories.sign_in_staff(client, "amina")
    names = {}
    for language in ("fr", "nl", "en", "fr"):
        client.cookies.set("lang", language)
        page = await client.get(f"/travail/dossiers/{dossier.reference}")
        # Two forms: the kinds written down, and the kinds proposed.
        names[language] = [
            option
            for select in ("f-record-kind", "f-kind")
            for option in re.findall(
                r'<option value="(\w+)">([^<]+)</option>',
                page.text.split(f'<select id="{select}" name="kind">', 1)[1].split("</select>")[0],
            )
        ]
    assert sorted(value for value, _ in names["fr"]) == sorted(KINDS)
    assert [value for value, _ in names["nl"]] == [value for value, _ in names["en"]]
    assert ("family_support", "soutien familial") in names["fr"]
    assert ("family_support", "gezinsondersteuning") in names["nl"]
    assert ("family_support", "family support") in names["en"]
