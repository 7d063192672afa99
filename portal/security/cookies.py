"""A request's cookies, read once for the layers that each need one of them."""

from __future__ import annotations

from starlette.requests import cookie_parser
from starlette.types import Scope


def cookies_of(scope: Scope) -> dict[str, str]:
    """The cookies the browser sent, parsed as Starlette's ``Request.cookies`` parses them.

    The language, CSRF and session layers each read one cookie on every request: parsed
    once here and kept in the request's state. A garbled pair is skipped, not the header.
    """
    state = scope.setdefault("state", {})
    found: dict[str, str] | None = state.get("cookies")
    if found is None:
        headers = [value.decode("latin-1") for name, value in scope["headers"] if name == b"cookie"]
        found = state["cookies"] = cookie_parser("; ".join(headers)) if headers else {}
    return found
