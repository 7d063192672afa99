"""Browser fixtures: a live portal on its own database, and Chromium tabs that watch for trouble."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    ViewportSize,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import create_database, drop_database
from tests.helpers import running_portal

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The default of QUICK_EXIT_URL; the live server is started without overriding it.
QUICK_EXIT_URL = "https://www.meteo.be/fr/belgique"
NEUTRAL_PAGE = "<!doctype html><title>Météo</title><p>Neutral page</p>"
VIEWPORT: ViewportSize = {"width": 360, "height": 740}
# One address per tab (a private range), as if each were a phone of its own.
ADDRESSES = (f"10.21.{n // 250 % 250}.{n % 250 + 1}" for n in itertools.count())
LOCALES = {"fr": "fr-BE", "nl": "nl-BE", "en": "en-GB"}
REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPOSITORY / "var" / "screenshots"
SERVER_START_SECONDS = 20.0

T = TypeVar("T")


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    log: Path
    # The server's environment, for the commands run on it (``python -m portal invite-staff``).
    env: dict[str, str] = field(default_factory=dict)

    @property
    def outbox(self) -> Path:
        """Where the development server writes the e-mails it would send (var/outbox)."""
        return self.log.parent / "outbox"

    def url(self, path: str) -> str:
        return self.base_url + path


def outside_playwright(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end in a thread of its own.

    Playwright's sync API leaves its event loop marked as running in this thread, so
    ``asyncio.run`` here would refuse.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("localhost", 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own http URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run_portal(command: str, env: dict[str, str], log: Path) -> None:
    """Run one `python -m portal` command to its end, failing with its output if it fails."""
    result = subprocess.run(
        [sys.executable, "-m", "portal", command],
        env=env,
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ python -m portal {command}\n{result.stdout}{result.stderr}")
    if result.returncode != 0:
        pytest.fail(f"python -m portal {command} failed:\n{result.stdout}{result.stderr}")


@contextmanager
def served_portal(
    var_dir: Path, *, seed: bool = True, **settings: str
) -> Iterator[tuple[LiveServer, str]]:
    """`python -m portal run` on a fresh, migrated (and seeded) database of its own, with these
    settings; the server and its database's address, dropped at the end."""
    database_url = outside_playwright(create_database(var_dir))
    port = free_port()
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(var_dir),
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "PORTAL_ENV": "development",
        **settings,
    }
    env.pop("QUICK_EXIT_URL", None)
    log = var_dir / "server.log"
    try:
        run_portal("migrate", env, log)
        if seed:
            run_portal("seed-demo", env, log)
        with running_portal(env, log, port, seconds=SERVER_START_SECONDS) as base_url:
            yield LiveServer(base_url=base_url, log=log, env=env), database_url
    finally:
        outside_playwright(drop_database(database_url))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The portal served by `python -m portal run` on a fresh, migrated, seeded database."""
    with served_portal(tmp_path_factory.mktemp("live")) as (server, _database_url):
        yield server


# Package scope: Playwright's loop must be gone before the async tests of other packages run.
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        message = f"Chromium is not at {CHROMIUM}: apt-get install -y chromium"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@dataclass
class Tab:
    """A page of its own context, and what went wrong in it."""

    page: Page
    server: LiveServer
    errors: list[str] = field(default_factory=list)
    third_party: list[str] = field(default_factory=list)
    failing_urls: set[str] = field(default_factory=set)
    checked: bool = False

    def go(self, path: str, *, status: int = 200) -> None:
        """Load a page of the portal and check its HTTP status."""
        url = self.server.url(path)
        if status >= 400:
            # Chromium logs a document's own error status to the console: expected here.
            self.failing_urls.add(url)
        response = self.page.goto(url)
        assert response is not None, f"no response for {url}"
        assert response.status == status, f"{url} answered {response.status}, not {status}"

    def problems(self) -> list[str]:
        """Console errors, CSP violations, uncaught script errors and third-party requests."""
        return self.errors + [f"request to a third party: {url}" for url in self.third_party]

    def assert_no_problems(self) -> None:
        self.checked = True
        problems = self.problems()
        assert not problems, "the browser reported problems:\n" + "\n".join(problems)

    def on_console(self, message: ConsoleMessage) -> None:
        if (
            message.text.startswith("Failed to load resource")
            and message.location.get("url") in self.failing_urls
        ):
            return
        if message.type == "error" or "Content Security Policy" in message.text:
            self.errors.append(f"console {message.type}: {message.text} ({message.location})")

    def on_page_error(self, error: PlaywrightError) -> None:
        self.errors.append(f"uncaught script error: {error}")


class OpenTab(Protocol):
    def __call__(self, language: str, *, javascript: bool = True) -> Tab: ...


@contextmanager
def tab_opener(
    browser: Browser,
    live_server: LiveServer,
    *,
    viewport: ViewportSize = VIEWPORT,
    scale: float = 1,
) -> Iterator[OpenTab]:
    """Open phone-sized tabs in ``browser``; close them at the end and report unseen problems.

    ``viewport`` is in CSS px; ``scale`` is the device pixels per CSS px (2 for a screen zoomed
    to 200 %).
    """
    contexts: list[BrowserContext] = []
    tabs: list[Tab] = []
    portal_host = urlsplit(live_server.base_url).netloc

    def open_(language: str, *, javascript: bool = True) -> Tab:
        context = browser.new_context(
            viewport=viewport,
            device_scale_factor=scale,
            locale=LOCALES[language],
            java_script_enabled=javascript,
            # Each tab is a phone of its own, with its own address (the portal trusts the
            # proxy header from 127.0.0.1, as behind its proxy): the session's journeys make
            # more accounts than one address may make in an hour.
            extra_http_headers={"X-Forwarded-For": next(ADDRESSES)},
        )
        contexts.append(context)
        tab = Tab(page=context.new_page(), server=live_server)
        tabs.append(tab)

        def only_the_portal(route: Route) -> None:
            if urlsplit(route.request.url).netloc == portal_host:
                route.continue_()
            else:
                tab.third_party.append(route.request.url)
                route.abort("blockedbyclient")

        # The most recently added route is tried first: the quick exit's stub, then the guard.
        context.route("**/*", only_the_portal)
        context.route(
            "https://www.meteo.be/**",
            lambda route: route.fulfill(status=200, content_type="text/html", body=NEUTRAL_PAGE),
        )
        tab.page.on("console", tab.on_console)
        tab.page.on("pageerror", tab.on_page_error)
        return tab

    yield open_
    for context in contexts:
        context.close()
    # A safety net for a test that forgot to look; a test that looked has already failed.
    problems = [problem for tab in tabs if not tab.checked for problem in tab.problems()]
    if problems:
        pytest.fail("the browser reported problems:\n" + "\n".join(problems))


@pytest.fixture
def open_tab(browser: Browser, live_server: LiveServer) -> Iterator[OpenTab]:
    """Open a phone-sized tab whose browser speaks ``language``; no request leaves localhost."""
    with tab_opener(browser, live_server) as open_:
        yield open_


@pytest.fixture(scope="package")
def bfcache_browser(browser: Browser) -> Iterator[Browser]:
    """Chromium with its back/forward cache on, as on a phone (Playwright turns it off)."""
    other = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        args=CHROMIUM_ARGS,
        ignore_default_args=["--disable-back-forward-cache"],
    )
    yield other
    other.close()


@pytest.fixture
def open_bfcache_tab(bfcache_browser: Browser, live_server: LiveServer) -> Iterator[OpenTab]:
    """Like ``open_tab``, in the browser whose back/forward cache is on."""
    with tab_opener(bfcache_browser, live_server) as open_:
        yield open_


# A page sent to an anchor ("/verifier#recu") may scroll there after it has loaded: to the top,
# and again until it stays there, before axe judges what the sticky quick exit covers.
TO_THE_TOP = """async () => {
  for (let i = 0; i < 3; i++) {
    window.scrollTo(0, 0);
    await new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)));
  }
}"""
