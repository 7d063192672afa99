"""A portal with something on every page, built through the live server's own forms.

The accessibility tests look at pages full of data: a dossier with messages, steps, agreements,
shares and its journal; staff with an inbox, a team, partners. Everything here is made the way
people make it (requests, invitations, forms posted with their CSRF token), but by HTTP from
each person's browser context rather than by clicking, so that it takes seconds.

Staff are invited by the demo admin and have TOTP secrets of their own: no demo account but the
admin signs in here, so no other test module finds a demo code already used. An invitation is
confirmed with the previous window's code (the server accepts it), which leaves the current
window's code free for a sign-in by the keyboard later in the same half-minute.
"""

from __future__ import annotations

import html
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from urllib.parse import urlencode, urlsplit

import pyotp
from playwright.sync_api import APIResponse, BrowserContext

from portal.i18n import BRUSSELS
from tests import files
from tests.browser.conftest import LiveServer, OpenTab, Tab
from tests.browser.journeys_helpers import TOTP_SECONDS, sign_in_staff
from tests.helpers import CSRF_RE

STAFF_PASSWORD = "un phare vert sur la digue"
SUBJECT_PASSWORD = "sept mouettes sur le quai de Namur"
PMS = "Centre PMS de Namur (démo)"
PLANNING = "Planning familial Le Phare (démo)"
CPAS = "CPAS de Namur (démo)"
# What the young person of the consent journey wrote (tests/browser/test_journeys.py: LOU_WORDS).
LOU_REQUEST = "Ça ne va plus trop à l'école depuis la rentrée, et j'aimerais en parler."


def unique(prefix: str) -> str:
    """A sign-in name nobody on this server has taken yet."""
    return f"{prefix}-{secrets.token_hex(3)}"


