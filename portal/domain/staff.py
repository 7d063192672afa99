"""Staff who arrive and leave: invitations the inviter never sees, deactivation, hand-over.

Who manages whom: a service's admin, the workers and admins of her own service; the
installation's operator, the admins of every service and the partner users of the directory.
Nobody else. An invitation travels to the invitee's work address (SMTP, or in development a
file in the outbox folder): its link is never stored in clear, nor shown to the inviter, so the
inviter cannot complete it herself and become the person she invited.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
from tortoise import timezone
from tortoise.exceptions import IntegrityError
from tortoise.queryset import QuerySet

from portal.domain import journal
from portal.domain.accounts import (
    INVITATION_LIFETIME,
    check_display_name,
    check_work_email,
    new_user_handle,
)
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.domain.notices import Mailer
from portal.i18n import _
from portal.i18n import lazy as _l
from portal.models import (
    Assignment,
    Credential,
    Dossier,
    DossierStatus,
    LinkKind,
    OneTimeLink,
    Partner,
    Person,
    PushSubscription,
    Role,
    Service,
    Session,
)
from portal.security.tokens import new_token, token_hash
from portal.settings import Settings

log = logging.getLogger("portal.staff")

# Whom each role may invite, deactivate, and whose sessions it may end.
MANAGES: dict[Role, frozenset[Role]] = {
    Role.ADMIN: frozenset({Role.WORKER, Role.ADMIN}),
    Role.OPERATOR: frozenset({Role.ADMIN, Role.PARTNER}),
}
SEND_TIMEOUT = 10.0
LinkFor = Callable[[str], str]


# --- How an invitation travels -----------------------------------------------------------------


@dataclass(frozen=True)
class Post:
    """The way to the invitee's mailbox: the portal's mail server, or in development a folder."""

    mailer: Mailer
    # Development only: each e-mail written as one .eml file, when no SMTP server is set.
    outbox: Path | None = None

    @classmethod
    def of(cls, settings: Settings) -> Post:
        return cls(
            Mailer.of(settings), outbox=None if settings.production else settings.var_dir / "outbox"
        )

    @property
    def sender(self) -> str:
        return self.mailer.sender

    @property
    def ready(self) -> bool:
        return bool(self.mailer.host) or self.outbox is not None

    async def send(self, message: EmailMessage) -> bool:
        """True once the message is handed over; never raises for a server away."""
        if self.mailer.host:
            try:
                await self.mailer.deliver(message, seconds=SEND_TIMEOUT)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
                # Neither the address nor the link goes to the log.
                log.warning("an invitation was not sent: %s", type(error).__name__)
                return False
            return True
        if self.outbox is None:
            return False
        name = f"{timezone.now():%Y%m%dT%H%M%S%f}-{secrets.token_hex(4)}.eml"
        await asyncio.to_thread(_write, self.outbox / name, message.as_bytes())
        return True


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(0o600)


def invitation_message(post: Post, person: Person, email: str, link: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = post.sender
    message["To"] = email
    message["Subject"] = _("Your invitation to the portal")
    lines = [
        _("Hello %(name)s,") % {"name": person.display_name},
        "",
        _("You are invited to the portal. Open this link to choose how you will sign in:"),
        link,
        "",
        _("The link works once, for 72 hours. Your sign-in name is this address: %(email)s")
        % {"email": email},
        _("If you did not expect this e-mail, do nothing: the invitation will expire."),
    ]
    message.set_content("\n".join(lines) + "\n")
    return message


# --- Who manages whom --------------------------------------------------------------------------


def managed_by(actor: Person) -> QuerySet[Person]:
    """The staff accounts this person manages; refused for anyone but an admin or the operator."""
    roles = MANAGES.get(actor.role)
    if roles is None:
        raise NotAllowed("only an admin or the operator manages staff")
    query = Person.filter(role__in=[r.value for r in roles])
    if actor.role is Role.ADMIN:
        if actor.service_id is None:
            raise NotFound("an admin without a service manages nobody")
        query = query.filter(service_id=actor.service_id)
    return query


async def service_staff(admin: Person) -> list[Person]:
    """The workers and admins of the admin's service, those who left included."""
    if admin.role is not Role.ADMIN:
        raise NotAllowed("only admins")
    return await managed_by(admin).order_by("role", "display_name", "id")


@dataclass
class Installation:
    """What the operator manages: admins by service, partner users by partner."""

    services: list[tuple[Service, list[Person]]]
    partners: list[tuple[Partner, list[Person]]]


