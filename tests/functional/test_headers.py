"""Security headers on every response, a fresh nonce each time, static files cached for good."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette

from portal.app import create_app
from portal.settings import Settings
from tests import factories

PAGES = ["/", "/droits", "/donnees", "/urgence", "/nexiste-pas"]


def _nonce(response: httpx.Response) -> str:
    match = re.search(r"'nonce-([\w-]+)'", response.headers["content-security-policy"])
    assert match
    return match.group(1)


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_carries_the_security_headers(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "camera=()" in response.headers["permissions-policy"]
    assert response.headers["cache-control"] == "no-store"
    # Served over https (as in production behind the proxy): browsers must keep to https.
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_each_response_has_its_own_nonce_and_every_script_carries_it(
    client: httpx.AsyncClient,
) -> None:
    first, second = await client.get("/"), await client.get("/")
    assert _nonce(first) != _nonce(second)
    scripts = re.findall(r"<script[^>]*>", first.text)
    assert scripts
    for tag in scripts:
        assert f'nonce="{_nonce(first)}"' in tag
        assert "src=" in tag  # no inline script at all
    assert "<style" not in first.text and " style=" not in first.text
    assert " hx-on" not in first.text  # hx-on needs eval


async def test_no_hsts_over_plain_http_in_development(settings: Settings, db: str) -> None:
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as plain:
        response = await plain.get("/")
    assert "strict-transport-security" not in response.headers


async def test_static_files_are_fingerprinted_and_cached_for_a_year(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # A public page, and a signed-in one: htmx is sent only where it is used.
    await factories.youth()
    assert (await factories.sign_in(client, "lou")).status_code == 303
    pages = "".join([(await client.get(path)).text for path in ("/", "/espace")])
    assets = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', pages)))
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert re.search(r"\.[0-9a-f]{10}\.\w+$", asset), asset
        response = await client.get(asset)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    htmx = [a for a in assets if "htmx-2.0" in a]
    assert htmx, "htmx 2.0.x is vendored and served from here"


@pytest.mark.parametrize(
    "path", ["/static/css/site.css", "/static/css/site.0000000000.css", "/static/../pyproject.toml"]
)
async def test_unknown_or_unfingerprinted_static_paths_are_not_found(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "immutable" not in response.headers["cache-control"]


async def test_first_visit_sets_a_secure_host_only_csrf_cookie(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-csrf=")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=Lax"):
        assert attribute in cookie
    assert "Domain" not in cookie
