"""A first visit on a prepaid phone: each public page loads only the scripts it uses, and all
it fetches fits the first round trip (14,600 bytes gzipped, as they travel)."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from tests import factories
from tests.helpers import csrf_token

# Ten TCP segments of 1,460 bytes: what a server sends before the phone's first ACK.
FIRST_ROUND_TRIP = 14_600
# What a reverse proxy uses when it gzips HTML on the fly (the portal leaves that to it).
PROXY_GZIP_LEVEL = 6
EVERYWHERE = {"js/quick-exit.js", "js/forms.js"}
PASSKEYS = {"js/passkey.js"}
# With htmx comes the print button's script: a boosted link runs no script the page lacked.
HTMX = {"vendor/htmx-2.0.11.min.js", "js/print.js"}
# Signed in, the header's count of news (and an open dossier) update while the page is seen.
LIVE = {"js/live.js"}
# The public pages a person can land on first, and the scripts each may load; the pages the
# footer links to are added to these (see `footer_pages`).
PUBLIC_SCRIPTS = {
    "/": EVERYWHERE,
    "/droits": EVERYWHERE,
    "/donnees": EVERYWHERE,
    "/urgence": EVERYWHERE,
    "/connexion": EVERYWHERE | PASSKEYS,
    "/compte/nouveau": EVERYWHERE | PASSKEYS,
    "/demande": EVERYWHERE,
}


class Fetches(HTMLParser):
    """What a page makes the browser fetch, the scripts among them, and the footer's links."""

    def __init__(self) -> None:
        super().__init__()
        self.addresses: list[str] = []
        self.scripts: list[str] = []
        self.body: dict[str, str] = {}
        self.footer_links: list[str] = []
        self._in_footer = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        if tag == "script" and a.get("src"):
            self.scripts.append(a["src"])
            self.addresses.append(a["src"])
        elif tag == "link" and a.get("href"):
            self.addresses.append(a["href"])
        elif tag == "img" and a.get("src"):
            self.addresses.append(a["src"])
        elif tag == "body":
            self.body = a
        elif tag == "footer":
            self._in_footer = True
        elif tag == "a" and self._in_footer and a.get("href", "").startswith("/"):
            self.footer_links.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "footer":
            self._in_footer = False


def read(html: str) -> Fetches:
    parser = Fetches()
    parser.feed(html)
    return parser


def names(scripts: list[str]) -> set[str]:
    """``/static/js/forms.3f2a9c1b0d.js`` → ``js/forms.js``."""
    return {re.sub(r"^/static/(.+)\.[0-9a-f]{10}(\.\w+)$", r"\1\2", src) for src in scripts}


async def footer_pages(client: httpx.AsyncClient) -> list[str]:
    return read((await client.get("/")).text).footer_links


async def first_visit_bytes(client: httpx.AsyncClient, path: str) -> dict[str, int]:
    """The page and all it makes a new visitor fetch, in bytes as they travel: static files
    as the portal sends them gzipped, the page as the proxy gzips it."""
    client.cookies.clear()
    page = await client.get(path)
    assert page.status_code == 200
    sizes = {path: len(gzip.compress(page.content, compresslevel=PROXY_GZIP_LEVEL, mtime=0))}
    for address in read(page.text).addresses:
        assert address.startswith("/static/"), f"{address}: not from the portal's own files"
        asset = await client.get(address, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert asset.status_code == 200
        # httpx hands over the body decoded; what travelled is the Content-Length.
        sizes[address] = int(asset.headers["content-length"])
    return sizes


async def test_the_footer_links_to_the_public_pages(client: httpx.AsyncClient) -> None:
    assert {"/droits", "/donnees", "/urgence"} <= set(await footer_pages(client))


@pytest.mark.parametrize("path", PUBLIC_SCRIPTS)
async def test_a_public_page_loads_only_the_scripts_it_uses(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    page = read(response.text)
    assert names(page.scripts) == PUBLIC_SCRIPTS[path]
    # Without htmx, nothing asks for it: no boost, no htmx settings.
    assert "hx-boost" not in page.body
    assert "htmx-config" not in response.text


async def test_every_page_in_the_footer_loads_no_script_it_does_not_use_and_fits(
    client: httpx.AsyncClient,
) -> None:
    for path in await footer_pages(client):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert names(read(response.text).scripts) == EVERYWHERE, path
        sizes = await first_visit_bytes(client, path)
        assert sum(sizes.values()) <= FIRST_ROUND_TRIP, sizes


async def _step(
    client: httpx.AsyncClient, step: str, values: dict[str, Any], go: str = "next"
) -> httpx.Response:
    """A step sent without JavaScript, and the page that then shows the next one."""
    data = {"csrf_token": await csrf_token(client), "step": step, "go": go, **values}
    response = await client.post("/demande", data=data, follow_redirects=True)
    assert response.status_code == 200
    return response


async def test_the_request_form_loads_htmx_and_passkeys_on_the_steps_that_use_them(
    client: httpx.AsyncClient,
) -> None:
    await factories.service()
    values = {"asker": "youth", "birth_month": "3", "birth_year": "2010"}
    about = await _step(client, "who", values)
    # The words' counter asks the server through htmx; the page is then boosted, and a boosted
    # step cannot load a script: it brings the passkey script along for the last step.
    assert 'id="f-words"' in about.text
    assert names(read(about.text).scripts) == EVERYWHERE | HTMX | PASSKEYS
    assert read(about.text).body.get("hx-boost") == "true"
    values |= {"themes": "school", "words": "Ça ne va plus."}
    contact = await _step(client, "about", values)
    assert names(read(contact.text).scripts) == EVERYWHERE
    values |= {"contact_channel": "portal", "contact_details": "", "contact_hours": ""}
    account = await _step(client, "contact", values)
    assert "data-passkey-register" in account.text
    assert names(read(account.text).scripts) == EVERYWHERE | PASSKEYS


async def test_signed_in_pages_are_boosted_with_every_script(client: httpx.AsyncClient) -> None:
    await factories.youth()
    assert (await factories.sign_in(client, "lou")).status_code == 303
    for path in ("/espace", "/compte", "/"):
        response = await client.get(path)
        page = read(response.text)
        assert names(page.scripts) == EVERYWHERE | HTMX | PASSKEYS | LIVE, path
        assert page.body.get("hx-boost") == "true", path


@pytest.mark.parametrize("path", PUBLIC_SCRIPTS)
async def test_a_first_visit_fits_the_first_round_trip(
    client: httpx.AsyncClient, path: str
) -> None:
    await factories.service()
    sizes = await first_visit_bytes(client, path)
    assert sum(sizes.values()) <= FIRST_ROUND_TRIP, sizes


async def test_the_passkey_script_comes_before_the_page_is_shown(
    client: httpx.AsyncClient,
) -> None:
    """Not deferred: the passkey box is in place at the first paint, so nothing moves."""
    text = (await client.get("/connexion")).text
    head = text.split("</head>", 1)[0]
    tag = re.search(r"<script [^>]*/js/passkey\.[0-9a-f]{10}\.js[^>]*>", head)
    assert tag is not None
    assert " defer" not in tag.group(0) and " async" not in tag.group(0)
