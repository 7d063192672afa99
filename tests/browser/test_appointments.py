"""Meetings at 360 px: another time asked and given, and a hearing she agrees to as a step."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from portal.i18n import BRUSSELS
from tests.browser.conftest import LiveServer, Tab
from tests.browser.journeys_helpers import Desk, desk, set_language, sign_in_staff, wait_for_path
from tests.browser.world import Staff, Visitor, ask, take, unique

pytestmark = pytest.mark.browser

AMINA = "amina@lepassage.example"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots" / "appointments"


@pytest.fixture(scope="module")
def people(browser: Browser, live_server: LiveServer) -> Iterator[Desk]:
    """Amina signs in once for the module: a code is taken once per 30 s."""
    with desk(browser, live_server) as signed_in:
        yield signed_in


def _worker(people: Desk) -> Tab:
    if AMINA not in people.tabs:
        tab = people.open_tab("fr")
        sign_in_staff(tab, AMINA)
        people.tabs[AMINA] = tab
    set_language(people.tabs[AMINA], "fr")
    return people.tabs[AMINA]


def _young_person_followed_by_amina(people: Desk, amina: Tab) -> tuple[Tab, str]:
    tab = people.open_tab("fr")
    reference = ask(Visitor(tab), "youth", "Maé", "J’ai une audience au SAJ.", login=unique("rdv"))
    take(Staff(Visitor(amina), AMINA, "Amina", ""), reference)
    return tab, reference


def _day(ahead: int) -> str:
    return (datetime.now(BRUSSELS).date() + timedelta(days=ahead)).isoformat()


def _propose(page: Page, fields: dict[str, str], *, new_time: bool = False) -> None:
    section = page.locator("#rendez-vous")
    summary = "Proposer un autre moment" if new_time else "Proposer un rendez-vous"
    section.locator("summary", has_text=summary).click()
    form = section.locator("details[open] form")
    form.locator("#f-day").fill(fields["day"])
    form.locator("#f-hour").fill(fields["hour"])
    form.locator("#f-minutes").fill(fields.get("minutes", "60"))
    if not new_time:
        form.locator("#f-place_kind").select_option(fields.get("place_kind", "amo"))
        form.locator("#f-place").fill(fields.get("place", ""))
        form.locator("#f-with_whom").fill(fields.get("with_whom", ""))
    form.locator("button[type=submit]").click()


def _shot(tab: Tab, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    tab.page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_she_asks_for_another_time_and_accepts_the_new_one(people: Desk) -> None:
    amina = _worker(people)
    young, reference = _young_person_followed_by_amina(people, amina)
    worker_page = f"/travail/dossiers/{reference}"

    amina.go(worker_page)
    _propose(amina.page, {"day": _day(3), "hour": "14:00", "place": "Salle bleue"})
    wait_for_path(amina.page, worker_page)
    expect(amina.page.locator("#rendez-vous")).to_contain_text("En attente de réponse")

    # Her page shows the meeting first, and she asks for another time with a word.
    young.go(f"/espace/{reference}")
    meetings = young.page.locator("#rendez-vous")
    expect(meetings).to_contain_text("Avec Amina")
    expect(meetings).to_contain_text("Salle bleue")
    meetings.get_by_role("link", name="Un autre moment").click()
    young.page.locator("#f-word").fill("Plutôt mercredi, après l’école")
    young.page.get_by_role("button", name="Envoyer").click()
    wait_for_path(young.page, f"/espace/{reference}")
    expect(young.page.locator("#rendez-vous")).to_contain_text("Tu as demandé un autre moment")
    expect(young.page.locator("#timeline")).to_contain_text("Tu as demandé un autre moment.")

    # Amina reads her word and proposes a new time.
    amina.go(worker_page)
    expect(amina.page.locator("#rendez-vous")).to_contain_text("Plutôt mercredi, après l’école")
    _propose(amina.page, {"day": _day(4), "hour": "16:30"}, new_time=True)
    wait_for_path(amina.page, worker_page)

    young.go(f"/espace/{reference}")
    expect(young.page.locator("#timeline")).to_contain_text("Amina te propose un autre moment")
    young.page.locator("#rendez-vous").get_by_role("link", name="Je viendrai").click()
    young.page.get_by_role("button", name="Oui, je viendrai").click()
    wait_for_path(young.page, f"/espace/{reference}")
    meetings = young.page.locator("#rendez-vous")
    expect(meetings).to_contain_text("16:30")
    expect(meetings).to_contain_text("Tu viens")
    expect(meetings.get_by_role("link", name="Ajouter à l’agenda de mon téléphone")).to_be_visible()
    for language in ("fr", "nl", "en"):
        set_language(young, language)
        young.go(f"/espace/{reference}")
        _shot(young, f"subject-dossier-{language}")
        set_language(amina, language)
        amina.go(worker_page)
        _shot(amina, f"worker-dossier-{language}")
    set_language(amina, "fr")
    young.assert_no_problems()
    amina.assert_no_problems()


def test_amina_goes_with_her_to_a_hearing_she_agreed_to(people: Desk) -> None:
    amina = _worker(people)
    young, reference = _young_person_followed_by_amina(people, amina)
    worker_page = f"/travail/dossiers/{reference}"

    amina.go(worker_page)
    fields = {
        "day": _day(5),
        "hour": "09:30",
        "minutes": "120",
        "place_kind": "hearing",
        "place": "Palais de justice",
        "with_whom": "SAJ de Namur",
    }
    _propose(amina.page, fields)
    wait_for_path(amina.page, worker_page)
    # The step with someone else waits for her answer, like any other.
    expect(amina.page.locator("#actions")).to_contain_text("SAJ de Namur")

    young.go(f"/espace/{reference}")
    young.page.locator("#rendez-vous").get_by_role("link", name="Je viendrai").click()
    expect(young.page.locator("main")).to_contain_text("Quelqu’un d’autre sera là : SAJ de Namur")
    expect(young.page.locator("main")).to_contain_text("tu es aussi d’accord pour cette démarche")
    young.page.get_by_role("button", name="Oui, je viendrai").click()
    wait_for_path(young.page, f"/espace/{reference}")
    step = young.page.locator("li.row", has_text="SAJ de Namur")
    expect(step).to_contain_text("acceptée")
    expect(young.page.locator("#timeline")).to_contain_text("Tu as dit que tu viendras")
    young.assert_no_problems()
    amina.assert_no_problems()