async def installation_staff(operator: Person) -> Installation:
    if operator.role is not Role.OPERATOR:
        raise NotAllowed("only the operator")
    people = await managed_by(operator).order_by("display_name", "id")
    services = await Service.all().order_by("name", "id")
    partners = await Partner.all().order_by("name", "id")
    return Installation(
        services=[(s, [p for p in people if p.service_id == s.id]) for s in services],
        partners=[
            (partner, [p for p in people if p.partner_id == partner.id])
            for partner in partners
            if partner.is_active or any(p.partner_id == partner.id for p in people)
        ],
    )


async def _managed(actor: Person, person_id: int) -> Person:
    person = await managed_by(actor).filter(id=person_id).first()
    if person is None:
        raise NotFound("no such staff member")
    return person


def is_pending(person: Person) -> bool:
    """Invited, not yet arrived."""
    return not person.is_active and person.deactivated_at is None


# --- Invitations -------------------------------------------------------------------------------


@dataclass
class NewStaff:
    role: Role
    display_name: str
    email: str
    service: Service | None
    partner: Partner | None


def _number(value: str, field: str, message: str) -> int | None:
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        raise Invalid(field, message)
    return int(value)


async def check_invitation(
    inviter: Person, role: str, display_name: str, email: str, service: str = "", partner: str = ""
) -> NewStaff:
    """What an invitation form says, checked against who sends it."""
    allowed = MANAGES.get(inviter.role)
    if allowed is None:
        raise NotAllowed("only an admin or the operator invites")
    if role not in {r.value for r in allowed}:
        raise Invalid("role", _l("Choose one of the roles offered."))
    new_role = Role(role)
    name = check_display_name(display_name)
    address = check_work_email(email)
    service_id = _number(service, "service", _l("Choose the service."))
    partner_id = _number(partner, "partner", _l("Choose the partner organisation."))
    chosen_service: Service | None = None
    chosen_partner: Partner | None = None
    if inviter.role is Role.ADMIN:
        # Always her own service: another one sent in the form is refused, never followed.
        if service_id is not None and service_id != inviter.service_id:
            raise Invalid("service", _l("You invite people of your own service only."))
        if partner_id is not None:
            raise Invalid("partner", _l("You invite people of your own service only."))
        chosen_service = await Service.filter(id=inviter.service_id).first()
        if chosen_service is None:
            raise NotFound("an admin without a service invites nobody")
    elif new_role is Role.ADMIN:
        chosen_service = await Service.filter(id=service_id).first() if service_id else None
        if chosen_service is None:
            raise Invalid("service", _l("Choose the service."))
    else:
        chosen_partner = (
            await Partner.filter(id=partner_id, is_active=True).first() if partner_id else None
        )
        if chosen_partner is None:
            raise Invalid("partner", _l("Choose the partner organisation."))
    return NewStaff(new_role, name, address, chosen_service, chosen_partner)


@dataclass
class Invited:
    person: Person
    email: str
    sent: bool


NO_POST = _l("E-mail is not set up on this server (SMTP_HOST). Set it first, then invite.")


async def invite(
    inviter: Person, new: NewStaff, post: Post, link_for: LinkFor, *, form_key: str | None = None
) -> Invited:
    """Make the invited account (inactive) and send its link to the work address."""
    if not post.ready:
        raise Invalid("email", NO_POST)
    person, token = await _create(inviter, new, form_key)
    sent = await post.send(invitation_message(post, person, new.email, link_for(token)))
    return Invited(person, new.email, sent)


async def invite_from_server(new: NewStaff) -> tuple[Person, str]:
    """For the server's command line, where there is no mail server: the link's token, to print.

    Whoever runs it already holds the server's keys; the link is issued by nobody.
    """
    return await _create(None, new)


async def check_server_invitation(
    role: str, display_name: str, email: str, service_id: int | None, partner_id: int | None
) -> NewStaff:
    """An invitation typed on the server: a worker or admin of a service, or a partner user."""
    if role not in {Role.WORKER.value, Role.ADMIN.value, Role.PARTNER.value}:
        raise Invalid("role", _l("Choose one of the roles offered."))
    name = check_display_name(display_name)
    address = check_work_email(email)
    if role == Role.PARTNER.value:
        partner = (
            await Partner.filter(id=partner_id, is_active=True).first() if partner_id else None
        )
        if partner is None or service_id is not None:
            raise Invalid("partner", _l("Choose the partner organisation."))
        return NewStaff(Role.PARTNER, name, address, None, partner)
    service = await Service.filter(id=service_id).first() if service_id else None
    if service is None or partner_id is not None:
        raise Invalid("service", _l("Choose the service."))
    return NewStaff(Role(role), name, address, service, None)


