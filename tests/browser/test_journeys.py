"""The issues' journeys in Chromium at 360 px: each role in its own context, every page checked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.conftest import LiveServer, OpenTab, Tab
from tests.browser.journeys_helpers import (
    Asking,
    Desk,
    Story,
    add_virtual_authenticator,
    ask_with_password,
    assert_request_sent,
    desk,
    fill_request,
    new_login,
    press_until_focused,
    step_heading,
    wait_for_path,
)

pytestmark = pytest.mark.browser

LANGUAGES = ["fr", "nl", "en"]
CPAS = "CPAS de Namur (démo)"
# What Lou wrote in the demo request: what the CPAS reads once she allows it.
LOU_WORDS = "Ça ne va plus trop à l'école depuis la rentrée"
YOUTH_WORDS = {
    "fr": "Je rate souvent les cours le lundi et je n’ose pas le dire à l’école.",
    "nl": "Ik mis vaak de les op maandag en ik durf het niet aan de school te zeggen.",
    "en": "I often miss class on Mondays and I do not dare tell the school.",
}
SCHOOL_STEP = {
    "fr": ("Contacter l’école", "L’école"),
    "nl": ("Contact opnemen met de school", "De school"),
    "en": ("Contact the school", "The school"),
}


@pytest.fixture(scope="module")
def people(browser: Browser, live_server: LiveServer) -> Iterator[Desk]:
    """Signed-in tabs for the whole module: Amina, Tom, the CPAS's Julie, Lou."""
    with desk(browser, live_server) as signed_in:
        yield signed_in


def lou_reference(people: Desk) -> str:
    """The reference of Lou's demo request, read from her own space."""
    lou = people.subject("lou")
    lou.go("/espace")
    link = lou.page.locator("main h2 a[href*='/espace/']").first
    href = link.get_attribute("href")
    assert href is not None
    return href.rsplit("/", 1)[-1]


def step_row(page: Page, description: str) -> Locator:
    return page.locator("li.row", has_text=description)


# --- 1 and 2. Asking for help, and the first step with someone else ------------------------------


def take_from_inbox(story: Story, worker: Tab, reference: str) -> None:
    """The worker finds the request in the inbox and takes it."""
    words = story.words
    page = worker.page
    worker.go("/travail")
    card = page.locator("li.card", has_text=reference)
    expect(card).to_be_visible()
    story.look(worker, "inbox")
    card.get_by_role("button", name=words("I take it")).click()
    wait_for_path(page, f"/travail/dossiers/{reference}")
    expect(page.locator("h1")).to_contain_text(reference)


def propose_step(
    story: Story, worker: Tab, description: str, who: str = "", partner: str = ""
) -> None:
    """A step with someone else: proposed, never done without the young person's agreement."""
    page = worker.page
    # The form opens on demand: the page shows its title until the worker asks for it.
    form = page.locator("#propose-step form")
    expect(form).to_be_hidden()
    page.locator("#propose-step > summary").click()
    form.locator("#f-kind").select_option("partner_contact")
    form.locator("#f-description").fill(description)
    if who:
        form.locator("#f-third_party").fill(who)
    if partner:
        form.get_by_label(partner).check()
    story.look(worker, "worker-propose")
    form.locator("button[type=submit]").click()
    row = step_row(page, description)
    expect(row.locator(".tag-proposed")).to_have_text(story.words("waiting for an answer"))
    story.look(worker, "worker-proposed")


def agree_to_step(story: Story, subject: Tab, reference: str, description: str) -> None:
    """The subject sees the proposal first on her page, agrees, then confirms."""
    words = story.words
    page = subject.page
    subject.go(f"/espace/{reference}")
    proposal = page.locator("#actions .proposal", has_text=description)
    expect(page.locator("#pending-title")).to_have_text(words("Your answer is needed"))
    expect(proposal).to_be_visible()
    story.look(subject, "dossier-proposal")
    proposal.get_by_role("link", name=words("I agree"), exact=True).click()
    wait_for_path(page, rf"/espace/{reference}/demarches/\d+/oui")
    expect(page.locator("h1")).to_have_text(words("You agree?"))
    story.look(subject, "agree")
    page.get_by_role("button", name=words("Yes, I agree")).click()
    wait_for_path(page, f"/espace/{reference}")
    expect(step_row(page, description).locator(".tag-agreed")).to_have_text(words("agreed"))
    expect(page.locator("#pending-title")).to_have_count(0)
    story.look(subject, "agreed")


