"""A photo from a phone, at 360 px: added to a message, shared under consent, gone after erasure."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests import files
from tests.browser.conftest import OpenTab
from tests.browser.journeys_helpers import Story, sign_in_staff, wait_for_path
from tests.browser.world import CPAS, Staff, Visitor, ask, partner_ids, take, unique

PHOTO_WORDS = "La lettre de l’école, en photo."


def test_a_photo_is_added_shared_with_the_cpas_and_gone_after_erasure(open_tab: OpenTab) -> None:
    story = Story("fr", "documents")
    words = story.words
    mia = Visitor(open_tab("fr"))
    reference = ask(mia, "youth", "Mia", "J’ai reçu une lettre de l’école.", login=unique("mia"))
    amina = Visitor(open_tab("fr"))
    sign_in_staff(amina.tab, "amina@lepassage.example")
    take(Staff(amina, "amina", "Amina", ""), reference)
    operator = Visitor(open_tab("fr"))
    sign_in_staff(operator.tab, "operateur@portail.example")
    cpas = partner_ids(operator)[CPAS]

    # Mia adds a photo taken with her phone, with a few words: no script needed.
    page = mia.tab.page
    mia.tab.go(f"/espace/{reference}")
    section = page.locator("#documents")
    section.get_by_text(words("Add a photo or a PDF")).click()
    section.locator("input[type=file]").set_input_files(
        {"name": "IMG_2041.jpg", "mimeType": "image/jpeg", "buffer": files.jpeg_with_gps()}
    )
    section.locator("#f-doc-body").fill(PHOTO_WORDS)
    section.get_by_role("button", name=words("Add the document")).click()
    wait_for_path(page, f"/espace/{reference}")
    link = section.get_by_role("link", name="IMG_2041.jpg")
    expect(link).to_be_visible()
    expect(section).to_contain_text(words("with a message"))
    expect(page.locator("#messages")).to_contain_text(PHOTO_WORDS)
    story.look(mia.tab, "added")
    own_path = link.get_attribute("href") or ""
    opened = mia.context.request.get(mia.server.url(own_path))
    assert opened.status == 200 and opened.headers["content-type"] == "image/jpeg"
    assert b"PhoneMaker" not in opened.body()

    # She allows the CPAS to receive documents.
    path = f"/espace/{reference}/partenaires/{cpas}/accord"
    fields = [("categories", "documents"), ("duration", "1_month"), ("purpose", "Pour la bourse")]
    mia.post(path, fields)
    mia.post(path, [*fields, ("step", "confirm")])

    # Amina picks the photo and shares it.
    desk = amina.tab.page
    amina.tab.go(f"/travail/dossiers/{reference}/partager")
    desk.locator("#f-partner").select_option(str(cpas))
    desk.locator("input[name=categories][value=documents]").check()
    desk.get_by_label(re.compile("IMG_2041.jpg")).check()
    story.look(amina.tab, "share")
    desk.get_by_role("button", name=words("Share"), exact=True).click()
    wait_for_path(desk, rf"/travail/dossiers/{reference}/partages/\d+")

    # Julie, at the CPAS, opens it from the share.
    julie = Visitor(open_tab("fr"))
    sign_in_staff(julie.tab, "julie@cpas-namur.example")
    julie.tab.go("/partenaire")
    julie.tab.page.locator("main ul.plain li.row a").first.click()
    wait_for_path(julie.tab.page, r"/partenaire/partages/\d+")
    shared = julie.tab.page.get_by_role("link", name="IMG_2041.jpg")
    expect(shared).to_be_visible()
    story.look(julie.tab, "partner")
    shared_path = shared.get_attribute("href") or ""
    got = julie.context.request.get(julie.server.url(shared_path))
    assert got.status == 200 and got.headers["content-type"] == "image/jpeg"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"

    # Mia ends the help and erases the dossier: the photo is gone for everyone.
    mia.post(f"/espace/{reference}/arreter", [("reason", "")])
    # The export holds the photo, with its link.
    mia.tab.go(f"/espace/{reference}/export")
    expect(page.locator("main").get_by_role("link", name="IMG_2041.jpg")).to_be_visible()
    story.look(mia.tab, "export")
    mia.tab.go(f"/espace/{reference}/effacer")
    page.locator("main form").get_by_role("button", name=words("Erase my dossier")).click()
    page.get_by_role("button", name=words("Yes, erase it for good")).click()
    wait_for_path(page, "/espace")
    assert mia.context.request.get(mia.server.url(own_path)).status == 404
    after = julie.context.request.get(julie.server.url(shared_path))
    assert after.status in {404, 410} and b"\xff\xd8" not in after.body()
    story.assert_translated()
