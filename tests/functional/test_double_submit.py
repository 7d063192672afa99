"""A form sent twice acts once: a double tap, in turn or at the same moment.

Every state-changing route of the app's route table is either proven here (the form read from
its page as a browser would, then the same body with the same CSRF token sent twice) or listed
in NATURAL with the reason a repeat cannot act twice. A new POST route fails the first test
until it is put in one or the other.

"One effect" is measured on the whole database: the rows of every table and the events of
every journal (looks aside) must change exactly as one submission changes them, and the repeat
gets the same answer as the first (the same redirect), never an error.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from tortoise import timezone

from portal.domain import accounts, appointments
from portal.domain import concertation as meeting_rules
from portal.domain import consent as consent_rules
from portal.domain import staff as staff_rules
from portal.domain.actions import answer_action, propose_action, record_action, record_meeting
from portal.domain.ending import end_help
from portal.domain.requests import RequestForm, make_request
from portal.i18n import BRUSSELS
from portal.models import (
    Action,
    ActionKind,
    ActionPartner,
    Appointment,
    AppointmentStatus,
    Asker,
    Assignment,
    ClosingPeriod,
    Concertation,
    ConcertationMember,
    Consent,
    Credential,
    CredentialKind,
    Document,
    Dossier,
    JournalEntry,
    LinkKind,
    Message,
    Notice,
    OneTimeLink,
    Partner,
    PartnerChange,
    Person,
    PlaceKind,
    PushSubscription,
    RecoveryCode,
    Request,
    Role,
    Service,
    Share,
    SubmittedForm,
    Theme,
)
from portal.security.passwords import verify_password
from portal.security.tokens import token_hash
from tests import factories, files
from tests.forms import filled, form_on, said

pytestmark = pytest.mark.asyncio(loop_scope="session")

# POST routes whose repeat cannot act twice by their nature, and why.
NATURAL: dict[str, str] = {
    "language": "sets the language cookie (and profile) to the same value again",
    "request.count": "counts characters, stores nothing",
    "dossier.subject_draft": "replaces the form's draft with the same text again",
    "dossier.worker_draft": "replaces the form's draft with the same text again",
    "work.find": "looks a dossier up by its reference, stores nothing",
    "proof.check": "checks what it is given against the published keys, stores nothing",
    "signout": "ending a session that has ended changes nothing",
    "quick_exit": "ending a session that has ended changes nothing",
    "account.signout_everywhere": "ending sessions that have ended changes nothing",
    "admin.end_sessions": "ending sessions that have ended changes nothing",
    "operator.end_sessions": "ending sessions that have ended changes nothing",
    "account.profile": "writes the same name and language again",
    "account.notices": "writes the same address and choice again",
    "account.push_subscribe": "the same browser's subscription again is the same device",
    "account.push_unsubscribe": "forgetting a device already forgotten changes nothing",
    "account.codes": "each press replaces the whole set of codes and shows it: the set on "
    "screen is always the only one that works",
    "signin": "each sign-in starts a fresh session for the browser and nothing else: the "
    "browser keeps the last one, an unused one expires",
    "signin.code": "a code is accepted once (its time step is recorded)",
    "signin.recovery": "a recovery code is used once",
    "recovery_link": "the link is consumed by its first use",
    "account.recovery_notice": "marks the links listed on the page as seen: again, it marks "
    "nothing more",
    "invitation.code": "the invitation link is consumed by its first use",
    "signin.passkey_options": "a fresh single-use challenge for the browser's ceremony",
    "account.new_passkey_options": "a fresh single-use challenge for the browser's ceremony",
    "account.passkey_options": "a fresh single-use challenge for the browser's ceremony",
    "invitation.passkey_options": "a fresh single-use challenge for the browser's ceremony",
    "request.passkey_options": "a fresh single-use challenge; nothing else is stored",
    "signin.passkey": "the signed challenge is single-use: a replay is refused",
    "account.new_passkey": "the signed challenge is single-use: a replay is refused",
    "account.passkey": "the signed challenge is single-use: a replay is refused",
    "invitation.passkey": "the signed challenge is single-use: a replay is refused",
    "request.passkey": "the signed challenge is single-use: a replay is refused",
}


# --- Forms as a browser sends them -------------------------------------------------------------


async def form_at(
    client: httpx.AsyncClient, page: str, action: str, **changes: str | list[str]
) -> dict[str, list[str]]:
    response = await client.get(page)
    assert response.status_code == 200, (page, response.status_code)
    return filled(form_on(response.text, action), **changes)


# --- The state that one submission changes ---------------------------------------------------

MODELS = (
    Person,
    Credential,
    RecoveryCode,
    OneTimeLink,
    Service,
    Partner,
    PartnerChange,
    Dossier,
    Assignment,
    Request,
    Action,
    ActionPartner,
    Message,
    Consent,
    Share,
    Notice,
    Appointment,
    ClosingPeriod,
    Document,
    Concertation,
    ConcertationMember,
    PushSubscription,
)


async def state() -> dict[str, int]:
    """Rows per table and journal events (looks aside: a repeat may look again)."""
    counts = {model.__name__: await model.all().count() for model in MODELS}
    counts["Consent revoked"] = await Consent.filter(revoked_at__isnull=False).count()
    counts["Dossier erased"] = await Dossier.filter(erased_at__isnull=False).count()
    counts["ClosingPeriod removed"] = await ClosingPeriod.filter(removed_at__isnull=False).count()
    for event in await JournalEntry.exclude(event="dossier.read").values_list("event", flat=True):
        key = f"journal {event}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def change(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    keys = set(before) | set(after)
    return {
        k: after.get(k, 0) - before.get(k, 0)
        for k in sorted(keys)
        if after.get(k, 0) != before.get(k, 0)
    }


# --- The world every scenario starts from ----------------------------------------------------


@dataclass
class World:
    app: Starlette
    service: Service
    amina: Person
    tom: Person
    cpas: Partner
    school: Partner
    lou: Person
    dossier: Dossier
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return self.dossier.reference

    def client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="https://testserver"
        )
        self.clients.append(client)
        return client

    async def subject(self, login: str = "lou") -> httpx.AsyncClient:
        client = self.client()
        assert (await factories.sign_in(client, login)).status_code == 303
        return client

    async def staff(self, login: str) -> httpx.AsyncClient:
        client = self.client()
        assert (await factories.sign_in_staff(client, login)).status_code == 303
        return client

    async def operator(self) -> httpx.AsyncClient:
        await factories.operator()
        return await self.staff("operateur")

    async def proposed(self, kind: ActionKind = ActionKind.PARTNER_CONTACT) -> Action:
        partners = [self.cpas.id] if kind is ActionKind.CONCERTATION else []
        return await propose_action(self.amina, self.ref, kind, "Appeler", "L’école", partners)


async def make_world(app: Starlette) -> World:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    tom = await factories.staff("tom", service_=service, name="Tom")
    await factories.staff("admin", Role.ADMIN, service_=service)
    cpas = await factories.partner("CPAS")
    school = await factories.partner("École", secrecy=False)
    lou = await factories.youth("lou", "Lou")
    dossier = await factories.followed_dossier(amina, lou, service, "Lou")
    await factories.member(service.id, cpas.id)
    return World(app, service, amina, tom, cpas, school, lou, dossier)


@dataclass
class Submission:
    """One form, filled in, ready to be sent twice; what one sending changes."""

    client: httpx.AsyncClient
    action: str
    fields: dict[str, list[str]]
    effect: dict[str, int]
    # A page that shows a secret once answers the repeat with a page, not a redirect.
    answers_with_page: bool = False
    # The form signs the browser in, which renews its CSRF cookie: a repeat sent after the
    # first answer arrived carries a token that is no longer this browser's, and is refused.
    signs_in: bool = False
    # The form deletes the account and its cookies: sent again after the first answer, it
    # comes from a browser with no CSRF cookie any more, and is refused.
    signs_out: bool = False
    check: Callable[[list[httpx.Response]], Awaitable[None]] | None = None
    # A file the form sends (multipart), beside its fields.
    files: dict[str, tuple[str, bytes, str]] | None = None


Scenario = Callable[[World], Awaitable[Submission]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


def route_of(name: str) -> str:
    """Scenario names are route names, with a variant after a colon."""
    return name.split(":", 1)[0]


# --- Asking for help and accounts -------------------------------------------------------------


async def _request_form(client: httpx.AsyncClient, **account: str) -> dict[str, list[str]]:
    """Walk the request's steps as a person would, up to the last one."""
    answers: dict[str, str | list[str]] = {
        "asker": "youth",
        "birth_month": "3",
        "birth_year": "2010",
        "themes": ["school", "family"],
        "words": "J’ai besoin d’aide",
        "contact_channel": "portal",
        "go": "next",
    }
    page = await client.get("/demande")
    for _step in range(6):
        fields = form_on(page.text, "/demande")
        if fields["step"] == ["account"]:
            return filled(fields, **account)
        # Earlier answers travel in hidden fields: giving them all again changes nothing.
        sent = filled(fields, **answers)
        # A step done is a redirect to /demande itself, which shows the next step.
        page = await client.post("/demande", data=sent, follow_redirects=True)
        assert page.status_code == 200, said(page.text)
    raise AssertionError("the request never reached its last step")


