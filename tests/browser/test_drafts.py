"""A message half typed survives a reload, in Chromium at 360 px (which does not keep the text
of our pages itself: they are not to be stored)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import OpenTab
from tests.browser.journeys_helpers import Asking, ask_with_password, new_login, set_language
from tests.browser.layout_checks import reflow_problems

pytestmark = pytest.mark.browser

PASSWORD = "trois pommes vertes sur la table"
WORDS = "Je voulais te dire que samedi"


def test_a_message_half_typed_is_back_after_a_reload(open_tab: OpenTab) -> None:
    young = open_tab("fr")
    set_language(young, "fr")
    asking = Asking("youth", "3", "2010", ["family"], "Ça ne va pas", "Zoé", new_login())
    reference = ask_with_password(young, asking, PASSWORD)
    page = young.page
    young.go(f"/espace/{reference}")
    address = page.url

    page.locator("#f-body").click()
    with page.expect_response(
        lambda r: r.url.endswith(f"/espace/{reference}/brouillon/messages")
    ) as kept:
        page.keyboard.type(WORDS)
    assert kept.value.status == 204
    assert page.url == address

    page.reload()
    expect(page.locator("#f-body")).to_have_value(WORDS)
    assert page.url == address

    # Sent: the message is in the thread, and the box is empty on the next reload.
    page.locator("#messages button[type=submit]").click()
    expect(page.locator("#messages .thread")).to_contain_text(WORDS)
    page.reload()
    expect(page.locator("#f-body")).to_have_value("")
    assert page.url == address
    # Checked last, on a page no boosted swap follows (a screenshot taken before the send left
    # empty style attributes that the swap then copied, which the CSP refuses).
    assert reflow_problems(page) == []
    young.assert_no_problems()
