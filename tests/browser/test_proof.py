"""Proof she can hold, in Chromium at 360 px and in French, on the live server.

A young person agrees, by her own pages, that the CPAS may receive her request; she downloads the
signed receipt and her dossier, and checks both on the public check page: the receipt is valid,
and says what she chose; the journal is intact, and a later export still holds the earlier one.
The CPAS opens what was shared with it and checks the receipt it was shown: valid for itself,
and another partner's receipt is refused. A receipt changed by one character is refused.

Everything is checked with what the server publishes, never with its database. Each page looked
at is checked by axe-core and for reflow, and shot as var/screenshots/proof-*.png.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Download, Locator, Page, expect

from tests.browser.conftest import SCREENSHOTS, TO_THE_TOP, LiveServer, OpenTab, Tab, tab_opener
from tests.browser.journeys_helpers import Words, sign_in_staff, wait_for_path
from tests.browser.layout_checks import reflow_problems
from tests.browser.test_public_pages import AXE_OPTIONS, axe, describe_violations
from tests.browser.world import (
    CPAS,
    PMS,
    Staff,
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

pytestmark = pytest.mark.browser

SERVICE = "AMO Le Passage (démo)"
PURPOSE = "Pour demander une aide au loyer."
JOURNAL_WORDS = "Ça ne va plus à la maison, et le loyer est en retard."
# The page's words in French, from its catalogue: she reads the page as it speaks to her.
words = Words("fr")
VALID = words("This receipt is valid.")
REFUSED = words("This receipt cannot be trusted.")
INTACT = words("This journal is intact.")
CHANGED = words(
    "Its signature does not match: it was changed after it was signed, even by one character, "
    "or someone else signed it."
)
OTHER_ORGANISATION = words(
    "This receipt was given for another organisation, not yours. Your organisation cannot rely "
    "on it."
)


def signed_by(service: str) -> str:
    return words(
        "It was signed by %(service)s, and nothing in it was changed since.", service=service
    )


def journal_of(count: int, service: str) -> str:
    """The start of what the page says of a journal of ``count`` entries (its date follows)."""
    sentence = words.catalogue.ngettext(
        "This journal of %(count)s entry was signed by %(service)s on %(day)s, and nothing in it "
        "was changed since it was signed.",
        "This journal of %(count)s entries was signed by %(service)s on %(day)s, and nothing in "
        "it was changed since it was signed.",
        count,
    )
    return sentence.split("%(day)s")[0] % {"count": count, "service": service}


def still_holds(count: int) -> str:
    sentence = words.catalogue.ngettext(
        "It still holds, unchanged, the %(count)s entry of the journal signed on %(day)s.",
        "It still holds, unchanged, the %(count)s entries of the journal signed on %(day)s.",
        count,
    )
    return sentence.split("%(day)s")[0] % {"count": count}


@dataclass
class Cast:
    """Staff of this module, made for it: a worker of her service and a user of the CPAS."""

    worker: Staff
    cpas_user: Staff
    ids: dict[str, int]


@pytest.fixture(scope="module")
def cast(browser: Browser, live_server: LiveServer) -> Iterator[Cast]:
    """Invited by the demo admin (the only demo account signed in here), each signed in once:
    a code is taken once per window, and no other module's demo account is touched."""
    with tab_opener(browser, live_server) as open_:
        admin = Visitor(open_("fr"))
        sign_in_staff(admin.tab, "claire@lepassage.example")
        ids = partner_ids(admin_operator(open_))
        email = f"{unique('proof-amina')}@amo-demo.be"
        worker = accept(
            Visitor(open_("fr")), invite(admin, "worker", "Amina", email), email, "Amina"
        )
        email = f"{unique('proof-julie')}@cpas-demo.be"
        token = invite_partner_user(live_server, "Julie", email, ids[CPAS])
        cpas_user = accept(Visitor(open_("fr")), token, email, "Julie")
        for tab in (admin.tab, worker.visitor.tab, cpas_user.visitor.tab):
            tab.assert_no_problems()
        yield Cast(worker, cpas_user, ids)


def admin_operator(open_: OpenTab) -> Visitor:
    operator = Visitor(open_("fr"))
    sign_in_staff(operator.tab, "operateur@portail.example")
    operator.tab.assert_no_problems()
    return operator


# --- Looking -----------------------------------------------------------------------------------