@scenario("request")
async def _request(w: World) -> Submission:
    await factories.youth("noa", "Noa")
    client = await w.subject("noa")
    fields = await _request_form(client, go="send")
    effect = {"Dossier": 1, "Request": 1, "journal request.made": 1}
    return Submission(client, "/demande", fields, effect)


@scenario("request:with a new account")
async def _request_new_account(w: World) -> Submission:
    client = w.client()
    fields = await _request_form(
        client,
        display_name="Sam",
        login="sam.b",
        password=factories.YOUTH_PASSWORD,
        go="password",
    )
    effect = {
        "Person": 1,
        "Credential": 1,
        # The account's ten recovery codes, made with it (one set, not two).
        "RecoveryCode": accounts.RECOVERY_CODES,
        "Dossier": 1,
        "Request": 1,
        "journal request.made": 1,
    }
    return Submission(client, "/demande", fields, effect, signs_in=True)


@scenario("account.new")
async def _new_account(w: World) -> Submission:
    client = w.client()
    fields = await form_at(
        client,
        "/compte/nouveau",
        "/compte/nouveau",
        role="youth",
        display_name="Mo",
        login="mo.z",
        password=factories.YOUTH_PASSWORD,
        way="password",
    )
    effect = {"Person": 1, "Credential": 1, "RecoveryCode": accounts.RECOVERY_CODES}
    return Submission(client, "/compte/nouveau", fields, effect, signs_in=True)


