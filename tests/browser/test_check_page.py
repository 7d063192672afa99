"""The public check page in Chromium at 360 px: paste or upload, read the answer, axe finds nothing.

What is checked is signed by the served portal's own key (``signing.sign`` on its database):
the page knows no other. Screenshots of each answer go to var/screenshots/check-page/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from tortoise import Tortoise

from portal import proof
from portal.db import tortoise_config
from portal.domain import signing
from tests.browser.conftest import (
    SCREENSHOTS,
    TO_THE_TOP,
    LiveServer,
    OpenTab,
    outside_playwright,
    served_portal,
    tab_opener,
)
from tests.browser.test_public_pages import AXE_OPTIONS, axe, describe_violations
from tests.functional.test_check_page import entries, one_byte_changed, receipt_claims

pytestmark = pytest.mark.browser

SHOTS = SCREENSHOTS / "check-page"


async def _signed(database_url: str, work: Any) -> Any:
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        return await work()
    finally:
        await Tortoise.close_connections()


def sign_on(database_url: str, claims: dict[str, Any], kind: str) -> str:
    """Sign as the served portal does, with its own key (made on its database if none)."""
    token: str = outside_playwright(_signed(database_url, lambda: signing.sign(claims, kind)))
    return token


def export_on(database_url: str, journal: list[dict[str, Any]]) -> dict[str, Any]:
    dossier = journal[0]["dossier"]
    head = sign_on(
        database_url,
        {
            "iss": "http://localhost",
            "iat": 1_796_000_000,
            "dossier": dossier,
            "seq": len(journal),
            "chain": journal[-1]["chain"],
            "controller": "AMO Le Passage (démo)",
        },
        proof.HEAD,
    )
    return {"reference": dossier, "journal_proof": {"entries": journal, "head": head}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    with served_portal(tmp_path_factory.mktemp("check-page"), seed=False) as running:
        yield running


@pytest.fixture
def open_(browser: Browser, served: tuple[LiveServer, str]) -> Iterator[OpenTab]:
    with tab_opener(browser, served[0]) as opener:
        yield opener


def no_violations(page: Page) -> None:
    # From the top, as the other pages are checked: after a form sent to its anchor, a target
    # that happens to sit under the sticky quick exit would count as covered.
    page.evaluate(TO_THE_TOP)
    results = axe.run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    assert not violations, describe_violations(violations)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if page.locator("#outcome").count():
        page.locator("#outcome").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_receipts_pasted_in_french_at_360_px(
    open_: OpenTab, served: tuple[LiveServer, str]
) -> None:
    _server, database_url = served
    token = sign_on(database_url, receipt_claims(4), proof.RECEIPT)
    tab = open_("fr")
    page = tab.page
    tab.go("/verifier")
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifier un reçu ou un journal")
    no_violations(page)
    shot(page, "fr-empty")

    page.get_by_label("Colle le reçu").fill(token)
    page.get_by_role("button", name="Vérifier le reçu").click()
    expect(page.locator("#outcome")).to_contain_text("Ce reçu est valide.")
    expect(page.locator("#outcome")).to_contain_text("CPAS de Namur")
    no_violations(page)
    shot(page, "fr-receipt-valid")

    changed = one_byte_changed(token, 2)
    page.get_by_label("Colle le reçu").fill(changed)
    page.get_by_role("button", name="Vérifier le reçu").click()
    expect(page.locator("#outcome")).to_contain_text("On ne peut pas se fier à ce reçu.")
    # What she pasted is still there, to look at again.
    expect(page.get_by_label("Colle le reçu")).to_have_value(changed)
    assert page.url.endswith("/verifier#recu")
    no_violations(page)
    shot(page, "fr-receipt-refused")
    # A refusal is a 422 page, which Chromium reports on its console: that one is expected.
    assert all("422" in error for error in tab.errors), tab.errors
    tab.errors.clear()
    tab.assert_no_problems()

    for language, valid in (("nl", "Dit bewijs is geldig."), ("en", "This receipt is valid.")):
        other = open_(language)
        other.go("/verifier")
        other.page.locator("#f-receipt").fill(token)
        other.page.locator("#recu button[type=submit]").click()
        expect(other.page.locator("#outcome")).to_contain_text(valid)
        no_violations(other.page)
        shot(other.page, f"{language}-receipt-valid")


def test_journals_uploaded_in_french_at_360_px(
    open_: OpenTab, served: tuple[LiveServer, str], tmp_path: Path
) -> None:
    _server, database_url = served
    earlier = export_on(database_url, entries(3))
    newer = export_on(database_url, entries(7))
    changed = entries(7)
    changed[1]["details"] = {"n": "effacé"}
    previous = proof.GENESIS
    for entry in changed:
        previous = entry["chain"] = proof.chain_hash(previous, entry)
    rewritten = export_on(database_url, changed)
    files = {}
    for name, export in (("avant", earlier), ("apres", newer), ("reecrit", rewritten)):
        files[name] = tmp_path / f"dossier-{name}.json"
        files[name].write_text(json.dumps(export), encoding="utf-8")

    tab = open_("fr")
    page = tab.page
    tab.go("/verifier")
    page.get_by_label("L’export d’un dossier (fichier JSON)").set_input_files(files["apres"])
    page.get_by_label("L’export d’avant").set_input_files(files["avant"])
    page.get_by_role("button", name="Vérifier le journal").click()
    outcome = page.locator("#outcome")
    expect(outcome).to_contain_text("Ce journal de 7 entrées a été signé par AMO Le Passage")
    expect(outcome).to_contain_text("Il contient toujours, sans changement, les 3 entrées")
    no_violations(page)
    shot(page, "fr-journal-contained")

    page.get_by_label("L’export d’un dossier (fichier JSON)").set_input_files(files["reecrit"])
    page.get_by_label("L’export d’avant").set_input_files(files["avant"])
    page.get_by_role("button", name="Vérifier le journal").click()
    expect(page.locator("#outcome")).to_contain_text(
        "L’entrée 2 du journal d’avant a été changée ou retirée après coup."
    )
    no_violations(page)
    shot(page, "fr-journal-changed")
    assert all("422" in error for error in tab.errors), tab.errors
    tab.errors.clear()
    tab.assert_no_problems()
