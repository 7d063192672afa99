"""Working days in Chromium at 360 px: the admin closes a week (a refusal first), the inbox says
by when to answer, her page says by when someone answers; axe and the reflow on each page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import LiveServer
from tests.browser.journeys_helpers import Desk, Story, desk, wait_for_path
from tests.browser.world import Visitor, ask, unique

pytestmark = pytest.mark.browser

# Each language closes its own week of next August, so the three runs do not meet.
WEEKS = {"fr": ("08-02", "08-06"), "nl": ("08-09", "08-13"), "en": ("08-16", "08-20")}


@pytest.fixture(scope="module")
def people(browser: Browser, live_server: LiveServer) -> Iterator[Desk]:
    """Staff sign in once for the module (their code works once per window)."""
    with desk(browser, live_server) as signed_in:
        yield signed_in


def _before(sentence: str) -> str:
    """The words of a sentence before its date."""
    return sentence.split("%(date)s")[0].strip()


@pytest.mark.parametrize("language", ["fr", "nl", "en"])
def test_closing_days_and_due_dates_at_360_px(people: Desk, language: str) -> None:
    story = Story(language, "working-days")
    words = story.words
    year = datetime.now(tz=ZoneInfo("Europe/Brussels")).year + 1
    first, last = (f"{year}-{day}" for day in WEEKS[language])

    claire = people.staff("claire@lepassage.example", language)
    page = claire.page
    claire.go("/admin/fermetures")
    # The demo's summer week is there already.
    expect(page.locator("main")).to_contain_text("Fermeture d’été")
    # The wrong way round: refused (a 422 the browser reports), what she typed kept.
    claire.failing_urls.add(claire.server.url("/admin/fermetures/ajouter"))
    page.locator("#f-first_day").fill(last)
    page.locator("#f-last_day").fill(first)
    page.get_by_role("button", name=words("Add the closing")).click()
    expect(page.locator("#f-last_day-error")).to_have_text(
        words("The last day comes on or after the first day.")
    )
    expect(page.locator("#f-first_day")).to_have_value(last)
    story.look(claire, "refused")
    page.locator("#f-first_day").fill(first)
    page.locator("#f-last_day").fill(last)
    page.locator("#f-label").fill("Formation")
    page.get_by_role("button", name=words("Add the closing")).click()
    expect(page.get_by_role("status")).to_have_text(words("The closing is added."))
    row = page.locator("main li.row", has_text="Formation")
    expect(row).to_have_count(1)
    story.look(claire, "closings")
    row.get_by_role("button", name=words("Remove")).click()
    expect(page.get_by_role("status")).to_have_text(words("The closing is removed."))
    expect(page.locator("main li.row", has_text="Formation")).to_have_count(0)

    amina = people.staff("amina@lepassage.example", language)
    amina.go("/travail")
    card = amina.page.locator("li.card").first
    expect(card).to_contain_text(_before(words("To answer by %(date)s")))
    story.look(amina, "inbox")

    # A young person of her own (the demo's are taken by other journeys of the run) asks; her
    # request's page says by when someone answers.
    mia = Visitor(people.open_tab(language))
    reference = ask(mia, "youth", "Mia", "Je cherche un stage.", login=unique("mia"))
    mia.tab.go("/espace")
    mia.tab.page.locator(f"main a[href='/espace/{reference}']").click()
    wait_for_path(mia.tab.page, f"/espace/{reference}")
    expect(mia.tab.page.locator("main")).to_contain_text(
        _before(words("At the latest on %(date)s."))
    )
    story.look(mia.tab, "waiting")
    story.assert_translated()