def follow_through(
    story: Story, subject: Tab, worker: Tab, reference: str, description: str, who: str
) -> None:
    """Taken, a step proposed, agreed, done; the subject reads it all in her journal."""
    words = story.words
    take_from_inbox(story, worker, reference)
    propose_step(story, worker, description, who=who)
    agree_to_step(story, subject, reference, description)

    worker.go(f"/travail/dossiers/{reference}")
    row = step_row(worker.page, description)
    row.get_by_role("button", name=words("Mark done")).click()
    expect(step_row(worker.page, description).locator(".tag-done")).to_have_text(words("done"))
    story.look(worker, "worker-done")

    subject.go(f"/espace/{reference}")
    page = subject.page
    expect(step_row(page, description).locator(".tag-done")).to_have_text(words("done"))
    amina = words("%(name)s, from the AMO,", name="Amina")
    journal = page.locator("#timeline")
    expect(journal).to_contain_text(words("%(who)s now follows your dossier.", who=amina))
    expect(journal).to_contain_text(words("%(who)s read your dossier.", who=amina))
    expect(journal).to_contain_text(words("%(who)s carried out an agreed step.", who=amina))
    expect(journal.locator("li.look").first).to_be_visible()
    story.look(subject, "dossier-done")


@pytest.mark.parametrize("language", LANGUAGES)
def test_young_person_asks_with_a_passkey_and_agrees_to_a_step(
    open_tab: OpenTab, people: Desk, language: str
) -> None:
    story = Story(language, "youth")
    youth = open_tab(language)
    add_virtual_authenticator(youth.page)
    asking = Asking(
        asker="youth",
        birth_month="4",
        birth_year="2010",
        themes=["school"],
        words=YOUTH_WORDS[language],
        nickname=f"Lina {language.upper()}",
    )
    fill_request(story, youth, asking)
    passkey = youth.page.locator("[data-passkey-submit]")
    expect(passkey).to_be_visible()
    expect(passkey).to_have_text(story.words("Send with a passkey"))
    story.look(youth, "ask-account")
    passkey.click()
    reference = assert_request_sent(story, youth)

    worker = people.staff("amina@lepassage.example", language)
    description, who = SCHOOL_STEP[language]
    follow_through(story, youth, worker, reference, description, who)
    youth.assert_no_problems()
    worker.assert_no_problems()
    story.assert_translated()


def test_parent_asks_with_a_password_and_cannot_open_the_young_persons_dossier(
    open_tab: OpenTab, people: Desk
) -> None:
    story = Story("fr", "parent")
    words = story.words
    parent = open_tab("fr")
    page = parent.page
    asking = Asking(
        asker="relative",
        birth_month="4",
        birth_year="2010",
        themes=["family"],
        words="Mon fils ne me parle plus depuis des semaines et je ne sais plus quoi faire.",
        nickname="Sam P.",
        login=new_login(),
    )
    fill_request(story, parent, asking)
    page.locator("#f-login").fill(asking.login)
    page.get_by_role("button", name=words("Suggest a passphrase")).click()
    suggestion = page.locator(".suggestion .passphrase")
    expect(suggestion).to_be_visible()
    passphrase = suggestion.inner_text().strip()
    assert len(passphrase) >= 15, passphrase
    expect(page.locator("#f-password")).to_have_value(passphrase)
    # What was typed before asking is still there.
    expect(page.locator("#f-display_name")).to_have_value(asking.nickname)
    expect(page.locator("#f-login")).to_have_value(asking.login)
    story.look(parent, "ask-passphrase")
    page.get_by_role("button", name=words("Send with this password")).click()
    reference = assert_request_sent(story, parent, parent=True)

    worker = people.staff("amina@lepassage.example")
    follow_through(
        story, parent, worker, reference, "Proposer une rencontre avec l’oncle", "L’oncle"
    )

    # Rule 3: a parent never sees a young person's dossier, not even by its address.
    parent.go(f"/espace/{lou_reference(people)}", status=404)
    expect(page.locator("h1")).to_have_text(words("This page does not exist"))
    expect(page.locator("main")).not_to_contain_text(LOU_WORDS)
    story.look(parent, "lou-not-found")
    story.assert_translated()


# --- 3. Keyboard only ----------------------------------------------------------------------------


