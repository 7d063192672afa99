"""Starlette's router, trying only the routes that can match the path's first segment."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send


def _first_segment(path: str) -> str:
    return path.lstrip("/").split("/", 1)[0]


class IndexedRouter(Router):
    """Routes grouped by the first segment of their path, in their order.

    Starlette tries every route in order until one matches: a page near the end of the table
    costs some fifty matches. A route whose first segment is fixed can only match a path that
    starts with it, so the first full match among the routes of that segment (and those whose
    first segment is a parameter) is the first full match of the whole table. Anything else
    (no full match: a 405, a 404, a redirect to the slash) is left to Starlette's own walk.
    """

    def __init__(self, routes: Sequence[BaseRoute], **options: Any) -> None:
        super().__init__(list(routes), **options)
        anywhere = [route for route in self.routes if self._segment(route) is None]
        self._by_segment: dict[str, list[BaseRoute]] = {}
        for route in self.routes:
            segment = self._segment(route)
            if segment is not None and segment not in self._by_segment:
                self._by_segment[segment] = [
                    r for r in self.routes if r in anywhere or self._segment(r) == segment
                ]
        self._anywhere = anywhere

    @staticmethod
    def _segment(route: BaseRoute) -> str | None:
        """The fixed first segment of a route's path; None when it could match any."""
        if not isinstance(route, Route):
            return None
        segment = _first_segment(route.path)
        return None if "{" in segment else segment

    def full_match(self, scope: Scope) -> tuple[BaseRoute, Scope] | None:
        """The first route that fully matches, and what it adds to the scope; or None."""
        segment = _first_segment(get_route_path(scope))
        for route in self._by_segment.get(segment, self._anywhere):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                return route, child_scope
        return None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.full_match(scope) if scope["type"] == "http" else None
        if found is None:
            await super().app(scope, receive, send)
            return
        # As Starlette does it for the route it chose.
        route, child_scope = found
        scope.setdefault("router", self)
        scope["route"] = route
        scope.update(child_scope)
        await route.handle(scope, receive, send)
