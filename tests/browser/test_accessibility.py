"""Accessibility, proved in Chromium: every page for every role, by keyboard, zoomed to 200 %.

1. axe-core (WCAG 2.0, 2.1 and 2.2, levels A and AA) finds nothing on any page any role can
   open, in French, Dutch and English, with data on every page. The pages come from the app's
   route table and the roles from the access matrix (tests/functional/test_access_matrix.py):
   a new page nobody visits here makes ``test_every_page_of_the_route_table_is_visited`` fail.
2. Every target on the pages a young person or a parent sees is at least 44 x 44 CSS px at
   360 px wide (see ``layout_checks.small_targets`` for what WCAG lets us leave out).
3. Reflow (WCAG 1.4.10) at 200 % zoom. Zooming a 640 px wide window to 200 % gives pages a
   320 CSS px viewport, two device pixels per CSS pixel: media queries, wrapping and every
   length in rem follow from that width, and nothing else changes. So the zoomed journeys run
   in a 320 x 640 CSS px viewport with a device scale factor of 2 (their screenshots are what
   that window shows). A root font size of 200 % would test something else: text-only
   enlargement (WCAG 1.4.4), where the layout keeps its wide-screen breakpoints; CSS ``zoom`` on
   a 640 px viewport would leave the media queries at 640 px. Every page of the sweep below is
   also checked at 320 CSS px (the device scale factor does not change the layout).
4. Each journey once by keyboard alone (Tab, Shift+Tab, Enter, Space, arrows, typing), every
   focused element in sight and showing its focus ring; and once at 200 % zoom.
"""

from __future__ import annotations

import re
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page, Request, ViewportSize, expect
from starlette.applications import Starlette
from starlette.routing import Route

import tests.browser.test_journeys as journeys
from portal.app import create_app
from portal.settings import Settings
from tests.browser.conftest import (
    LOCALES,
    SCREENSHOTS,
    VIEWPORT,
    LiveServer,
    OpenTab,
    Tab,
    tab_opener,
)
from tests.browser.journeys_helpers import (
    Desk,
    Story,
    assert_request_sent,
    new_login,
    press_until_focused,
    set_language,
    step_heading,
    wait_for_path,
)
from tests.browser.layout_checks import reflow_problems, small_targets
from tests.browser.test_public_pages import AXE_OPTIONS, axe, describe_violations
from tests.browser.world import (
    CPAS,
    LOU_REQUEST,
    PMS,
    STAFF_PASSWORD,
    Staff,
    Subject,
    Visitor,
    World,
    ask,
    build,
    grant,
    propose,
    take,
    unique,
)
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, TEST_SECRET
from tests.functional.test_access_matrix import ACCESS, Rule

pytestmark = pytest.mark.browser

LANGUAGES = ["fr", "nl", "en"]
# A 640 x 1280 window zoomed to 200 %.
ZOOMED: ViewportSize = {"width": 320, "height": 640}
ZOOM = 2
NOT_FOUND = "not found"

# Who opens the pages here, and which role of the access matrix each one stands for. The
# matrix's other_subject and other_partner see the same pages as subject and partner; the
# second service's admin and worker, the same as the first's admin and a worker who follows
# none of the dossiers opened here.
VISITORS = {
    "anonymous": {"anonymous"},
    "signing in": {"anonymous"},  # a password given, the code not yet: /connexion/code
    "young person": {"subject"},
    "parent": {"subject", "parent"},  # the subject of their own request
    "worker": {"worker"},
    "other worker": {"other_worker", "far_worker"},
    "partner": {"partner"},
    "admin": {"admin", "far_admin"},
    "operator": {"operator"},
}
# Whose pages must have thumb-sized targets: the young person's and the parent's, before and
# after they sign in.
SUBJECT_SIDE = {"anonymous", "young person", "parent"}
# Routes that answer with something other than a page, and who may fetch them.
NOT_PAGES = {
    "healthz": "anonymous",
    "readyz": "anonymous",
    "static": "anonymous",
    # The service worker's script (Web Push), the same file for everyone.
    "push.worker": "anonymous",
    "figures.csv": "admin",
    "consent.receipt_file": "young person",
    "ending.export_file": "young person",
    # What an open page asks by itself: nothing when nothing is new (204), else a fragment.
    "live.subject": "young person",
    "live.worker": "worker",
    "live.news": "young person",
    "appointment.subject_calendar": "young person",
    "appointment.worker_calendar": "worker",
    # A photo or a PDF, as its reader downloads it.
    "documents.subject_open": "young person",
    "documents.worker_open": "worker",
    "documents.partner_open": "partner",
}
# After what these ask: as a page asks when it shows everything there is (the header's count
# is read from the visitor's own page, see below).
NOT_PAGE_QUERIES = {
    "live.subject": "?apres=2147483647&message=0",
    "live.worker": "?apres=2147483647&message=0",
}


