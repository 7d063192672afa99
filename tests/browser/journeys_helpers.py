"""Helpers for the journey tests: stories that look at every page, sign-ins, the request form."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

import pyotp
from babel.messages.pofile import read_po
from playwright.sync_api import Browser, Locator, Page, expect

from portal.demo import DEMO_PASSWORD, DEMO_TOTP
from portal.i18n import CATALOGUES, LANGUAGE_COOKIE, translations
from tests.browser.conftest import SCREENSHOTS, VIEWPORT, LiveServer, OpenTab, Tab, tab_opener
from tests.browser.layout_checks import focus_not_visible, reflow_problems
from tests.browser.test_public_pages import AXE_OPTIONS, axe, describe_violations

VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
REFERENCE = re.compile(r"/espace/([A-Z0-9-]+)")
TOTP_SECONDS = 30


def new_login() -> str:
    """A sign-in name nobody on this server has taken yet."""
    return "journey-" + secrets.token_hex(4)


def _pattern(message: str) -> re.Pattern[str] | None:
    """A message as it would read on a page, placeholders matching anything; None if too vague."""
    text = " ".join(re.sub(r"<[^>]+>", "", message).split())
    literal = re.sub(r"%\(\w+\)[sd]", "", text)
    if len(literal.strip()) < 12 or " " not in literal.strip():
        return None
    parts = re.split(r"%\(\w+\)[sd]", text)
    return re.compile(".+?".join(re.escape(part) for part in parts))


@lru_cache
def untranslated(language: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """The sentences the catalogue of ``language`` leaves in English, as page text patterns."""
    if language == "en":
        return ()
    with (CATALOGUES / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source)
    found: list[tuple[str, re.Pattern[str]]] = []
    for message in catalogue:
        if not message.id or _translated(message.string):
            continue
        forms = [message.id] if isinstance(message.id, str) else list(message.id)
        for form in forms:
            pattern = _pattern(form)
            if pattern is not None:
                found.append((form, pattern))
    return tuple(found)


def _translated(string: str | tuple[str, ...] | list[str] | None) -> bool:
    """Every form filled in (a plural has several)."""
    if isinstance(string, tuple | list):
        return all(string)
    return bool(string)


@dataclass
class Words:
    """The portal's sentences as the catalogues give them in one language.

    A sentence the catalogue lacks is noted, not refused at once: the page then shows the
    English text, the journey goes on, and the test reports every gap at its end.
    """

    language: str
    missing: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.catalogue = translations(self.language)

    def __call__(self, message: str, **values: object) -> str:
        translated = self.catalogue.gettext(message)
        if self.language != "en" and translated == message:
            self.missing.add(message)
        return translated % values if values else translated

    def parent(self, message: str, **values: object) -> str:
        """The sentence as the portal says it to a parent (French: "vous")."""
        translated = self.catalogue.pgettext("parent", message)
        if self.language != "en" and translated == message:
            self.missing.add(message)
        return translated % values if values else translated


@dataclass
class Story:
    """One journey in one language: numbered screenshots, and every page checked on the way."""

    language: str
    name: str
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    english: dict[str, set[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.words = Words(self.language)

    def look(self, tab: Tab, name: str) -> None:
        """Screenshot the page, then check it: its language, axe, its reflow, the console.

        Sentences left in English on a French or Dutch page are noted for ``assert_translated``.
        """
        page = tab.page
        expect(page.locator("html")).to_have_attribute("lang", self.language)
        # From the top, as the page first shows: the sticky quick exit, scrolled along, would
        # otherwise lie over whatever happens to be under it (and axe would count it).
        page.evaluate("() => window.scrollTo(0, 0)")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        width = (page.viewport_size or VIEWPORT)["width"]
        shot = f"journey-{self.language}-{next(self.numbers):02d}-{self.name}-{name}"
        if width != VIEWPORT["width"]:
            shot += f"-{width}px"
        # caret="initial": hiding the caret leaves empty style attributes on the inputs, which
        # htmx's settling then copies onto the next page, against the CSP (style-src 'self').
        page.screenshot(path=SCREENSHOTS / f"{shot}.png", full_page=True, caret="initial")

        violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
        reflow = reflow_problems(page)
        text = " ".join(page.locator("body").inner_text().split())
        english = {
            message for message, pattern in untranslated(self.language) if pattern.search(text)
        }
        if english:
            self.english[f"{shot} ({urlsplit(page.url).path})"] = english

        assert not violations, f"axe-core found on {name} ({page.url}):\n" + describe_violations(
            violations
        )
        assert not reflow, f"{name} at {width} px ({page.url}):\n" + "\n".join(reflow)
        tab.assert_no_problems()

    def assert_translated(self) -> None:
        """Every page of the journey spoke the reader's language."""
        lines = [f"{page}: " + " | ".join(sorted(found)) for page, found in self.english.items()]
        if self.words.missing:
            lines.append("expected by the test: " + " | ".join(sorted(self.words.missing)))
        assert not lines, f"text left in English on {self.language} pages:\n" + "\n".join(lines)


