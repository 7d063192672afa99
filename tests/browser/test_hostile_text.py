"""Hostile text in every free-text field: shown as text, never run, never wider than a phone.

Script and markup, a ``javascript:`` address, a 200-letter word, a right-to-left override and
emoji are typed into every field a person can fill: the request and how to reach its author,
names, messages both ways, steps and who else they involve, the reasons of answers and of
ending, the purpose of a consent, and the partner directory as the admin keeps it. Then every
page that shows them is opened in Chromium at 360 px, and each must show the text literally,
hold no element of it, run none of it (``window.__pwned`` stays unset), report no console
error or CSP violation, and not scroll sideways.

The portal here runs on a database of its own, so that staff can be given a session directly
(their second factor is the accounts tests' subject, not this one's).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import APIResponse, Browser, Route, expect

from portal.domain import accounts
from portal.models import (
    Action,
    ActionStatus,
    Consent,
    Dossier,
    Message,
    Partner,
    Person,
    Role,
    Service,
    Share,
)
from portal.security.sessions import SESSION_COOKIE, start_session
from portal.text import clean_text
from tests.browser.conftest import (
    LiveServer,
    OpenTab,
    Tab,
    log_tail,
    outside_playwright,
    served_portal,
    tab_opener,
)
from tests.forms import filled, form_on

REPOSITORY = Path(__file__).resolve().parents[2]

SCRIPT = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
SVG = '"><svg onload=window.__pwned=1>'
JS_URL = "javascript:window.__pwned=1"
LONG_WORD = "Anticonstitutionnellement" * 8
RTL = "\u202e"
EMOJI = "👩‍👧"
# Everything at once, for the fields that take a paragraph.
PARAGRAPH = "\n".join([SCRIPT, IMG, SVG, JS_URL, LONG_WORD, f"{RTL}lisible{RTL} {EMOJI} 🫶"])
PIECES = (SCRIPT, IMG, SVG, JS_URL, LONG_WORD, EMOJI)

LOU = IMG  # 38 characters: a name has at most 40
NOA = SVG + " 🫶"
AMINA = SCRIPT
PARTNER = f"CPAS {SVG} {JS_URL}"
ETHICS = "Code de déontologie"
PURPOSE = f"But : {SCRIPT} {LONG_WORD}"


def text(label: str) -> str:
    """A paragraph of hostile text, led by a label that says which field it was typed in."""
    return f"{label}\n{PARAGRAPH}"


# --- A portal of its own ---------------------------------------------------------------------


@dataclass(frozen=True)
class Portal:
    server: LiveServer
    database_url: str

    def run(self, work: Any) -> Any:
        """Run ``work()`` (a coroutine function) against the portal's database."""
        from tortoise import Tortoise

        from portal.db import tortoise_config

        async def connected() -> Any:
            await Tortoise.init(config=tortoise_config(self.database_url))
            try:
                return await work()
            finally:
                await Tortoise.close_connections()

        return outside_playwright(connected())


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    with served_portal(tmp_path_factory.mktemp("hostile"), seed=False) as (server, database_url):
        yield Portal(server, database_url)


# --- People and their forms ------------------------------------------------------------------