def test_request_from_the_home_page_with_the_keyboard_only(open_tab: OpenTab) -> None:
    story = Story("fr", "keyboard")
    words = story.words
    tab = open_tab("fr")
    page = tab.page
    keyboard = page.keyboard
    tab.go("/")

    ask = page.locator("main a.button[href$='/demande']")
    press_until_focused(page, ask)
    keyboard.press("Enter")
    wait_for_path(page, "/demande")
    step_heading(page, words("Ask for help"))

    youth = page.locator("input[name=asker][value=youth]")
    press_until_focused(page, youth)
    keyboard.press("Space")
    expect(youth).to_be_checked()
    month = page.locator("#f-birth-month")
    press_until_focused(page, month)
    for _ in range(4):
        keyboard.press("ArrowDown")
    expect(month).to_have_value("4")
    keyboard.press("Tab")
    expect(page.locator("#f-birth-year")).to_be_focused()
    keyboard.type("2010")
    story.look(tab, "who")
    press_until_focused(page, page.locator("button[name=go][value=next]"))
    keyboard.press("Enter")

    # Two services: the commune finds hers, a radio button chooses it.
    step_heading(page, words("Which service?"))
    press_until_focused(page, page.locator("#f-commune"))
    keyboard.type("Namur")
    press_until_focused(page, page.locator("button[name=go][value=filter]"))
    keyboard.press("Enter")
    service = page.locator("input[name=service]").first
    expect(page.locator("input[name=service]")).to_have_count(1)
    press_until_focused(page, service)
    keyboard.press("Space")
    expect(service).to_be_checked()
    story.look(tab, "service")
    press_until_focused(page, page.locator("button[name=go][value=next]"))
    keyboard.press("Enter")

    step_heading(page, words("What is it about?"))
    school = page.locator("input[name=themes][value=school]")
    press_until_focused(page, school)
    keyboard.press("Space")
    expect(school).to_be_checked()
    press_until_focused(page, page.locator("#f-words"))
    keyboard.type("Je voudrais changer d’option mais je ne sais pas à qui demander.")
    press_until_focused(page, page.locator("button[name=go][value=next]"))
    keyboard.press("Enter")

    step_heading(page, words("How can we reach you safely?"))
    only_here = page.locator("input[name=contact_channel][value=portal]")
    press_until_focused(page, only_here)
    # In a group of radio buttons the arrows choose: down to the phone, and back up.
    keyboard.press("ArrowDown")
    expect(page.locator("input[name=contact_channel][value=phone]")).to_be_checked()
    keyboard.press("ArrowUp")
    expect(only_here).to_be_checked()
    press_until_focused(page, page.locator("button[name=go][value=next]"))
    keyboard.press("Enter")

    step_heading(page, words("Send your request"))
    press_until_focused(page, page.locator("#f-login"))
    keyboard.type(new_login())
    keyboard.press("Tab")
    expect(page.locator("#f-password")).to_be_focused()
    keyboard.type("trois bateaux bleus sur la meuse")
    # Back up to the nickname, skipped on the way down.
    press_until_focused(page, page.locator("#f-display_name"), key="Shift+Tab")
    keyboard.type("Kim")
    story.look(tab, "account")
    press_until_focused(page, page.locator("button[name=go][value=password]"))
    keyboard.press("Enter")

    assert_request_sent(story, tab)
    tab.assert_no_problems()
    story.assert_translated()


# --- 4. Consent: granted, used, taken back -------------------------------------------------------