def portal_app() -> Starlette:
    """The app as the server builds it, for its route table; no database needed."""
    settings = Settings(
        env="test",
        database_url="sqlite://:memory:",
        secret_key=TEST_SECRET,
        journal_key=TEST_JOURNAL_KEY,
        master_key=TEST_MASTER_KEY,
    )
    return create_app(settings, manage_database=False)


def route_table(app: Starlette) -> list[Route]:
    return [route for route in app.routes if isinstance(route, Route)]


def roles_of(rule: Rule) -> set[str]:
    """The roles of the access matrix that get a page; a link's holder counts as anonymous."""
    roles = {role for role in rule.allowed if role not in {"other_subject", "other_partner"}}
    if not rule.allowed and rule.public_get:
        roles = {"anonymous"}
    return roles


@dataclass(frozen=True)
class Visit:
    route: str
    path: str
    status: int = 200


def plan(world: World, routes: list[Route]) -> dict[str, list[Visit]]:
    """Every page each visitor opens, with the data the world gave them."""
    by_name = {route.name: route for route in routes}

    def visit(name: str, **params: object) -> Visit:
        route = by_name[name]
        path = route.url_path_for(name, **{key: str(value) for key, value in params.items()})
        return Visit(name, str(path))

    everyone = [
        visit("home"),
        visit("rights"),
        visit("data"),
        visit("urgent"),
        visit("phone_safety"),
        visit("signed_out"),
        visit("proof.check"),
        visit("account.deleted"),
        visit("signin.recovery"),
        Visit(NOT_FOUND, "/nexiste-pas", 404),
    ]
    signed_in = [*everyone, visit("account")]
    pms = world.partner_ids[PMS]
    pages: dict[str, list[Visit]] = {
        "anonymous": [
            *everyone,
            visit("signin"),
            visit("account.new"),
            visit("request"),
            visit("invitation", token=world.invitation_token),
            visit("recovery_link", token=world.recovery_token),
        ],
        "signing in": [visit("signin.code")],
    }
    for who, key in (("young person", "youth"), ("parent", "relative")):
        subject = world.subjects[key]
        here, ended = subject.open_reference, subject.ended_reference
        pages[who] = [
            *signed_in,
            visit("account.welcome"),
            visit("account.recovery_notice"),
            visit("request"),
            visit("space"),
            visit("account.delete"),
            visit("request.sent", reference=here),
            visit("dossier.subject", reference=here),
            visit("dossier.answer", reference=here, action_id=subject.pending_action, choice="oui"),
            visit("dossier.answer", reference=here, action_id=subject.pending_action, choice="non"),
            visit("dossier.contact", reference=here),
            *(
                visit("appointment.answer", reference=here, appointment_id=meeting, choice=choice)
                for meeting in [subject.appointment]
                for choice in ("oui", "autre")
            ),
            visit("dossier.withdraw", reference=here, action_id=subject.agreed_action),
            visit("consent.page", reference=here),
            visit("consent.directory", reference=here),
            visit("consent.grant", reference=here, partner_id=world.partner_ids[CPAS]),
            visit("consent.receipt", reference=here, consent_id=subject.consent),
            visit("consent.revoke", reference=here, consent_id=subject.consent),
            visit("ending.end", reference=here),
            visit("ending.export", reference=here),
            visit("ending.ended", reference=ended),
            visit("ending.come_back", reference=ended),
            visit("ending.erase", reference=ended),
        ]
    followed = world.subjects["youth"].open_reference
    staff_pages = [visit("work.inbox"), visit("work.team"), visit("partners.search")]
    pages["worker"] = [
        *signed_in,
        *staff_pages,
        visit("dossier.worker", reference=followed),
        visit("consent.share", reference=followed),
        visit("consent.shared", reference=followed, share_id=world.subjects["youth"].share),
    ]
    pages["other worker"] = [*signed_in, *staff_pages]
    pages["partner"] = [
        *signed_in,
        visit("partners.inbox"),
        visit("partners.share", share_id=world.share_id),
    ]
    pages["admin"] = [
        *signed_in,
        visit("admin.staff"),
        visit("admin.closings"),
        visit("admin.handover", person_id=world.leaver_id),
        visit("figures.page"),
        visit("concertation.admin"),
    ]
    pages["operator"] = [
        *signed_in,
        visit("operator.home"),
        visit("operator.service", service_id=world.service_id),
        visit("operator.staff"),
        visit("partners.admin"),
        visit("partners.edit", partner_id=pms),
    ]
    return pages