async def _create(
    inviter: Person | None, new: NewStaff, form_key: str | None = None
) -> tuple[Person, str]:
    token = new_token()
    try:
        async with acting_once(form_key):
            if await Person.filter(login=new.email).exists():
                raise Invalid("email", _l("This address already has an account."))
            person = await Person.create(
                role=new.role,
                display_name=new.display_name,
                login=new.email,
                service=new.service,
                partner=new.partner,
                is_active=False,
                user_handle=new_user_handle(),
            )
            await _new_link(person, inviter, new.email, token)
    except IntegrityError as error:
        # The same address invited at the same moment by someone else.
        raise Invalid("email", _l("This address already has an account.")) from error
    return person, token


async def _new_link(person: Person, inviter: Person | None, email: str, token: str) -> None:
    # One invitation at a time: a new one replaces whatever was sent before.
    await OneTimeLink.filter(
        person_id=person.id, kind=LinkKind.INVITATION, used_at__isnull=True
    ).delete()
    await OneTimeLink.create(
        kind=LinkKind.INVITATION,
        token_hash=token_hash(token),
        person=person,
        issued_by=inviter,
        email=email,
        expires_at=timezone.now() + INVITATION_LIFETIME,
    )


async def send_again(
    actor: Person, person_id: int, post: Post, link_for: LinkFor, *, form_key: str | None = None
) -> Invited:
    """A new link to someone invited who has not arrived yet; the old link stops working."""
    if not post.ready:
        raise Invalid("email", NO_POST)
    person = await _managed(actor, person_id)
    if not is_pending(person) or not person.login:
        raise NotFound("not waiting for an invitation")
    token = new_token()
    async with acting_once(form_key):
        await Person.select_for_update().filter(id=person.id).first()
        await _new_link(person, actor, person.login, token)
    sent = await post.send(invitation_message(post, person, person.login, link_for(token)))
    return Invited(person, person.login, sent)


async def invitation_of(person_id: int) -> OneTimeLink | None:
    """The invitation waiting for this person, to say to whom and when it was sent."""
    return (
        await OneTimeLink.filter(
            person_id=person_id, kind=LinkKind.INVITATION, used_at__isnull=True
        )
        .order_by("-id")
        .first()
    )


# --- Leaving -----------------------------------------------------------------------------------


@dataclass
class Followed:
    """A dossier the leaver follows, as the admin sees it: no words, no name of the young person."""

    dossier_id: int
    reference: str
    status: DossierStatus
    since: datetime
    # Someone else of the service follows it too: it may simply lose the leaver.
    shared: bool

    @property
    def needs_colleague(self) -> bool:
        return not self.shared and self.status is not DossierStatus.ENDED


@dataclass
class Leaving:
    person: Person
    followed: list[Followed]
    colleagues: list[Person]


async def _followed(person: Person) -> list[Followed]:
    if person.role is not Role.WORKER:
        return []
    mine = await Assignment.filter(worker_id=person.id, ended_at__isnull=True).order_by(
        "assigned_at", "id"
    )
    ids = [a.dossier_id for a in mine]
    dossiers = {d.id: d for d in await Dossier.filter(id__in=ids)}
    others = {
        a.dossier_id
        for a in await Assignment.filter(dossier_id__in=ids, ended_at__isnull=True).exclude(
            worker_id=person.id
        )
    }
    result: dict[int, Followed] = {}
    for assignment in mine:
        dossier = dossiers[assignment.dossier_id]
        result.setdefault(
            dossier.id,
            Followed(
                dossier.id,
                dossier.reference,
                dossier.status,
                assignment.assigned_at,
                dossier.id in others,
            ),
        )
    return list(result.values())


async def _colleagues(person: Person) -> list[Person]:
    if person.role is not Role.WORKER or person.service_id is None:
        return []
    return (
        await Person.filter(service_id=person.service_id, role=Role.WORKER, is_active=True)
        .exclude(id=person.id)
        .order_by("display_name", "id")
    )


async def leaving(actor: Person, person_id: int) -> Leaving:
    """What the admin needs to let someone go: the dossiers they follow, and who may take them."""
    person = await _managed(actor, person_id)
    return Leaving(person, await _followed(person), await _colleagues(person))