def look(tab: Tab, name: str, part: Locator | None = None) -> None:
    """Check the page as it first shows (axe, reflow, the console), then shoot it whole at 360 px
    wide; with ``part``, also the 360x740 screen that shows that part."""
    page = tab.page
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.evaluate(TO_THE_TOP)
    violations = axe.run(page, options=AXE_OPTIONS).response["violations"]
    assert not violations, f"axe-core found on {name} ({page.url}):\n" + describe_violations(
        violations
    )
    reflow = reflow_problems(page)
    assert not reflow, f"{name} at 360 px ({page.url}):\n" + "\n".join(reflow)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shots = [SCREENSHOTS / f"proof-{name}.png"]
    page.screenshot(path=shots[0], full_page=True, caret="initial")
    if part is not None:
        # And the screen she reads the answer on.
        part.scroll_into_view_if_needed()
        shots.append(SCREENSHOTS / f"proof-{name}-answer.png")
        page.screenshot(path=shots[1], caret="initial")
    tab.assert_no_problems()


def downloaded(page: Page, link: Locator) -> tuple[str, bytes]:
    """Tap a download link as she would; the file's suggested name and its bytes."""
    with page.expect_download() as started:
        link.click()
    download: Download = started.value
    path = download.path()
    return download.suggested_filename, Path(path).read_bytes()