def not_pages(world: World, app: Starlette) -> dict[str, str]:
    """A path for each route that is not a page."""
    by_name = {route.name: route for route in route_table(app)}
    youth = world.subjects["youth"]
    # The stylesheet's fingerprinted name, as pages link it.
    stylesheet = app.state.templates.env.globals["static"]("css/site.css")
    params: dict[str, dict[str, str]] = {
        "static": {"path": stylesheet.removeprefix("/static/")},
        "consent.receipt_file": {
            "reference": youth.open_reference,
            "consent_id": str(youth.consent),
            "format": "json",
        },
        "ending.export_file": {"reference": youth.open_reference, "format": "json"},
        "live.subject": {"reference": youth.open_reference},
        "live.worker": {"reference": youth.open_reference},
        "appointment.subject_calendar": {
            "reference": youth.open_reference,
            "appointment_id": str(youth.appointment),
        },
        "appointment.worker_calendar": {
            "reference": youth.open_reference,
            "appointment_id": str(youth.appointment),
        },
        "documents.subject_open": {
            "reference": youth.open_reference,
            "document_id": str(youth.document),
        },
        "documents.worker_open": {
            "reference": youth.open_reference,
            "document_id": str(youth.document),
        },
        "documents.partner_open": {
            "share_id": str(youth.share),
            "document_id": str(youth.document),
        },
    }
    return {
        name: str(by_name[name].url_path_for(name, **params.get(name, {})))
        + NOT_PAGE_QUERIES.get(name, "")
        for name in NOT_PAGES
    }


# --- The world, the visitors, and one pass over every page ---------------------------------------


@dataclass
class Everyone:
    world: World
    browser: Browser
    tabs: dict[str, Tab]
    app: Starlette
    pages: dict[str, list[Visit]]

    @property
    def routes(self) -> list[Route]:
        return route_table(self.app)


@pytest.fixture(scope="module")
def everyone(browser: Browser, live_server: LiveServer) -> Iterator[Everyone]:
    """The world, and a signed-in tab for each visitor; built once for the module."""
    with tab_opener(browser, live_server) as open_:
        world = build(open_)
        signing_in = open_("fr")
        signing_in.go("/connexion")
        signing_in.page.locator("#f-login").fill(world.staff["tom"].login)
        signing_in.page.locator("#f-password").fill(STAFF_PASSWORD)
        signing_in.page.locator("main form button[type=submit]").click()
        wait_for_path(signing_in.page, "/connexion/code")
        tabs = {
            "anonymous": open_("fr"),
            "signing in": signing_in,
            "young person": world.subjects["youth"].visitor.tab,
            "parent": world.subjects["relative"].visitor.tab,
            "worker": world.staff["amina"].visitor.tab,
            "other worker": world.staff["tom"].visitor.tab,
            "partner": world.staff["zoe"].visitor.tab,
            "admin": world.admin.tab,
            "operator": world.operator.tab,
        }
        app = portal_app()
        yield Everyone(world, browser, tabs, app, plan(world, route_table(app)))
        for tab in tabs.values():
            tab.checked = True


@dataclass
class Sweep:
    """What one pass over every page found, by kind of problem."""

    checked: int = 0
    pages: set[tuple[str, str]] = field(default_factory=set)
    shot: set[str] = field(default_factory=set)
    seconds: float = 0.0
    problems: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


@pytest.fixture(scope="module")
def sweep(everyone: Everyone) -> Sweep:
    """Open every page of every visitor in each language, and check each one.

    A visitor gets a tab per language: the same session, the language cookie set once.
    """
    result = Sweep()
    started = time.monotonic()
    for who, source in everyone.tabs.items():
        for language in LANGUAGES:
            tab = lane(everyone.browser, source, language)
            for visit in everyone.pages[who]:
                look_at(tab, who, language, visit, result)
                result.pages.add((who, visit.path))
            tab.page.context.close()
    result.seconds = time.monotonic() - started
    return result


def lane(browser: Browser, source: Tab, language: str) -> Tab:
    """A tab in ``source``'s session, in ``language``, with axe-core loaded in every page.

    Its requests are watched, not routed: Playwright's routing turns the HTTP cache off and
    passes every request through the test process, which made each page cost a third more. A
    request to another site is still reported (and the CSP would refuse it first).
    """
    context = browser.new_context(
        viewport=VIEWPORT, device_scale_factor=1, locale=LOCALES[language]
    )
    context.add_cookies(source.page.context.cookies())  # type: ignore[arg-type]
    context.add_init_script(axe.axe_script)
    tab = Tab(page=context.new_page(), server=source.server)
    set_language(tab, language)
    portal = urlsplit(tab.server.base_url).netloc

    def watch(request: Request) -> None:
        if urlsplit(request.url).netloc != portal:
            tab.third_party.append(request.url)

    tab.page.on("request", watch)
    tab.page.on("console", tab.on_console)
    tab.page.on("pageerror", tab.on_page_error)
    return tab