# --- Moving around ---------------------------------------------------------------------------


def path_of(page: Page) -> str:
    return urlsplit(page.url).path


def wait_for_path(page: Page, pattern: str) -> None:
    """Wait until the page's path matches ``pattern`` (a regular expression, anchored)."""
    wanted = re.compile(pattern + r"$")
    page.wait_for_url(lambda url: bool(wanted.match(urlsplit(url).path)))


def reference_of(page: Page) -> str:
    found = REFERENCE.search(path_of(page))
    assert found, f"no dossier reference in {page.url}"
    return found.group(1)


def is_focused(locator: Locator) -> bool:
    focused: bool = locator.evaluate("element => element === document.activeElement")
    return focused


# Nothing of it under the sticky quick exit, and on the screen. A tall field may end below the
# screen's edge: Chromium scrolls a text field only until its caret shows.
FOCUS_IN_SIGHT = """() => {
  const focused = document.activeElement;
  if (!focused || focused === document.body || focused.id === "quick-exit") { return null; }
  const box = focused.getBoundingClientRect();
  const exit = document.getElementById("quick-exit").getBoundingClientRect();
  const shown = Math.min(box.bottom, window.innerHeight) - Math.max(box.top, 0);
  const onScreen = shown >= Math.min(box.height, 24) - 1;
  if (box.top >= exit.bottom - 1 && onScreen) { return null; }
  return `${focused.tagName}#${focused.id} at ${Math.round(box.top)}-${Math.round(box.bottom)}px,`
    + ` quick exit ends at ${Math.round(exit.bottom)}px, screen at ${window.innerHeight}px`;
}"""


def assert_focus_in_sight(page: Page) -> None:
    """What has the focus is on the screen, not under the sticky quick exit (WCAG 2.4.11)."""
    hidden = page.evaluate(FOCUS_IN_SIGHT)
    assert hidden is None, f"the focus is hidden: {hidden}"


def assert_focus_visible(page: Page) -> None:
    """What has the focus shows a focus ring (WCAG 2.4.7)."""
    problem = focus_not_visible(page)
    assert problem is None, problem


def press_until_focused(page: Page, locator: Locator, key: str = "Tab", limit: int = 60) -> None:
    """Move the focus with the keyboard only, until it reaches ``locator``; always in sight."""
    for _ in range(limit):
        page.keyboard.press(key)
        assert_focus_in_sight(page)
        assert_focus_visible(page)
        if is_focused(locator):
            return
    raise AssertionError(f"{key} never reached {locator} in {limit} presses")


