"""The request form in Chromium: typing, reloading, going back; the address never changes to an
endpoint that cannot be reloaded, and nothing typed is lost, with JavaScript and without."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OpenTab, Tab
from tests.browser.journeys_helpers import Words, continue_, step_heading

pytestmark = pytest.mark.browser

WORDS = "Je n’ose pas le dire à l’école. Ça dure depuis la rentrée et je dors mal."


def _addresses(page: Page) -> list[str]:
    """Every address the tab shows, same-document changes (pushState, replaceState) included."""
    seen: list[str] = []
    page.on(
        "framenavigated", lambda frame: seen.append(frame.url) if frame == page.main_frame else None
    )
    return seen


def _to_about(tab: Tab, words: Words, year: str = "2010") -> None:
    page = tab.page
    tab.go("/demande")
    page.locator("input[name=asker][value=youth]").check()
    page.locator("#f-birth-month").select_option("3")
    page.locator("#f-birth-year").fill(year)
    continue_(page)
    step_heading(page, words("Which service?"))
    page.locator("#f-commune").fill("Namur")
    page.locator("#request-step button[name=go][value=filter]").click()
    expect(page.locator("input[name=service]")).to_have_count(1)
    page.locator("input[name=service]").first.check()
    continue_(page)
    step_heading(page, words("What is it about?"))


def _path(url: str) -> str:
    return urlsplit(url).path


def test_typed_words_survive_a_reload_and_the_address_stays_on_the_form(
    open_tab: OpenTab,
) -> None:
    words = Words("fr")
    tab = open_tab("fr")
    page = tab.page
    seen = _addresses(page)
    _to_about(tab, words)

    page.locator("input[name=themes][value=school]").check()
    page.locator("#f-words").press_sequentially(WORDS[:40])
    # The counter answered: its request went out and came back.
    expect(page.locator("#f-words-count")).to_contain_text(str(4000 - 40))
    page.locator("#f-words").press_sequentially(WORDS[40:])
    expect(page.locator("#f-words-count")).to_contain_text(str(4000 - len(WORDS)))
    assert _path(page.url) == "/demande"
    assert all(_path(url) in {"/demande"} for url in seen), seen

    # A reload (or the phone restoring the tab): the same step, every word there.
    page.reload()
    step_heading(page, words("What is it about?"))
    expect(page.locator("#f-words")).to_have_value(WORDS)
    expect(page.locator("input[name=themes][value=school]")).to_be_checked()

    continue_(page)
    step_heading(page, words("How can we reach you safely?"))
    page.reload()
    step_heading(page, words("How can we reach you safely?"))
    page.locator("#request-step button[name=go][value=back]").click()
    step_heading(page, words("What is it about?"))
    expect(page.locator("#f-words")).to_have_value(WORDS)
    assert all(_path(url) == "/demande" for url in seen), seen
    tab.assert_no_problems()


def test_without_javascript_a_reload_keeps_every_step(open_tab: OpenTab) -> None:
    words = Words("fr")
    tab = open_tab("fr", javascript=False)
    page = tab.page
    _to_about(tab, words)
    page.locator("input[name=themes][value=family]").check()
    page.locator("#f-words").fill(WORDS)
    continue_(page)
    step_heading(page, words("How can we reach you safely?"))
    assert _path(page.url) == "/demande"

    # The step came by a redirect: a reload asks for the page again, it resends nothing.
    page.reload()
    step_heading(page, words("How can we reach you safely?"))
    page.locator("#request-step button[name=go][value=back]").click()
    step_heading(page, words("What is it about?"))
    expect(page.locator("#f-words")).to_have_value(WORDS)
    expect(page.locator("input[name=themes][value=family]")).to_be_checked()
    page.reload()
    step_heading(page, words("What is it about?"))
    expect(page.locator("#f-words")).to_have_value(WORDS)
    tab.assert_no_problems()


@pytest.mark.parametrize("javascript", [True, False])
def test_a_wrong_year_of_birth_has_a_way_back(open_tab: OpenTab, javascript: bool) -> None:
    words = Words("fr")
    tab = open_tab("fr", javascript=javascript)
    page = tab.page
    tab.go("/demande")
    page.locator("input[name=asker][value=youth]").check()
    page.locator("#f-birth-month").select_option("3")
    page.locator("#f-birth-year").fill("1909")
    continue_(page)
    expect(page.locator("h1")).to_have_text(words("The AMO cannot take this request"))
    page.locator("button[name=go][value=change]").click()
    step_heading(page, words("Ask for help"))
    expect(page.locator("#f-birth-year")).to_have_value("1909")
    expect(page.locator("input[name=asker][value=youth]")).to_be_checked()
    page.locator("#f-birth-year").fill("2010")
    continue_(page)
    step_heading(page, words("Which service?"))
    tab.assert_no_problems()
