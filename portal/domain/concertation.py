"""Concertation meetings: the service's members and charter, the time frame of each meeting
(24 to 72 hours to prepare and inform, the meeting within 3 days of the request), and minutes
that reach the partners only once the young person approved them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from tortoise import timezone
from tortoise.expressions import Q

from portal import keys
from portal.domain import journal
from portal.domain.access import followed_dossier, own_dossier
from portal.domain.accounts import require_whole_account
from portal.domain.consent import covering, parse_categories
from portal.domain.errors import AlreadyDone, Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import BRUSSELS
from portal.i18n import lazy as _l
from portal.models import (
    Action,
    ActionKind,
    ActionPartner,
    ActionStatus,
    AskedBy,
    Concertation,
    ConcertationMember,
    Consent,
    Dossier,
    DossierStatus,
    Membership,
    MinutesStatus,
    Partner,
    Person,
    Role,
    Service,
    Share,
)
from portal.text import clean_multiline

# The charter's time frame, in calendar days and hours: from the request, 24 to 72 hours to
# gather what is needed and to inform the young person or the family, the meeting within 3 days.
PREPARE_FROM = timedelta(hours=24)
PREPARE_BY = timedelta(hours=72)
MEET_BY = timedelta(days=3)
# A request recorded afterwards: at most this long ago (a later one is a typing mistake).
ASKED_BACK = timedelta(days=30)
MAX_CHARTER = 20_000
MAX_MINUTES = 20_000
MAX_WORD = 1000
CHARTER_FIELDS = ("charter", "charter_nl", "charter_en")
OPEN_STEPS = (ActionStatus.PROPOSED, ActionStatus.AGREED, ActionStatus.DONE)


# --- The admin: members and charter -----------------------------------------------------------


def _admin_service(admin: Person) -> int:
    if admin.role is not Role.ADMIN or admin.service_id is None:
        raise NotFound("a service's admin only")
    return admin.service_id


async def members(service_id: int) -> list[ConcertationMember]:
    """The service's members with their partner, by name (one query)."""
    return (
        await ConcertationMember.filter(service_id=service_id)
        .select_related("partner")
        .order_by("partner__name")
    )


async def admin_page(admin: Person) -> tuple[Service, list[ConcertationMember]]:
    service_id = _admin_service(admin)
    return await Service.get(id=service_id), await members(service_id)


def check_charter(texts: dict[str, str]) -> dict[str, str]:
    values = {name: clean_multiline(texts.get(name, "")) for name in CHARTER_FIELDS}
    if not values["charter"]:
        raise Invalid("charter", _l("Write the charter in French: it is the reference."))
    for name, value in values.items():
        if len(value) > MAX_CHARTER:
            raise Invalid(name, _l("At most 20,000 characters."))
    return values


async def save_charter(
    admin: Person, texts: dict[str, str], *, form_key: str | None = None
) -> None:
    service_id = _admin_service(admin)
    values = check_charter(texts)
    async with acting_once(form_key):
        await Service.filter(id=service_id).update(**values)


def parse_membership(value: str) -> Membership:
    try:
        return Membership(value)
    except ValueError as error:
        raise Invalid("membership", _l("Choose permanent or associated.")) from error


def parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError as error:
        raise Invalid(name, _l("Give a date, like 2027-03-01.")) from error


async def save_member(
    admin: Person,
    partner_id: int,
    membership: str,
    adhered_on: str,
    *,
    today: date | None = None,
    form_key: str | None = None,
) -> ConcertationMember:
    """A partner joins the service's concertation (or its membership is changed)."""
    service_id = _admin_service(admin)
    kind = parse_membership(membership)
    day = parse_day(adhered_on, "adhered_on")
    today = today or timezone.now().astimezone(BRUSSELS).date()
    if day > today:
        raise Invalid("adhered_on", _l("The day it adhered cannot be in the future."))
    partner = await Partner.filter(id=partner_id, is_active=True).first()
    if partner is None:
        raise Invalid("partner", _l("Choose a partner of the directory."))
    async with acting_once(form_key):
        member, created = await ConcertationMember.get_or_create(
            service_id=service_id,
            partner_id=partner.id,
            defaults={"membership": kind, "adhered_on": day},
        )
        if not created:
            await ConcertationMember.filter(id=member.id).update(membership=kind, adhered_on=day)
    return member


