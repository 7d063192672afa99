"""How to reach her, changed from her space and read first by her worker, in Chromium at 360 px."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import LiveServer
from tests.browser.journeys_helpers import (
    Asking,
    Desk,
    Story,
    ask_with_password,
    desk,
    new_login,
    set_language,
    wait_for_path,
)

pytestmark = pytest.mark.browser

LANGUAGES = ["fr", "nl", "en"]
PASSWORD = "trois pommes vertes sur la table"


@pytest.fixture(scope="module")
def people(browser: Browser, live_server: LiveServer) -> Iterator[Desk]:
    """Amina signs in once for the module (her code works once per window)."""
    with desk(browser, live_server) as signed_in:
        yield signed_in


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_worker_reads_the_new_way_to_reach_her_first(people: Desk, language: str) -> None:
    story = Story(language, "contact")
    words = story.words
    young = people.open_tab(language)
    # The request as a setup, in French (its helper reads the French headings), then her language.
    set_language(young, "fr")
    asking = Asking("youth", "3", "2010", ["family"], "Ça ne va pas", "Zoé", new_login())
    reference = ask_with_password(young, asking, PASSWORD)
    set_language(young, language)

    amina = people.staff("amina@lepassage.example", language)
    amina.go("/travail")
    amina.page.locator("li.card", has_text=reference).get_by_role(
        "button", name=words("I take it")
    ).click()
    wait_for_path(amina.page, f"/travail/dossiers/{reference}")

    # She first gives a number to be called on...
    page = young.page
    young.go(f"/espace/{reference}")
    page.get_by_role("link", name=words("Change how to reach me")).click()
    wait_for_path(page, f"/espace/{reference}/joindre")
    page.locator("input[name=contact_channel][value=phone]").check()
    page.locator("#f-contact_details").fill("0470 12 34 56")
    page.locator("#f-contact_hours").fill("17-19 h")
    story.look(young, "form")
    page.locator("main form button[type=submit]").click()
    wait_for_path(page, f"/espace/{reference}")
    mine = page.locator("#contact")
    expect(mine.locator("[role=status]")).to_be_visible()
    expect(mine).to_contain_text("0470 12 34 56")

    amina.go(f"/travail/dossiers/{reference}")
    top = amina.page.locator("main #contact")
    expect(top).to_contain_text(words("By phone"))
    expect(top).to_contain_text("0470 12 34 56")
    expect(top).not_to_contain_text(words("Do not call"))

    # ...then her mother starts watching the phone: no more calls, nothing to read.
    young.go(f"/espace/{reference}/joindre")
    page.locator("input[name=contact_channel][value=portal]").check()
    page.locator("input[name=no_voicemail]").check()
    page.locator("input[name=others_read_messages]").check()
    page.locator("main form button[type=submit]").click()
    wait_for_path(page, f"/espace/{reference}")
    page.locator("#contact").scroll_into_view_if_needed()
    story.look(young, "changed")

    amina.go(f"/travail/dossiers/{reference}")
    top = amina.page.locator("main #contact")
    expect(top).to_contain_text(words("Only here, on this site"))
    expect(top).to_contain_text(words("Do not call"))
    expect(top).to_contain_text(words("Do not leave a message"))
    expect(top).to_contain_text(words("Someone else reads their messages"))
    expect(amina.page.locator("main")).not_to_contain_text("0470 12 34 56")
    expect(top).not_to_contain_text(words("By phone"))
    # The first thing under the heading.
    expect(amina.page.locator("main h1 + section")).to_have_id("contact")
    story.look(amina, "worker")
    story.assert_translated()
