"""Two phones open on one dossier: what one writes appears on the other's open page, no reload."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Error, Page, Route, expect

from tests.browser.conftest import (
    SCREENSHOTS,
    LiveServer,
    OpenTab,
    served_portal,
    tab_opener,
)
from tests.browser.journeys_helpers import (
    sign_in_staff,
    sign_in_with_password,
    wait_for_path,
)
from tests.browser.world import Staff, Visitor, ask, take, unique

# A page asks every second here (15 s in use): a few asks fit in the waits below.
WAIT_MS = 10_000
SHOTS = Path(os.environ.get("LIVE_SHOTS", str(SCREENSHOTS)))


@pytest.fixture(scope="module")
def quick_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A portal of its own, whose pages ask what is new every second."""
    var_dir = tmp_path_factory.mktemp("live-updates")
    with served_portal(var_dir, LIVE_SECONDS="1") as (server, _database_url):
        yield server


@pytest.fixture
def two_phones(browser: Browser, quick_server: LiveServer) -> Iterator[OpenTab]:
    with tab_opener(browser, quick_server) as open_:
        yield open_


def _send(page: Page, words: str) -> None:
    page.locator("#f-body").fill(words)
    page.locator("#messages form button[type=submit]").click()
    expect(page.locator("#thread li", has_text=words)).to_be_visible()


def test_messages_and_the_count_of_news_appear_without_a_reload(two_phones: OpenTab) -> None:
    worker = two_phones("fr")
    sign_in_staff(worker, "amina@lepassage.example")
    worker.go("/travail")
    worker.page.locator("main form button[type=submit]", has_text="prends").first.click()
    wait_for_path(worker.page, r"/travail/dossiers/[A-Z0-9-]+")
    reference = urlsplit(worker.page.url).path.rsplit("/", 1)[-1]

    lou = two_phones("fr")
    sign_in_with_password(lou, "lou")
    lou.go(f"/espace/{reference}")
    page = lou.page
    # She is writing when the answer comes: her words and her place stay as they are.
    draft = page.locator("#f-body")
    draft.fill("Je réfléchis encore")
    loaded = page.evaluate("() => performance.timeOrigin")

    _send(worker.page, "Bonjour Lou, on se voit jeudi ?")
    arrived = page.locator("#thread li", has_text="Bonjour Lou, on se voit jeudi ?")
    expect(arrived).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#live-said")).to_have_text("Nouveau message")
    expect(page.locator("#thread-empty")).to_be_hidden()
    expect(page.locator("#journal-lines li.new").first).to_be_visible()
    expect(draft).to_have_value("Je réfléchis encore")
    expect(draft).to_be_focused()
    assert page.evaluate("() => performance.timeOrigin") == loaded, "the page was reloaded"
    SHOTS.mkdir(parents=True, exist_ok=True)
    arrived.scroll_into_view_if_needed()
    # The caret as it is: Playwright hides it with an inline style on the focused box, which
    # htmx then carries over to the next page, and the CSP refuses.
    page.screenshot(path=str(SHOTS / "live-message-arrived-youth.png"), caret="initial")

    # The other way: her answer on the worker's open page, which has journaled its look.
    worker_loaded = worker.page.evaluate("() => performance.timeOrigin")
    _send(page, "Oui, jeudi ça va.")
    answer = worker.page.locator("#thread li", has_text="Oui, jeudi ça va.")
    expect(answer).to_be_visible(timeout=WAIT_MS)
    expect(worker.page.locator("#live-said")).to_have_text("Nouveau message")
    expect(worker.page.locator("#journal-lines li").first).to_contain_text("Tu as lu ce dossier")
    assert worker.page.evaluate("() => performance.timeOrigin") == worker_loaded
    answer.scroll_into_view_if_needed()
    worker.page.screenshot(path=str(SHOTS / "live-message-arrived-worker.png"), caret="initial")

    # Her space: the header's count of news appears when the worker writes again.
    lou.go("/espace")
    badge = page.locator("#news-count .badge")
    expect(badge).to_have_count(0)
    _send(worker.page, "J'ai réservé la salle.")
    expect(badge).to_be_visible(timeout=WAIT_MS)
    expect(badge).to_contain_text("1")
    page.screenshot(path=str(SHOTS / "live-news-count.png"), caret="initial")
    lou.assert_no_problems()
    worker.assert_no_problems()


def test_an_ask_on_its_way_when_she_sends_a_message_does_not_show_it_twice(
    two_phones: OpenTab,
) -> None:
    """The page's ask for news leaves, then she sends a message: the answer to that ask must
    not land in the page that comes back, which shows her message already."""
    reference = ask(Visitor(two_phones("fr")), "youth", "Noa", "Bonjour", login=unique("live"))
    worker = two_phones("fr")
    sign_in_staff(worker, "amina@lepassage.example")
    take(Staff(Visitor(worker), "amina@lepassage.example", "Amina", ""), reference)
    worker.go(f"/travail/dossiers/{reference}")
    page = worker.page
    held: list[Route] = []
    # The asks are held on their way, as on a slow network, until she has sent.
    page.route("**/nouveau?*", lambda route: held.append(route))
    page.wait_for_timeout(2500)
    assert held, "the page asked nothing"
    words = "Un message qui ne doit paraître qu'une fois"
    page.locator("#f-body").fill(words)
    page.locator("#messages form button[type=submit]").click()
    expect(page.locator("#thread li", has_text=words)).to_have_count(1)
    page.unroute("**/nouveau?*")
    for route in held:
        # An ask the page called off has no answer left to give.
        with contextlib.suppress(Error):
            route.continue_()
    page.wait_for_timeout(2500)
    expect(page.locator("#thread li", has_text=words)).to_have_count(1)
    worker.assert_no_problems()
