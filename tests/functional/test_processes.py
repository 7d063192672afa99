"""Several processes behind a proxy share sessions and throttling, and log nothing personal."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest

from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, TEST_SECRET
from tests.helpers import portal_process

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/14")
CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def _redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def _server(database: str, tmp: Path, name: str) -> Iterator[tuple[str, Path]]:
    keys = (TEST_SECRET, TEST_JOURNAL_KEY, TEST_MASTER_KEY)
    with portal_process(database, tmp, name, REDIS_URL, keys) as server:
        yield server


class Browser:
    """A few cookies by hand: httpx keeps Secure cookies but sends them only over https."""

    def __init__(self) -> None:
        self.cookies: dict[str, str] = {}

    def _header(self) -> dict[str, str]:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def _keep(self, response: httpx.Response) -> None:
        for name, value in response.cookies.items():
            if value in {"", '""'}:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    async def get(self, url: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.get(url, headers=self._header())
        self._keep(response)
        return response

    async def post(self, url: str, data: dict[str, object]) -> httpx.Response:
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.post(url, data=data, headers=self._header())
        self._keep(response)
        return response

    async def token(self, url: str) -> str:
        page = await self.get(url)
        if page.is_redirect:
            page = await self.get(url.split("/", 3)[0] + "//" + url.split("/")[2] + "/")
        match = CSRF_RE.search(page.text)
        assert match, page.text[:500]
        return match.group(1)


def _flush_redis_database(number: int) -> None:
    with socket.create_connection(("127.0.0.1", 6379), timeout=5) as sock:
        sock.sendall(f"SELECT {number}\r\nFLUSHDB\r\n".encode())
        answer = b""
        while answer.count(b"\r\n") < 2:
            answer += sock.recv(64)
        assert answer == b"+OK\r\n+OK\r\n", answer


@asynccontextmanager
async def _two_servers(database: str, tmp: Path) -> AsyncIterator[tuple[str, str, Path, Path]]:
    if not _redis_available():
        if os.environ.get("CI") == "true":
            pytest.fail("Redis at 127.0.0.1:6379 is required in CI")
        pytest.skip("Redis not reachable at 127.0.0.1:6379")
    # A database of Redis kept for these tests: counts left by an earlier run would throttle.
    _flush_redis_database(int(REDIS_URL.rsplit("/", 1)[1]))
    with _server(database, tmp, "a") as (a, log_a), _server(database, tmp, "b") as (b, log_b):
        yield a, b, log_a, log_b


async def _sign_in(browser: Browser, base: str, login: str, password: str) -> httpx.Response:
    token = await browser.token(f"{base}/connexion")
    return await browser.post(
        f"{base}/connexion", {"csrf_token": token, "login": login, "password": password}
    )


async def test_two_processes_share_sessions_and_throttling(
    db: str, database: str, tmp_path: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    await factories.youth(f"lou{suffix}", "Lou")
    await factories.youth(f"noa{suffix}", "Noa")
    async with _two_servers(database, tmp_path) as (a, b, _log_a, _log_b):
        # Signed in through one process, recognised by the other.
        browser = Browser()
        signed = await _sign_in(browser, a, f"lou{suffix}", factories.YOUTH_PASSWORD)
        assert signed.status_code == 303
        assert (await browser.get(f"{b}/compte")).status_code == 200
        # Signed out through the other: the same cookie opens nothing on the first.
        kept = dict(browser.cookies)
        token = await browser.token(f"{b}/compte")
        await browser.post(f"{b}/deconnexion", {"csrf_token": token})
        browser.cookies = kept
        assert (await browser.get(f"{a}/compte")).status_code == 303

        # Five failures split between the two processes make a new browser wait on both.
        attacker = Browser()
        for base in (a, b, a, b, a):
            failed = await _sign_in(attacker, base, f"noa{suffix}", "not the right password")
            assert failed.status_code == 422
        locked = await _sign_in(Browser(), b, f"noa{suffix}", factories.YOUTH_PASSWORD)
        assert locked.status_code == 429


async def test_the_logs_of_a_whole_journey_hold_nothing_personal(
    db: str, database: str, tmp_path: Path
) -> None:
    await factories.service()
    suffix = uuid.uuid4().hex[:8]
    name = f"Zéphyrine{suffix}"
    login = f"zeph{suffix}"
    password = f"les girafes dansent {suffix}"
    words = f"Mon beau-père crie tous les soirs {suffix}"
    message = f"Je peux venir mercredi {suffix}"
    async with _two_servers(database, tmp_path) as (a, b, log_a, log_b):
        browser = Browser()
        token = await browser.token(f"{a}/compte/nouveau")
        made = await browser.post(
            f"{a}/compte/nouveau",
            {
                "csrf_token": token,
                "role": "youth",
                "display_name": name,
                "language": "fr",
                "login": login,
                "password": password,
                "way": "password",
            },
        )
        assert made.status_code == 303
        token = await browser.token(f"{b}/demande")
        base_form: dict[str, object] = {
            "csrf_token": token,
            "asker": "youth",
            "birth_month": "5",
            "birth_year": "2011",
            "themes": ["family"],
            "words": words,
            "contact_channel": "portal",
        }
        for step in ("who", "about", "contact"):
            # A step done is a redirect to /demande itself, which shows the next step.
            done = await browser.post(f"{b}/demande", {**base_form, "step": step, "go": "next"})
            assert done.status_code == 303 and done.headers["location"] == "/demande"
        sent = await browser.post(f"{b}/demande", {**base_form, "step": "account", "go": "send"})
        assert sent.status_code == 303
        reference = sent.headers["location"].split("/")[2]
        await browser.get(f"{a}/espace/{reference}")
        await browser.post(
            f"{a}/espace/{reference}/messages", {"csrf_token": token, "body": message}
        )
        cookies = dict(browser.cookies)
    await asyncio.sleep(0)
    logs = log_a.read_text() + log_b.read_text()
    assert '"route": "/espace/{reference}"' in logs  # the journey is there…
    for secret in (name, login, password, words, message, reference, token, *cookies.values()):
        assert secret not in logs, f"found in the logs: {secret[:12]}…"
