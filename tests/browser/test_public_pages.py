"""The public pages in Chromium at 360 px: accessible, clean, and the quick exit always works."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from portal.i18n import LANGUAGE_COOKIE
from tests.browser.conftest import QUICK_EXIT_URL, SCREENSHOTS, VIEWPORT, OpenTab, Tab

pytestmark = pytest.mark.browser

LANGUAGES = ["fr", "nl", "en"]
PAGES = {
    "home": "/",
    "rights": "/droits",
    "data": "/donnees",
    "urgent": "/urgence",
    "phone": "/telephone",
    "signed-out": "/au-revoir",
    "not-found": "/nexiste-pas",
}
QUICK_EXIT_LABEL = {"fr": "Quitter vite", "nl": "Snel weg", "en": "Quick exit"}
AXE_OPTIONS = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
    },
    "resultTypes": ["violations"],
}
axe = Axe()


def describe_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']} {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            lines.append(f"    {', '.join(map(str, node['target']))}")
    return "\n".join(lines)


def open_page(open_tab: OpenTab, language: str, name: str) -> Tab:
    tab = open_tab(language)
    tab.go(PAGES[name], status=404 if name == "not-found" else 200)
    return tab


def quick_exit_label(page: Page) -> str:
    """The words one sees on the quick exit, without its visually hidden explanation."""
    label: str = page.locator("#quick-exit").evaluate(
        "link => Array.from(link.childNodes)"
        ".filter(node => node.nodeType === Node.TEXT_NODE)"
        ".map(node => node.textContent).join('').trim()"
    )
    return label


def assert_within_viewport(page: Page, selector: str) -> None:
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not displayed"
    assert box["x"] >= 0 and box["y"] >= 0, f"{selector} starts outside the screen: {box}"
    assert box["x"] + box["width"] <= VIEWPORT["width"], f"{selector} overflows: {box}"
    assert box["y"] + box["height"] <= VIEWPORT["height"], f"{selector} is below: {box}"


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", PAGES)
def test_page_is_accessible_and_fits_a_phone(open_tab: OpenTab, name: str, language: str) -> None:
    tab = open_page(open_tab, language, name)
    page = tab.page
    expect(page.locator("html")).to_have_attribute("lang", language)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"public-{language}-{name}.png", full_page=True)

    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    width = page.evaluate("() => document.documentElement.scrollWidth")

    assert not violations, "axe-core found:\n" + describe_violations(violations)
    assert width <= VIEWPORT["width"], f"the page scrolls sideways: {width}px wide"
    tab.assert_no_problems()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", PAGES)
def test_quick_exit_comes_first_and_stays_in_sight(
    open_tab: OpenTab, name: str, language: str
) -> None:
    tab = open_page(open_tab, language, name)
    page = tab.page
    quick_exit = page.locator("#quick-exit")

    page.keyboard.press("Tab")
    expect(quick_exit).to_be_focused()
    assert_within_viewport(page, "#quick-exit")

    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    if height > VIEWPORT["height"]:
        assert page.evaluate("() => window.scrollY") > 0, "the page did not scroll"
    assert_within_viewport(page, "#quick-exit")

    assert quick_exit_label(page) == QUICK_EXIT_LABEL[language]
    tab.assert_no_problems()


def browse_three_pages(tab: Tab) -> None:
    """A blank tab, then the home page, then two links inside the portal (each replaces the page
    in the history: boosted where htmx is loaded, by the quick exit's script elsewhere)."""
    page = tab.page
    page.goto("about:blank")
    tab.go("/")
    page.locator(".site-footer a[href$='/droits']").click()
    expect(page).to_have_url(tab.server.url("/droits"))
    expect(page.locator("#voluntary")).to_be_visible()
    page.locator(".site-footer a[href$='/urgence']").click()
    expect(page).to_have_url(tab.server.url("/urgence"))
    expect(page.locator(".emergency")).to_be_visible()


def assert_left_without_trace(tab: Tab) -> None:
    page = tab.page
    expect(page).to_have_url(QUICK_EXIT_URL)
    expect(page.get_by_text("Neutral page")).to_be_visible()
    page.go_back()
    assert not page.url.startswith(tab.server.base_url), f"Back shows the portal: {page.url}"
    assert page.url in {"about:blank", QUICK_EXIT_URL}
    tab.assert_no_problems()


def test_quick_exit_by_keyboard_leaves_no_portal_page_behind(open_tab: OpenTab) -> None:
    tab = open_tab("fr")
    browse_three_pages(tab)

    tab.page.keyboard.press("Tab")
    expect(tab.page.locator("#quick-exit")).to_be_focused()
    tab.page.keyboard.press("Enter")

    assert_left_without_trace(tab)


def test_three_shift_presses_leave_no_portal_page_behind(open_tab: OpenTab) -> None:
    tab = open_tab("fr")
    browse_three_pages(tab)

    for _ in range(3):
        tab.page.keyboard.press("Shift")

    assert_left_without_trace(tab)


@pytest.mark.parametrize("language", LANGUAGES)
def test_quick_exit_works_without_javascript(open_tab: OpenTab, language: str) -> None:
    tab = open_tab(language, javascript=False)
    tab.go("/droits")
    quick_exit = tab.page.locator("#quick-exit")
    # A form: without JavaScript the server answers with the way out (and forgets the language).
    expect(tab.page.locator("form:has(#quick-exit)")).to_have_attribute(
        "data-exit-url", QUICK_EXIT_URL
    )

    quick_exit.click()

    expect(tab.page).to_have_url(QUICK_EXIT_URL)
    expect(tab.page.get_by_text("Neutral page")).to_be_visible()
    tab.assert_no_problems()


def language_cookie(tab: Tab) -> str | None:
    found = [c["value"] for c in tab.page.context.cookies() if c["name"] == LANGUAGE_COOKIE]
    return found[0] if found else None


@pytest.mark.parametrize("javascript", [True, False])
def test_quick_exit_forgets_the_language_chosen(open_tab: OpenTab, javascript: bool) -> None:
    """The language one chose is a trace of a visit: the way out takes it along."""
    tab = open_tab("fr", javascript=javascript)
    page = tab.page
    tab.go("/droits")
    page.locator("form.languages").get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert language_cookie(tab) == "en"

    page.locator("#quick-exit").click()

    expect(page).to_have_url(QUICK_EXIT_URL)
    expect(page.get_by_text("Neutral page")).to_be_visible()
    # With JavaScript the page leaves at once and the form goes as a beacon, which Playwright
    # does not report: its answer is awaited through the cookie it deletes, 5 s at most.
    for _ in range(100):
        if language_cookie(tab) is None:
            break
        page.wait_for_timeout(50)
    assert language_cookie(tab) is None
    tab.go("/droits")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    tab.assert_no_problems()


def test_shift_three_times_is_written_where_one_sees_it(open_tab: OpenTab) -> None:
    tab = open_tab("fr")
    tab.go("/")
    hint = tab.page.locator(".site-footer p", has_text="trois fois sur la touche Maj")
    expect(hint).to_be_visible()
    box = hint.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 10, box
    tab.assert_no_problems()


def test_language_choice_is_kept(open_tab: OpenTab) -> None:
    tab = open_tab("fr")
    page = tab.page
    tab.go("/droits")
    expect(page.locator("html")).to_have_attribute("lang", "fr")

    page.locator("form.languages").get_by_role("button", name="Nederlands").click()

    expect(page).to_have_url(tab.server.url("/droits"))
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    page.reload()
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    tab.assert_no_problems()
