"""On a shared phone: the page that says how, the quick exit that forgets the language, passkeys
under a neutral name, and the page after signing out."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from portal.security.sessions import SESSION_COOKIE
from tests import factories
from tests.helpers import csrf_token

pytestmark = pytest.mark.asyncio(loop_scope="session")

NEUTRAL_SITE = "https://www.meteo.be/fr/belgique"
PAGE_WORDS = {
    "fr": ("Sur un téléphone partagé", "Navigation privée", "Ce qu’il ne peut pas faire"),
    "nl": ("Op een gedeelde telefoon", "Privé surfen", "Wat hij niet kan"),
    "en": ("On a shared phone", "Private browsing", "What it cannot do"),
}
SHIFT_THREE_TIMES = {
    "fr": "appuie trois fois sur la touche Maj",
    "nl": "druk drie keer op Shift",
    "en": "press Shift three times",
}


def visible_text(html: str) -> str:
    """The page without what only screen readers get (the visually hidden spans)."""
    return re.sub(r'<span class="visually-hidden">.*?</span>', "", html, flags=re.DOTALL)


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
async def test_the_phone_page_says_what_the_quick_exit_does_and_does_not(
    client: httpx.AsyncClient, language: str
) -> None:
    client.cookies.set("lang", language)
    page = await client.get("/telephone")
    assert page.status_code == 200
    for words in PAGE_WORDS[language]:
        assert words in page.text
    assert SHIFT_THREE_TIMES[language] in visible_text(page.text)


async def test_the_phone_page_is_honest_about_the_history(client: httpx.AsyncClient) -> None:
    text = (await client.get("/telephone")).text
    assert "Il ne peut pas effacer l’historique déjà écrit par ton navigateur" in text
    assert "Il ne peut rien contre une application qui surveille le téléphone." in text
    assert "« Mon compte »" in text  # the passkey's neutral name, as the phone shows it


@pytest.mark.parametrize("path", ["/", "/connexion", "/urgence"])
async def test_every_page_links_the_phone_page_and_says_shift_three_times_in_sight(
    client: httpx.AsyncClient, path: str
) -> None:
    html = (await client.get(path)).text
    footer = html.split('<footer class="site-footer">', 1)[1]
    assert 'href="/telephone"' in footer
    assert SHIFT_THREE_TIMES["fr"] in visible_text(footer)


async def test_the_sign_in_page_links_the_phone_page(client: httpx.AsyncClient) -> None:
    main = (await client.get("/connexion")).text.split('<main id="main"', 1)[1]
    main = main.split("</main>", 1)[0]
    assert re.search(r'<a href="/telephone">Téléphone partagé \? Lis ceci d’abord</a>', main)


async def _choose_language(client: httpx.AsyncClient, language: str) -> None:
    token = await csrf_token(client)
    answer = await client.post("/langue", data={"csrf_token": token, "language": language})
    assert answer.status_code == 303
    assert client.cookies.get("lang") == language


def _forgets_language(response: httpx.Response) -> bool:
    return any(
        re.match(r'lang=("")?;', cookie) and "Max-Age=0" in cookie
        for cookie in response.headers.get_list("set-cookie")
    )


async def test_the_quick_exit_forgets_the_language_without_an_account(
    client: httpx.AsyncClient,
) -> None:
    await _choose_language(client, "nl")
    page = (await client.get("/droits")).text
    # A form for everyone, so that the way out reaches the server even without JavaScript.
    assert re.search(
        r'<form class="quick-exit-form" method="post" action="/sortie"[^>]*'
        rf'data-exit-url="{re.escape(NEUTRAL_SITE)}"',
        page,
    )
    token = await csrf_token(client, "/droits")
    answer = await client.post("/sortie", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"] == NEUTRAL_SITE
    assert _forgets_language(answer)
    assert client.cookies.get("lang") is None
    assert '<html lang="fr">' in (await client.get("/")).text


@pytest.mark.parametrize("beacon", [False, True])
async def test_the_quick_exit_ends_the_session_and_forgets_the_language(
    client: httpx.AsyncClient, beacon: bool
) -> None:
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    await _choose_language(client, "en")
    token = await csrf_token(client, "/compte")
    headers = {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "no-cors"} if beacon else {}
    answer = await client.post("/sortie", data={"csrf_token": token}, headers=headers)
    assert answer.status_code == (204 if beacon else 303)
    assert _forgets_language(answer)
    assert any(c.startswith(f"{SESSION_COOKIE}=") for c in answer.headers.get_list("set-cookie"))
    assert client.cookies.get("lang") is None
    assert (await client.get("/compte")).status_code == 303


async def test_signing_out_says_so_and_what_it_means_on_a_shared_phone(
    client: httpx.AsyncClient,
) -> None:
    await factories.youth("lou")
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    answer = await client.post("/deconnexion", data={"csrf_token": token})
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/au-revoir")
    page = await client.get(answer.headers["location"])
    assert page.status_code == 200
    assert "Ta session est fermée" in page.text
    assert "ferme aussi cet onglet" in page.text
    main = page.text.split('<main id="main"', 1)[1].split("</main>", 1)[0]
    assert 'href="/telephone"' in main
    # Signed out for real: the space asks to sign in again.
    assert (await client.get("/espace")).status_code == 303


def _options(answer: httpx.Response) -> dict[str, object]:
    assert answer.status_code == 200, answer.text
    options: dict[str, object] = json.loads(answer.text)
    return options


def _assert_neutral(options: dict[str, object], *revealing: str) -> None:
    text = json.dumps(options, ensure_ascii=False)
    user = options["user"]
    assert isinstance(user, dict)
    assert user["name"] == user["displayName"] == "Mon compte"
    rp = options["rp"]
    assert isinstance(rp, dict)
    assert rp["name"] == rp["id"] == "localhost"
    for word in (*revealing, "AMO", "Portail"):
        assert word not in text, word


async def test_a_new_account_passkey_is_made_under_a_neutral_name(
    client: httpx.AsyncClient,
) -> None:
    token = await csrf_token(client, "/compte/nouveau")
    answer = await client.post(
        "/compte/nouveau/passkey/options",
        data={"csrf_token": token, "role": "youth", "display_name": "Loulou", "language": "fr"},
    )
    _assert_neutral(_options(answer), "Loulou")


async def test_a_passkey_added_to_a_young_persons_account_has_a_neutral_name(
    client: httpx.AsyncClient,
) -> None:
    await factories.youth("lou.b", "Loulou")
    await factories.sign_in(client, "lou.b")
    token = await csrf_token(client, "/compte")
    answer = await client.post("/compte/passkeys/options", data={"csrf_token": token})
    _assert_neutral(_options(answer), "Loulou", "lou.b")


async def test_a_request_passkey_is_made_under_a_neutral_name(client: httpx.AsyncClient) -> None:
    await factories.service()
    token = await csrf_token(client, "/demande")
    answer = await client.post(
        "/demande/passkey/options",
        data={
            "csrf_token": token,
            "asker": "youth",
            "birth_month": "3",
            "birth_year": "2010",
            "themes": "school",
            "contact_channel": "portal",
            "display_name": "Loulou",
            "language": "fr",
        },
    )
    _assert_neutral(_options(answer), "Loulou")


async def test_staff_passkeys_keep_their_work_address(client: httpx.AsyncClient) -> None:
    """Staff tell their accounts apart on a work device: the neutral name is for subjects."""
    service = await factories.service()
    await factories.staff("amina@lepassage.example", service_=service)
    await factories.sign_in_staff(client, "amina@lepassage.example")
    token = await csrf_token(client, "/compte")
    options = _options(await client.post("/compte/passkeys/options", data={"csrf_token": token}))
    user = options["user"]
    assert isinstance(user, dict) and user["name"] == "amina@lepassage.example"