@dataclass
class Visitor:
    """One browser tab of its own: someone not signed in, or one signed-in person."""

    tab: Tab

    @property
    def context(self) -> BrowserContext:
        return self.tab.page.context

    @property
    def server(self) -> LiveServer:
        return self.tab.server

    def get(self, path: str) -> APIResponse:
        response = self.context.request.get(self.server.url(path))
        assert response.ok, f"GET {path} answered {response.status}"
        return response

    def token(self) -> str:
        found = CSRF_RE.search(self.get("/").text())
        assert found, "no CSRF token on the home page"
        return found.group(1)

    def post(self, path: str, fields: list[tuple[str, str]] | None = None) -> APIResponse:
        """Post a form as its page would (redirects followed); fail on a refusal."""
        body = urlencode([("csrf_token", self.token()), *(fields or [])])
        response = self.context.request.post(
            self.server.url(path),
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.ok, f"POST {path} answered {response.status}:\n{response.text()[:2000]}"
        return response

    def post_file(
        self, path: str, fields: list[tuple[str, str]], name: str, content: bytes, kind: str
    ) -> APIResponse:
        """Post a form with a file, as its page would (redirects followed)."""
        response = self.context.request.post(
            self.server.url(path),
            multipart={
                "csrf_token": self.token(),
                **dict(fields),
                "file": {"name": name, "mimeType": kind, "buffer": content},
            },
        )
        assert response.ok, f"POST {path} answered {response.status}:\n{response.text()[:2000]}"
        return response

    def path(self, response: APIResponse) -> str:
        """Where a posted form led, after its redirects."""
        return urlsplit(response.url).path


@dataclass
class Staff:
    visitor: Visitor
    login: str
    name: str
    secret: str

    def code(self) -> str:
        return pyotp.TOTP(self.secret).now()


@dataclass
class Subject:
    """A young person or a parent: an open dossier with everything in it, and an ended one."""

    visitor: Visitor
    login: str
    name: str
    open_reference: str = ""
    ended_reference: str = ""
    pending_action: int = 0
    # A step agreed to, not done: it can be taken back.
    agreed_action: int = 0
    consent: int = 0
    # What the worker shared, and the confirmation she read after.
    share: int = 0
    # A meeting proposed, waiting for her answer.
    appointment: int = 0
    document: int = 0


@dataclass
class World:
    """Everyone the accessibility tests sign in as, and what their pages show."""

    admin: Visitor
    operator: Visitor
    partner_ids: dict[str, int]
    service_id: int
    staff: dict[str, Staff] = field(default_factory=dict)
    subjects: dict[str, Subject] = field(default_factory=dict)
    invitation_token: str = ""
    # A worker the admin could let go: the hand-over page is about them.
    leaver_id: int = 0
    recovery_token: str = ""
    share_id: int = 0


def _one(pattern: str, text: str, what: str) -> str:
    found = re.search(pattern, text)
    assert found, f"{what} not found"
    return html.unescape(found.group(1))


def partner_ids(operator: Visitor) -> dict[str, int]:
    """The directory's partners by name, from the links of the operator's directory page."""
    page = operator.get("/operateur/partenaires").text()
    rows = re.findall(r'<strong>([^<]+)</strong>[^\n]*?/operateur/partenaires/(\d+)"', page)
    return {html.unescape(name): int(value) for name, value in rows}


def _last_link(server: LiveServer) -> str:
    """The link of the invitation e-mail the server wrote last (development: var/outbox)."""
    mails = sorted(server.outbox.glob("*.eml"))
    assert mails, "no invitation e-mail was written"
    message = message_from_bytes(mails[-1].read_bytes(), policy=email_policy.default)
    body = message.get_body(("plain",))
    assert body is not None
    return _one(r"/invitation/([A-Za-z0-9_-]{43})", body.get_content(), "the invitation link")


def invite(admin: Visitor, role: str, name: str, email: str) -> str:
    """The admin invites a worker or an admin; returns the token of the link e-mailed to them."""
    page = admin.post(
        "/admin/personnes/inviter", [("role", role), ("display_name", name), ("email", email)]
    ).text()
    token = _last_link(admin.server)
    assert token not in page, "the inviter's page shows the link"
    return token


def invite_from_operator(operator: Visitor, name: str, email: str, partner: int) -> str:
    """The operator invites a partner user; returns the token of the link e-mailed to them."""
    page = operator.post(
        "/operateur/personnes/inviter",
        [("role", "partner"), ("display_name", name), ("email", email), ("partner", str(partner))],
    ).text()
    token = _last_link(operator.server)
    assert token not in page, "the operator's page shows the link"
    return token


def invite_partner_user(server: LiveServer, name: str, email: str, partner: int) -> str:
    """A partner user, invited from the server's shell (as an installation without SMTP does)."""
    command = [sys.executable, "-m", "portal", "invite-staff", email, "--role", "partner"]
    result = subprocess.run(
        [*command, "--partner", str(partner), "--name", name],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return _one(r"/invitation/([A-Za-z0-9_-]{43})", result.stdout, "the printed link")


def accept(visitor: Visitor, token: str, login: str, name: str) -> Staff:
    """Choose a password, add the authenticator app, confirm with a code: signed in."""
    visitor.get(f"/invitation/{token}")
    page = visitor.post(f"/invitation/{token}", [("password", STAFF_PASSWORD)]).text()
    secret = _one(r'<code class="secret">([A-Z2-7 ]+)</code>', page, "the TOTP key").replace(
        " ", ""
    )
    # The code of the window before: the sign-ins that follow use the current one, and a code
    # is never taken twice nor after a later one. Not in a window's last seconds, though: by
    # the time the server checks it, that code could be two windows old.
    left = TOTP_SECONDS - time.time() % TOTP_SECONDS
    if left < 3:
        time.sleep(left + 0.1)
    earlier = pyotp.TOTP(secret).at(time.time() - TOTP_SECONDS)
    landed = visitor.post(f"/invitation/{token}/code", [("code", earlier)])
    assert visitor.path(landed) != f"/invitation/{token}", f"{login}: the code was refused"
    return Staff(visitor, login, name, secret)


def ask(visitor: Visitor, asker: str, name: str, words: str, login: str = "") -> str:
    """A request sent from the form's last step (every step is checked again); its reference.

    With ``login``, the account is made on the way; without, the visitor is signed in already.
    """
    fields = [
        ("step", "account"),
        ("asker", asker),
        ("birth_month", "4"),
        ("birth_year", "2010"),
        ("themes", "school"),
        ("themes", "family"),
        ("words", words),
        ("contact_channel", "portal"),
    ]
    # Two services in the demo: the one of Namur, found by its commune as the form does.
    choice = visitor.post(
        "/demande", [("step", "service"), ("go", "filter"), ("commune", "Namur"), *fields[1:4]]
    ).text()
    fields.append(("service", _one(r'name="service" value="(\d+)"', choice, "Namur's service")))
    if login:
        fields += [
            ("display_name", name),
            ("language", "fr"),
            ("login", login),
            ("password", SUBJECT_PASSWORD),
            ("go", "password"),
        ]
    landed = visitor.path(visitor.post("/demande", fields))
    found = re.fullmatch(r"/espace/([A-Z0-9-]+)/envoye", landed)
    assert found, f"the request did not end on its receipt page: {landed}"
    return found.group(1)


def take(worker: Staff, reference: str) -> None:
    inbox = worker.visitor.get("/travail").text()
    card = next(chunk for chunk in inbox.split('<li class="card') if reference in chunk)
    dossier_id = _one(r"/travail/demandes/(\d+)/prendre", card, f"the take button of {reference}")
    worker.visitor.post(f"/travail/demandes/{dossier_id}/prendre")


def propose(worker: Staff, reference: str, description: str, partner: int) -> int:
    """A step with a partner, proposed; returns its id."""
    page = worker.visitor.post(
        f"/travail/dossiers/{reference}/demarches",
        [
            ("mode", "propose"),
            ("kind", "partner_contact"),
            ("description", description),
            ("partners", str(partner)),
            ("third_party", "Madame Martin"),
        ],
    ).text()
    ids = re.findall(rf"/travail/dossiers/{reference}/demarches/(\d+)/annuler", page)
    assert ids, "the proposed step has no cancel button"
    return max(int(found) for found in ids)


def grant(subject: Subject, reference: str, partner: int, purpose: str, *categories: str) -> int:
    """Choose, check, agree; returns the consent's id (from its receipt's address)."""
    path = f"/espace/{reference}/partenaires/{partner}/accord"
    kinds = [("categories", kind) for kind in categories or ("request",)]
    fields = [*kinds, ("duration", "3_months"), ("purpose", purpose)]
    subject.visitor.post(path, fields)
    landed = subject.visitor.path(subject.visitor.post(path, [*fields, ("step", "confirm")]))
    return int(_one(r"/consentements/(\d+)$", landed, "the receipt's address"))


def build_subject(world: World, visitor: Visitor, asker: str, name: str) -> Subject:
    """Two dossiers: one ended, one open with messages, steps, agreements and a share."""
    amina = world.staff["amina"]
    pms, other = world.partner_ids[PMS], world.partner_ids[PLANNING]
    login = unique("a11y-" + asker)
    subject = Subject(visitor, login, name)
    said = {
        "youth": "Je rate souvent l’école le lundi et je n’ose pas le dire à mes parents.",
        "relative": "Ma fille ne me parle plus depuis des semaines, je ne sais plus quoi faire.",
    }[asker]
    subject.ended_reference = ask(visitor, asker, name, said, login=login)
    visitor.post(f"/espace/{subject.ended_reference}/arreter", [("reason", "")])

    reference = subject.open_reference = ask(visitor, asker, name, said)
    take(amina, reference)
    staff_side = amina.visitor
    staff_side.post(
        f"/travail/dossiers/{reference}/messages",
        [("body", "Bonjour, je m’appelle Amina. On peut se voir mercredi après l’école ?")],
    )
    visitor.post(f"/espace/{reference}/messages", [("body", "Oui, mercredi ça me va.")])
    staff_side.post(
        f"/travail/dossiers/{reference}/demarches",
        [("mode", "record"), ("kind", "listening"), ("description", "Premier entretien")],
    )
    agreed = propose(amina, reference, "Contacter le centre PMS pour l’orientation", pms)
    visitor.post(f"/espace/{reference}/demarches/{agreed}/oui", [("reason", "")])
    subject.agreed_action = agreed

    # An agreement taken back (an earlier one, on the page), and one active, used once.
    earlier = grant(subject, reference, other, "Pour préparer le rendez-vous.")
    visitor.post(f"/espace/{reference}/consentements/{earlier}/retirer")
    # A photo of a school letter, added by her, shared with the centre under her agreement.
    added = visitor.post_file(
        f"/espace/{reference}/documents",
        [("body", "La lettre de l’école.")],
        "lettre.png",
        files.png(),
        "image/png",
    ).text()
    subject.document = int(
        _one(rf"/espace/{reference}/documents/(\d+)", added, "the document's link")
    )
    subject.consent = grant(
        subject, reference, pms, "Pour que le centre PMS comprenne.", "request", "documents"
    )
    # Proposed after the agreement was taken back, which cancels the steps it concerned.
    subject.pending_action = propose(amina, reference, "Rencontrer l’éducatrice ensemble", other)
    shared = staff_side.post(
        f"/travail/dossiers/{reference}/partager",
        [
            ("partner", str(pms)),
            ("categories", "request"),
            ("categories", "documents"),
            ("documents", str(subject.document)),
        ],
    )
    subject.share = int(_one(r"/partages/(\d+)$", staff_side.path(shared), "the confirmation"))
    soon = (datetime.now(BRUSSELS) + timedelta(days=3)).date().isoformat()
    meeting = staff_side.post(
        f"/travail/dossiers/{reference}/rendez-vous",
        [("day", soon), ("hour", "14:00"), ("minutes", "60"), ("place_kind", "amo")],
    ).text()
    subject.appointment = int(
        _one(rf"/travail/dossiers/{reference}/rendez-vous/(\d+)/annuler", meeting, "a meeting")
    )
    world.subjects[asker] = subject
    return subject


def build(open_tab: OpenTab) -> World:
    """The demo admin invites the staff; a young person and a parent fill their dossiers."""

    def visitor() -> Visitor:
        return Visitor(open_tab("fr"))

    admin = visitor()
    sign_in_staff(admin.tab, "claire@lepassage.example")
    operator = visitor()
    sign_in_staff(operator.tab, "operateur@portail.example")
    ids = partner_ids(operator)
    services = operator.get("/operateur").text()
    service_id = int(_one(r"/operateur/services/(\d+)\"", services, "a service"))
    world = World(admin=admin, operator=operator, partner_ids=ids, service_id=service_id)
    people = [
        ("amina", "worker", "Amina", None),
        ("tom", "worker", "Tom", None),
        ("zoe", "partner", "Zoé", ids[PMS]),
        ("julie", "partner", "Julie", ids[CPAS]),
        ("claire", "admin", "Claire", None),
    ]
    for key, role, name, partner in people:
        # Staff sign in with their work address, which the invitation was sent to.
        email = f"{unique(f'a11y-{key}')}@amo-demo.be"
        if partner is None:
            token = invite(admin, role, name, email)
        elif key == "zoe":
            token = invite_from_operator(operator, name, email, partner)
        else:
            # An installation without e-mail: the server's keeper prints the link.
            token = invite_partner_user(admin.server, name, email, partner)
        world.staff[key] = accept(visitor(), token, email, name)
    # An invitation nobody has accepted yet, for its page.
    world.invitation_token = invite(admin, "worker", "Noé", f"{unique('noe')}@amo-demo.be")
    staff_page = admin.get("/admin/personnes").text()
    row = next(
        chunk for chunk in staff_page.split('<li class="row">') if "<strong>Tom</strong>" in chunk
    )
    world.leaver_id = int(_one(r"/admin/personnes/(\d+)/depart", row, "Tom's hand-over link"))

    build_subject(world, visitor(), "youth", "Lina")
    build_subject(world, visitor(), "relative", "Sam")
    youth = world.subjects["youth"]
    page = world.staff["amina"].visitor.post(
        f"/travail/dossiers/{youth.open_reference}/lien-de-secours"
    )
    world.recovery_token = _one(r"/secours/([A-Za-z0-9_-]+)</code>", page.text(), "the link")
    # The parent gets one too: both have a recovery-link notice to see.
    world.staff["amina"].visitor.post(
        f"/travail/dossiers/{world.subjects['relative'].open_reference}/lien-de-secours"
    )
    inbox = world.staff["zoe"].visitor.get("/partenaire").text()
    world.share_id = int(_one(r"/partenaire/partages/(\d+)", inbox, "a share"))
    return world