async def remove_member(admin: Person, partner_id: int, *, form_key: str | None = None) -> None:
    service_id = _admin_service(admin)
    async with acting_once(form_key):
        gone = await ConcertationMember.filter(
            service_id=service_id, partner_id=partner_id
        ).delete()
        if not gone:
            # Inside the transaction: the form's key goes back with it, nothing is kept.
            raise NotFound("not a member")


async def check_members(service_id: int, partner_ids: list[int]) -> None:
    """Only partners that adhered to the service's charter are named for a meeting."""
    adhered = {
        member.partner_id
        for member in await ConcertationMember.filter(
            service_id=service_id, partner_id__in=partner_ids
        ).only("id", "partner_id")
    }
    if any(pid not in adhered for pid in partner_ids):
        raise Invalid(
            "partners",
            _l(
                "Only partners that adhered to the service's concertation charter can be "
                "named for a meeting. Ask the admin to add them first."
            ),
        )


# --- The time frame ---------------------------------------------------------------------------


def parse_asked_by(value: str) -> AskedBy:
    try:
        return AskedBy(value or AskedBy.TEAM.value)
    except ValueError as error:
        raise Invalid("asked_by", _l("Say who asked for the meeting.")) from error


def parse_moment(value: str, name: str) -> datetime:
    """A moment typed in a form (Brussels time), aware, in UTC."""
    text = value.strip()[:16]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise Invalid(name, _l("Give a date and an hour.")) from error
    return moment.replace(tzinfo=BRUSSELS).astimezone(UTC)


def check_asked_at(value: str, now: datetime) -> datetime:
    if not value.strip():
        return now
    moment = parse_moment(value, "asked_at")
    if moment > now + timedelta(minutes=5):
        raise Invalid("asked_at", _l("The request cannot be in the future."))
    if moment < now - ASKED_BACK:
        raise Invalid("asked_at", _l("At most 30 days ago."))
    return moment


async def start(
    dossier: Dossier,
    action: Action,
    worker: Person,
    asked_by: AskedBy,
    asked_at: datetime,
) -> Concertation:
    """The request for a meeting, written with its proposal (inside its transaction)."""
    made = await Concertation.create(
        action_id=action.id, dossier_id=dossier.id, asked_by=asked_by, asked_at=asked_at
    )
    await journal.record(
        dossier,
        Event.CONCERTATION_ASKED,
        worker,
        {"action": action.id, "asked_by": asked_by.value},
    )
    return made


def informed_at(concertation: Concertation, action: Action) -> datetime | None:
    """Told otherwise, or by being asked: her agreement to the step counts as informed."""
    agreed = (
        action.answered_at if action.status in {ActionStatus.AGREED, ActionStatus.DONE} else None
    )
    moments = [m for m in (concertation.informed_at, agreed) if m is not None]
    return min(moments) if moments else None


@dataclass
class TimeFrame:
    """Where a meeting stands against the charter's time frame, at ``now``."""

    prepare_from: datetime
    prepare_by: datetime
    meet_by: datetime
    informed: datetime | None
    held: datetime | None
    minutes: MinutesStatus
    late: list[str] = field(default_factory=list)
    next_deadline: datetime | None = None
    next_what: str = ""


