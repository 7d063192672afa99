"""Accounts in Chromium at 360 px: passkeys, passwords without JavaScript, two factors, Back."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pyotp
import pytest
from playwright.sync_api import Locator, Page, expect

from portal.demo import DEMO_PASSWORD, DEMO_TOTP
from portal.security.sessions import SESSION_COOKIE
from tests.browser.conftest import QUICK_EXIT_URL, SCREENSHOTS, VIEWPORT, OpenTab, Tab
from tests.browser.test_public_pages import AXE_OPTIONS, axe, describe_violations

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam

pytestmark = pytest.mark.browser

LANGUAGES = ["fr", "nl", "en"]
# Something Back must never show again once the session is over.
SIGNED_IN_NAME = re.compile(r"\bLou\b")
OWN_PASSPHRASE = "trois bateaux bleus sur la meuse"
VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
# Set on a page by the test; if it is still there after Back, the page came from the cache.
MARK = "() => { window.portalTestMark = 'kept'; }"
MARKED = "() => window.portalTestMark === 'kept'"


def new_login() -> str:
    """A sign-in name no other test (nor an earlier run on the same server) has taken."""
    return "test-" + secrets.token_hex(4)


def look(tab: Tab, language: str, name: str) -> None:
    """Screenshot the page, then check it in ``language``: axe, width, the console."""
    page = tab.page
    expect(page.locator("html")).to_have_attribute("lang", language)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"accounts-{language}-{name}.png", full_page=True)

    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    width = page.evaluate("() => document.documentElement.scrollWidth")

    assert not violations, f"axe-core found on {name}:\n" + describe_violations(violations)
    assert width <= VIEWPORT["width"], f"{name} scrolls sideways: {width}px wide"
    tab.assert_no_problems()


def add_virtual_authenticator(page: Page) -> None:
    """A platform authenticator that says yes, with user verification, as a phone would."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})


def session_cookie(page: Page) -> SetCookieParam | None:
    """The browser's session cookie, in the shape ``add_cookies`` takes back."""
    for cookie in page.context.cookies():
        if cookie.get("name") == SESSION_COOKIE:
            return {
                "name": cookie["name"],
                "value": cookie["value"],
                "domain": cookie["domain"],
                "path": cookie["path"],
                "secure": cookie["secure"],
                "httpOnly": cookie["httpOnly"],
                "sameSite": cookie["sameSite"],
            }
    return None


def sign_out(tab: Tab) -> None:
    tab.page.locator(".account-nav form[action$='/deconnexion'] button").click()
    expect(tab.page).to_have_url(tab.server.url("/au-revoir"))
    assert session_cookie(tab.page) is None, "the session cookie outlived the sign-out"


def left_sign_in(url: str) -> bool:
    return urlsplit(url).path != "/connexion"


def sign_in_with_password(tab: Tab, login: str, password: str) -> None:
    """Sign in with the form; where one lands depends on who one is."""
    tab.go("/connexion")
    form = tab.page.locator("form[action$='/connexion']")
    form.locator("#f-login").fill(login)
    form.locator("#f-password").fill(password)
    form.locator("button[type=submit]").click()
    tab.page.wait_for_url(left_sign_in)


def assert_signed_in_as(tab: Tab, name: str) -> None:
    """A signed-in frame, then the account page with this person's name."""
    expect(tab.page.locator("form[action$='/deconnexion']")).to_have_count(1)
    tab.go("/compte")
    expect(tab.page.locator("#f-display_name")).to_have_value(name)


def assert_signed_out_frame(page: Page) -> None:
    """The frame of a page for someone not signed in: the quick exit, a sign-in link."""
    expect(page.locator("form[action$='/sortie'] button#quick-exit")).to_have_count(1)
    expect(page.locator("form[action$='/deconnexion']")).to_have_count(0)


def is_focused(locator: Locator) -> bool:
    focused: bool = locator.evaluate("element => element === document.activeElement")
    return focused


def press_until_focused(page: Page, locator: Locator, key: str = "Tab", limit: int = 40) -> None:
    """Move the focus with the keyboard only, until it reaches ``locator``."""
    for _ in range(limit):
        page.keyboard.press(key)
        if is_focused(locator):
            return
    raise AssertionError(f"{key} never reached {locator} in {limit} presses")