@scenario("account.password")
async def _password(w: World) -> Submission:
    client = await w.subject()
    new = "quatre poires jaunes sous la chaise"
    fields = await form_at(
        client,
        "/compte",
        "/compte/mot-de-passe",
        current=factories.YOUTH_PASSWORD,
        new_password=new,
    )

    async def check(_responses: list[httpx.Response]) -> None:
        secret = await Credential.get(person_id=w.lou.id, kind=CredentialKind.PASSWORD)
        assert verify_password(new, secret.secret)

    return Submission(client, "/compte/mot-de-passe", fields, {}, check=check)


@scenario("account.passkey_remove")
async def _passkey_remove(w: World) -> Submission:
    passkey = await Credential.create(
        person=w.lou, kind=CredentialKind.PASSKEY, label="Téléphone", credential_id=b"k" * 16
    )
    client = await w.subject()
    action = f"/compte/passkeys/{passkey.id}/supprimer"
    fields = await form_at(client, "/compte", action)
    return Submission(client, action, fields, {"Credential": -1})


@scenario("account.push_remove")
async def _push_remove(w: World) -> Submission:
    device = await PushSubscription.create(
        person=w.lou, endpoint="https://fcm.googleapis.com/fcm/send/x", p256dh="k", auth="a"
    )
    client = await w.subject()
    action = f"/compte/appareils/{device.id}/supprimer"
    fields = await form_at(client, "/compte", action)
    return Submission(client, action, fields, {"PushSubscription": -1})


@scenario("invitation")
async def _invitation(w: World) -> Submission:
    admin = await Person.get(login="admin")
    new = await staff_rules.check_invitation(admin, "worker", "Zoé", "zoe@amo-test.be")
    _zoe, token = await staff_rules.invite_from_server(new)
    client = w.client()
    page = f"/invitation/{token}"
    fields = await form_at(client, page, page, password="un phare vert sur la digue")

    async def check(responses: list[httpx.Response]) -> None:
        # Both answers show the one app secret that was kept.
        secrets = [re.findall(r'class="secret"[^>]*>([A-Z2-7 ]+)<', r.text) for r in responses]
        kept = await Credential.get(person__login="zoe@amo-test.be", kind=CredentialKind.TOTP)
        assert secrets[0] == secrets[1] == [" ".join(re.findall(".{1,4}", kept.secret))]

    effect = {"Credential": 2}
    return Submission(client, page, fields, effect, answers_with_page=True, check=check)


def _one_mail(w: World) -> Callable[[list[httpx.Response]], Awaitable[None]]:
    """The invitation went once: one e-mail, whose link is the one that works."""

    async def check(responses: list[httpx.Response]) -> None:
        links = factories.invitation_links(w.app.state.settings.var_dir)
        assert len(links) == 1
        for response in responses:
            assert links[0] not in response.text
        assert await OneTimeLink.filter(token_hash=token_hash(links[0])).exists()

    return check


@scenario("admin.invite")
async def _invite(w: World) -> Submission:
    client = await w.staff("admin")
    action = "/admin/personnes/inviter"
    fields = await form_at(
        client,
        "/admin/personnes",
        action,
        role="worker",
        display_name="Zoé",
        email="zoe@amo-test.be",
    )
    effect = {"Person": 1, "OneTimeLink": 1}
    return Submission(client, action, fields, effect, check=_one_mail(w))


@scenario("admin.closing_add")
async def _closing_add(w: World) -> Submission:
    client = await w.staff("admin")
    action = "/admin/fermetures/ajouter"
    first = timezone.now().date() + timedelta(days=30)
    fields = await form_at(
        client,
        "/admin/fermetures",
        action,
        first_day=first.isoformat(),
        last_day=(first + timedelta(days=4)).isoformat(),
        label="Été",
    )
    return Submission(client, action, fields, {"ClosingPeriod": 1})


@scenario("admin.closing_remove")
async def _closing_remove(w: World) -> Submission:
    first = timezone.now().date() + timedelta(days=30)
    closing = await ClosingPeriod.create(
        service_id=w.service.id,
        first_day=first,
        last_day=first + timedelta(days=4),
        created_at=timezone.now(),
    )
    client = await w.staff("admin")
    action = f"/admin/fermetures/{closing.id}/retirer"
    fields = await form_at(client, "/admin/fermetures", action)
    return Submission(client, action, fields, {"ClosingPeriod removed": 1})