def time_frame(concertation: Concertation, action: Action, now: datetime) -> TimeFrame:
    asked = concertation.asked_at
    frame = TimeFrame(
        prepare_from=asked + PREPARE_FROM,
        prepare_by=asked + PREPARE_BY,
        meet_by=asked + MEET_BY,
        informed=informed_at(concertation, action),
        held=concertation.held_at,
        minutes=concertation.minutes_status,
    )
    if action.status not in OPEN_STEPS:
        return frame
    if frame.informed is None:
        if now > frame.prepare_by:
            frame.late.append("prepare")
        frame.next_deadline, frame.next_what = frame.prepare_by, "prepare"
    if frame.held is None:
        if now > frame.meet_by:
            frame.late.append("meeting")
        if frame.next_deadline is None:
            frame.next_deadline, frame.next_what = frame.meet_by, "meeting"
    elif frame.minutes in {MinutesStatus.NONE, MinutesStatus.CHANGE_ASKED}:
        frame.late.append("minutes")
    return frame


@dataclass
class WorkItem:
    concertation: Concertation
    frame: TimeFrame


async def worker_deadlines(worker: Person, now: datetime | None = None) -> list[WorkItem]:
    """The meetings of the dossiers this worker follows still in progress, most urgent first:
    one query, whatever their number."""
    if worker.role is not Role.WORKER:
        raise NotFound("workers only")
    now = now or timezone.now()
    found = (
        await Concertation.filter(
            Q(minutes_status__not=MinutesStatus.APPROVED),
            dossier__assignments__worker_id=worker.id,
            dossier__assignments__ended_at__isnull=True,
            dossier__status=DossierStatus.OPEN,
            action__status__in=list(OPEN_STEPS),
        )
        .select_related("action", "dossier")
        .distinct()
        .order_by("asked_at")
    )
    items = [WorkItem(c, time_frame(c, c.action, now)) for c in found]
    far = now + timedelta(days=3650)
    items.sort(key=lambda i: (not i.frame.late, i.frame.next_deadline or far))
    return items


# --- The worker's steps -----------------------------------------------------------------------


async def _locked(dossier: Dossier, action_id: int) -> tuple[Dossier, Action, Concertation]:
    """Inside the caller's transaction: the dossier's row held, and the meeting of it."""
    locked = await Dossier.select_for_update().get(id=dossier.id)
    return locked, *await _meeting_of(locked, action_id)


async def _meeting_of(dossier: Dossier, action_id: int) -> tuple[Action, Concertation]:
    action = await Action.filter(
        id=action_id, dossier_id=dossier.id, kind=ActionKind.CONCERTATION
    ).first()
    concertation = (
        await Concertation.filter(action_id=action_id).select_for_update().first()
        if action
        else None
    )
    if action is None or concertation is None:
        raise NotFound("no such meeting")
    return action, concertation


async def mark_informed(
    worker: Person,
    reference: str,
    action_id: int,
    when: str = "",
    *,
    now: datetime | None = None,
    form_key: str | None = None,
) -> Concertation:
    """The young person or the family was told of the meeting, otherwise than through the
    portal (a call, a visit)."""
    now = now or timezone.now()
    moment = check_asked_at(when, now) if when.strip() else now
    found = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        dossier, action, concertation = await _locked(found, action_id)
        if action.status not in OPEN_STEPS:
            raise NotAllowed("the meeting will not take place")
        if concertation.informed_at is not None:
            raise AlreadyDone("already informed")
        if moment < concertation.asked_at:
            raise Invalid("informed_at", _l("She was told after the request, not before."))
        await Concertation.filter(id=concertation.id).update(informed_at=moment)
        concertation.informed_at = moment
        await journal.record(dossier, Event.CONCERTATION_INFORMED, worker, {"action": action.id})
    return concertation


def check_meeting_at(concertation: Concertation, value: str) -> datetime:
    moment = parse_moment(value, "meeting_at")
    if moment < concertation.asked_at:
        raise Invalid("meeting_at", _l("The meeting comes after the request."))
    if moment > concertation.asked_at + MEET_BY:
        raise Invalid(
            "meeting_at",
            _l("The meeting must take place within 3 days of the request: choose an earlier date."),
        )
    return moment