def set_language(tab: Tab, language: str) -> None:
    """The language choice one makes with the header's buttons, kept in its cookie."""
    tab.page.context.add_cookies(
        [
            {
                "name": LANGUAGE_COOKIE,
                "value": language,
                "url": tab.server.base_url,
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )


def add_virtual_authenticator(page: Page) -> None:
    """A platform authenticator that says yes, with user verification, as a phone would."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": VIRTUAL_AUTHENTICATOR})


# --- Signing in --------------------------------------------------------------------------------


def sign_in_with_password(tab: Tab, login: str, password: str = DEMO_PASSWORD) -> None:
    tab.go("/connexion")
    form = tab.page.locator("form[action$='/connexion']")
    form.locator("#f-login").fill(login)
    form.locator("#f-password").fill(password)
    form.locator("button[type=submit]").click()
    tab.page.wait_for_url(lambda url: urlsplit(url).path != "/connexion")


def sign_in_staff(tab: Tab, login: str) -> None:
    """Password, then a TOTP code; a code is taken once per 30 s window, so wait for a fresh one.

    Another test may have signed the same account in during the current window: then the
    code is refused (422), and the next window's code is the one to type.
    """
    page = tab.page
    sign_in_with_password(tab, login)
    wait_for_path(page, "/connexion/code")
    code_url = tab.server.url("/connexion/code")
    tab.failing_urls.add(code_url)
    for attempt in range(2):
        page.locator("#f-code").fill(pyotp.TOTP(DEMO_TOTP).now())
        # Refused or not, the answer is a new page (this form is not boosted).
        with page.expect_navigation():
            page.locator("main form button[type=submit]").click()
        if path_of(page) != "/connexion/code":
            break
        assert attempt == 0, f"{login}: the second code was refused too"
        time.sleep(TOTP_SECONDS - time.time() % TOTP_SECONDS + 0.5)
    tab.failing_urls.discard(code_url)
    expect(page.locator("form[action$='/deconnexion']")).to_have_count(1)


@dataclass
class Desk:
    """Signed-in tabs kept for a whole module: staff sign in once (their code works once)."""

    open_tab: OpenTab
    tabs: dict[str, Tab] = field(default_factory=dict)

    def tab(self, login: str, language: str, sign_in: Callable[[Tab, str], None]) -> Tab:
        tab = self.tabs.get(login)
        if tab is None:
            tab = self.open_tab(language)
            sign_in(tab, login)
            self.tabs[login] = tab
        set_language(tab, language)
        # Problems of an earlier test were that test's to report.
        tab.errors.clear()
        return tab

    def staff(self, login: str, language: str = "fr") -> Tab:
        return self.tab(login, language, sign_in_staff)

    def subject(self, login: str, language: str = "fr") -> Tab:
        return self.tab(login, language, sign_in_with_password)


@contextmanager
def desk(browser: Browser, live_server: LiveServer) -> Iterator[Desk]:
    with tab_opener(browser, live_server) as open_:
        yield Desk(open_)


# --- The request form --------------------------------------------------------------------------


@dataclass
class Asking:
    """What one types in the request form."""

    asker: str  # "youth" or "relative"
    birth_month: str
    birth_year: str
    themes: list[str]
    words: str
    nickname: str
    login: str = ""


def continue_(page: Page) -> None:
    page.locator("#request-step button[name=go][value=next]").click()


def step_heading(page: Page, text: str) -> None:
    expect(page.locator("#request-step h1")).to_have_text(text)


def fill_request(story: Story | None, tab: Tab, asking: Asking) -> None:
    """The first steps of /demande: who, which service, what about, how to reach; looking at
    each."""
    page = tab.page
    words = story.words if story else Words("fr")

    def look(name: str) -> None:
        if story is not None:
            story.look(tab, name)

    tab.go("/demande")
    step_heading(page, words("Ask for help"))
    page.locator(f"input[name=asker][value={asking.asker}]").check()
    page.locator("#f-birth-month").select_option(asking.birth_month)
    page.locator("#f-birth-year").fill(asking.birth_year)
    look("ask-who")
    continue_(page)

    # The demo has two services: the young person finds hers by her commune.
    step_heading(page, words("Which service?"))
    page.locator("#f-commune").fill("Namur")
    page.locator("#request-step button[name=go][value=filter]").click()
    # Only Namur's service is left once the filtered step is back: check it there, not in
    # the list the filter is replacing.
    expect(page.locator("input[name=service]")).to_have_count(1)
    page.locator("input[name=service]").first.check()
    look("ask-service")
    continue_(page)

    step_heading(page, words("What is it about?"))
    for theme in asking.themes:
        page.locator(f"input[name=themes][value={theme}]").check()
    page.locator("#f-words").fill(asking.words)
    look("ask-about")
    continue_(page)

    # From here on, a parent is spoken to as a parent.
    say = words.parent if asking.asker == "relative" else words
    step_heading(page, say("How can we reach you safely?"))
    page.locator("input[name=contact_channel][value=portal]").check()
    look("ask-contact")
    continue_(page)

    step_heading(page, say("Send your request"))
    page.locator("#f-display_name").fill(asking.nickname)


def assert_request_sent(story: Story, tab: Tab, *, parent: bool = False) -> str:
    """The page after sending: by when an answer comes, and what to do if it cannot wait."""
    page = tab.page
    words = story.words
    wait_for_path(page, r"/espace/[A-Z0-9-]+/envoye")
    say = words.parent if parent else words
    expect(page.locator("h1")).to_have_text(say("Your request is sent"))
    # Who answers, and when, in plain words; a parent is told as a parent.
    if parent:
        answer = words.catalogue.npgettext(
            "parent",
            "Someone from the AMO team will answer you within %(num)s day, not counting the "
            "weekend, public holidays and the days the AMO is closed.",
            "Someone from the AMO team will answer you within %(num)s days, not counting the "
            "weekend, public holidays and the days the AMO is closed.",
            3,
        ) % {"num": 3}
    else:
        answer = words.catalogue.ngettext(
            "Someone from the AMO team will answer you within %(days)s day, not counting the "
            "weekend, public holidays and the days the AMO is closed.",
            "Someone from the AMO team will answer you within %(days)s days, not counting the "
            "weekend, public holidays and the days the AMO is closed.",
            3,
        ) % {"days": 3}
    expect(page.locator("main")).to_contain_text(answer)
    latest = words("At the latest on %(date)s.").split("%(date)s")[0].strip()
    expect(page.locator("main")).to_contain_text(latest)
    urgent = page.locator("aside.notice")
    expect(urgent.locator("h2")).to_have_text(words("If it cannot wait"))
    expect(urgent).to_contain_text("112")
    expect(urgent.locator("a[href$='/urgence']")).to_be_visible()
    story.look(tab, "sent")
    return reference_of(page)


def ask_with_password(tab: Tab, asking: Asking, password: str) -> str:
    """A request made quickly, as setup for a later journey; returns the dossier's reference."""
    fill_request(None, tab, asking)
    tab.page.locator("#f-login").fill(asking.login)
    tab.page.locator("#f-password").fill(password)
    tab.page.locator("button[name=go][value=password]").click()
    wait_for_path(tab.page, r"/espace/[A-Z0-9-]+/envoye")
    return reference_of(tab.page)