@scenario("operator.invite")
async def _operator_invite(w: World) -> Submission:
    await factories.operator("operator")
    client = await w.staff("operator")
    action = "/operateur/personnes/inviter"
    fields = await form_at(
        client,
        "/operateur/personnes",
        action,
        role="partner",
        display_name="Julie",
        email="julie@cpas-test.be",
        partner=str(w.cpas.id),
    )
    effect = {"Person": 1, "OneTimeLink": 1}
    return Submission(client, action, fields, effect, check=_one_mail(w))


async def _pending(w: World, inviter: str, role: str, **where: str) -> Person:
    manager = await Person.get(login=inviter)
    new = await staff_rules.check_invitation(manager, role, "Zoé", "zoe@amo-test.be", **where)
    person, _token = await staff_rules.invite_from_server(new)
    return person


@scenario("admin.send_again")
async def _send_again(w: World) -> Submission:
    zoe = await _pending(w, "admin", "worker")
    client = await w.staff("admin")
    action = f"/admin/personnes/{zoe.id}/renvoyer"
    fields = await form_at(client, "/admin/personnes", action)
    return Submission(client, action, fields, {}, check=_one_mail(w))


@scenario("operator.send_again")
async def _operator_send_again(w: World) -> Submission:
    await factories.operator("operator")
    zoe = await _pending(w, "operator", "admin", service=str(w.service.id))
    client = await w.staff("operator")
    action = f"/operateur/personnes/{zoe.id}/renvoyer"
    fields = await form_at(client, "/operateur/personnes", action)
    return Submission(client, action, fields, {}, check=_one_mail(w))


@scenario("admin.deactivate")
async def _deactivate(w: World) -> Submission:
    client = await w.staff("admin")
    action = f"/admin/personnes/{w.amina.id}/desactiver"
    page = f"/admin/personnes/{w.amina.id}/depart"
    fields = await form_at(client, page, action, all=str(w.tom.id))

    async def check(_responses: list[httpx.Response]) -> None:
        assert not (await Person.get(id=w.amina.id)).is_active

    effect = {"Assignment": 1, "journal dossier.handed_over": 1}
    return Submission(client, action, fields, effect, check=check)


@scenario("operator.deactivate")
async def _operator_deactivate(w: World) -> Submission:
    await factories.operator("operator")
    client = await w.staff("operator")
    admin = await Person.get(login="admin")
    action = f"/operateur/personnes/{admin.id}/desactiver"
    fields = await form_at(client, "/operateur/personnes", action)

    async def check(_responses: list[httpx.Response]) -> None:
        assert (await Person.get(id=admin.id)).deactivated_at is not None

    return Submission(client, action, fields, {}, check=check)


async def _one_link_shown(responses: list[httpx.Response], kind: LinkKind) -> None:
    """Both answers show a link; the one the browser shows last is the one that works."""
    tokens = [
        re.findall(r'<code class="link">[^<]*/([A-Za-z0-9_-]{20,})</code>', r.text)
        for r in responses
    ]
    assert all(len(t) == 1 for t in tokens), "each answer shows one link"
    working = []
    for (token,) in tokens:
        try:
            await accounts.find_link(token, kind)
            working.append(token)
        except Exception:  # noqa: S112 - a replaced token is simply not found
            continue
    assert len(working) == 1, "exactly one of the links shown works"


# --- The dossier: messages and steps ----------------------------------------------------------


@scenario("dossier.subject_message")
async def _subject_message(w: World) -> Submission:
    client = await w.subject()
    action = f"/espace/{w.ref}/messages"
    fields = await form_at(client, f"/espace/{w.ref}", action, body="Merci, à demain")
    return Submission(client, action, fields, {"Message": 1, "journal message.sent": 1})


@scenario("dossier.contact")
async def _contact(w: World) -> Submission:
    client = await w.subject()
    action = f"/espace/{w.ref}/joindre"
    fields = await form_at(
        client, action, action, contact_channel="sms", contact_details="0470 12 34 56"
    )
    return Submission(client, action, fields, {"journal contact.changed": 1})


@scenario("dossier.worker_message")
async def _worker_message(w: World) -> Submission:
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/messages"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action, body="Bonjour Lou")
    return Submission(client, action, fields, {"Message": 1, "journal message.sent": 1})


@scenario("dossier.answer")
async def _answer(w: World) -> Submission:
    step = await w.proposed()
    client = await w.subject()
    action = f"/espace/{w.ref}/demarches/{step.id}/oui"
    fields = await form_at(client, action, action, reason="D’accord")
    return Submission(client, action, fields, {"journal action.agreed": 1})