def look_at(tab: Tab, who: str, language: str, visit: Visit, result: Sweep) -> None:
    """One page: its answer and language, a picture, axe, its targets, its reflow, the console."""
    page = tab.page
    where = f"{who}, {language}, {visit.route} ({visit.path})"
    url = tab.server.url(visit.path)
    if visit.status >= 400:
        tab.failing_urls.add(url)
    response = page.goto(url)
    result.checked += 1
    status = response.status if response else 0
    kind = response.headers.get("content-type", "") if response else ""
    if status != visit.status or not kind.startswith("text/html"):
        result.problems["page"].append(f"{where}: {status} {kind}, not {visit.status} text/html")
        return
    if urlsplit(page.url).path != visit.path:
        result.problems["page"].append(f"{where}: sent on to {page.url}")
        return
    if page.evaluate("() => document.documentElement.lang") != language:
        result.problems["page"].append(f"{where}: not in {language}")
    if language == "fr" and visit.route not in result.shot:
        # One picture of each page, to look at; the journeys take many more.
        result.shot.add(visit.route)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^a-z0-9]+", "-", f"{visit.route} {who}".lower())
        page.screenshot(path=SCREENSHOTS / f"page-{name}.png", full_page=True)
    violations = page.evaluate("options => axe.run(document, options)", AXE_OPTIONS)["violations"]
    if violations:
        result.problems["axe"].append(f"{where}:\n{describe_violations(violations)}")
    if who in SUBJECT_SIDE:
        result.problems["targets"] += [f"{where}: {found}" for found in small_targets(page)]
    page.set_viewport_size(ZOOMED)
    result.problems["reflow"] += [f"{where}: {found}" for found in reflow_problems(page)]
    page.set_viewport_size(VIEWPORT)
    result.problems["page"] += [f"{where}: {problem}" for problem in tab.problems()]
    tab.errors.clear()
    tab.third_party.clear()


def report(problems: list[str]) -> str:
    return f"{len(problems)} found:\n" + "\n".join(problems)


def test_every_page_of_the_route_table_is_visited(everyone: Everyone) -> None:
    """Each route that answers GET is visited by every role that may open it, or is no page."""
    routes = [route for route in everyone.routes if "GET" in (route.methods or set())]
    unclassified = sorted(route.name for route in routes if route.name not in ACCESS)
    assert unclassified == [], f"classify these routes in the access matrix: {unclassified}"
    visited = {
        (visit.route, role)
        for who, visits in everyone.pages.items()
        for visit in visits
        for role in VISITORS[who]
    }
    missing = [
        f"{route.name} as {role}"
        for route in routes
        if route.name not in NOT_PAGES
        for role in sorted(roles_of(ACCESS[route.name]))
        if (route.name, role) not in visited
    ]
    assert missing == [], "pages no test opens here: " + ", ".join(missing)

    # What is set aside really is no page.
    for name, path in not_pages(everyone.world, everyone.app).items():
        tab = everyone.tabs[NOT_PAGES[name]]
        if name == "live.news":
            space = tab.page.context.request.get(tab.server.url("/espace")).text()
            shown = re.search(r'id="news-count" hx-get="[^"?]+\?vu=(\d+)"', space)
            assert shown, "the header's count does not ask for news"
            path += f"?vu={shown.group(1)}"
        response = tab.page.context.request.get(tab.server.url(path))
        kind = response.headers.get("content-type", "")
        assert response.ok, f"{name} ({path}) answered {response.status}"
        assert not kind.startswith("text/html"), f"{name} ({path}) is a page: visit it"


def test_axe_finds_nothing_on_any_page_in_any_language(
    sweep: Sweep, record_property: Callable[[str, object], None]
) -> None:
    roles = len({who for who, _path in sweep.pages})
    summary = (
        f"{sweep.checked} combinations of page, language and role checked "
        f"({len(sweep.pages)} pages of {roles} visitors x {len(LANGUAGES)} languages) "
        f"in {sweep.seconds:.1f} s"
    )
    print(f"\naccessibility: {summary}")
    record_property("accessibility", summary)
    assert not sweep.problems["page"], report(sweep.problems["page"])
    assert not sweep.problems["axe"], report(sweep.problems["axe"])