# --- 1. A passkey, in each language --------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_young_person_makes_an_account_with_a_passkey_and_comes_back_with_it(
    open_tab: OpenTab, language: str
) -> None:
    tab = open_tab(language)
    page = tab.page
    add_virtual_authenticator(page)
    nickname = f"Noa {language.upper()}"

    tab.go("/compte/nouveau")
    expect(page.locator("form [data-needs-passkeys]")).to_be_visible()
    look(tab, language, "new")
    page.locator("input[name=role][value=youth]").check()
    page.locator("#f-display_name").fill(nickname)
    page.locator("[data-passkey-submit]").click()

    expect(page).to_have_url(tab.server.url("/compte/bienvenue"))
    expect(page.locator("h1")).to_contain_text(nickname)
    # The codes were made with the account: the welcome page shows them, once.
    codes = page.locator("ol.codes li code")
    expect(codes).to_have_count(10)
    texts = codes.all_inner_texts()
    assert len(set(texts)) == 10 and all(text.strip() for text in texts), texts
    look(tab, language, "welcome")
    page.locator("main a[href$='/compte']").click()

    expect(page).to_have_url(tab.server.url("/compte"))
    expect(page.locator("#f-display_name")).to_have_value(nickname)
    expect(page.locator("form[action*='/compte/passkeys/']")).to_have_count(1)
    look(tab, language, "account")
    sign_out(tab)

    tab.go("/connexion")
    passkey_button = page.locator("[data-passkey-signin]")
    expect(passkey_button).to_be_visible()
    look(tab, language, "signin")
    # No name typed: the authenticator offers the one passkey it holds for this site.
    passkey_button.click()

    page.wait_for_url(left_sign_in)
    assert_signed_in_as(tab, nickname)
    tab.assert_no_problems()


# --- 2. A password, without JavaScript ---------------------------------------------------------


def test_password_account_without_javascript(open_tab: OpenTab) -> None:
    tab = open_tab("fr", javascript=False)
    page = tab.page
    login = new_login()

    tab.go("/compte/nouveau")
    expect(page.locator("[data-needs-passkeys]")).to_be_hidden()
    page.locator("input[name=role][value=youth]").check()
    page.locator("#f-display_name").fill("Sacha")
    page.locator("#f-login").fill(login)
    page.locator("button[name=way][value=suggest]").click()

    expect(page).to_have_url(tab.server.url("/compte/nouveau"))
    suggestion = page.locator(".suggestion .passphrase").inner_text().strip()
    assert len(suggestion) >= 15, suggestion
    expect(page.locator("#f-password")).to_have_value(suggestion)
    # What was typed before asking is still there.
    expect(page.locator("input[name=role][value=youth]")).to_be_checked()
    expect(page.locator("#f-display_name")).to_have_value("Sacha")
    expect(page.locator("#f-login")).to_have_value(login)
    page.locator("button[name=way][value=password]").click()

    expect(page).to_have_url(tab.server.url("/compte/bienvenue"))
    expect(page.locator("h1")).to_contain_text("Sacha")
    sign_out(tab)
    sign_in_with_password(tab, login, suggestion)
    assert_signed_in_as(tab, "Sacha")
    tab.assert_no_problems()


# --- 3. Back after sign-out and after quick exit, back/forward cache on -------------------------


def sign_in_as_lou(tab: Tab) -> None:
    """Signed in as Lou, on the account page, which shows her name."""
    sign_in_with_password(tab, "lou", DEMO_PASSWORD)
    assert_signed_in_as(tab, "Lou")


def go_back(page: Page) -> None:
    """Back, as a thumb would: a page restored from the cache fires no load event to wait for."""
    page.go_back(wait_until="commit")
    page.wait_for_function("() => document.readyState === 'complete'")


def assert_back_from_cache(tab: Tab) -> None:
    """Leave the marked page and come back: proof that this browser keeps pages for Back."""
    page = tab.page
    tab.go("/droits")
    go_back(page)
    expect(page).to_have_url(tab.server.url("/compte"))
    assert page.evaluate(MARKED), "the back/forward cache is off: this test would prove nothing"


def assert_nothing_signed_in_after_back(tab: Tab) -> None:
    page = tab.page
    go_back(page)
    content = page.content()
    assert not page.evaluate(MARKED), f"Back restored the signed-in page from the cache: {page.url}"
    assert not SIGNED_IN_NAME.search(content), f"Back shows signed-in content at {page.url}"
    assert page.url != tab.server.url("/compte"), "Back shows the account page"
    assert page.url in {tab.server.url("/connexion"), tab.server.url("/")}, page.url
    assert_signed_out_frame(page)


