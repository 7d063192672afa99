"""What is measured: each target is a page, the server it lives on and how to get ready for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx

ServerName = Literal["portal", "baseline"]


@dataclass(frozen=True)
class Prepared:
    """What every request to a target carries: headers, and cookies such as a session."""

    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    def with_cookies(self, **cookies: str) -> Prepared:
        return Prepared(headers=self.headers, cookies={**self.cookies, **cookies})

    def request_headers(self) -> dict[str, str]:
        # Cookies go in an explicit header: httpx keeps our `Secure` (__Host-) cookies but
        # never sends them back to an http:// address, and the bench serves plain http.
        headers = dict(self.headers)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        return headers


# A setup step gets a client on the target's server (base_url set) and returns what to send.
Setup = Callable[[httpx.AsyncClient], Awaitable[Prepared]]


async def nothing(client: httpx.AsyncClient) -> Prepared:
    return Prepared()


async def returning_visitor(client: httpx.AsyncClient) -> Prepared:
    """A browser that came before and sends back the CSRF cookie it was given, as most do."""
    response = await client.get("/")
    response.raise_for_status()
    return Prepared(cookies=dict(response.cookies))


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    server: ServerName = "portal"
    setup: Setup = returning_visitor
    # Public pages are also weighed gzipped in every language against the one-round-trip goal.
    public: bool = False


BASELINE = Target("baseline", "/", server="baseline", setup=nothing)

# Signed-in pages come later as targets whose setup signs in and returns the session cookie,
# e.g. Target("dossier (subject)", "/dossiers/1", setup=signed_in_as("young")).
TARGETS: list[Target] = [
    Target("home /", "/", public=True),
    Target("rights /droits", "/droits", public=True),
    Target("data /donnees", "/donnees", public=True),
    Target("urgent /urgence", "/urgence", public=True),
]
