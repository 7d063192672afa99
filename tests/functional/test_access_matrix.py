"""Every route of the app against every role, built from the app's own route table.

A route nobody classified fails this test, so a new route is covered the day it is added.
Refused calls must change nothing in the database (a refused look at a dossier is journaled,
by design: that entry is the only trace allowed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.routing import Route
from tortoise import timezone

from portal.domain import appointments as appointment_rules
from portal.domain import consent as consent_rules
from portal.domain import documents
from portal.domain.actions import propose_action
from portal.domain.dossiers import take
from portal.domain.requests import RequestForm, make_request
from portal.models import (
    Action,
    ActionKind,
    Appointment,
    Asker,
    ClosingPeriod,
    Concertation,
    ConcertationMember,
    Consent,
    Credential,
    Document,
    Dossier,
    JournalEntry,
    Message,
    OneTimeLink,
    Partner,
    Person,
    PlaceKind,
    PushSubscription,
    RecoveryCode,
    Request,
    RequestDraft,
    Role,
    Service,
    Session,
    Share,
    Theme,
)
from tests import factories, files
from tests.helpers import csrf_token

ROLES = (
    "anonymous",
    "subject",
    "other_subject",
    "parent",
    "worker",
    "other_worker",
    "partner",
    "other_partner",
    "admin",
    # The second service's staff, and the installation's operator.
    "far_admin",
    "far_worker",
    "operator",
)
SUBJECTS = {"subject", "other_subject", "parent"}
WORKERS = {"worker", "other_worker", "far_worker"}
PARTNERS = {"partner", "other_partner"}
ADMINS = {"admin", "far_admin"}
# What the young person wrote in the world's dossier: nobody else may ever get it in a page,
# but her worker, and the partner she allowed to receive her request.
SECRET = "Secret de Lou"
MAY_SEE_SECRET = {"subject", "worker", "partner"}


@dataclass
class Rule:
    """Who gets what on GET; POST by anyone else is refused and changes nothing."""

    allowed: set[str]
    ok: int = 200
    # What the allowed get when it is not 200 for a reason of state (an open dossier's "ended").
    special: dict[str, int] | None = None
    # Pages anyone may load (forms), but only some may post to.
    public_get: bool = False


OWNER = {"subject"}
ANY_SUBJECT = SUBJECTS
ANY_WORKER = WORKERS
SIGNED_IN = set(ROLES) - {"anonymous"}
EVERYONE = set(ROLES)

# The classification of every route; a route missing here makes the test fail.
ACCESS: dict[str, Rule] = {
    "home": Rule(EVERYONE),
    "rights": Rule(EVERYONE),
    "data": Rule(EVERYONE),
    "urgent": Rule(EVERYONE),
    "phone_safety": Rule(EVERYONE),
    "signed_out": Rule(EVERYONE),
    "healthz": Rule(EVERYONE),
    "jwks": Rule(EVERYONE),
    "readyz": Rule(EVERYONE),
    "static": Rule(EVERYONE),
    "language": Rule(EVERYONE, public_get=True),
    # The public check of a receipt or a journal: anyone, signed in or not; nothing kept.
    "proof.check": Rule(EVERYONE, public_get=True),
    "signin": Rule({"anonymous"}, public_get=True),
    "signin.code": Rule(set(), public_get=True),
    "signin.passkey_options": Rule(EVERYONE, public_get=True),
    "signin.passkey": Rule(EVERYONE, public_get=True),
    "signin.recovery": Rule(EVERYONE, public_get=True),
    "signout": Rule(EVERYONE, public_get=True),
    "quick_exit": Rule(EVERYONE, public_get=True),
    "account.new": Rule({"anonymous"}, public_get=True),
    "account.new_passkey_options": Rule(EVERYONE, public_get=True),
    "account.new_passkey": Rule(EVERYONE, public_get=True),
    "account.welcome": Rule(ANY_SUBJECT),
    # Nothing to show (no recovery link made): straight on to one's space.
    "account.recovery_notice": Rule(ANY_SUBJECT, ok=303),
    "account": Rule(SIGNED_IN),
    "account.profile": Rule(SIGNED_IN),
    "account.password": Rule(SIGNED_IN),
    "account.codes": Rule(ANY_SUBJECT),
    "account.passkey_options": Rule(SIGNED_IN),
    "account.passkey": Rule(SIGNED_IN),
    "account.passkey_remove": Rule(SIGNED_IN),
    "account.signout_everywhere": Rule(SIGNED_IN),
    "account.notices": Rule(SIGNED_IN),
    # Web Push: only the people the notices tell (subjects, workers); the service worker's
    # script is the same file for everyone.
    "account.push_subscribe": Rule(SUBJECTS | WORKERS),
    "account.push_unsubscribe": Rule(SUBJECTS | WORKERS),
    "account.push_remove": Rule(SUBJECTS | WORKERS),
    "push.worker": Rule(EVERYONE),
    # A young person's or a parent's own account only; the world's subjects keep theirs (Lou's
    # requests are open: her page says so).
    "account.delete": Rule(ANY_SUBJECT),
    "account.deleted": Rule(EVERYONE),
    "invitation": Rule(set(), public_get=True),
    "invitation.code": Rule(set(), public_get=True),
    "invitation.passkey_options": Rule(set(), public_get=True),
    "invitation.passkey": Rule(set(), public_get=True),
    "recovery_link": Rule(set(), public_get=True),
    # A service's admin: her own service's staff only (the world's staff member is of service 1).
    "admin.staff": Rule({"admin", "far_admin"}),
    "admin.invite": Rule({"admin", "far_admin"}),
    "admin.send_again": Rule({"admin"}),
    "admin.handover": Rule({"admin"}),
    "admin.deactivate": Rule({"admin"}),
    "admin.end_sessions": Rule({"admin"}),
    # Closing days: each admin her own service's (the world's closing is of service 1).
    "admin.closings": Rule({"admin", "far_admin"}),
    "admin.closing_add": Rule({"admin", "far_admin"}),
    "admin.closing_remove": Rule({"admin"}),
    # The operator: admins and partner users (the world's staff member is a worker).
    "operator.staff": Rule({"operator"}),
    "operator.invite": Rule({"operator"}),
    "operator.send_again": Rule({"operator"}),
    "operator.deactivate": Rule({"operator"}),
    "operator.end_sessions": Rule({"operator"}),
    "figures.page": Rule({"admin", "far_admin"}),
    "figures.csv": Rule({"admin", "far_admin"}),
    "request": Rule({"anonymous", *SUBJECTS}, public_get=True),
    "request.count": Rule(EVERYONE, public_get=True),
    "request.passkey_options": Rule(EVERYONE, public_get=True),
    "request.passkey": Rule(EVERYONE, public_get=True),
    "request.sent": Rule(OWNER),
    "space": Rule(ANY_SUBJECT),
    "dossier.subject": Rule(OWNER),
    "dossier.subject_message": Rule(OWNER),
    # What she types, kept as a draft: the same rule as the form it belongs to.
    "dossier.subject_draft": Rule(OWNER),
    "dossier.answer": Rule(OWNER),
    # How to reach her: her own dossier only, never a worker's nor another young person's.
    "dossier.contact": Rule(OWNER),
    # The world's step waits for an answer: nothing to take back yet, so back to the dossier.
    "dossier.withdraw": Rule(OWNER, ok=303),
    "dossier.worker": Rule({"worker"}),
    "dossier.worker_message": Rule({"worker"}),
    "dossier.worker_draft": Rule({"worker"}),
    "dossier.worker_action": Rule({"worker"}),
    "dossier.worker_action_step": Rule({"worker"}),
    # What an open page asks by itself: the page's readers only; without the numbers of what
    # the page shows (as here), 400. Anyone else: 404 (test_live_updates.py tries with them).
    "live.subject": Rule(OWNER, ok=400),
    "live.worker": Rule({"worker"}, ok=400),
    "live.news": Rule(SUBJECTS | WORKERS, ok=400),
    "work.inbox": Rule(ANY_WORKER),
    "work.team": Rule(ANY_WORKER),
    "work.find": Rule(ANY_WORKER),
    # The world's dossier is of the first service: the second's workers cannot take it.
    "work.take": Rule({"worker", "other_worker"}),
    "work.assign": Rule({"worker"}),
    # The world's dossier is taken: nobody reads it as a waiting request any more (reading a
    # waiting one, by its service's workers only: test_waiting_requests.py).
    "work.waiting": Rule(set()),
    "work.recovery_link": Rule({"worker"}),
    "consent.page": Rule(OWNER),
    "consent.directory": Rule(OWNER),
    "consent.grant": Rule(OWNER),
    "consent.receipt": Rule(OWNER),
    "consent.receipt_file": Rule(OWNER),
    "consent.revoke": Rule(OWNER),
    "consent.share": Rule({"worker"}),
    "consent.shared": Rule({"worker"}),
    "consent.propose_share": Rule({"worker"}),
    "consent.record_meeting": Rule({"worker"}),
    # Concertation: each service's admin keeps its own members and charter; the meeting's
    # steps are its worker's, the minutes' answer its young person's.
    "concertation.admin": Rule(ADMINS),
    "concertation.charter": Rule(ADMINS),
    "concertation.member": Rule(ADMINS),
    "concertation.remove_member": Rule(ADMINS),
    "concertation.worker_step": Rule({"worker"}),
    "concertation.subject_answer": Rule(OWNER),
    "partners.admin": Rule({"operator"}),
    "partners.create": Rule({"operator"}),
    "partners.edit": Rule({"operator"}),
    "partners.update": Rule({"operator"}),
    "operator.home": Rule({"operator"}),
    "operator.create": Rule({"operator"}),
    "operator.service": Rule({"operator"}),
    "operator.update": Rule({"operator"}),
    "partners.search": Rule(ANY_WORKER),
    "partners.inbox": Rule(PARTNERS),
    "partners.share": Rule({"partner"}),
    # The owner's dossier is open: "ended" sends back, "come back" does not exist yet.
    "ending.end": Rule(OWNER),
    "ending.ended": Rule(OWNER, special={"subject": 303}),
    "ending.come_back": Rule(OWNER, special={"subject": 404}),
    # A document is read as its dossier is: its subject, its worker (the look is journaled).
    "documents.subject_add": Rule(OWNER),
    "documents.subject_open": Rule(OWNER),
    "documents.worker_add": Rule({"worker"}),
    "documents.worker_open": Rule({"worker"}),
    # Only the partner the document was shared with, under the consent that covers it.
    "documents.partner_open": Rule({"partner"}),
    "ending.export": Rule(OWNER),
    "ending.export_file": Rule(OWNER),
    "ending.erase": Rule(OWNER),
    "ending.close": Rule({"worker"}),
    # A meeting: its young person answers and downloads it; the worker following her proposes,
    # changes, cancels, records it and downloads it. Nobody else, not even a colleague.
    "appointment.answer": Rule(OWNER),
    "appointment.subject_calendar": Rule(OWNER),
    "appointment.propose": Rule({"worker"}),
    "appointment.change": Rule({"worker"}),
    "appointment.step": Rule({"worker"}),
    "appointment.worker_calendar": Rule({"worker"}),
}

# Statuses that mean "refused" on a GET, per kind of visitor.
SIGNED_IN_ELSEWHERE = {303, 403, 404}


@dataclass
class World:
    dossier: Dossier
    action: Action
    consent: Consent
    share: Share
    partner: Partner
    staff_member: Person
    document: Document
    appointment: Appointment
    closing_id: int = 0


async def _world() -> World:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    tom = await factories.staff("tom", service_=service)
    await factories.staff("admin", Role.ADMIN, service_=service)
    cpas = await factories.partner("CPAS")
    school = await factories.partner("École", secrecy=False)
    await factories.staff("cpas", Role.PARTNER, partner_=cpas)
    await factories.staff("prof", Role.PARTNER, partner_=school)
    lou = await factories.youth("lou", "Lou")
    noa = await factories.youth("noa", "Noa")
    await factories.youth("sam", "Sam", Role.RELATIVE)
    far = await factories.service("AMO du Nord")
    await factories.staff("ines", Role.ADMIN, service_=far)
    yann = await factories.staff("yann", service_=far)
    await factories.staff("operateur", Role.OPERATOR)
    dossier = await make_request(
        lou, service, RequestForm(asker=Asker.YOUTH, themes=[Theme.SCHOOL], words=SECRET)
    )
    # Lou asked the second service too: its worker follows that one, and only that one.
    far_dossier = await make_request(
        lou, far, RequestForm(asker=Asker.YOUTH, themes=[Theme.FAMILY], words="Mots du Nord")
    )
    await take(yann, far_dossier.id)
    await make_request(noa, service, RequestForm(asker=Asker.YOUTH, themes=[Theme.MONEY]))
    await take(amina, dossier.id)
    action = await propose_action(
        amina, dossier.reference, ActionKind.PARTNER_CONTACT, "Appeler le CPAS", "", [cpas.id]
    )
    document = await documents.add_document(
        lou, dossier.reference, files.png(), "p.png", documents.Limits(10**7, 20)
    )
    consent = await consent_rules.grant(
        lou, dossier.reference, cpas.id, ["request", "documents"], "until_stop", "Pour l’aide"
    )
    share = await consent_rules.share(
        amina, dossier.reference, cpas.id, ["request", "documents"], document_ids=[document.id]
    )
    # The first service's coming closing week: only its own admin may remove it.
    closing = await ClosingPeriod.create(
        service_id=service.id,
        first_day=timezone.now().date() + timedelta(days=200),
        last_day=timezone.now().date() + timedelta(days=204),
        created_at=timezone.now(),
    )
    soon = timezone.now() + timedelta(days=2)
    meeting = await appointment_rules.propose(
        amina,
        dossier.reference,
        appointment_rules.Proposal(soon, 60, PlaceKind.AMO, "Salle bleue"),
    )
    return World(dossier, action, consent, share, cpas, tom, document, meeting, closing.id)


def _path(route: Route, world: World, static_css: str) -> str:
    values: dict[str, Any] = {
        "reference": world.dossier.reference,
        "action_id": world.action.id,
        "appointment_id": world.appointment.id,
        "consent_id": world.consent.id,
        "share_id": world.share.id,
        "partner_id": world.partner.id,
        "person_id": world.staff_member.id,
        "closing_id": world.closing_id,
        "dossier_id": world.dossier.id,
        "service_id": world.dossier.service_id,
        "credential_id": 999_999,
        "document_id": world.document.id,
        "device_id": 999_999,
        "token": "x" * 43,
        "format": "json",
        "choice": "oui",
        "step": "fait",
        "place": "messages",
        "path": static_css,
    }
    path = route.path
    for name in route.param_convertors:
        path = path.replace("{" + name + ":str}", str(values[name]))
        path = path.replace("{" + name + ":path}", str(values[name]))
        path = path.replace("{" + name + "}", str(values[name]))
    return path


async def _snapshot() -> dict[str, Any]:
    """What a refused call must not change (a journaled refused look aside)."""
    return {
        "people": await Person.all()
        .order_by("id")
        .values_list("id", "display_name", "language", "is_active"),
        "credentials": await Credential.all().order_by("id").values_list("id", "secret"),
        "codes": await RecoveryCode.all().count(),
        "links": await OneTimeLink.all().count(),
        "dossiers": await Dossier.all().order_by("id").values_list("id", "status", "erased_at"),
        # Sealed texts are sealed anew at each change: a changed contact detail shows here.
        "requests": await Request.all()
        .order_by("id")
        .values_list("id", "contact_channel", "contact_details", "no_voicemail"),
        "messages": await Message.all().count(),
        "closings": await ClosingPeriod.all().order_by("id").values_list("id", "removed_at"),
        # A draft kept for someone who may not send its form would be a way in.
        "drafts": await RequestDraft.all().count(),
        "actions": await Action.all().order_by("id").values_list("id", "status"),
        "consents": await Consent.all().order_by("id").values_list("id", "revoked_at"),
        "shares": await Share.all().count(),
        "documents": await Document.all().count(),
        "appointments": await Appointment.all()
        .order_by("id")
        .values_list("id", "status", "starts_at", "minutes"),
        "sessions": await Session.filter(ended_at__isnull=True).order_by("id").values_list("id"),
        "partners": await Partner.all().order_by("id").values_list("id", "name", "is_active"),
        "services": await Service.all().order_by("id").values_list("id", "charter"),
        "devices": await PushSubscription.all().count(),
        "concertations": await Concertation.all()
        .order_by("id")
        .values_list("id", "informed_at", "meeting_at", "minutes_status"),
        "members": await ConcertationMember.all().order_by("id").values_list("id", "membership"),
        "journal": await JournalEntry.exclude(event__in=["dossier.read_refused"]).count(),
    }


async def _clients(app: Starlette) -> dict[str, httpx.AsyncClient]:
    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://testserver"
        )

    clients = {role: client() for role in ROLES}
    logins = {"subject": "lou", "other_subject": "noa", "parent": "sam"}
    staff = {
        "worker": "amina",
        "other_worker": "tom",
        "partner": "cpas",
        "other_partner": "prof",
        "admin": "admin",
        "far_admin": "ines",
        "far_worker": "yann",
        "operator": "operateur",
    }
    for role, login in logins.items():
        assert (await factories.sign_in(clients[role], login)).status_code == 303
    for role, login in staff.items():
        assert (await factories.sign_in_staff(clients[role], login)).status_code == 303
    return clients


async def test_every_route_against_every_role(app: Starlette, db: str) -> None:
    world = await _world()
    clients = await _clients(app)
    routes = [r for r in app.routes if isinstance(r, Route)]
    unclassified = sorted(r.name for r in routes if r.name not in ACCESS)
    assert unclassified == [], f"classify these routes in ACCESS: {unclassified}"
    tried = 0
    failures: list[str] = []
    tokens = {role: await csrf_token(c) for role, c in clients.items()}
    # The fingerprinted name of the stylesheet, as pages link it.
    static_css = app.state.templates.env.globals["static"]("css/site.css").removeprefix("/static/")
    try:
        for route in routes:
            rule = ACCESS[route.name]
            path = _path(route, world, static_css)
            methods = route.methods or set()
            for role in ROLES:
                client = clients[role]
                if "GET" in methods:
                    tried += 1
                    answer = await client.get(path)
                    _check_get(route.name, rule, role, answer.status_code, failures)
                    if role not in MAY_SEE_SECRET and SECRET in answer.text:
                        failures.append(
                            f"GET {route.name} as {role} shows the young person's words"
                        )
                if "POST" not in methods:
                    continue
                # Without a CSRF token: 403 and nothing changed, for everyone.
                before = await _snapshot()
                tried += 1
                status = (await client.post(path, data={"x": "1"})).status_code
                if status != 403:
                    failures.append(f"POST {route.name} as {role} without CSRF: {status}")
                if rule.public_get or role in rule.allowed:
                    continue
                # With a valid token, as a role that may not: refused, nothing changed.
                tried += 1
                status = (
                    await client.post(path, data={"csrf_token": tokens[role], "body": "intrusion"})
                ).status_code
                expected = {303} if role == "anonymous" else {403, 404, 405}
                if status not in expected:
                    failures.append(f"POST {route.name} as {role}: {status}")
                if await _snapshot() != before:
                    failures.append(f"POST {route.name} as {role} changed the database")
    finally:
        for client in clients.values():
            await client.aclose()
    print(f"\naccess matrix: {tried} combinations of route, role and method tried")
    assert failures == [], "\n".join(failures)


def _check_get(name: str, rule: Rule, role: str, status: int, failures: list[str]) -> None:
    if rule.public_get:
        if status >= 500:
            failures.append(f"GET {name} as {role}: {status}")
        return
    if role in rule.allowed:
        expected = (rule.special or {}).get(role, rule.ok)
        if status != expected:
            failures.append(f"GET {name} as {role}: {status}, expected {expected}")
    elif role == "anonymous":
        if status != 303:
            failures.append(f"GET {name} as anonymous: {status}, expected 303 to sign in")
    elif status not in {404}:
        failures.append(f"GET {name} as {role}: {status}, expected 404")