@scenario("dossier.withdraw")
async def _withdraw(w: World) -> Submission:
    step = await w.proposed()
    await answer_action(w.lou, w.ref, step.id, True)
    client = await w.subject()
    action = f"/espace/{w.ref}/demarches/{step.id}/retirer"
    fields = await form_at(client, action, action, reason="Finalement non")
    return Submission(client, action, fields, {"journal action.withdrawn": 1})


@scenario("dossier.worker_action:recorded")
async def _record_step(w: World) -> Submission:
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/demarches"
    fields = await form_at(
        client,
        f"/travail/dossiers/{w.ref}",
        action,
        mode="record",
        kind="listening",
        description="Une heure d’écoute",
    )
    return Submission(client, action, fields, {"Action": 1, "journal action.recorded": 1})


@scenario("dossier.worker_action:proposed")
async def _propose_step(w: World) -> Submission:
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/demarches"
    fields = await form_at(
        client,
        f"/travail/dossiers/{w.ref}",
        action,
        mode="propose",
        kind="partner_contact",
        description="Appeler le CPAS",
        partners=str(w.cpas.id),
    )
    effect = {"Action": 1, "ActionPartner": 1, "journal action.proposed": 1}
    return Submission(client, action, fields, effect)


@scenario("dossier.worker_action_step:done")
async def _step_done(w: World) -> Submission:
    step = await w.proposed()
    await answer_action(w.lou, w.ref, step.id, True)
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/demarches/{step.id}/fait"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action)
    return Submission(client, action, fields, {"journal action.done": 1})


@scenario("dossier.worker_action_step:cancelled")
async def _step_cancelled(w: World) -> Submission:
    step = await w.proposed()
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/demarches/{step.id}/annuler"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action)
    return Submission(client, action, fields, {"journal action.cancelled": 1})


# --- Meetings -----------------------------------------------------------------------------------


async def _meeting(w: World, *, accepted: bool = False) -> Appointment:
    soon = timezone.now() + timedelta(days=3)
    meeting = await appointments.propose(
        w.amina, w.ref, appointments.Proposal(soon, 60, PlaceKind.AMO, "Salle")
    )
    if accepted:
        await appointments.answer(w.lou, w.ref, meeting.id, AppointmentStatus.ACCEPTED)
    return meeting


def _in_days(days: int) -> str:
    return (timezone.now() + timedelta(days=days)).astimezone(BRUSSELS).date().isoformat()


@scenario("appointment.propose")
async def _propose_meeting(w: World) -> Submission:
    client = await w.staff("amina")
    page, action = f"/travail/dossiers/{w.ref}", f"/travail/dossiers/{w.ref}/rendez-vous"
    fields = await form_at(client, page, action, day=_in_days(3), hour="14:00", place="Salle")
    return Submission(client, action, fields, {"Appointment": 1, "journal appointment.proposed": 1})


@scenario("appointment.change")
async def _change_meeting(w: World) -> Submission:
    meeting = await _meeting(w)
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/rendez-vous/{meeting.id}/changer"
    fields = await form_at(
        client, f"/travail/dossiers/{w.ref}", action, day=_in_days(4), hour="16:30"
    )
    return Submission(client, action, fields, {"journal appointment.changed": 1})


@scenario("appointment.step:cancelled")
async def _cancel_meeting(w: World) -> Submission:
    meeting = await _meeting(w)
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/rendez-vous/{meeting.id}/annuler"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action)
    return Submission(client, action, fields, {"journal appointment.cancelled": 1})


@scenario("appointment.step:done")
async def _meeting_done(w: World) -> Submission:
    meeting = await _meeting(w, accepted=True)
    await Appointment.filter(id=meeting.id).update(starts_at=timezone.now() - timedelta(hours=1))
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/rendez-vous/{meeting.id}/fait"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action)
    return Submission(client, action, fields, {"journal appointment.done": 1})


@scenario("appointment.answer")
async def _answer_meeting(w: World) -> Submission:
    meeting = await _meeting(w)
    client = await w.subject()
    action = f"/espace/{w.ref}/rendez-vous/{meeting.id}/autre"
    fields = await form_at(client, action, action, word="Plutôt mercredi")
    return Submission(client, action, fields, {"journal appointment.other_time_asked": 1})


# --- The workers' side ------------------------------------------------------------------------


@scenario("work.take")
async def _take(w: World) -> Submission:
    noa = await factories.youth("noa", "Noa")
    waiting = await make_request(
        noa, w.service, RequestForm(asker=Asker.YOUTH, themes=[Theme.MONEY])
    )
    client = await w.staff("amina")
    action = f"/travail/demandes/{waiting.id}/prendre"
    fields = await form_at(client, "/travail", action)
    return Submission(client, action, fields, {"Assignment": 1, "journal dossier.taken": 1})


@scenario("work.assign")
async def _assign(w: World) -> Submission:
    client = await w.staff("amina")
    action = f"/travail/demandes/{w.dossier.id}/confier"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action, colleague=str(w.tom.id))
    return Submission(client, action, fields, {"Assignment": 1, "journal dossier.assigned": 1})


