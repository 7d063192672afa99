"""Error pages: kind, translated, in the site's style, and never a trace."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.requests import Request
from starlette.routing import Route
from tortoise import connections

from portal.app import create_app
from portal.settings import Settings

TRACE_MARKERS = ("Traceback", 'File "', "RuntimeError", "line ", "portal/")


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("fr", "Cette page n’existe pas"),
        ("nl", "Deze pagina bestaat niet"),
        ("en", "This page does not exist"),
    ],
)
async def test_unknown_path_gives_the_translated_404_page(
    client: httpx.AsyncClient, language: str, words: str
) -> None:
    client.cookies.set("lang", language)
    response = await client.get("/nexiste/pas?x=<script>")
    assert response.status_code == 404
    assert words in response.text
    assert f'<html lang="{language}">' in response.text
    assert "Quitter vite" in response.text or language != "fr"
    assert "<script>" not in response.text.split("</head>", 1)[1].replace("<script src", "")
    assert response.headers["content-security-policy"]


async def test_a_crash_in_a_page_gives_the_500_page_without_a_trace(
    settings: Settings, db: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, manage_database=False)

    async def crash(request: Request) -> None:
        raise RuntimeError("secret detail of the crash")

    app.router.routes.append(Route("/crash", crash))
    transport = httpx.ASGITransport(app=app)
    with caplog.at_level(logging.ERROR, logger="portal"):
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            c.cookies.set("lang", "nl")
            response = await c.get("/crash")
    assert response.status_code == 500
    assert '<html lang="nl">' in response.text
    for marker in (*TRACE_MARKERS, "secret detail"):
        assert marker not in response.text
    assert response.headers["cache-control"] == "no-store"
    assert "content-security-policy" in response.headers
    # The error is logged for the people who run the service.
    assert any("secret detail of the crash" in str(r.exc_info) for r in caplog.records)


async def test_wrong_method_gives_a_kind_page(client: httpx.AsyncClient) -> None:
    response = await client.put("/droits", headers={"X-CSRF-Token": "x"})
    assert response.status_code in {403, 405}
    assert "Traceback" not in response.text


async def test_an_oversized_form_is_refused_before_it_is_read(client: httpx.AsyncClient) -> None:
    await client.get("/")
    response = await client.post(
        "/langue",
        content=b"language=nl&x=" + b"a" * 300_000,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert "lang=" not in response.headers.get("set-cookie", "")


async def test_the_database_away_gives_a_kind_503_without_a_trace(
    settings: Settings, db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tortoise.exceptions import DBConnectionError

    async def cut(*args: object, **kwargs: object) -> None:
        raise DBConnectionError("connection refused by 10.0.0.5:5432")

    # The home page's one read.
    monkeypatch.setattr(connections.get("default"), "execute_query", cut)
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        response = await c.get("/")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert "10.0.0.5" not in response.text and "Traceback" not in response.text
    assert "<html lang=" in response.text


@pytest.mark.parametrize("name", ["ConnectionDoesNotExistError", "InterfaceError"])
async def test_a_postgresql_connection_dying_mid_query_gives_503(
    settings: Settings, db: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from asyncpg import exceptions as asyncpg_errors

    error = getattr(asyncpg_errors, name)

    async def cut(*args: object, **kwargs: object) -> None:
        raise error("connection was closed in the middle of operation")

    # The home page's one read.
    monkeypatch.setattr(connections.get("default"), "execute_query", cut)
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        response = await c.get("/")
    assert response.status_code == 503