def test_targets_on_the_subjects_pages_are_44_px(sweep: Sweep) -> None:
    assert not sweep.problems["targets"], report(sweep.problems["targets"])


def test_every_page_reflows_at_320_px(sweep: Sweep) -> None:
    assert not sweep.problems["reflow"], report(sweep.problems["reflow"])


# --- By keyboard alone ---------------------------------------------------------------------------


def reach(page: Page, locator: Locator) -> None:
    """Tab (or Shift+Tab, if it comes before what has the focus) until ``locator`` has it."""
    before: bool = locator.evaluate(
        "element => !!(document.activeElement && document.activeElement !== document.body"
        " && element.compareDocumentPosition(document.activeElement)"
        " & Node.DOCUMENT_POSITION_FOLLOWING)"
    )
    press_until_focused(page, locator, key="Shift+Tab" if before else "Tab", limit=80)


def activate(page: Page, locator: Locator) -> None:
    reach(page, locator)
    page.keyboard.press("Enter")


def type_into(page: Page, locator: Locator, text: str) -> None:
    reach(page, locator)
    page.keyboard.type(text)


def tick(page: Page, locator: Locator) -> None:
    reach(page, locator)
    page.keyboard.press("Space")
    expect(locator).to_be_checked()


def choose_radio(page: Page, name: str, value: str) -> None:
    """Tab into a group of radio buttons, then choose with the arrows."""
    group = page.locator(f"input[type=radio][name={name}]")
    wanted = page.locator(f"input[type=radio][name={name}][value='{value}']")
    checked = page.locator(f"input[type=radio][name={name}]:checked")
    reach(page, checked if checked.count() else group.first)
    for _ in range(group.count()):
        if wanted.is_checked():
            return
        page.keyboard.press("ArrowDown")
    expect(wanted).to_be_checked()


def choose_option(page: Page, select: Locator, value: str) -> None:
    """Tab to a list, then go down it with the arrows until ``value`` is chosen."""
    reach(page, select)
    for _ in range(select.locator("option").count()):
        if select.input_value() == value:
            return
        page.keyboard.press("ArrowDown")
    expect(select).to_have_value(value)


def sign_in_with_the_keyboard(tab: Tab, staff: Staff) -> None:
    """Name, password, Enter; then the code of the app, Enter."""
    page = tab.page
    tab.go("/connexion")
    type_into(page, page.locator("#f-login"), staff.login)
    type_into(page, page.locator("#f-password"), STAFF_PASSWORD)
    page.keyboard.press("Enter")
    wait_for_path(page, "/connexion/code")
    type_into(page, page.locator("#f-code"), staff.code())
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: not url.endswith("/connexion/code"))
    expect(page.locator("form[action$='/deconnexion']")).to_have_count(1)


def step_row(page: Page, description: str) -> Locator:
    return page.locator("li.row", has_text=description)