def claims_of(token: str) -> dict[str, Any]:
    """What a compact JWS says, read as anyone would (no key needed to read, only to trust)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def one_character_changed(token: str) -> str:
    """The same receipt with one character of its signature changed (in its middle: the last
    character of base64url may carry unused bits, and change nothing)."""
    header, payload, signature = token.split(".")
    middle = len(signature) // 2
    swapped = "A" if signature[middle] != "A" else "B"
    return ".".join((header, payload, signature[:middle] + swapped + signature[middle + 1 :]))


def check_receipt(tab: Tab, token: str) -> Locator:
    """Paste a receipt on the check page and send it; the answer."""
    page = tab.page
    page.get_by_label(words("Paste the receipt")).fill(token)
    with page.expect_navigation():
        page.get_by_role("button", name=words("Check the receipt")).click()
    return page.locator("#outcome")


def check_journal(tab: Tab, export: Path, earlier: Path | None = None) -> Locator:
    page = tab.page
    page.get_by_label(words("The export of a dossier (JSON file)")).set_input_files(export)
    if earlier is not None:
        page.get_by_label(words("The earlier export")).set_input_files(earlier)
    with page.expect_navigation():
        page.get_by_role("button", name=words("Check the journal")).click()
    return page.locator("#outcome")


def refused_on_purpose(tab: Tab) -> None:
    """A refusal is a 422 page, which Chromium logs on its console: expected for this one."""
    # The form is sent to its own section of the page: the address Chromium names holds it.
    tab.failing_urls.update(tab.server.url(f"/verifier#{part}") for part in ("recu", "journal"))


def save(folder: Path, name: str, content: bytes) -> Path:
    path = folder / name
    path.write_bytes(content)
    return path


# --- Her journey -------------------------------------------------------------------------------


def test_she_checks_her_receipt_and_her_journal_on_the_public_page(
    cast: Cast, open_tab: OpenTab, tmp_path: Path
) -> None:
    lina = Visitor(open_tab("fr"))
    reference = ask(lina, "youth", "Lina", JOURNAL_WORDS, login=unique("proof-lina"))
    take(cast.worker, reference)
    her = lina.tab
    page = her.page

    # She allows the CPAS to receive her request, from her own pages.
    her.go(f"/espace/{reference}")
    page.get_by_role("link", name=words("Who sees what")).first.click()
    wait_for_path(page, f"/espace/{reference}/partenaires")
    page.get_by_role("link", name=words("Choose another service from the directory")).click()
    wait_for_path(page, f"/espace/{reference}/partenaires/annuaire")
    card = page.locator("main li.card").filter(has_text=CPAS)
    card.get_by_role("link", name=words("Allow something to this service")).click()
    wait_for_path(page, rf"/espace/{reference}/partenaires/{cast.ids[CPAS]}/accord")
    page.get_by_label(words("my request")).check()
    page.get_by_label(words("For 3 months")).check()
    page.get_by_label(words("What for, in one sentence")).fill(PURPOSE)
    page.get_by_role("button", name=words("Continue")).click()
    expect(page.get_by_role("heading", name=words("Check before you agree"))).to_be_visible()
    page.get_by_role("button", name=words("Yes, I agree")).click()
    wait_for_path(page, rf"/espace/{reference}/consentements/\d+")
    consent_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text(words("Receipt of your agreement"))
    look(her, "her-receipt-page")

    # The signed receipt, a real download: the token itself, made for the CPAS.
    name, content = downloaded(
        page, page.get_by_role("link", name=words("Download the signed receipt"))
    )
    assert name == f"consent-receipt-{consent_id}.jwt"
    receipt = content.decode("ascii").strip()
    assert receipt.count(".") == 2
    claims = claims_of(receipt)
    assert claims["aud"] == f"partner:{cast.ids[CPAS]}"
    # Her pseudonym for the CPAS, never her dossier's reference nor her name.
    assert reference not in json.dumps(claims, ensure_ascii=False)
    assert claims["piiPrincipalId"] and claims["piiPrincipalId"] != reference
    receipt_file = save(tmp_path, name, content)

    # Her dossier: the export page with its signed head, then its file.
    her.go(f"/espace/{reference}")
    page.get_by_role("link", name=words("Download my dossier")).click()
    wait_for_path(page, f"/espace/{reference}/export")
    proof = page.locator("section.journal-proof")
    expect(proof.get_by_role("heading", name=words("Proof of this journal"))).to_be_visible()
    head_on_page = proof.get_by_label(words("The signature of the journal")).input_value()
    assert head_on_page.count(".") == 2
    look(her, "her-export-head", proof)
    name, first = downloaded(
        page, page.get_by_role("link", name=words("Download as a file (JSON)"))
    )
    assert name.endswith(".json")
    earlier = json.loads(first)
    earlier_proof = earlier["journal_proof"]
    assert claims_of(earlier_proof["head"])["dossier"] == reference
    assert claims_of(earlier_proof["head"])["seq"] == len(earlier_proof["entries"])
    earlier_file = save(tmp_path, "dossier-avant.json", first)

    # On the check page, without any help: the receipt she downloaded, from its file.
    checker = Visitor(open_tab("fr")).tab
    checker.go("/verifier")
    checker.page.get_by_label(words("Or choose its file")).set_input_files(receipt_file)
    with checker.page.expect_navigation():
        checker.page.get_by_role("button", name=words("Check the receipt")).click()
    outcome = checker.page.locator("#outcome")
    expect(outcome).to_contain_text(VALID)
    expect(outcome).to_contain_text(signed_by(SERVICE))
    expect(outcome).to_contain_text(CPAS)
    expect(outcome).to_contain_text(PURPOSE)
    expect(outcome).to_contain_text(words("my request"))
    expect(outcome).to_contain_text(
        words("Yes, as far as this receipt says, until %(day)s.", day="").rstrip(" .")
    )
    look(checker, "receipt-valid", outcome)
    # Whether it still holds is on the answer's first screen, before the partner's promises.
    expect(outcome.get_by_text(words("Still active?"))).to_be_in_viewport()
    # Pasted, the same.
    checker.go("/verifier")
    expect(check_receipt(checker, receipt)).to_contain_text(VALID)
    checker.assert_no_problems()

    # One character changed: refused, in plain words, what she pasted kept to look at again.
    refused_on_purpose(checker)
    changed = one_character_changed(receipt)
    outcome = check_receipt(checker, changed)
    expect(outcome).to_contain_text(REFUSED)
    expect(outcome).to_contain_text(CHANGED)
    expect(outcome).not_to_contain_text(CPAS)
    expect(checker.page.get_by_label(words("Paste the receipt"))).to_have_value(changed)
    look(checker, "receipt-refused", outcome)

    # Her export: the journal intact, signed by her service.
    entries = len(earlier_proof["entries"])
    outcome = check_journal(checker, earlier_file)
    expect(outcome).to_contain_text(INTACT)
    expect(outcome).to_contain_text(journal_of(entries, SERVICE))
    look(checker, "journal-intact", outcome)

    # Something new in her dossier: her worker writes. A second export holds the first unchanged.
    cast.worker.visitor.post(
        f"/travail/dossiers/{reference}/messages",
        [("body", "Bonjour Lina, j’ai transmis ta demande au CPAS.")],
    )
    her.go(f"/espace/{reference}/export")
    expect(page.get_by_text("j’ai transmis ta demande au CPAS")).to_be_visible()
    name, second = downloaded(
        page, page.get_by_role("link", name=words("Download as a file (JSON)"))
    )
    later = json.loads(second)["journal_proof"]
    assert len(later["entries"]) > entries
    assert later["entries"][:entries] == earlier_proof["entries"]
    later_file = save(tmp_path, "dossier-apres.json", second)
    checker.go("/verifier")
    outcome = check_journal(checker, later_file, earlier_file)
    expect(outcome).to_contain_text(INTACT)
    expect(outcome).to_contain_text(journal_of(len(later["entries"]), SERVICE))
    expect(outcome).to_contain_text(still_holds(entries))
    look(checker, "journal-contained", outcome)

    # The other way round, the earlier export does not hold the later one: she is told so.
    refused_on_purpose(checker)
    outcome = check_journal(checker, earlier_file, later_file)
    expect(outcome).to_have_attribute("role", "alert")
    expect(outcome).not_to_contain_text(INTACT)
    her.assert_no_problems()
    checker.assert_no_problems()


# --- The partner's check ---------------------------------------------------------------------


def test_the_cpas_checks_the_receipt_it_was_shown(
    cast: Cast, open_tab: OpenTab, tmp_path: Path
) -> None:
    sam = Visitor(open_tab("fr"))
    reference = ask(sam, "youth", "Sam", JOURNAL_WORDS, login=unique("proof-sam"))
    take(cast.worker, reference)
    subject = Subject(sam, "", "Sam")
    cpas, pms = cast.ids[CPAS], cast.ids[PMS]
    consent_id = grant(subject, reference, cpas, PURPOSE)
    # An agreement for the PMS centre too: its receipt is not the CPAS's to rely on.
    pms_consent = grant(subject, reference, pms, "Pour parler de l’école.")
    pms_receipt = sam.get(f"/espace/{reference}/consentements/{pms_consent}/recu.jwt").text()

    # Her worker shares her request with the CPAS, under her agreement.
    desk = cast.worker.visitor.tab
    desk.go(f"/travail/dossiers/{reference}/partager")
    desk.page.locator("#f-partner").select_option(str(cpas))
    desk.page.locator("input[name=categories][value=request]").check()
    desk.page.get_by_role("button", name=words("Share"), exact=True).click()
    wait_for_path(desk.page, rf"/travail/dossiers/{reference}/partages/\d+")
    share_id = int(desk.page.url.rsplit("/", 1)[1])
    desk.assert_no_problems()

    # Julie, at the CPAS, opens it and downloads the receipt it was shown.
    julie = cast.cpas_user.visitor.tab
    julie.errors.clear()
    julie.go("/partenaire")
    julie.page.locator(f"main a[href='/partenaire/partages/{share_id}']").click()
    wait_for_path(julie.page, f"/partenaire/partages/{share_id}")
    expect(julie.page.get_by_text(PURPOSE)).to_be_visible()
    look(julie, "partner-share")
    link = julie.page.get_by_role(
        "link", name=words("Download the signed receipt of the agreement")
    )
    name, content = downloaded(julie.page, link)
    assert name == f"consent-receipt-{consent_id}.jwt"
    receipt_file = save(tmp_path, name, content)
    assert claims_of(content.decode("ascii"))["aud"] == f"partner:{cpas}"

    # Signed in, she checks it on the check page: valid, for her own organisation.
    julie.page.get_by_role("link", name=words("Check a receipt")).click()
    wait_for_path(julie.page, "/verifier")
    julie.page.get_by_label(words("Or choose its file")).set_input_files(receipt_file)
    with julie.page.expect_navigation():
        julie.page.get_by_role("button", name=words("Check the receipt")).click()
    outcome = julie.page.locator("#outcome")
    expect(outcome).to_contain_text(VALID)
    expect(outcome).to_contain_text(signed_by(SERVICE))
    expect(outcome).to_contain_text(CPAS)
    expect(outcome).to_contain_text(PURPOSE)
    look(julie, "partner-valid", outcome)

    # The PMS centre's receipt, genuine as it is, is refused to the CPAS: another organisation.
    refused_on_purpose(julie)
    outcome = check_receipt(julie, pms_receipt)
    expect(outcome).to_contain_text(REFUSED)
    expect(outcome).to_contain_text(OTHER_ORGANISATION)
    look(julie, "partner-other-organisation", outcome)

    # Not signed in, the same receipt is valid: it is the PMS centre's, for the PMS centre.
    anyone = Visitor(open_tab("fr")).tab
    anyone.go("/verifier")
    outcome = check_receipt(anyone, pms_receipt)
    expect(outcome).to_contain_text(VALID)
    expect(outcome).to_contain_text(PMS)
    anyone.assert_no_problems()
    sam.tab.assert_no_problems()
