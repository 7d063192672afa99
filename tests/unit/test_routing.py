"""Starlette's router: every route reachable at its own path, and the kind answers around them."""

from __future__ import annotations

import re

import httpx
from starlette.routing import Match, Route

from portal.app import create_app
from portal.settings import Settings

PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")
SAMPLES = {"reference": "ABCD-EFGH", "format": "pdf", "choice": "oui", "step": "fait"}


def test_no_route_hides_another(settings: Settings) -> None:
    """The path each route's name gives leads, with its method, to that route and no other."""
    app = create_app(settings, manage_database=False)
    routes = [route for route in app.routes if isinstance(route, Route)]
    assert len(routes) == len(app.routes) > 50
    for route in routes:
        params = {name: SAMPLES.get(name, "12") for name in PARAMETER.findall(route.path)}
        if route.name == "static":
            params = {"path": "css/site.css"}
        path = app.url_path_for(route.name, **params)
        for method in route.methods or ["GET"]:
            scope = {"type": "http", "method": method, "path": path, "root_path": ""}
            first = next(r for r in routes if r.matches(dict(scope))[0] is Match.FULL)
            assert first is route, (method, path, first.name)


async def test_an_unknown_path_is_the_kind_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/nulle-part")
    assert response.status_code == 404
    assert '<html lang="fr">' in response.text
    assert "Cette page n’existe pas" in response.text


async def test_a_wrong_method_is_a_405_that_names_the_allowed_ones(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/langue")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "Cette page n’existe pas" in response.text


async def test_a_path_with_a_trailing_slash_leads_to_the_page_without(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/droits/?x=1")
    assert response.status_code == 307
    assert httpx.URL(response.headers["location"]).raw_path == b"/droits?x=1"
    assert (await client.get("/droits/", follow_redirects=True)).url.path == "/droits"