def test_parent_asks_agrees_allows_takes_back_and_ends_with_the_keyboard_only(
    everyone: Everyone, open_tab: OpenTab
) -> None:
    world = everyone.world
    story = Story("fr", "keyboard-parent")
    words = story.words
    tab = open_tab("fr")
    page = tab.page
    tab.go("/")
    activate(page, page.locator("main a.button[href$='/demande']"))
    wait_for_path(page, "/demande")

    choose_radio(page, "asker", "relative")
    choose_option(page, page.locator("#f-birth-month"), "9")
    type_into(page, page.locator("#f-birth-year"), "2009")
    activate(page, page.locator("button[name=go][value=next]"))
    step_heading(page, words("Which service?"))
    type_into(page, page.locator("#f-commune"), "Jambes")
    activate(page, page.locator("button[name=go][value=filter]"))
    expect(page.locator("input[name=service]")).to_have_count(1)
    tick(page, page.locator("input[name=service]"))
    activate(page, page.locator("button[name=go][value=next]"))
    step_heading(page, words("What is it about?"))
    tick(page, page.locator("input[name=themes][value=family]"))
    type_into(page, page.locator("#f-words"), "Mon fils ne va plus à l’école depuis un mois.")
    activate(page, page.locator("button[name=go][value=next]"))
    step_heading(page, words.parent("How can we reach you safely?"))
    choose_radio(page, "contact_channel", "portal")
    activate(page, page.locator("button[name=go][value=next]"))
    step_heading(page, words.parent("Send your request"))
    type_into(page, page.locator("#f-display_name"), "Sam K.")
    type_into(page, page.locator("#f-login"), new_login())
    activate(page, page.get_by_role("button", name=words("Suggest a passphrase")))
    expect(page.locator(".suggestion .passphrase")).to_be_visible()
    story.look(tab, "passphrase")
    activate(page, page.get_by_role("button", name=words("Send with this password")))
    reference = assert_request_sent(story, tab, parent=True)

    # The worker takes it and proposes a step with the PMS.
    amina = world.staff["amina"]
    take(amina, reference)
    description = "Rencontrer le centre PMS avec ton fils"
    propose(amina, reference, description, world.partner_ids[PMS])

    activate(page, page.locator(".account-nav a[href$='/espace']"))
    wait_for_path(page, "/espace")
    activate(page, page.locator(f"main a[href$='/espace/{reference}']"))
    wait_for_path(page, f"/espace/{reference}")
    proposal = page.locator("#actions .proposal", has_text=description)
    activate(page, proposal.get_by_role("link", name=words("I agree"), exact=True))
    wait_for_path(page, rf"/espace/{reference}/demarches/\d+/oui")
    activate(page, page.get_by_role("button", name=words("Yes, I agree")))
    wait_for_path(page, f"/espace/{reference}")
    expect(step_row(page, description).locator(".tag-agreed")).to_have_text(words("agreed"))

    said = "Merci. Mercredi après-midi, c’est possible pour moi."
    type_into(page, page.locator("#f-body"), said)
    activate(page, page.locator("#messages button[type=submit]"))
    expect(page.locator("#messages .thread")).to_contain_text(said)
    story.look(tab, "dossier")

    activate(page, page.get_by_role("link", name=words("Who sees what: other services")))
    wait_for_path(page, f"/espace/{reference}/partenaires")
    group = page.locator("section.card", has_text=PMS)
    activate(page, group.get_by_role("link", name=words("Allow something")))
    wait_for_path(page, rf"/espace/{reference}/partenaires/\d+/accord")
    tick(page, page.locator("input[name=categories][value=request]"))
    choose_radio(page, "duration", "1_month")
    type_into(page, page.locator("#f-purpose"), "Pour préparer la rencontre.")
    activate(page, page.get_by_role("button", name=words("Continue")))
    expect(page.get_by_role("heading", name=words("Check before you agree"))).to_be_visible()
    activate(page, page.get_by_role("button", name=words("Yes, I agree")))
    wait_for_path(page, rf"/espace/{reference}/consentements/\d+")
    expect(page.locator(".status-line")).to_have_text(words("Active"))
    story.look(tab, "receipt")

    activate(page, page.locator("main .actions").get_by_role("link", name=words("Take it back")))
    wait_for_path(page, rf"/espace/{reference}/consentements/\d+/retirer")
    activate(page, page.get_by_role("button", name=words("Yes, take it back")))
    wait_for_path(page, rf"/espace/{reference}/consentements/\d+")
    expect(page.locator(".status-line")).to_have_text(words("Taken back"))

    activate(page, page.locator(".account-nav a[href$='/espace']"))
    activate(page, page.locator(f"main a[href$='/espace/{reference}']"))
    wait_for_path(page, f"/espace/{reference}")
    activate(page, page.get_by_role("link", name=words("End the help")))
    wait_for_path(page, f"/espace/{reference}/arreter")
    activate(page, page.get_by_role("button", name=words("Yes, end the help")))
    wait_for_path(page, f"/espace/{reference}/fin")
    expect(page.locator("h1")).to_have_text(words("The help has ended"))
    story.look(tab, "ended")
    tab.assert_no_problems()
    story.assert_translated()