async def plan_meeting(
    worker: Person, reference: str, action_id: int, when: str, *, form_key: str | None = None
) -> Concertation:
    found = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        dossier, action, concertation = await _locked(found, action_id)
        if action.status not in {ActionStatus.PROPOSED, ActionStatus.AGREED}:
            raise NotAllowed("only a meeting still to come is planned")
        moment = check_meeting_at(concertation, when)
        await Concertation.filter(id=concertation.id).update(meeting_at=moment)
        concertation.meeting_at = moment
        await journal.record(dossier, Event.CONCERTATION_PLANNED, worker, {"action": action.id})
    return concertation


async def held(dossier: Dossier, action: Action, categories: list[str], now: datetime) -> None:
    """The meeting took place (inside the record of who attended): the kinds of information
    its minutes will go out as. Nothing is shared now: the minutes, once she approved them."""
    await Concertation.filter(action_id=action.id).update(held_at=now, categories=categories)


def _minutes_text(value: str) -> str:
    text = clean_multiline(value)
    if not text:
        raise Invalid("minutes", _l("Write what was said and decided."))
    if len(text) > MAX_MINUTES:
        raise Invalid("minutes", _l("At most 20,000 characters."))
    return text


async def write_minutes(
    worker: Person, reference: str, action_id: int, minutes: str, *, form_key: str | None = None
) -> Concertation:
    """The minutes of a meeting held, or revised after she asked for a change."""
    text = _minutes_text(minutes)
    found = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        dossier, action, concertation = await _locked(found, action_id)
        if concertation.held_at is None or action.status is not ActionStatus.DONE:
            raise NotAllowed("the meeting has not taken place")
        if concertation.minutes_status is MinutesStatus.APPROVED:
            raise AlreadyDone("approved already")
        now = timezone.now()
        sealed = keys.box(dossier).seal(text, "concertation.minutes")
        await Concertation.filter(id=concertation.id).update(
            minutes=sealed, minutes_status=MinutesStatus.WAITING, minutes_written_at=now
        )
        concertation.minutes_status = MinutesStatus.WAITING
        await journal.record(
            dossier, Event.CONCERTATION_MINUTES_WRITTEN, worker, {"action": action.id}
        )
    return concertation


# --- The young person -------------------------------------------------------------------------


async def ask_change(
    subject: Person, reference: str, action_id: int, word: str, *, form_key: str | None = None
) -> Concertation:
    why = clean_multiline(word)
    if not why:
        raise Invalid("word", _l("Say in a few words what should change."))
    if len(why) > MAX_WORD:
        raise Invalid("word", _l("At most 1,000 characters."))
    found = await own_dossier(subject, reference)
    async with acting_once(form_key):
        dossier, action, concertation = await _locked(found, action_id)
        if concertation.minutes_status is not MinutesStatus.WAITING:
            raise AlreadyDone("nothing waits for her answer")
        await Concertation.filter(id=concertation.id).update(
            minutes_status=MinutesStatus.CHANGE_ASKED,
            change_word=keys.box(dossier).seal(why, "concertation.change_word"),
        )
        concertation.minutes_status = MinutesStatus.CHANGE_ASKED
        await journal.record(
            dossier, Event.CONCERTATION_MINUTES_CHANGE_ASKED, subject, {"action": action.id}
        )
    return concertation