@scenario("work.recovery_link")
async def _recovery_link(w: World) -> Submission:
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/lien-de-secours"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action)

    async def check(responses: list[httpx.Response]) -> None:
        await _one_link_shown(responses, LinkKind.RECOVERY)

    effect = {"OneTimeLink": 1, "journal recovery_link.issued": 1}
    return Submission(client, action, fields, effect, answers_with_page=True, check=check)


# --- Consent and shares -----------------------------------------------------------------------


async def _consent(w: World, partner: Partner | None = None) -> Consent:
    return await consent_rules.grant(
        w.lou, w.ref, (partner or w.cpas).id, ["request", "actions"], "until_stop", "Pour l’aide"
    )


@scenario("consent.grant")
async def _grant(w: World) -> Submission:
    client = await w.subject()
    action = f"/espace/{w.ref}/partenaires/{w.cpas.id}/accord"
    fields = await form_at(
        client, action, action, categories="request", duration="until_stop", purpose="Le loyer"
    )
    confirm = await client.post(action, data=fields)
    assert confirm.status_code == 200
    fields = filled(form_on(confirm.text, action))
    assert fields["step"] == ["confirm"]
    return Submission(client, action, fields, {"Consent": 1, "journal consent.granted": 1})


@scenario("consent.revoke")
async def _revoke(w: World) -> Submission:
    consent = await _consent(w)
    client = await w.subject()
    action = f"/espace/{w.ref}/consentements/{consent.id}/retirer"
    fields = await form_at(client, action, action)
    return Submission(client, action, fields, {"Consent revoked": 1, "journal consent.revoked": 1})


@scenario("consent.share")
async def _share(w: World) -> Submission:
    await _consent(w)
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/partager"
    fields = await form_at(client, action, action, partner=str(w.cpas.id), categories="request")
    return Submission(client, action, fields, {"Share": 1, "journal share.made": 1})


@scenario("consent.propose_share")
async def _propose_share(w: World) -> Submission:
    client = await w.staff("amina")
    page = f"/travail/dossiers/{w.ref}/partager"
    fields = await form_at(client, page, page, partner=str(w.school.id), categories="request")
    refused = await client.post(page, data=fields)
    assert refused.status_code == 409
    action = f"/travail/dossiers/{w.ref}/partager/proposer"
    fields = filled(form_on(refused.text, action))
    effect = {"Action": 1, "ActionPartner": 1, "journal action.proposed": 1}
    return Submission(client, action, fields, effect)


@scenario("consent.record_meeting")
async def _record_meeting(w: World) -> Submission:
    meeting = await w.proposed(ActionKind.CONCERTATION)
    await answer_action(w.lou, w.ref, meeting.id, True)
    await _consent(w)
    client = await w.staff("amina")
    page = f"/travail/dossiers/{w.ref}/partager"
    action = f"/travail/dossiers/{w.ref}/reunions/{meeting.id}"
    fields = await form_at(client, page, action, attended=str(w.cpas.id), categories="request")
    # Nothing shared: the minutes go to the partners once she approved them.
    effect = {"journal action.done": 1}
    return Submission(client, action, fields, effect)


# --- Concertation ----------------------------------------------------------------------------


@scenario("concertation.charter")
async def _charter(w: World) -> Submission:
    client = await w.staff("admin")
    action = "/admin/concertation/charte"
    fields = await form_at(client, "/admin/concertation", action, charter="Le secret partagé")
    # The charter is one text of the service, replaced: no row more.
    return Submission(client, action, fields, {})


@scenario("concertation.member")
async def _member(w: World) -> Submission:
    client = await w.staff("admin")
    action = "/admin/concertation/membres"
    fields = await form_at(
        client,
        "/admin/concertation",
        action,
        partner=str(w.school.id),
        membership="associated",
        adhered_on="2026-02-01",
    )
    return Submission(client, action, fields, {"ConcertationMember": 1})


@scenario("concertation.remove_member")
async def _remove_member(w: World) -> Submission:
    client = await w.staff("admin")
    action = f"/admin/concertation/membres/{w.cpas.id}/retirer"
    fields = await form_at(client, "/admin/concertation", action)
    return Submission(client, action, fields, {"ConcertationMember": -1})


@scenario("concertation.worker_step:informed")
async def _informed(w: World) -> Submission:
    meeting = await w.proposed(ActionKind.CONCERTATION)
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/reunions/{meeting.id}/informee"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action)
    return Submission(client, action, fields, {"journal concertation.informed": 1})


@scenario("concertation.subject_answer:approve")
async def _approve_minutes(w: World) -> Submission:
    meeting = await w.proposed(ActionKind.CONCERTATION)
    await answer_action(w.lou, w.ref, meeting.id, True)
    await _consent(w)
    await record_meeting(w.amina, w.ref, meeting.id, [w.cpas.id], ["request"])
    await meeting_rules.write_minutes(w.amina, w.ref, meeting.id, "Le CPAS aide.")
    client = await w.subject()
    action = f"/espace/{w.ref}/reunions/{meeting.id}/approuver"
    fields = await form_at(client, f"/espace/{w.ref}", action)
    effect = {
        "Share": 1,
        "journal concertation.minutes_approved": 1,
        "journal concertation.minutes_shared": 1,
    }
    return Submission(client, action, fields, effect)