def test_worker_signs_in_takes_proposes_and_shares_with_the_keyboard_only(
    everyone: Everyone, open_tab: OpenTab
) -> None:
    world = everyone.world
    story = Story("fr", "keyboard-worker")
    words = story.words
    young = Visitor(open_tab("fr"))
    reference = ask(young, "youth", "Inès", "Je voudrais changer d’école.", login=unique("a11y-kb"))

    tab = open_tab("fr")
    page = tab.page
    sign_in_with_the_keyboard(tab, world.staff["tom"])
    wait_for_path(page, "/travail")
    card = page.locator("li.card", has_text=reference)
    activate(page, card.get_by_role("button", name=words("I take it")))
    wait_for_path(page, f"/travail/dossiers/{reference}")

    said = "Bonjour Inès, je suis Tom. On en parle jeudi ?"
    type_into(page, page.locator("#f-body"), said)
    activate(page, page.locator("#messages button[type=submit]"))
    expect(page.locator("#messages .thread")).to_contain_text(said)

    form = page.locator("#propose-step form")
    description = "Demander au centre PMS comment changer d’école"
    activate(page, page.locator("#propose-step > summary"))
    choose_option(page, form.locator("#f-kind"), "partner_contact")
    type_into(page, form.locator("#f-description"), description)
    tick(page, form.get_by_label(PMS))
    type_into(page, form.locator("#f-third_party"), "Le centre PMS")
    activate(page, form.locator("button[type=submit]"))
    row = step_row(page, description)
    expect(row.locator(".tag-proposed")).to_have_text(words("waiting for an answer"))
    story.look(tab, "proposed")

    # Inès agrees, and allows the PMS to receive her request.
    answer = re.search(r"/demarches/(\d+)/oui", young.get(f"/espace/{reference}").text())
    assert answer, "Inès sees no proposal"
    young.post(f"/espace/{reference}/demarches/{answer.group(1)}/oui", [("reason", "")])
    grant(Subject(young, "", "Inès"), reference, world.partner_ids[PMS], "Pour changer d’école.")

    activate(page, page.locator(".crumbs a"))
    wait_for_path(page, "/travail")
    activate(page, page.locator(f"#inbox a[href$='/travail/dossiers/{reference}']"))
    wait_for_path(page, f"/travail/dossiers/{reference}")
    activate(page, step_row(page, description).get_by_role("button", name=words("Mark done")))
    expect(step_row(page, description).locator(".tag-done")).to_have_text(words("done"))

    activate(page, page.get_by_role("link", name=words("Share with a partner")))
    wait_for_path(page, f"/travail/dossiers/{reference}/partager")
    choose_option(page, page.locator("#f-partner"), str(world.partner_ids[PMS]))
    tick(page, page.locator("input[name=categories][value=request]"))
    activate(page, page.get_by_role("button", name=words("Share"), exact=True))
    wait_for_path(page, rf"/travail/dossiers/{reference}/partages/\d+")
    expect(page.locator("h1")).to_have_text(words("Shared with %(name)s", name=PMS))
    story.look(tab, "shared")
    activate(page, page.get_by_role("link", name=words("Back to the dossier")))
    wait_for_path(page, f"/travail/dossiers/{reference}")
    expect(page.locator("#timeline")).to_contain_text(PMS)
    tab.assert_no_problems()
    story.assert_translated()


def test_partner_signs_in_and_reads_a_share_with_the_keyboard_only(
    everyone: Everyone, open_tab: OpenTab
) -> None:
    story = Story("fr", "keyboard-partner")
    words = story.words
    tab = open_tab("fr")
    page = tab.page
    sign_in_with_the_keyboard(tab, everyone.world.staff["zoe"])
    wait_for_path(page, "/partenaire")
    story.look(tab, "inbox")
    activate(page, page.locator("main ul.plain li.row a").first)
    wait_for_path(page, r"/partenaire/partages/\d+")
    expect(page.locator(".body")).not_to_be_empty()
    story.look(tab, "share")
    activate(page, page.locator(".crumbs a"))
    wait_for_path(page, "/partenaire")
    activate(page, page.locator(".account-nav").get_by_role("button", name=words("Sign out")))
    wait_for_path(page, "/au-revoir")
    tab.assert_no_problems()
    story.assert_translated()


def admin_journey(story: Story, tab: Tab, partners: dict[str, int]) -> None:
    """Invite a worker, read the figures; by keyboard."""
    words = story.words
    page = tab.page
    tab.go("/admin/personnes")
    choose_option(page, page.locator("#f-role"), "worker")
    type_into(page, page.locator("#f-display_name"), "Léa")
    type_into(page, page.locator("#f-email"), f"lea-{secrets.token_hex(3)}@amo-demo.be")
    activate(page, page.get_by_role("button", name=words("Send the invitation"), exact=True))
    expect(page.locator("#outcome")).to_contain_text("@amo-demo.be")
    story.look(tab, "invited")

    activate(page, page.locator(".account-nav a[href$='/admin/chiffres']"))
    wait_for_path(page, "/admin/chiffres")
    activate(page, page.get_by_role("button", name=words("Show these months")))
    expect(page.locator("#summary-title")).to_be_visible()
    story.look(tab, "figures")


def operator_journey(story: Story, tab: Tab) -> None:
    """Change a partner of the directory and read its history; by keyboard."""
    words = story.words
    page = tab.page
    tab.go("/operateur")
    story.look(tab, "services")
    activate(page, page.locator(".account-nav a[href$='/operateur/partenaires']"))
    wait_for_path(page, "/operateur/partenaires")
    activate(page, page.locator("li.row", has_text=PMS).get_by_role("link"))
    wait_for_path(page, r"/operateur/partenaires/\d+")
    contact = page.locator("#f-contact")
    reach(page, contact)
    page.keyboard.press("End")
    page.keyboard.type(" (secrétariat)")
    story.look(tab, "partner")
    activate(page, page.get_by_role("button", name=words("Save")))
    wait_for_path(page, "/operateur/partenaires")
    expect(page.locator("li.row", has_text=PMS)).to_be_visible()
    activate(page, page.locator("li.row", has_text=PMS).get_by_role("link"))
    wait_for_path(page, r"/operateur/partenaires/\d+")
    expect(page.locator("#history-title")).to_be_visible()
    story.look(tab, "history")


