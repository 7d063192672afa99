"""The export of her dossier prints with a real button when scripts run, and says how otherwise."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OpenTab
from tests.browser.journeys_helpers import sign_in_with_password, wait_for_path

pytestmark = pytest.mark.browser

# Counts the calls instead of opening the print dialog, which a headless browser cannot show.
COUNT_PRINTS = "window.__prints = 0; window.print = () => { window.__prints += 1; };"


def test_the_print_button_prints_and_a_way_back_leads_to_her_dossier(open_tab: OpenTab) -> None:
    tab = open_tab("fr")
    page = tab.page
    page.add_init_script(COUNT_PRINTS)
    sign_in_with_password(tab, "lou")
    page.locator("main h2 a[href*='/espace/']").first.click()
    wait_for_path(page, r"/espace/[A-Z0-9-]+")
    dossier_path = page.url
    # From her dossier (boosted links everywhere else): the export loads whole, its script runs.
    page.get_by_role("link", name="Télécharger mon dossier").click()
    wait_for_path(page, r"/espace/[A-Z0-9-]+/export")
    button = page.get_by_role("button", name="Imprimer")
    expect(button).to_be_visible()
    expect(page.get_by_text("passe par le menu de ton navigateur")).to_be_hidden()
    box = button.bounding_box()
    assert box is not None and box["height"] >= 44
    button.click()
    assert page.evaluate("window.__prints") == 1
    button.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("window.__prints") == 2
    page.get_by_role("link", name="Retour à mon dossier").click()
    page.wait_for_url(dossier_path)
    tab.assert_no_problems()


def test_without_javascript_a_hint_says_how_to_print(open_tab: OpenTab) -> None:
    tab = open_tab("fr", javascript=False)
    page = tab.page
    sign_in_with_password(tab, "lou")
    href = page.locator("main h2 a[href*='/espace/']").first.get_attribute("href")
    assert href is not None
    tab.go(f"{href}/export")
    expect(page.get_by_text("passe par le menu de ton navigateur")).to_be_visible()
    expect(page.get_by_role("button", name="Imprimer")).to_be_hidden()
    expect(page.get_by_role("link", name="Retour à mon dossier")).to_be_visible()
    tab.assert_no_problems()
