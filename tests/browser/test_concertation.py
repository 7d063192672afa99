"""A concertation at 360 px: asked, prepared, held; the minutes written, a change asked, then
approved, and only then read by the partner who was there.

Each page on the way is screenshotted and checked (axe-core, reflow, console); her view of the
meeting and the worker's view with its deadlines are looked at in French, Dutch and English.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Locator, expect

from tests.browser.conftest import SCREENSHOTS, OpenTab
from tests.browser.journeys_helpers import Story, set_language, sign_in_staff
from tests.browser.world import (
    CPAS,
    PMS,
    Subject,
    Visitor,
    accept,
    ask,
    grant,
    invite,
    invite_partner_user,
    partner_ids,
    take,
    unique,
)

MINUTES = "Le CPAS aide pour le loyer de mars. On se revoit dans un mois."
REVISED = "Le CPAS aide pour le loyer d’avril. On se revoit dans un mois."
WORD = "Ce n’est pas mars, c’est avril."


def test_a_concertation_from_its_request_to_the_partner_reading_its_minutes(
    open_tab: OpenTab,
) -> None:
    story = Story("fr", "concertation")
    admin = Visitor(open_tab("fr"))
    sign_in_staff(admin.tab, "claire@lepassage.example")
    operator = Visitor(open_tab("fr"))
    sign_in_staff(operator.tab, "operateur@portail.example")
    ids = partner_ids(operator)
    # The demo's concertation: the CPAS permanent, the PMS centre associated, both adhered.
    members = admin.tab
    members.go("/admin/concertation")
    expect(members.page.get_by_text("membre permanent,")).to_be_visible()
    story.look(members, "members")

    email = f"{unique('conc-amina')}@amo-demo.be"
    amina = accept(Visitor(open_tab("fr")), invite(admin, "worker", "Amina", email), email, "Amina")
    email = f"{unique('conc-julie')}@cpas-demo.be"
    token = invite_partner_user(admin.server, "Julie", email, ids[CPAS])
    julie = accept(Visitor(open_tab("fr")), token, email, "Julie")

    lou = Visitor(open_tab("fr"))
    reference = ask(lou, "youth", "Lou", "Je n’ai plus de quoi payer le loyer.", unique("conc-lou"))
    take(amina, reference)

    # Asked by the family, an hour ago: the worker proposes it with the two members.
    worker = amina.visitor.tab
    worker.go(f"/travail/dossiers/{reference}")
    page = worker.page
    page.locator("#propose-step summary").click()
    form = page.locator("#propose-step form")
    form.locator("#f-kind").select_option("concertation")
    form.locator("#f-description").fill("Réunion pour le loyer")
    form.get_by_label(CPAS).check()
    form.get_by_label(PMS).check()
    form.locator("#f-asked_by").select_option("family")
    brussels = datetime.now(ZoneInfo("Europe/Brussels"))
    asked = brussels - timedelta(hours=1)
    form.locator("#f-asked_at").fill(asked.strftime("%Y-%m-%dT%H:%M"))
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(rf"/travail/dossiers/{reference}"))
    meeting = page.locator("[id^=reunion-]").first
    expect(meeting).to_contain_text("entre le")
    action_id = int((meeting.get_attribute("id") or "").removeprefix("reunion-"))

    # A date past 3 days is refused, with the date kept.
    too_late = (asked + timedelta(days=3, hours=2)).strftime("%Y-%m-%dT%H:%M")
    # The refusal is a 422 page, which Chromium logs to its console: expected here.
    worker.failing_urls.add(
        worker.server.url(f"/travail/dossiers/{reference}/reunions/{action_id}/date")
    )
    meeting.locator("input[type=datetime-local][name=when]").last.fill(too_late)
    meeting.get_by_role("button", name="Fixer la date").click()
    expect(page.get_by_text("dans les 3 jours après la demande").first).to_be_visible()
    expect(page.locator("input[name=when]").last).to_have_value(too_late)
    story.look(worker, "date-refused")
    when = (asked + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    page.locator("input[name=when]").last.fill(when)
    page.get_by_role("button", name="Fixer la date").click()
    page.wait_for_url(re.compile(rf"/travail/dossiers/{reference}"))

    # The worker's deadlines, in each language: to prepare for when, the meeting by when.
    for language in ("fr", "nl", "en"):
        seen = Story(language, "concertation-deadlines")
        set_language(worker, language)
        worker.go("/travail")
        expect(page.locator("#meetings-title")).to_be_visible()
        seen.look(worker, "inbox")
        _shot(worker.page.locator("#meetings-title").locator(".."), f"worker-inbox-{language}")
        worker.go(f"/travail/dossiers/{reference}")
        _shot(page.locator(f"#reunion-{action_id}"), f"worker-deadlines-{language}")
        seen.assert_translated()
    set_language(worker, "fr")

    # She agrees to the meeting (this tells her), and allows the CPAS to receive the minutes.
    her = lou.tab
    her.go(f"/espace/{reference}")
    her.page.get_by_role("link", name="D’accord").first.click()
    her.page.get_by_role("button", name="Oui, je suis d’accord").click()
    her.page.wait_for_url(re.compile(rf"/espace/{reference}"))
    grant(_subject(lou), reference, ids[CPAS], "Pour la réunion sur le loyer")
    her.go(f"/espace/{reference}")
    expect(her.page.get_by_text("membre associé").first).to_be_visible()
    story.look(her, "meeting")

    # The meeting is held (the CPAS was there, the PMS centre was not), the minutes written.
    amina.visitor.post(
        f"/travail/dossiers/{reference}/reunions/{action_id}",
        [("attended", str(ids[CPAS])), ("categories", "request")],
    )
    worker.go(f"/travail/dossiers/{reference}")
    page.locator(f"#f-minutes-{action_id}").fill(MINUTES)
    page.get_by_role("button", name="Donner le compte rendu au jeune").click()
    page.wait_for_url(re.compile(rf"/travail/dossiers/{reference}"))

    # Nothing reaches the partner before she approved.
    julie.visitor.tab.go("/partenaire")
    expect(julie.visitor.tab.page.locator("main")).not_to_contain_text("loyer")

    her.go(f"/espace/{reference}")
    expect(her.page.get_by_text(MINUTES)).to_be_visible()
    story.look(her, "minutes")
    her.page.get_by_text("Demander un changement").click()
    her.page.get_by_label("Qu’est-ce qui doit changer ?").fill(WORD)
    her.page.get_by_role("button", name="Envoyer ma demande").click()
    her.page.wait_for_url(re.compile(rf"/espace/{reference}"))
    expect(her.page.get_by_text(WORD, exact=False).first).to_be_visible()

    worker.go(f"/travail/dossiers/{reference}")
    expect(page.get_by_text(WORD, exact=False).first).to_be_visible()
    page.locator(f"#f-minutes-{action_id}").fill(REVISED)
    page.get_by_role("button", name="Donner le nouveau compte rendu au jeune").click()
    page.wait_for_url(re.compile(rf"/travail/dossiers/{reference}"))

    her.go(f"/espace/{reference}")
    her.page.get_by_role("button", name="Je l’approuve").click()
    her.page.wait_for_url(re.compile(rf"/espace/{reference}"))
    expect(her.page.get_by_text("Tu l’as approuvé le").first).to_be_visible()
    story.look(her, "approved")

    partner = julie.visitor.tab
    partner.go("/partenaire")
    partner.page.locator("main a[href^='/partenaire/partages/']").first.click()
    expect(partner.page.get_by_text(REVISED)).to_be_visible()
    story.look(partner, "partner-reads")

    # Her view of the meeting and its minutes, and the worker's, in each language.
    for language in ("fr", "nl", "en"):
        seen = Story(language, "concertation")
        set_language(her, language)
        her.go(f"/espace/{reference}")
        her.page.locator(f"#reunion-{action_id}").scroll_into_view_if_needed()
        seen.look(her, "her-view")
        _shot(her.page.locator(f"#reunion-{action_id}"), f"her-meeting-{language}")
        set_language(worker, language)
        worker.go(f"/travail/dossiers/{reference}")
        _shot(page.locator(f"#reunion-{action_id}"), f"worker-meeting-{language}")
        seen.assert_translated()
    story.assert_translated()


def _shot(part: Locator, name: str) -> None:
    """A part of the page, cut from the whole page seen from its top: the quick exit, sticky,
    stays at the top instead of lying over the part."""
    page = part.page
    page.evaluate("() => window.scrollTo(0, 0)")
    box = part.bounding_box()
    assert box is not None, name
    folder = SCREENSHOTS / "concertation"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"{name}.png", full_page=True, clip=box, caret="initial")


def _subject(visitor: Visitor) -> Subject:
    return Subject(visitor, "", "Lou")