def test_consent_is_granted_used_by_the_partner_and_taken_back(people: Desk) -> None:
    story = Story("fr", "consent")
    words = story.words
    reference = lou_reference(people)
    lou = people.subject("lou")
    tom = people.staff("tom@lepassage.example")

    take_from_inbox(story, tom, reference)
    description = "Demander au CPAS une aide pour les frais scolaires"
    propose_step(story, tom, description, partner=CPAS)

    # Lou reads who the CPAS is, secrecy first, before she can allow anything.
    lou.go(f"/espace/{reference}")
    lou.page.get_by_role("link", name=words("Who sees what: other services")).click()
    wait_for_path(lou.page, f"/espace/{reference}/partenaires")
    group = lou.page.locator("section.card", has_text=CPAS)
    secrecy = group.locator(".secrecy")
    allow = group.get_by_role("link", name=words("Allow something"))
    expect(secrecy).to_be_visible()
    expect(secrecy).to_contain_text(words("Bound by professional secrecy."))
    expect(secrecy).to_contain_text(
        words("This service cannot repeat anything without your agreement.")
    )
    expect(group).to_contain_text(words("Your social worker proposed a step with this service."))
    secrecy_box, allow_box = secrecy.bounding_box(), allow.bounding_box()
    assert secrecy_box and allow_box and secrecy_box["y"] < allow_box["y"], "secrecy comes later"
    story.look(lou, "who-sees-what")
    allow.click()

    page = lou.page
    wait_for_path(page, rf"/espace/{reference}/partenaires/\d+/accord")
    expect(page.locator(".secrecy")).to_contain_text(words("Bound by professional secrecy."))
    page.locator("input[name=categories][value=request]").check()
    page.locator("input[name=duration][value='1_month']").check()
    purpose = "Pour que le CPAS comprenne ma situation avant le rendez-vous."
    page.locator("#f-purpose").fill(purpose)
    story.look(lou, "grant-choose")
    page.get_by_role("button", name=words("Continue")).click()

    expect(page.get_by_role("heading", name=words("Check before you agree"))).to_be_visible()
    expect(page.locator("main")).to_contain_text(words("my request"))
    expect(page.locator("main")).to_contain_text(words("For 1 month"))
    expect(page.locator("main")).to_contain_text(purpose)
    story.look(lou, "grant-check")
    page.get_by_role("button", name=words("Yes, I agree")).click()

    wait_for_path(page, rf"/espace/{reference}/consentements/\d+")
    expect(page.locator("h1")).to_have_text(words("Receipt of your agreement"))
    expect(page.locator(".status-line")).to_have_text(words("Active"))
    expect(page.locator("dl.facts")).to_contain_text(CPAS)
    expect(page.locator("dl.facts")).to_contain_text(purpose)
    story.look(lou, "receipt")

    # Tom shares what Lou allowed, and nothing else.
    tom.go(f"/travail/dossiers/{reference}")
    tom.page.get_by_role("link", name=words("Share with a partner")).click()
    wait_for_path(tom.page, f"/travail/dossiers/{reference}/partager")
    tom.page.locator("#f-partner").select_option(label=CPAS)
    tom.page.locator("input[name=categories][value=request]").check()
    story.look(tom, "worker-share")
    tom.page.get_by_role("button", name=words("Share"), exact=True).click()
    # A confirmation: what went to whom, under which agreement.
    wait_for_path(tom.page, rf"/travail/dossiers/{reference}/partages/\d+")
    expect(tom.page.locator("h1")).to_have_text(words("Shared with %(name)s", name=CPAS))
    expect(tom.page.locator("dl.facts")).to_contain_text(words("their request"))
    story.look(tom, "worker-shared")
    tom.page.get_by_role("link", name=words("Back to the dossier")).click()
    wait_for_path(tom.page, f"/travail/dossiers/{reference}")
    expect(tom.page.locator("#timeline")).to_contain_text(CPAS)
    expect(tom.page.locator("#consents")).to_contain_text(CPAS)

    # Julie, at the CPAS, reads it.
    cpas = people.staff("julie@cpas-namur.example")
    cpas.go("/partenaire")
    # Other journeys of the run share with the CPAS too (a photo, minutes): Tom's is this one.
    shares = cpas.page.locator("main ul.plain li.row", has_text="Tom").locator("a")
    expect(shares).to_have_count(1)
    others = cpas.page.locator("main ul.plain li.row").count() - 1
    story.look(cpas, "partner-inbox")
    shares.click()
    wait_for_path(cpas.page, r"/partenaire/partages/\d+")
    expect(cpas.page.locator(".body")).to_contain_text(LOU_WORDS)
    share_path = cpas.page.url.removeprefix(cpas.server.base_url)
    story.look(cpas, "partner-share")

    # Lou sees it was opened, and takes her agreement back: one tap, one confirmation.
    lou.go(f"/espace/{reference}")
    expect(lou.page.locator("#timeline")).to_contain_text(
        words("%(partner)s opened what was passed on to it.", partner=CPAS)
    )
    lou.go(f"/espace/{reference}/partenaires")
    group = lou.page.locator("section.card", has_text=CPAS)
    expect(group.locator("li.row")).to_have_count(1)
    group.get_by_role("link", name=words("Take it back")).click()
    wait_for_path(page, rf"/espace/{reference}/consentements/\d+/retirer")
    story.look(lou, "revoke")
    page.get_by_role("button", name=words("Yes, take it back")).click()
    wait_for_path(page, rf"/espace/{reference}/consentements/\d+")
    expect(page.locator(".status-line")).to_have_text(words("Taken back"))
    story.look(lou, "revoked")

    # The CPAS lost access in the same request: the page it had open says why, and no more.
    cpas.go(share_path, status=410)
    expect(cpas.page.locator("h1")).to_have_text(
        words("The young person took back their agreement")
    )
    expect(cpas.page.locator("main")).not_to_contain_text(LOU_WORDS)
    story.look(cpas, "partner-share-gone")
    cpas.go("/partenaire")
    expect(cpas.page.locator("main ul.plain li.row", has_text="Tom")).to_have_count(0)
    expect(cpas.page.locator("main ul.plain li.row")).to_have_count(others)
    if not others:
        expect(cpas.page.locator("main")).to_contain_text(
            words("Nothing is shared with you at the moment.")
        )
    story.look(cpas, "partner-inbox-empty")
    story.assert_translated()


