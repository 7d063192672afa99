"""What is measured: each target is a page, the server it lives on and how to get ready for it."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import httpx
import pyotp

from bench.data import BenchData

ServerName = Literal["portal", "baseline", "floor"]


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


class SetupError(RuntimeError):
    """A target could not be got ready, e.g. signing in was refused."""


# What the portal calls its cookies (portal.security.sessions and .csrf), and how a page
# carries the CSRF token in its forms (as tests/helpers.py reads it).
SESSION_COOKIE = "__Host-session"
CSRF_COOKIE = "__Host-csrf"
CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def _csrf(page: httpx.Response) -> tuple[str, str]:
    """The CSRF cookie a page set and the token its forms carry."""
    cookie = page.cookies.get(CSRF_COOKIE)
    match = CSRF_RE.search(page.text)
    if cookie is None or match is None:
        raise SetupError(f"no CSRF cookie or token on {page.request.url.path} ({page.status_code})")
    return cookie, match.group(1)


def _cookie_header(**cookies: str) -> dict[str, str]:
    # The names hold dashes: passed as a dict, not as keywords.
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


async def _post_form(
    client: httpx.AsyncClient, path: str, cookies: dict[str, str], form: dict[str, str]
) -> httpx.Response:
    """GET the form's page with ``cookies``, then POST ``form`` with its CSRF token."""
    # Nothing from the client's own jar: every cookie goes in the explicit header.
    client.cookies.clear()
    page = await client.get(path, headers=_cookie_header(**cookies))
    csrf_cookie, token = _csrf(page)
    client.cookies.clear()
    answer = await client.post(
        path,
        data={"csrf_token": token, **form},
        headers=_cookie_header(**cookies, **{CSRF_COOKIE: csrf_cookie}),
    )
    client.cookies.clear()
    return answer


def _session(answer: httpx.Response, what: str) -> str:
    session = answer.cookies.get(SESSION_COOKIE)
    if answer.status_code != 303 or not session:
        raise SetupError(f"{what} answered {answer.status_code} without a session cookie")
    return session


async def _totp_step(client: httpx.AsyncClient, pending: str, secret: str, login: str) -> str:
    """The second step: a code works once, in its 30 s window; a refused one waits for the next."""
    totp = pyotp.TOTP(secret)
    for attempt in range(2):
        code = totp.now()
        answer = await _post_form(
            client, "/connexion/code", {SESSION_COOKIE: pending}, {"code": code}
        )
        if answer.status_code == 303:
            return _session(answer, f"POST /connexion/code as {login}")
        if attempt == 0 and answer.status_code == 422:
            await asyncio.sleep(totp.interval - time.time() % totp.interval + 0.5)
    raise SetupError(f"POST /connexion/code as {login} answered {answer.status_code}")


async def sign_in(
    client: httpx.AsyncClient, login: str, password: str, totp_secret: str | None = None
) -> str:
    """Sign in through the pages as a browser does; return the session cookie's value."""
    answer = await _post_form(client, "/connexion", {}, {"login": login, "password": password})
    session = _session(answer, f"POST /connexion as {login}")
    if totp_secret is not None:
        session = await _totp_step(client, session, totp_secret, login)
    return session


# One sign-in per account and server: a TOTP code works once per window, and failures are
# throttled. Keyed by the server's address so that each run signs in anew.
_signed_in: dict[tuple[str, str], Prepared] = {}


def signed_in_as(
    login: str, password: str, totp_secret: str | None = None, landing: str = "/"
) -> Setup:
    """A setup that signs in (once) and sends the session and CSRF cookies, as a browser would."""

    async def setup(client: httpx.AsyncClient) -> Prepared:
        key = (str(client.base_url), login)
        if key not in _signed_in:
            session = await sign_in(client, login, password, totp_secret)
            # The browser then loads a page and gets a fresh CSRF cookie (sign-in rotated it).
            client.cookies.clear()
            page = await client.get(landing, headers=_cookie_header(**{SESSION_COOKIE: session}))
            client.cookies.clear()
            csrf_cookie = page.cookies.get(CSRF_COOKIE)
            if page.status_code != 200 or csrf_cookie is None:
                raise SetupError(f"GET {landing} as {login} answered {page.status_code}")
            _signed_in[key] = Prepared(cookies={SESSION_COOKIE: session, CSRF_COOKIE: csrf_cookie})
        return _signed_in[key]

    return setup


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    server: ServerName = "portal"
    setup: Setup = returning_visitor
    # Weighed gzipped in every language against the one-round-trip goal, right after the load.
    weigh: bool = False
    # The same page (``page``) on dossiers of different journal lengths (``journal``, entries
    # when the setup ended) is compared: latency must not grow with the journal.
    page: str | None = None
    journal: int | None = None
    # Also held at half its peak rate in an open loop, for the tail of its latency.
    steady: bool = False


BASELINE = Target("baseline", "/", server="baseline", setup=nothing)

PUBLIC: list[Target] = [
    Target("home /", "/", weigh=True),
    Target("rights /droits", "/droits", weigh=True),
    Target("data /donnees", "/donnees", weigh=True),
    Target("urgent /urgence", "/urgence", weigh=True),
]


FLOOR_TARGET = "journal only (bench)"


def _journal_label(entries: int) -> str:
    return f"{entries // 1000}k" if entries >= 1000 else str(entries)


def signed_in_targets(data: BenchData) -> list[Target]:
    """The dossier page as its subject and as the assigned worker, short and long journals.

    The subject's pages come first: each worker view appends an entry to the journal (the
    product's rule), so once a worker page has been loaded its journal is longer.
    """
    subject_page, worker_page = "dossier (subject)", "dossier (worker)"
    worker = signed_in_as(data.worker, data.password, data.totp_secret, landing="/travail")
    targets = [
        Target(
            f"{subject_page} {_journal_label(dossier.entries)}",
            f"/espace/{dossier.reference}",
            setup=signed_in_as(dossier.subject, data.password, landing="/espace"),
            weigh=True,
            page=subject_page,
            journal=dossier.entries,
            steady=dossier is data.short,
        )
        for dossier in (data.short, data.long)
    ]
    targets += [
        Target(
            f"{worker_page} {_journal_label(dossier.entries)}",
            f"/travail/dossiers/{dossier.reference}",
            setup=worker,
            page=worker_page,
            journal=dossier.entries,
            steady=dossier is data.short,
        )
        for dossier in (data.short, data.long)
    ]
    # The worker's page cut down to the goal's list (bench.floor): how far its content is
    # from the goal, and how far what any journaled page costs.
    targets.append(
        Target(
            FLOOR_TARGET,
            f"/banc/journal/{data.short.reference}",
            server="floor",
            setup=worker,
        )
    )
    return targets


def all_targets(data: BenchData) -> list[Target]:
    return [*PUBLIC, *signed_in_targets(data)]