# --- The partner directory --------------------------------------------------------------------


@scenario("partners.create")
async def _partner_create(w: World) -> Submission:
    client = await w.operator()
    action = "/operateur/partenaires/nouveau"
    fields = await form_at(
        client,
        "/operateur/partenaires",
        action,
        name="Maison de jeunes",
        sector="youth_organisation",
        communes="Namur",
    )
    return Submission(client, action, fields, {"Partner": 1, "PartnerChange": 1})


@scenario("partners.update")
async def _partner_update(w: World) -> Submission:
    client = await w.operator()
    action = f"/operateur/partenaires/{w.school.id}/modifier"
    page = f"/operateur/partenaires/{w.school.id}"
    fields = await form_at(client, page, action, name="École du Centre")

    async def check(_responses: list[httpx.Response]) -> None:
        assert (await Partner.get(id=w.school.id)).name == "École du Centre"

    return Submission(client, action, fields, {"PartnerChange": 1}, check=check)


@scenario("operator.create")
async def _service_create(w: World) -> Submission:
    client = await w.operator()
    action = "/operateur/services/nouveau"
    fields = await form_at(
        client, "/operateur", action, name="AMO La Boussole", communes="Liège, Seraing"
    )
    return Submission(client, action, fields, {"Service": 1})


@scenario("operator.update")
async def _service_update(w: World) -> Submission:
    client = await w.operator()
    action = f"/operateur/services/{w.service.id}/modifier"
    page = f"/operateur/services/{w.service.id}"
    fields = await form_at(client, page, action, hours="Lundi 9h–17h")

    async def check(_responses: list[httpx.Response]) -> None:
        assert (await Service.get(id=w.service.id)).hours == "Lundi 9h–17h"

    return Submission(client, action, fields, {}, check=check)


# --- Ending, coming back, erasing -------------------------------------------------------------


@scenario("ending.end")
async def _end(w: World) -> Submission:
    client = await w.subject()
    action = f"/espace/{w.ref}/arreter"
    fields = await form_at(client, action, action, reason="Ça va mieux")
    return Submission(client, action, fields, {"journal dossier.ended": 1})


@scenario("ending.come_back")
async def _come_back(w: World) -> Submission:
    await end_help(w.lou, w.ref, "")
    client = await w.subject()
    action = f"/espace/{w.ref}/revenir"
    fields = await form_at(client, action, action, themes="family", words="Je reviens")
    # Her worker follows her again: the return is journaled once, like the reopening.
    return Submission(
        client,
        action,
        fields,
        {"Request": 1, "journal dossier.reopened": 1, "journal dossier.returned": 1},
    )


@scenario("ending.erase")
async def _erase(w: World) -> Submission:
    await end_help(w.lou, w.ref, "")
    client = await w.subject()
    action = f"/espace/{w.ref}/effacer"
    fields = await form_at(client, action, action)
    second = await client.post(action, data=fields)
    assert second.status_code == 200
    fields = filled(form_on(second.text, action))
    return Submission(client, action, fields, {"Dossier erased": 1, "journal dossier.erased": 1})


@scenario("documents.subject_add")
async def _subject_document(w: World) -> Submission:
    client = await w.subject()
    action = f"/espace/{w.ref}/documents"
    fields = await form_at(client, f"/espace/{w.ref}", action, body="La lettre")
    fields.pop("file", None)
    photo = {"file": ("lettre.jpg", files.jpeg_with_gps(), "image/jpeg")}
    effect = {
        "Document": 1,
        "Message": 1,
        "journal message.sent": 1,
        "journal document.added": 1,
    }
    return Submission(client, action, fields, effect, files=photo)


@scenario("documents.worker_add")
async def _worker_document(w: World) -> Submission:
    step = await record_action(w.amina, w.ref, ActionKind.LISTENING, "Premier entretien")
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/documents"
    fields = await form_at(client, f"/travail/dossiers/{w.ref}", action)
    fields.pop("file", None)
    fields["action"] = [str(step.id)]
    letter = {"file": ("cpas.pdf", files.pdf(), "application/pdf")}
    effect = {"Document": 1, "journal document.added": 1}
    return Submission(client, action, fields, effect, files=letter)


@scenario("account.delete")
async def _delete_account(w: World) -> Submission:
    await end_help(w.lou, w.ref, "")
    client = await w.subject()
    fields = await form_at(client, "/compte/supprimer", "/compte/supprimer", understood="yes")
    effect = {
        "Credential": -1,
        "RecoveryCode": -accounts.RECOVERY_CODES,
        "Dossier erased": 1,
        "journal dossier.erased": 1,
    }
    return Submission(client, "/compte/supprimer", fields, effect, signs_out=True)


