"""The indexed router chooses the very route Starlette's walk of the whole table chooses."""

from __future__ import annotations

import re

import pytest
from starlette.routing import Match, NoMatchFound, Route

from portal.app import create_app
from portal.routing import IndexedRouter
from portal.settings import Settings
from portal.templating import path_finder

PARAMETER = re.compile(r"{([^}:]+)(?::[^}]+)?}")
SAMPLES = {"reference": "ABCD-EFGH", "format": "pdf", "choice": "oui", "step": "fait"}


def _paths(routes: list[Route]) -> list[str]:
    """Every route's path made concrete, and paths no route has."""
    paths = ["/", "/nowhere", "/espace/", "/travail/dossiers", "/static/x/y.css", "//x"]
    for route in routes:
        paths.append(PARAMETER.sub(lambda m: SAMPLES.get(m.group(1), "12"), route.path))
    return paths


def _starlette_walk(routes: list[Route], scope: dict[str, object]) -> Route | None:
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
    return None


@pytest.mark.parametrize("method", ["GET", "POST", "HEAD", "PUT"])
def test_every_path_gets_the_route_the_whole_walk_gives(settings: Settings, method: str) -> None:
    app = create_app(settings, manage_database=False)
    router = app.router
    assert isinstance(router, IndexedRouter)
    routes = [route for route in router.routes if isinstance(route, Route)]
    assert len(routes) == len(router.routes) > 50
    for path in _paths(routes):
        scope = {"type": "http", "method": method, "path": path, "root_path": ""}
        found = router.full_match(dict(scope))
        expected = _starlette_walk(routes, dict(scope))
        assert (found[0] if found else None) is expected, (method, path)


def test_templates_link_every_route_as_starlette_would(settings: Settings) -> None:
    """Templates' url_for writes the path itself: the same as Starlette's for every route."""
    app = create_app(settings, manage_database=False)
    routes = [route for route in app.router.routes if isinstance(route, Route)]
    url_for = path_finder(routes)
    for route in routes:
        names = PARAMETER.findall(route.path)
        for value in ("ABCD-EFGH", "12", "a b é?#"):
            params = {name: 12 if name.endswith("_id") else value for name in names}
            if "{path:path}" in route.path:
                params = {"path": "css/site.css"}
            assert url_for(route.name, **params) == str(route.url_path_for(route.name, **params))
        if names:
            # A parameter missing or unknown is refused as Starlette refuses it.
            with pytest.raises(NoMatchFound):
                url_for(route.name)
            with pytest.raises(NoMatchFound):
                url_for(route.name, **{n: "1" for n in names}, extra="1")