# --- 5. End the help, then erase -----------------------------------------------------------------


def test_young_person_ends_the_help_takes_her_words_and_erases_them(open_tab: OpenTab) -> None:
    story = Story("fr", "ending")
    words = story.words
    tab = open_tab("fr")
    page = tab.page
    said = "Je dors chez une amie depuis une semaine, je ne veux pas rentrer."
    reference = ask_with_password(
        tab,
        Asking(
            asker="youth",
            birth_month="11",
            birth_year="2008",
            themes=["housing", "family"],
            words=said,
            nickname="Noor",
            login=new_login(),
        ),
        "une maison jaune au bord du canal",
    )

    tab.go(f"/espace/{reference}")
    expect(page.locator("main")).to_contain_text(said)
    story.look(tab, "dossier")
    page.get_by_role("link", name=words("End the help")).click()
    wait_for_path(page, f"/espace/{reference}/arreter")
    story.look(tab, "end")
    page.get_by_role("button", name=words("Yes, end the help")).click()

    wait_for_path(page, f"/espace/{reference}/fin")
    expect(page.locator("h1")).to_have_text(words("The help has ended"))
    story.look(tab, "ended")
    page.locator("main").get_by_role("link", name=words("Download my dossier")).click()

    wait_for_path(page, f"/espace/{reference}/export")
    expect(page.locator("main")).to_contain_text(said)
    story.look(tab, "export")

    tab.go(f"/espace/{reference}")
    expect(page.locator(".status-line")).to_contain_text(words("Ended"))
    page.get_by_role("link", name=words("Erase my dossier")).click()
    wait_for_path(page, f"/espace/{reference}/effacer")
    story.look(tab, "erase-first")
    page.locator("main form").get_by_role("button", name=words("Erase my dossier")).click()
    expect(page.locator("main .notice")).to_have_text(
        words("Last check: are you sure? There is no way back.")
    )
    story.look(tab, "erase-second")
    page.get_by_role("button", name=words("Yes, erase it for good")).click()

    # Nothing of it stays in her space: no card, no date, no journal; she is told it is done.
    wait_for_path(page, "/espace")
    expect(page.locator("main .notice-ok")).to_have_text(
        words("Your dossier is erased. Nobody can read it any more.")
    )
    main = page.locator("main")
    expect(main.locator(".card")).to_have_count(0)
    # Nor does it pretend she never asked.
    expect(main).not_to_contain_text(words("You have not asked for help yet."))
    assert said not in page.content(), "the erased dossier still shows her words"
    assert reference not in page.content()
    story.look(tab, "erased")
    tab.go(f"/espace/{reference}", status=404)
    assert said not in page.content()

    # Then the whole account: one box to tick, and she is signed out.
    tab.go("/compte")
    page.locator("main").get_by_role("link", name=words("Delete my account")).click()
    wait_for_path(page, "/compte/supprimer")
    story.look(tab, "delete-account")
    # Sent without ticking the box: the page says so (422, which Chromium logs).
    tab.failing_urls.add(tab.server.url("/compte/supprimer"))
    page.get_by_role("button", name=words("Delete my account")).click()
    expect(page.locator("main .error-summary")).to_be_visible()
    page.get_by_label(words("I understand: my account is deleted for good.")).check()
    page.get_by_role("button", name=words("Delete my account")).click()
    wait_for_path(page, "/compte/supprime")
    expect(page.locator("main .notice-ok")).to_have_text(
        words("Your account is deleted. You are signed out.")
    )
    story.look(tab, "account-deleted")
    tab.go("/espace")
    wait_for_path(page, "/connexion")
    tab.assert_no_problems()
    story.assert_translated()