async def deactivate(
    actor: Person,
    person_id: int,
    handover: dict[int, int] | None = None,
    everything_to: int | None = None,
    *,
    form_key: str | None = None,
) -> Person:
    """Let a staff member go: every dossier they follow handed over, every session ended.

    ``handover`` names a colleague per dossier id; ``everything_to`` one for the others. A
    dossier someone else also follows, or that has ended, may simply lose the leaver. The
    account stays (the journal names it) but nobody can sign in as it again.
    """
    handover = handover or {}
    person = await _managed(actor, person_id)
    if person.id == actor.id:
        raise Invalid("person", _l("You cannot deactivate your own account. Ask another admin."))
    if person.deactivated_at is not None:
        return person
    now = timezone.now()
    async with acting_once(form_key):
        await Person.select_for_update().filter(id=person.id).first()
        colleagues = {c.id: c for c in await _colleagues(person)}
        plan: list[tuple[Followed, Person | None]] = []
        for followed in await _followed(person):
            chosen = handover.get(followed.dossier_id) or everything_to
            colleague = colleagues.get(chosen) if chosen else None
            if chosen and colleague is None:
                raise Invalid("handover", _l("Choose a colleague of the service."))
            if colleague is None and followed.needs_colleague:
                raise Invalid(
                    "handover",
                    _l("Choose who follows each dossier now, then deactivate the account."),
                )
            plan.append((followed, colleague))
        for followed, colleague in plan:
            await _hand_over(actor, person, followed.dossier_id, colleague, now)
        await Person.filter(id=person.id).update(
            is_active=False, deactivated_at=now, deactivated_by_id=actor.id
        )
        await Session.filter(person_id=person.id, ended_at__isnull=True).update(ended_at=now)
        # Their devices are told nothing more: the dossiers' news is no longer theirs.
        await PushSubscription.filter(person_id=person.id).delete()
        # An invitation not accepted yet, and links the leaver gave that are still unused,
        # stop working with the account.
        await OneTimeLink.filter(person_id=person.id, used_at__isnull=True).delete()
        await OneTimeLink.filter(issued_by_id=person.id, used_at__isnull=True).update(
            expires_at=now
        )
        await _end_what_her_links_opened(person, now)
    person.is_active, person.deactivated_at, person.deactivated_by_id = False, now, actor.id
    return person


async def _end_what_her_links_opened(leaver: Person, now: datetime) -> None:
    """The sessions and passkeys that came through a recovery link the leaver gave end too.

    Whoever held the link may have been the leaver herself: a session it opened, or a passkey
    added in one, would otherwise keep reading the dossier after she stopped following it.
    The young person gets her whole account back with one of her codes, as always.
    """
    used = await OneTimeLink.filter(
        kind=LinkKind.RECOVERY, issued_by_id=leaver.id, used_at__isnull=False
    ).exclude(dossier_id=None)
    for link in used:
        await Session.filter(
            person_id=link.person_id,
            scope_dossier_id=link.dossier_id,
            created_at__gte=link.used_at,
            ended_at__isnull=True,
        ).update(ended_at=now)
        await Credential.filter(
            person_id=link.person_id,
            scope_dossier_id=link.dossier_id,
            created_at__gte=link.used_at,
        ).delete()


async def _hand_over(
    actor: Person, leaver: Person, dossier_id: int, colleague: Person | None, now: datetime
) -> None:
    dossier = await Dossier.select_for_update().get(id=dossier_id)
    await Assignment.filter(
        dossier_id=dossier.id, worker_id=leaver.id, ended_at__isnull=True
    ).update(ended_at=now)
    details: dict[str, object] = {"from": leaver.id, "from_name": leaver.display_name}
    if colleague is not None:
        follows = await Assignment.filter(
            dossier_id=dossier.id, worker_id=colleague.id, ended_at__isnull=True
        ).exists()
        if not follows:
            await Assignment.create(dossier_id=dossier.id, worker_id=colleague.id)
        details.update({"to": colleague.id, "to_name": colleague.display_name})
    await journal.record(dossier, Event.DOSSIER_HANDED_OVER, actor, details)


async def end_sessions(actor: Person, person_id: int) -> Person:
    """Sign a staff member out everywhere (a lost phone, a doubt); they may sign in again."""
    person = await _managed(actor, person_id)
    await Session.filter(person_id=person.id, ended_at__isnull=True).update(ended_at=timezone.now())
    return person