def test_admin_invites_and_keeps_the_directory_with_the_keyboard_only(
    everyone: Everyone, open_tab: OpenTab
) -> None:
    story = Story("fr", "keyboard-admin")
    tab = open_tab("fr")
    sign_in_with_the_keyboard(tab, everyone.world.staff["claire"])
    admin_journey(story, tab, everyone.world.partner_ids)
    tab.assert_no_problems()
    operator = signed_in_copy(open_tab, everyone.world.operator.tab)
    operator_journey(story, operator)
    operator.assert_no_problems()
    story.assert_translated()


# --- At 200 % zoom, 320 CSS px wide --------------------------------------------------------------


def signed_in_copy(open_: OpenTab, source: Tab) -> Tab:
    """A zoomed tab in the same session as ``source``: no second sign-in, no second code."""
    tab = open_("fr")
    tab.page.context.add_cookies(source.page.context.cookies())  # type: ignore[arg-type]
    return tab


@pytest.fixture
def open_zoomed(browser: Browser, live_server: LiveServer) -> Iterator[OpenTab]:
    """Tabs 320 CSS px wide at two device pixels each: a 640 px window zoomed to 200 %."""
    with tab_opener(browser, live_server, viewport=ZOOMED, scale=ZOOM) as open_:
        yield open_


def zoomed_desk(open_: OpenTab, everyone: Everyone, *, lou: bool = False) -> Desk:
    """A desk for test_journeys.py whose Amina, Tom and CPAS are this module's own staff.

    Their sessions are copied into zoomed tabs: no second sign-in, so no demo account's code
    is used here. With ``lou``, Lou is a young person of this module whose only request waits
    in the inbox, in the words the consent journey expects the CPAS to read; without, the demo's
    Lou signs in with her password when a journey needs her.
    """
    desk = Desk(open_)
    staff = everyone.world.staff
    for login, key in (
        ("amina@lepassage.example", "amina"),
        ("tom@lepassage.example", "tom"),
        ("julie@cpas-namur.example", "julie"),
    ):
        desk.tabs[login] = signed_in_copy(open_, staff[key].visitor.tab)
    if lou:
        desk.tabs["lou"] = open_("fr")
        ask(Visitor(desk.tabs["lou"]), "youth", "Lou", LOU_REQUEST, login=unique("a11y-lou"))
    return desk


ZOOMED_JOURNEYS: dict[str, Callable[[OpenTab, Everyone], None]] = {
    "young person with a passkey (nl)": lambda open_, everyone: (
        journeys.test_young_person_asks_with_a_passkey_and_agrees_to_a_step(
            open_, zoomed_desk(open_, everyone), "nl"
        )
    ),
    "parent with a password": lambda open_, everyone: (
        journeys.test_parent_asks_with_a_password_and_cannot_open_the_young_persons_dossier(
            open_, zoomed_desk(open_, everyone)
        )
    ),
    "worker and partner: consent granted, used, taken back": lambda open_, everyone: (
        journeys.test_consent_is_granted_used_by_the_partner_and_taken_back(
            zoomed_desk(open_, everyone, lou=True)
        )
    ),
    "young person ends and erases": lambda open_, _: (
        journeys.test_young_person_ends_the_help_takes_her_words_and_erases_them(open_)
    ),
    "admin": lambda open_, everyone: admin_journey(
        Story("fr", "admin"),
        signed_in_copy(open_, everyone.world.admin.tab),
        everyone.world.partner_ids,
    ),
    "operator": lambda open_, everyone: operator_journey(
        Story("fr", "operator"), signed_in_copy(open_, everyone.world.operator.tab)
    ),
}


@pytest.mark.parametrize("journey", ZOOMED_JOURNEYS)
def test_journey_at_200_percent_on_320_px(
    journey: str, open_zoomed: OpenTab, everyone: Everyone
) -> None:
    """The journeys of test_journeys.py, and the admin's, at 200 %.

    ``Story.look`` checks each page at this size: axe, no sideways scrolling, nothing cut off or
    past the screen's edge.
    """
    ZOOMED_JOURNEYS[journey](open_zoomed, everyone)