async def approve_minutes(
    subject: Person, reference: str, action_id: int, *, form_key: str | None = None
) -> list[Share]:
    """She approved the minutes: now, and only now, they go to the partners who were there,
    each under its active consent at this moment (in the same transaction as the check)."""
    # Not through a worker's recovery link: its holder could be the worker who wrote them.
    require_whole_account(subject)
    found = await own_dossier(subject, reference)
    async with acting_once(form_key):
        dossier, action, concertation = await _locked(found, action_id)
        if concertation.minutes_status is not MinutesStatus.WAITING:
            raise AlreadyDone("nothing waits for her answer")
        now = timezone.now()
        await Concertation.filter(id=concertation.id).update(
            minutes_status=MinutesStatus.APPROVED, approved_at=now
        )
        await journal.record(
            dossier, Event.CONCERTATION_MINUTES_APPROVED, subject, {"action": action.id}
        )
        box = keys.box(dossier)
        text = box.open(concertation.minutes, "concertation.minutes")
        wanted = parse_categories(concertation.categories)
        present = [
            link.partner_id
            for link in await ActionPartner.filter(action_id=action.id, attended=True)
        ]
        consents = await Consent.filter(dossier_id=dossier.id, partner_id__in=present)
        shares: list[Share] = []
        for partner_id in present:
            check = covering([c for c in consents if c.partner_id == partner_id], wanted, now)
            if not check.allowed or check.consent is None:
                continue  # Her agreement with this partner has ended: it receives nothing.
            share = await Share.create(
                dossier_id=dossier.id,
                partner_id=partner_id,
                consent_id=check.consent.id,
                categories=[c.value for c in wanted],
                action_id=action.id,
                content=box.seal(text, "share.content"),
                # Passed on by the professional who proposed the meeting: the partner answers
                # to the service, and her name is not among what she allowed it to receive.
                shared_by_id=action.author_id,
            )
            shares.append(share)
            await journal.record(
                dossier,
                Event.CONCERTATION_MINUTES_SHARED,
                subject,
                {"share": share.id, "partner": partner_id, "action": action.id},
            )
        if shares:
            await Concertation.filter(id=concertation.id).update(shared_at=now)
    return shares


# --- What each reads --------------------------------------------------------------------------


@dataclass
class Attendee:
    partner: Partner
    membership: Membership | None
    adhered_on: date | None
    attended: bool | None


@dataclass
class MeetingView:
    action: Action
    concertation: Concertation
    frame: TimeFrame
    attendees: list[Attendee]
    minutes: str
    change_word: str
    # The service's charter its members adhered to (fr/nl/en).
    service: Service


async def dossier_meetings(
    dossier: Dossier, shown: list[Action] | None = None, now: datetime | None = None
) -> list[MeetingView]:
    """The dossier's meetings with their time frame, who attends and the minutes, unsealed,
    for a reader the dossier is already open to (its subject or a worker): four queries."""
    now = now or timezone.now()
    if dossier.wrapped_key is None:
        return []
    # The steps a page shows already: without a meeting among them, no query at all.
    if shown is not None and all(a.kind is not ActionKind.CONCERTATION for a in shown):
        return []
    found = (
        await Concertation.filter(dossier_id=dossier.id)
        .select_related("action")
        .order_by("-asked_at")
    )
    if not found:
        return []
    links = await ActionPartner.filter(action_id__in=[c.action_id for c in found]).select_related(
        "partner"
    )
    joined = {
        m.partner_id: m
        for m in await ConcertationMember.filter(
            service_id=dossier.service_id, partner_id__in=[link.partner_id for link in links]
        )
    }
    service = await Service.get(id=dossier.service_id)
    box = keys.box(dossier)
    views = []
    for c in found:
        attendees = []
        for link in sorted(links, key=lambda x: x.partner.name):
            if link.action_id != c.action_id:
                continue
            member = joined.get(link.partner_id)
            attendees.append(
                Attendee(
                    link.partner,
                    member.membership if member else None,
                    member.adhered_on if member else None,
                    link.attended,
                )
            )
        views.append(
            MeetingView(
                c.action,
                c,
                time_frame(c, c.action, now),
                attendees,
                box.open(c.minutes, "concertation.minutes") if c.minutes else "",
                box.open(c.change_word, "concertation.change_word") if c.change_word else "",
                service,
            )
        )
    return views