@scenario("ending.close")
async def _close(w: World) -> Submission:
    long_ago = timezone.now() - timedelta(days=400)
    await Dossier.filter(id=w.dossier.id).update(last_activity_at=long_ago, created_at=long_ago)
    client = await w.staff("amina")
    action = f"/travail/dossiers/{w.ref}/fermer"
    fields = await form_at(
        client, f"/travail/dossiers/{w.ref}", action, message="Je ferme, tu peux revenir"
    )
    effect = {"Message": 1, "journal message.sent": 1, "journal dossier.closed": 1}
    return Submission(client, action, fields, effect)


# --- The tests --------------------------------------------------------------------------------


async def test_every_post_route_is_proven_or_naturally_single(app: Starlette) -> None:
    posts = {r.name for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or set())}
    proven = {route_of(name) for name in SCENARIOS}
    assert not proven & set(NATURAL), "a route is both proven and said to be natural"
    missing = sorted(posts - proven - set(NATURAL))
    assert missing == [], f"send these twice in a scenario, or say in NATURAL why not: {missing}"
    assert sorted((proven | set(NATURAL)) - posts) == [], "a scenario or reason for no route"


@pytest.mark.parametrize("together", [False, True], ids=["in turn", "at once"])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
async def test_a_form_sent_twice_acts_once(
    app: Starlette, db: str, name: str, together: bool
) -> None:
    world = await make_world(app)
    try:
        sent = await SCENARIOS[name](world)
        before = await state()

        async def send() -> httpx.Response:
            return await sent.client.post(sent.action, data=sent.fields, files=sent.files)

        if together:
            responses = list(await asyncio.gather(send(), send()))
        else:
            responses = [await send(), await send()]
        assert change(before, await state()) == sent.effect
        statuses = [r.status_code for r in responses]
        if sent.answers_with_page:
            assert statuses == [200, 200]
        elif (sent.signs_in or sent.signs_out) and not together:
            assert statuses == [303, 403]
        else:
            # The repeat gets the first answer: the same redirect, not an error.
            assert statuses == [303, 303], [said(r.text) for r in responses]
            assert responses[0].headers["location"] == responses[1].headers["location"]
        if sent.check is not None:
            await sent.check(responses)
        # One form key kept.
        assert await SubmittedForm.all().count() == 1
    finally:
        for client in world.clients:
            await client.aclose()


@pytest.mark.parametrize("together", [False, True], ids=["in turn", "at once"])
async def test_new_recovery_codes_twice_leave_the_last_set_shown(
    app: Starlette, db: str, together: bool
) -> None:
    """account.codes is natural: each press replaces the whole set, even two at once."""
    world = await make_world(app)
    client = await world.subject()
    try:
        fields = await form_at(client, "/compte", "/compte/codes")

        async def send() -> httpx.Response:
            return await client.post("/compte/codes", data=fields)

        if together:
            responses = list(await asyncio.gather(send(), send()))
        else:
            responses = [await send(), await send()]
        shown = [factories.codes_in(r.text) for r in responses]
        assert all(len(codes) == accounts.RECOVERY_CODES for codes in shown)
        stored = set(
            await RecoveryCode.filter(person_id=world.lou.id).values_list("code_hash", flat=True)
        )
        # One answer's set is the one kept, whole; the other's works no more.
        kept = [
            {token_hash(accounts.normalise_code(c)) for c in codes} == stored for codes in shown
        ]
        assert sorted(kept) == [False, True]
    finally:
        await client.aclose()


async def test_a_refused_form_can_be_corrected_and_sent(app: Starlette, db: str) -> None:
    """A refusal records nothing: the same form, corrected, is accepted once."""
    world = await make_world(app)
    client = await world.subject()
    action = f"/espace/{world.ref}/messages"
    try:
        fields = await form_at(client, f"/espace/{world.ref}", action, body="   ")
        refused = await client.post(action, data=fields)
        assert refused.status_code == 422
        fields["body"] = ["Voilà"]
        sent = [await client.post(action, data=fields) for _ in range(2)]
        assert [r.status_code for r in sent] == [303, 303]
        assert await Message.filter(dossier_id=world.dossier.id).count() == 1
    finally:
        await client.aclose()


async def test_a_key_is_worth_nothing_in_another_browser(app: Starlette, db: str) -> None:
    """The key is bound to the browser that got the form: elsewhere it is a new form."""
    world = await make_world(app)
    first = await world.subject()
    second = await world.subject()
    action = f"/espace/{world.ref}/messages"
    try:
        fields = await form_at(first, f"/espace/{world.ref}", action, body="Un")
        assert (await first.post(action, data=fields)).status_code == 303
        other = dict(fields, csrf_token=[await _csrf(second, f"/espace/{world.ref}")])
        assert (await second.post(action, data=other)).status_code == 303
        assert await Message.filter(dossier_id=world.dossier.id).count() == 2
    finally:
        for client in world.clients:
            await client.aclose()


async def _csrf(client: httpx.AsyncClient, page: str) -> str:
    return form_on((await client.get(page)).text, page + "/messages")["csrf_token"][0]
