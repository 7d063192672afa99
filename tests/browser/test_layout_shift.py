"""Nothing moves once shown: the passkey box is in place from the first paint, even when its
script arrives late, as on a slow phone. Measured with Chromium's own layout-shift entries."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import SCREENSHOTS, OpenTab

pytestmark = pytest.mark.browser

# The passkey script held back this long: the stylesheet has long arrived, so a page that
# showed itself before the script would be painted, then pushed down.
SCRIPT_DELAY_SECONDS = 0.8
PASSKEY_SCRIPT = re.compile(r"/static/js/passkey\.[0-9a-f]{10}\.js$")
# Every layout shift since the page began, as Lighthouse adds them up (shifts right after a
# tap or a key do not count). takeRecords() hands over the buffered entries at once.
LAYOUT_SHIFT = """() => {
  const observer = new PerformanceObserver(() => {});
  observer.observe({ type: "layout-shift", buffered: true });
  const entries = observer.takeRecords();
  observer.disconnect();
  return entries.filter((e) => !e.hadRecentInput).reduce((sum, e) => sum + e.value, 0);
}"""
SUPPORTED = "() => PerformanceObserver.supportedEntryTypes.includes('layout-shift')"


def held_back(route: Route) -> None:
    time.sleep(SCRIPT_DELAY_SECONDS)  # a slow network, not a wait for the page
    route.continue_()


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_the_sign_in_page_does_not_move_when_the_passkey_box_appears(
    open_tab: OpenTab, language: str
) -> None:
    tab = open_tab(language)
    page = tab.page
    page.route(PASSKEY_SCRIPT, held_back)
    tab.go("/connexion")
    expect(page.locator("#with-passkey")).to_be_visible()
    # The box comes first: the password section below it, on screen, is what would move.
    expect(page.locator("#f-login")).to_be_in_viewport()
    assert page.evaluate(SUPPORTED)
    shift = page.evaluate(LAYOUT_SHIFT)
    assert shift < 0.01, f"layout shift {shift:.3f}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"signin-{language}-passkey-late.png")
    tab.assert_no_problems()
