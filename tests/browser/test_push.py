"""Web Push in Chromium at 360 px: the service worker only for whoever opts in, the buttons'
states, and the whole of push.js's round trip with the server.

Chromium cannot subscribe here: Playwright's contexts are incognito, where it refuses the Push
API, and a real profile waits for Google's push service, which the suite never reaches. So the
browser's own ``PushManager.subscribe`` is replaced by one that answers as it would (a test
script, not the page's); everything else is real: the permission, the service worker's
registration, the CSRF header, the server's checks and the list of devices. The push itself,
encrypted and signed, is tested end to end in ``tests/functional/test_push.py``.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from portal.demo import DEMO_PASSWORD
from tests.browser.conftest import SCREENSHOTS, VIEWPORT, OpenTab, Tab
from tests.browser.test_public_pages import AXE_OPTIONS, axe, describe_violations
from tests.push_service import Browser

pytestmark = pytest.mark.browser

ENDPOINT = "https://fcm.googleapis.com/fcm/send/browser-test"
REGISTRATIONS = "() => navigator.serviceWorker.getRegistrations().then(r => r.map(x => x.scope))"
WORKER = (
    "() => navigator.serviceWorker.getRegistration('/')"
    ".then(r => r && r.active && r.active.scriptURL)"
)


def stand_in_push_service(keys: dict[str, str]) -> str:
    """``subscribe`` and ``getSubscription`` as Chromium answers once Google's service has
    answered; kept in localStorage, as the browser keeps a subscription across pages."""
    script = """(() => {
      const endpoint = ENDPOINT, keys = KEYS;
      const make = () => ({
        endpoint,
        toJSON: () => ({ endpoint, expirationTime: null, keys }),
        unsubscribe: () => { localStorage.removeItem("subscribed"); return Promise.resolve(true); }
      });
      PushManager.prototype.subscribe = function () {
        localStorage.setItem("subscribed", "1");
        return Promise.resolve(make());
      };
      PushManager.prototype.getSubscription = function () {
        return Promise.resolve(localStorage.getItem("subscribed") ? make() : null);
      };
    })();"""
    return script.replace("ENDPOINT", json.dumps(ENDPOINT)).replace("KEYS", json.dumps(keys))


def sign_in(tab: Tab, login: str) -> None:
    tab.go("/connexion")
    form = tab.page.locator("form[action$='/connexion']")
    form.locator("#f-login").fill(login)
    form.locator("#f-password").fill(DEMO_PASSWORD)
    form.locator("button[type=submit]").click()
    tab.page.wait_for_url(lambda url: "/connexion" not in url)


def push_scripts(page: Page) -> list[str]:
    found: list[str] = page.evaluate(
        "() => [...document.scripts].map(s => s.src).filter(s => s.includes('push'))"
    )
    return found


def check(tab: Tab, name: str) -> None:
    page = tab.page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("[data-push]").screenshot(path=SCREENSHOTS / f"push-{name}.png")
    # Back to the top: scrolled, what sits under the fixed quick exit bar counts as covered.
    page.evaluate("() => window.scrollTo(0, 0)")
    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    assert not violations, describe_violations(violations)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"{name}: {width}px wide"


def test_the_service_worker_comes_only_with_the_opt_in(open_tab: OpenTab) -> None:
    tab = open_tab("fr")
    page = tab.page
    browser = Browser()
    page.context.grant_permissions(["notifications"], origin=tab.server.base_url)
    page.context.add_init_script(
        stand_in_push_service({"p256dh": browser.p256dh, "auth": "AAAAAAAAAAAAAAAAAAAAAA"})
    )
    sign_in(tab, "parent")

    # Pages of someone who did not opt in: no push script, no service worker.
    for path in ("/espace", "/", "/droits"):
        tab.go(path)
        assert push_scripts(page) == [], path
        assert page.evaluate(REGISTRATIONS) == [], path

    # The account page: its script, the button to opt in; still no service worker.
    page.get_by_role("link", name="Mon compte").click()
    page.wait_for_url(tab.server.url("/compte"))
    assert len(push_scripts(page)) == 1
    on = page.get_by_role("button", name="Me prévenir sur cet appareil", exact=True)
    off = page.get_by_role("button", name="Ne plus me prévenir sur cet appareil", exact=True)
    expect(on).to_be_visible()
    expect(off).to_be_hidden()
    expect(page.get_by_text("Il faut JavaScript")).to_be_hidden()
    assert page.evaluate(REGISTRATIONS) == []
    check(tab, "fr-off")

    # Opting in: permission, the worker registered for the whole site, the subscription posted.
    on.click()
    expect(off).to_be_visible()
    expect(on).to_be_hidden()
    assert page.evaluate(REGISTRATIONS) == [tab.server.url("/")]
    assert page.evaluate(WORKER) == tab.server.url("/sw.js?home=/espace")
    devices = page.locator("[data-push-endpoint]")
    expect(devices).to_have_count(1)
    expect(devices).to_have_attribute("data-push-endpoint", ENDPOINT)
    check(tab, "fr-on")

    # The worker stays registered on other pages, which still load no push script.
    tab.go("/espace")
    assert push_scripts(page) == []

    # Stopping: the browser's subscription dropped, the server told, the worker unregistered.
    tab.go("/compte")
    off.click()
    expect(on).to_be_visible()
    expect(devices).to_have_count(0)
    assert page.evaluate(REGISTRATIONS) == []

    # Signing out clears the site's storage (Clear-Site-Data), the worker with it: this browser
    # is told nothing more; the push service will answer 410 and the server forget it then.
    on.click()
    expect(off).to_be_visible()
    page.locator("form[action$='/deconnexion'] button").first.click()
    page.wait_for_url(lambda url: "/compte" not in url)
    tab.go("/droits")
    assert page.evaluate(REGISTRATIONS) == []
    sign_in(tab, "parent")
    tab.go("/compte")
    expect(devices).to_have_count(1)
    expect(on).to_be_visible()
    page.get_by_role("button", name="Retirer").last.click()
    expect(devices).to_have_count(0)
    tab.assert_no_problems()


def test_a_refused_permission_is_said_and_nothing_is_registered(open_tab: OpenTab) -> None:
    tab = open_tab("nl")
    page = tab.page
    sign_in(tab, "parent")
    tab.go("/compte")
    on = page.get_by_role("button", name="Verwittig me op dit toestel", exact=True)
    # Nothing granted: headless Chromium answers the permission prompt with "denied".
    on.click()
    expect(page.locator("[data-push-status]")).to_have_text(
        "De browser liet geen meldingen toe. Er is niets veranderd."
    )
    expect(page.get_by_text("Meldingen zijn geblokkeerd voor deze site")).to_be_visible()
    expect(on).to_be_disabled()
    assert page.evaluate(REGISTRATIONS) == []
    expect(page.locator("[data-push-endpoint]")).to_have_count(0)
    tab.assert_no_problems()


def test_without_javascript_the_section_says_it_needs_it(open_tab: OpenTab) -> None:
    tab = open_tab("en", javascript=False)
    sign_in(tab, "parent")
    tab.go("/compte")
    page = tab.page
    expect(page.get_by_text("This needs JavaScript")).to_be_visible()
    expect(page.get_by_role("button", name="Notify me on this device", exact=True)).to_be_hidden()
    tab.assert_no_problems()