def signed_in(tab: Tab, token: str) -> Tab:
    tab.page.context.add_cookies(
        [
            {
                "name": SESSION_COOKIE,
                "value": token,
                # A host-only cookie, as __Host- requires (an address with a port is refused).
                "domain": urlsplit(tab.server.base_url).hostname or "localhost",
                "path": "/",
                "secure": True,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )
    return tab


def submit(tab: Tab, page: str, action: str, **changes: str | list[str]) -> APIResponse:
    """Fill in the form of ``page`` that posts to ``action``, send it, follow where it leads."""
    request = tab.page.context.request
    shown = request.get(tab.server.url(page))
    assert shown.ok, f"GET {page} answered {shown.status}"
    return post(tab, action, filled(form_on(shown.text(), action), **changes))


def post(tab: Tab, action: str, fields: dict[str, list[str]]) -> APIResponse:
    response = tab.page.context.request.post(
        tab.server.url(action),
        data=urlencode(fields, doseq=True),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.ok, f"POST {action} answered {response.status}:\n{log_tail(tab.server.log)}"
    return response


def ask_for_help(tab: Tab, name: str, login: str, words: str) -> str:
    """The request form, step by step, with a new account; the dossier's reference."""
    answers: dict[str, str | list[str]] = {
        "asker": "youth",
        "birth_month": "3",
        "birth_year": "2010",
        "themes": ["school", "other"],
        "words": words,
        "contact_channel": "email",
        "contact_details": '"><svg/onload=window.__pwned=1>@x.be',
        "contact_hours": f"{SCRIPT} après 16h",
        "go": "next",
    }
    response = tab.page.context.request.get(tab.server.url("/demande"))
    for _step in range(6):
        fields = form_on(response.text(), "/demande")
        if fields["step"] == ["account"]:
            account = {
                "display_name": name,
                "login": login,
                "password": "sept mouettes sur le quai de Namur",
                "go": "password",
            }
            response = post(tab, "/demande", filled(fields, **{**answers, **account}))
            return urlsplit(response.url).path.split("/")[2]
        response = post(tab, "/demande", filled(fields, **answers))
    raise AssertionError("the request never reached its last step")


@dataclass
class Cast:
    """The people, each in a tab of their own, and what the test needs to find their pages."""

    lou: Tab
    amina: Tab
    admin: Tab
    operator: Tab
    partner: Tab
    reference: str
    partner_id: int
    pending_id: int
    consent_id: int
    share_id: int


def make_staff(portal: Portal) -> dict[str, str]:
    """An AMO, a worker, an admin and the operator, each with a session; the worker's name is
    hostile."""

    async def work() -> dict[str, str]:
        service = await Service.create(name="AMO", communes=["Namur"], response_days=3)
        tokens = {}
        for login, role, name in (
            ("amina", Role.WORKER, AMINA),
            ("admin", Role.ADMIN, "Admin"),
            ("operateur", Role.OPERATOR, "Opérateur"),
        ):
            person = await Person.create(
                login=login,
                role=role,
                # As the invitation form takes it.
                display_name=accounts.check_display_name(name),
                service=None if role is Role.OPERATOR else service,
                user_handle=accounts.new_user_handle(),
            )
            tokens[login], _ = await start_session(person, "Chromium")
        return tokens

    result: dict[str, str] = portal.run(work)
    return result


def make_partner_user(portal: Portal) -> tuple[str, int]:
    """A user of the partner the admin just made; its session and the partner's id."""

    async def work() -> tuple[str, int]:
        partner = await Partner.get(name=clean_text(PARTNER))
        person = await Person.create(
            login="cpas",
            role=Role.PARTNER,
            display_name="Partenaire",
            partner=partner,
            user_handle=accounts.new_user_handle(),
        )
        token, _ = await start_session(person, "Chromium")
        return token, partner.id

    result: tuple[str, int] = portal.run(work)
    return result


def dossier_id(portal: Portal, reference: str) -> int:
    async def work() -> int:
        return (await Dossier.get(reference=reference)).id

    result: int = portal.run(work)
    return result


def proposed_steps(portal: Portal) -> list[int]:
    async def work() -> list[int]:
        found = await Action.filter(status=ActionStatus.PROPOSED).order_by("id")
        return [a.id for a in found]

    result: list[int] = portal.run(work)
    return result


def last_ids(portal: Portal) -> tuple[int, int]:
    """The consent the subject gave and the share made under it."""

    async def work() -> tuple[int, int]:
        consent = await Consent.all().order_by("-id").first()
        share = await Share.all().order_by("-id").first()
        assert consent is not None and share is not None
        return consent.id, share.id

    result: tuple[int, int] = portal.run(work)
    return result


def fill_everything(portal: Portal, open_tab: OpenTab) -> Cast:
    """Every free-text field, filled with hostile text through the portal's own forms."""
    tokens = make_staff(portal)
    amina = signed_in(open_tab("fr"), tokens["amina"])
    admin = signed_in(open_tab("fr"), tokens["admin"])
    operator = signed_in(open_tab("fr"), tokens["operateur"])
    submit(
        operator,
        "/operateur/partenaires",
        "/operateur/partenaires/nouveau",
        name=PARTNER,
        sector="cpas",
        communes=f"Namur, {SVG}",
        ethics_code=f"{ETHICS} {IMG} {LONG_WORD}",
        description=text("Description du partenaire"),
        contact=f'{JS_URL} <a href="{JS_URL}">x</a>',
        bound_by_secrecy="1",
    )
    token, partner_id = make_partner_user(portal)
    partner = signed_in(open_tab("fr"), token)

    lou = open_tab("fr")
    reference = ask_for_help(lou, LOU, "lou", text("Demande de Lou"))
    # A second request stays in the inbox, waiting to be taken.
    ask_for_help(open_tab("fr"), NOA, "noa", text("Demande de Noa"))

    worker_page = f"/travail/dossiers/{reference}"
    submit(amina, "/travail", f"/travail/demandes/{dossier_id(portal, reference)}/prendre")
    submit(amina, worker_page, f"{worker_page}/messages", body=text("Message d’Amina"))
    steps = f"{worker_page}/demarches"
    submit(amina, worker_page, steps, mode="record", kind="listening", description=text("Écoute"))
    for label in ("Étape acceptée", "Étape refusée", "Étape en attente"):
        submit(
            amina,
            worker_page,
            steps,
            mode="propose",
            kind="partner_contact",
            description=text(label),
            third_party=f"{IMG} {LONG_WORD[:100]}",
            partners=str(partner_id),
        )

    space = f"/espace/{reference}"
    submit(lou, space, f"{space}/messages", body=text("Message de Lou"))
    agreed, declined, pending = proposed_steps(portal)
    for step, choice, label in (
        (agreed, "oui", "Raison du oui"),
        (declined, "non", "Raison du non"),
    ):
        answer = f"{space}/demarches/{step}/{choice}"
        submit(lou, answer, answer, reason=text(label))
    grant = f"{space}/partenaires/{partner_id}/accord"
    chosen = {
        "categories": ["request", "actions", "messages"],
        "duration": "until_stop",
        "purpose": PURPOSE,
    }
    confirm = submit(lou, grant, grant, **chosen).text()
    post(lou, grant, filled(form_on(confirm, grant)))
    share_page = f"{worker_page}/partager"
    submit(
        amina,
        share_page,
        share_page,
        partner=str(partner_id),
        categories=["request", "actions", "messages"],
    )
    consent_id, share_id = last_ids(portal)
    return Cast(
        lou, amina, admin, operator, partner, reference, partner_id, pending, consent_id, share_id
    )


# --- What every page must show, and must not do ----------------------------------------------

INJECTED = """() => {
  const found = [];
  for (const element of document.querySelectorAll("*")) {
    for (const attribute of element.attributes) {
      const value = attribute.value.trim().toLowerCase();
      const address = ["href", "src", "action", "formaction", "xlink:href"];
      if (attribute.name.startsWith("on")
          || (address.includes(attribute.name) && value.startsWith("javascript:"))) {
        found.push(`<${element.tagName.toLowerCase()} ${attribute.name}="${attribute.value}">`);
      }
    }
  }
  for (const script of document.scripts) {
    if (!script.src || new URL(script.src).origin !== location.origin) {
      found.push(`a script: ${script.outerHTML.slice(0, 80)}`);
    }
  }
  for (const element of document.querySelectorAll("main svg, main img[src='x']")) {
    found.push(`an element from the text: ${element.outerHTML.slice(0, 80)}`);
  }
  return found;
}"""

TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth <= width) { return []; }
  return [...document.querySelectorAll("main *")]
    .filter((element) => element.getBoundingClientRect().right > width + 1)
    .slice(0, 5)
    .map((element) => `${element.tagName.toLowerCase()}.${element.className}`
      + ` ends at ${Math.round(element.getBoundingClientRect().right)} px`);
}"""


def assert_harmless(tab: Tab, path: str, *labels: str) -> None:
    """The page shows the hostile text as text (after ``labels``), and nothing else happened."""
    tab.go(path)
    page = tab.page
    expect(page.locator("main")).to_be_visible()
    shown = " ".join(page.locator("body").inner_text().split())
    missing = [label for label in labels if label not in shown]
    assert not missing, f"{path} does not show {missing}; it shows: {shown[:3000]}"
    if any(
        label.startswith(("Demande", "Message", "Écoute", "Étape", "Raison")) for label in labels
    ):
        missing = [piece for piece in PIECES if piece not in shown]
        assert not missing, f"{path} does not show, as text: {missing}"
    assert RTL not in shown, f"{path} lets a right-to-left override through"
    assert page.evaluate("() => window.__pwned === undefined"), f"{path} ran the text"
    injected = page.evaluate(INJECTED)
    assert not injected, f"{path} holds elements of the text: {injected}"
    too_wide = page.evaluate(TOO_WIDE)
    assert not too_wide, f"{path} scrolls sideways at 360 px: {too_wide}"
    tab.assert_no_problems()


@pytest.fixture(scope="module")
def cast(browser: Browser, portal: Portal) -> Iterator[Cast]:
    with tab_opener(browser, portal.server) as open_:
        yield fill_everything(portal, open_)


def test_the_subject_sees_hostile_text_as_text(cast: Cast) -> None:
    space = f"/espace/{cast.reference}"
    assert_harmless(
        cast.lou,
        space,
        AMINA,
        "Demande de Lou",
        "Message de Lou",
        "Message d’Amina",
        "Écoute",
        "Étape acceptée",
        "Étape refusée",
        "Étape en attente",
    )
    assert_harmless(cast.lou, f"{space}/demarches/{cast.pending_id}/oui", "Étape en attente")
    assert_harmless(cast.lou, "/espace")
    assert_harmless(cast.lou, f"{space}/envoye")
    assert_harmless(cast.lou, f"{space}/partenaires", PARTNER, PURPOSE)
    assert_harmless(cast.lou, f"{space}/partenaires/annuaire", PARTNER, ETHICS, "Description")
    assert_harmless(cast.lou, f"{space}/partenaires/{cast.partner_id}/accord", PARTNER, ETHICS)
    assert_harmless(cast.lou, f"{space}/consentements/{cast.consent_id}", PARTNER, PURPOSE)
    assert_harmless(
        cast.lou,
        f"{space}/export",
        LOU,
        AMINA,
        PARTNER,
        "Demande de Lou",
        "Message de Lou",
        "Message d’Amina",
        "Étape refusée",
        "Raison du oui",
        "Raison du non",
        PURPOSE,
        "après 16h",
    )


def test_staff_and_partners_see_hostile_text_as_text(cast: Cast) -> None:
    worker_page = f"/travail/dossiers/{cast.reference}"
    # Requests waiting to be taken show no words and no name: only their themes.
    assert_harmless(cast.amina, "/travail")
    assert_harmless(
        cast.amina,
        worker_page,
        LOU,
        AMINA,
        "Demande de Lou",
        "après 16h",
        '"><svg/onload=window.__pwned=1>@x.be',
        "Message de Lou",
        "Message d’Amina",
        "Étape acceptée",
        "Raison du oui",
        "Raison du non",
    )
    assert_harmless(cast.amina, f"{worker_page}/partager", PARTNER)
    assert_harmless(cast.amina, "/travail/equipe", AMINA)
    assert_harmless(cast.amina, "/travail/annuaire", PARTNER, ETHICS, "Description")
    assert_harmless(cast.partner, "/partenaire")
    assert_harmless(
        cast.partner,
        f"/partenaire/partages/{cast.share_id}",
        PURPOSE,
        "Demande de Lou",
        "Message de Lou",
    )
    assert_harmless(cast.operator, "/operateur/partenaires", PARTNER)
    assert_harmless(cast.admin, "/admin/personnes", AMINA)
    # The form to change a partner holds the text as the values of its fields.
    assert_harmless(cast.operator, f"/operateur/partenaires/{cast.partner_id}")
    expect(cast.operator.page.locator("#f-name")).to_have_value(clean_text(PARTNER))


def test_a_double_tap_sends_one_message_shown_as_text(cast: Cast, portal: Portal) -> None:
    """Typed and sent with a double tap: the button holds while the first is on its way."""
    space = f"/espace/{cast.reference}"
    tab = cast.lou
    tab.go(space)
    before = count_messages(portal)
    page = tab.page
    held: list[Route] = []
    page.route(f"**{space}/messages", lambda route: held.append(route))
    page.locator("#f-body").fill(f"Double {SCRIPT} {LONG_WORD}")
    button = page.locator("#messages button[type=submit]")
    button.dblclick()
    expect(button).to_be_disabled()
    page.wait_for_timeout(300)
    assert len(held) == 1, f"the browser sent the form {len(held)} times"
    held[0].continue_()
    expect(page.locator("#messages").get_by_text("Double", exact=False)).to_have_count(1)
    assert count_messages(portal) == before + 1
    assert_harmless(tab, space, "Double")


def count_messages(portal: Portal) -> int:
    async def work() -> int:
        return await Message.all().count()

    result: int = portal.run(work)
    return result


def test_ending_with_hostile_words(cast: Cast) -> None:
    space = f"/espace/{cast.reference}"
    submit(cast.lou, f"{space}/arreter", f"{space}/arreter", reason=text("Raison de l’arrêt"))
    assert_harmless(cast.lou, space, "Message de Lou")
    assert_harmless(cast.lou, f"{space}/fin")
    assert_harmless(cast.lou, f"{space}/export", "Raison de l’arrêt")
    assert_harmless(cast.amina, f"/travail/dossiers/{cast.reference}", LOU)
