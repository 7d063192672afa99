"""What is measured, and signing in through the portal's pages as a browser does."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import httpx
import pyotp

from bench.world import World

# What the portal calls its cookies (portal.security.sessions and .csrf), and how its forms
# carry the CSRF token.
SESSION_COOKIE = "__Host-session"
CSRF_COOKIE = "__Host-csrf"
CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    who: str | None = None  # Who is signed in; None: a returning visitor.
    goal: float | None = None  # The least share of the bare page's rate.
    steady: bool = False  # Also held at half its peak rate, for the tail of its latency.


def targets(world: World) -> list[Target]:
    """The pages with a goal. Each worker view appends to the dossier's journal: the long
    journal's page comes before the short one's, so that the short one stays short."""
    short, long = world.short, world.long
    return [
        Target("home", "/", goal=0.5),
        Target("subject's dossier", f"/espace/{short}", "lou", 0.15, steady=True),
        Target("subject's dossier 10k", f"/espace/{long}", "noa"),
        Target("worker's dossier 10k", f"/travail/dossiers/{long}", world.worker),
        Target("worker's dossier", f"/travail/dossiers/{short}", world.worker, 0.10, steady=True),
        Target("worker's inbox", "/travail", world.worker, 0.10),
        Target("worker's account", "/compte", world.worker, 0.10),
        # Her export: every entry of her journal and a head the service signs (Ed25519), each
        # time. No goal: it is asked once in a while, and grows with the journal by nature.
        Target("subject's export", f"/espace/{short}/export.json", "lou"),
        Target("subject's export 10k", f"/espace/{long}/export.json", "noa"),
    ]


# The same page on a journal of 10,010 entries against 10: its latency may grow this much.
JOURNAL_PAIRS = [
    ("subject's dossier 10k", "subject's dossier"),
    ("worker's dossier 10k", "worker's dossier"),
]


class SetupError(RuntimeError):
    """A page could not be got ready, e.g. signing in was refused."""


def cookie_header(cookies: dict[str, str]) -> dict[str, str]:
    # In an explicit header: httpx keeps the portal's Secure (__Host-) cookies but never sends
    # them back to the plain http address the bench serves on.
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


async def visit(client: httpx.AsyncClient, path: str, cookies: dict[str, str]) -> dict[str, str]:
    """GET ``path`` with ``cookies``; the cookies a browser would then hold."""
    client.cookies.clear()
    page = await client.get(path, headers=cookie_header(cookies))
    if page.status_code != 200:
        raise SetupError(f"GET {path} answered {page.status_code}")
    return {**cookies, **page.cookies}


async def _post_form(
    client: httpx.AsyncClient, path: str, cookies: dict[str, str], form: dict[str, str]
) -> httpx.Response:
    """GET the form's page, then POST ``form`` with its CSRF token."""
    client.cookies.clear()
    page = await client.get(path, headers=cookie_header(cookies))
    token = CSRF_RE.search(page.text)
    if token is None or CSRF_COOKIE not in page.cookies:
        raise SetupError(f"no CSRF cookie or token on {path} ({page.status_code})")
    client.cookies.clear()
    headers = cookie_header({**cookies, CSRF_COOKIE: page.cookies[CSRF_COOKIE]})
    return await client.post(path, data={"csrf_token": token[1], **form}, headers=headers)


def _session(answer: httpx.Response, what: str) -> dict[str, str]:
    if answer.status_code != 303 or SESSION_COOKIE not in answer.cookies:
        raise SetupError(f"{what} answered {answer.status_code} without a session")
    return {SESSION_COOKIE: answer.cookies[SESSION_COOKIE]}


async def sign_in(client: httpx.AsyncClient, login: str, world: World) -> dict[str, str]:
    """Sign in (staff: with a TOTP code), then load a page; the cookies a browser then holds."""
    form = {"login": login, "password": world.password}
    cookies = _session(await _post_form(client, "/connexion", {}, form), f"{login}'s sign-in")
    if login == world.worker:
        totp = pyotp.TOTP(world.totp_secret)
        answer = await _post_form(client, "/connexion/code", cookies, {"code": totp.now()})
        if answer.status_code == 422:  # A code works once per window: wait for the next.
            await asyncio.sleep(totp.interval - time.time() % totp.interval + 0.5)
            answer = await _post_form(client, "/connexion/code", cookies, {"code": totp.now()})
        cookies = _session(answer, f"{login}'s second factor")
    # Signing in renewed the CSRF cookie: the next page gives the new one.
    return await visit(client, "/travail" if login == world.worker else "/espace", cookies)