def test_back_after_sign_out_shows_nothing_signed_in(open_bfcache_tab: OpenTab) -> None:
    tab = open_bfcache_tab("fr")
    page = tab.page
    sign_in_as_lou(tab)
    page.evaluate(MARK)
    assert_back_from_cache(tab)

    page.locator(".account-nav form[action$='/deconnexion'] button").click()
    expect(page).to_have_url(tab.server.url("/au-revoir"))

    assert_nothing_signed_in_after_back(tab)
    assert session_cookie(page) is None
    tab.assert_no_problems()


def test_back_after_quick_exit_shows_nothing_signed_in(open_bfcache_tab: OpenTab) -> None:
    tab = open_bfcache_tab("fr")
    page = tab.page
    sign_in_as_lou(tab)
    page.evaluate(MARK)
    assert_back_from_cache(tab)
    # Another signed-in page (the same URL again would replace the entry): the quick exit
    # replaces the current entry, so Back leads to the account page before it.
    tab.go("/compte/bienvenue")
    expect(page.locator("h1")).to_contain_text("Lou")
    old_cookie = session_cookie(page)
    assert old_cookie is not None

    page.locator("#quick-exit").click()
    expect(page).to_have_url(QUICK_EXIT_URL)
    expect(page.get_by_text("Neutral page")).to_be_visible()

    assert_nothing_signed_in_after_back(tab)
    assert session_cookie(page) is None
    # The session is over on the server too, not only forgotten by this browser.
    page.context.clear_cookies()
    page.context.add_cookies([old_cookie])
    response = page.context.request.get(tab.server.url("/compte"), max_redirects=0)
    assert response.status == 303, response.status
    assert response.headers["location"] == tab.server.url("/connexion")
    tab.assert_no_problems()


# --- 4. Staff: a password, then a code ---------------------------------------------------------


def test_staff_sign_in_with_two_factors(open_tab: OpenTab) -> None:
    tab = open_tab("fr")
    page = tab.page
    sign_in_with_password(tab, "amina@lepassage.example", DEMO_PASSWORD)
    expect(page).to_have_url(tab.server.url("/connexion/code"))
    look(tab, "fr", "code")
    page.locator("#f-code").fill(pyotp.TOTP(DEMO_TOTP).now())
    page.locator("main form button[type=submit]").click()

    page.wait_for_url(lambda url: urlsplit(url).path != "/connexion/code")
    assert_signed_in_as(tab, "Amina")
    quick_exit = page.locator("#quick-exit")
    expect(quick_exit).to_have_js_property("tagName", "BUTTON")
    expect(quick_exit).to_have_attribute("type", "submit")
    form = page.locator("form:has(#quick-exit)")
    expect(form).to_have_attribute("method", "post")
    expect(form).to_have_attribute("action", re.compile(r"/sortie$"))
    page.keyboard.press("Tab")
    expect(quick_exit).to_be_focused()
    tab.assert_no_problems()


# --- 5. Keyboard only -----------------------------------------------------------------------------


def test_password_account_and_sign_out_with_the_keyboard_only(open_tab: OpenTab) -> None:
    tab = open_tab("fr")
    page = tab.page
    keyboard = page.keyboard
    login = new_login()
    tab.go("/compte/nouveau")

    youth = page.locator("input[name=role][value=youth]")
    press_until_focused(page, youth)
    keyboard.press("Space")
    expect(youth).to_be_checked()
    press_until_focused(page, page.locator("#f-display_name"))
    keyboard.type("Kim")
    press_until_focused(page, page.locator("#f-login"))
    keyboard.type(login)
    press_until_focused(page, page.locator("#f-password"))
    keyboard.type(OWN_PASSPHRASE)
    create = page.locator("button[name=way][value=password]")
    press_until_focused(page, create)
    keyboard.press("Enter")

    expect(page).to_have_url(tab.server.url("/compte/bienvenue"))
    expect(page.locator("h1")).to_contain_text("Kim")
    # Into the page, then back up to the header's sign-out button.
    expect(page.locator("ol.codes li code")).to_have_count(10)
    press_until_focused(page, page.locator("main a[href$='/compte']"))
    press_until_focused(page, page.locator(".account-nav button"), key="Shift+Tab")
    keyboard.press("Enter")

    expect(page).to_have_url(tab.server.url("/au-revoir"))
    assert session_cookie(page) is None
    assert_signed_out_frame(page)
    tab.assert_no_problems()
