"""Appointments: a worker proposes a meeting, the young person answers, the worker records it.

A meeting with someone else there (a hearing, a school meeting with a teacher) is a step under
rule 4: it is proposed as an ``Action`` too, and her answer to the meeting is her answer to
that step, through the same path as any other step (journal, news, "who sees what").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from tortoise import timezone

from portal import keys
from portal.domain import actions, journal
from portal.domain.access import followed_dossier, own_dossier, readable_dossier
from portal.domain.accounts import require_whole_account
from portal.domain.errors import AlreadyDone, Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import BRUSSELS, use_language
from portal.i18n import _ as gettext
from portal.i18n import lazy as _l
from portal.labels import place_name
from portal.models import (
    Action,
    ActionKind,
    ActionStatus,
    Appointment,
    AppointmentStatus,
    Dossier,
    DossierStatus,
    Person,
    PlaceKind,
    Role,
)
from portal.text import clean_multiline, clean_text

MIN_MINUTES = 10
MAX_MINUTES = 480
MAX_PLACE = 200
MAX_WORD = 500
# How far ahead a meeting may be proposed.
MAX_AHEAD = timedelta(days=366)
# Still to answer, or agreed and not yet over: what both see first.
COMING = (
    AppointmentStatus.PROPOSED,
    AppointmentStatus.ACCEPTED,
    AppointmentStatus.OTHER_TIME_ASKED,
)
# The worker may still change or cancel these.
CHANGEABLE = (*COMING, AppointmentStatus.DECLINED)
# The reminder goes once, the day before: a meeting this close, or tomorrow in Brussels.
REMIND_WITHIN = timedelta(hours=24)
REMIND_AT_MOST = timedelta(hours=36)
SEALED = ("place", "with_whom", "answer_word")


@dataclass(frozen=True)
class Proposal:
    """A meeting as the worker's form gives it, checked."""

    starts_at: datetime
    minutes: int
    place_kind: PlaceKind
    place: str = ""
    with_whom: str = ""


def parse_when(day: str, hour: str) -> datetime:
    """A day and an hour as people in Brussels say them, as an aware moment in UTC."""
    try:
        on = date.fromisoformat(clean_text(day))
    except ValueError as error:
        raise Invalid("day", _l("Choose a day.")) from error
    try:
        at = time.fromisoformat(clean_text(hour))
    except ValueError as error:
        raise Invalid("hour", _l("Choose an hour, like 14:00.")) from error
    local = datetime.combine(on, at.replace(second=0, microsecond=0, tzinfo=None))
    return local.replace(tzinfo=BRUSSELS).astimezone(UTC)


def parse_minutes(value: str) -> int:
    try:
        minutes = int(clean_text(value))
    except ValueError as error:
        raise Invalid("minutes", _l("Say how long, in minutes.")) from error
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise Invalid("minutes", _l("Between 10 minutes and 8 hours."))
    return minutes


def parse_place_kind(value: str) -> PlaceKind:
    try:
        return PlaceKind(value)
    except ValueError as error:
        raise Invalid("place_kind", _l("Choose where.")) from error


def check_proposal(
    day: str,
    hour: str,
    minutes: str,
    place_kind: str,
    place: str = "",
    with_whom: str = "",
    now: datetime | None = None,
) -> Proposal:
    """The worker's form, checked field by field (the first wrong one is named)."""
    starts_at = parse_when(day, hour)
    now = now or timezone.now()
    if starts_at <= now:
        raise Invalid("day", _l("This moment has passed. Choose a time to come."))
    if starts_at > now + MAX_AHEAD:
        raise Invalid("day", _l("At most a year ahead."))
    length = parse_minutes(minutes)
    kind = parse_place_kind(place_kind)
    where, who = clean_text(place), clean_text(with_whom)
    if len(where) > MAX_PLACE:
        raise Invalid("place", _l("At most 200 characters."))
    if len(who) > MAX_PLACE:
        raise Invalid("with_whom", _l("At most 200 characters."))
    if kind is PlaceKind.HEARING and not who:
        raise Invalid("with_whom", _l("Say who else will be there (the SAJ, the judge)."))
    return Proposal(starts_at, length, kind, where, who)


async def _appointment_of(dossier: Dossier, appointment_id: int) -> Appointment:
    found = (
        await Appointment.filter(id=appointment_id, dossier_id=dossier.id)
        .select_for_update()
        .first()
    )
    if found is None:
        raise NotFound("no such appointment")
    return found


def _details(appointment: Appointment) -> dict[str, Any]:
    """What the journal keeps: which meeting, and when (for the sentence), no words."""
    return {
        "appointment": appointment.id,
        "at": appointment.starts_at.isoformat(),
    }


def _step_words(subject: Person, kind: PlaceKind) -> str:
    """What the step says, in the young person's language: the worker wrote no words of it.

    No day in it: a new time for the meeting leaves the step as it is.
    """
    with use_language(subject.language):
        return gettext("Going together to a meeting: %(place)s.") % {
            "place": place_name(kind.value).lower()
        }


async def propose(
    worker: Person, reference: str, proposal: Proposal, *, form_key: str | None = None
) -> Appointment:
    """A meeting proposed to the subject; with someone else there, a step she agrees to."""
    dossier = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        action_id = None
        if proposal.with_whom:
            # Rule 4: the same path as any step with someone else.
            action = await actions.propose_action(
                worker,
                reference,
                ActionKind.ACCOMPANIMENT,
                _step_words(dossier.subject, proposal.place_kind),
                proposal.with_whom,
            )
            action_id = action.id
        box = keys.box(locked)
        appointment = await Appointment.create(
            dossier_id=locked.id,
            proposed_by_id=worker.id,
            starts_at=proposal.starts_at,
            minutes=proposal.minutes,
            place_kind=proposal.place_kind,
            place=box.seal(proposal.place, "appointment.place"),
            with_whom=box.seal(proposal.with_whom, "appointment.with_whom"),
            answer_word=box.seal("", "appointment.answer_word"),
            status=AppointmentStatus.PROPOSED,
            action_id=action_id,
        )
        await journal.record(locked, Event.APPOINTMENT_PROPOSED, worker, _details(appointment))
    return appointment


# A step her yes to the meeting still agrees to (or already agreed to).
STEP_OPEN = (ActionStatus.PROPOSED, ActionStatus.AGREED)
# A step she said no to, took back, or that was called off: her yes needs a new one.
STEP_OVER = (ActionStatus.DECLINED, ActionStatus.CANCELLED, ActionStatus.WITHDRAWN)


async def _step_to_agree(
    worker: Person, dossier: Dossier, locked: Dossier, appointment: Appointment
) -> int | None:
    """The step her yes to a changed meeting agrees to: the same while it is still open, a new
    one proposed through the usual path when the old one ended (rule 4: her yes must mean
    agreeing to a step, never to one she already said no to or that was called off)."""
    if appointment.action_id is None:
        return None
    step = await Action.get(id=appointment.action_id)
    if step.status in STEP_OPEN:
        return step.id
    if step.status not in STEP_OVER:
        raise NotAllowed("the step of this meeting is done")
    box = keys.box(locked)
    who = box.open(appointment.with_whom, "appointment.with_whom") or box.open(
        step.third_party, "action.third_party"
    )
    renewed = await actions.propose_action(
        worker,
        dossier.reference,
        ActionKind.ACCOMPANIMENT,
        _step_words(dossier.subject, appointment.place_kind),
        who,
    )
    return renewed.id


async def change(
    worker: Person,
    reference: str,
    appointment_id: int,
    starts_at: datetime,
    minutes: int,
    *,
    now: datetime | None = None,
    form_key: str | None = None,
) -> Appointment:
    """A new time for the same meeting: proposed again, she answers again."""
    now = now or timezone.now()
    if starts_at <= now:
        raise Invalid("day", _l("This moment has passed. Choose a time to come."))
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise Invalid("minutes", _l("Between 10 minutes and 8 hours."))
    dossier = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        appointment = await _appointment_of(locked, appointment_id)
        if appointment.status not in CHANGEABLE:
            raise NotAllowed("this meeting is over")
        action_id = await _step_to_agree(worker, dossier, locked, appointment)
        await Appointment.filter(id=appointment.id).update(
            starts_at=starts_at,
            minutes=minutes,
            status=AppointmentStatus.PROPOSED,
            answered_at=None,
            reminded_at=None,
            action_id=action_id,
        )
        appointment.starts_at, appointment.minutes = starts_at, minutes
        appointment.action_id = action_id
        appointment.status = AppointmentStatus.PROPOSED
        await journal.record(locked, Event.APPOINTMENT_CHANGED, worker, _details(appointment))
    return appointment


async def cancel(
    worker: Person, reference: str, appointment_id: int, *, form_key: str | None = None
) -> Appointment:
    """The worker calls a meeting off; its step with someone else is cancelled with it."""
    dossier = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        appointment = await _appointment_of(locked, appointment_id)
        if appointment.status not in CHANGEABLE:
            raise NotAllowed("nothing to cancel")
        await Appointment.filter(id=appointment.id).update(status=AppointmentStatus.CANCELLED)
        appointment.status = AppointmentStatus.CANCELLED
        if appointment.action_id is not None:
            step = await Action.get(id=appointment.action_id)
            if step.status in {ActionStatus.PROPOSED, ActionStatus.AGREED}:
                await actions.cancel_action(worker, reference, step.id)
        await journal.record(locked, Event.APPOINTMENT_CANCELLED, worker, _details(appointment))
    return appointment


async def record_outcome(
    worker: Person,
    reference: str,
    appointment_id: int,
    took_place: bool,
    *,
    now: datetime | None = None,
    form_key: str | None = None,
) -> Appointment:
    """After an accepted meeting's time: it took place, or she could not come."""
    now = now or timezone.now()
    dossier = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        appointment = await _appointment_of(locked, appointment_id)
        if appointment.status is not AppointmentStatus.ACCEPTED:
            raise NotAllowed("only an accepted meeting has an outcome")
        if appointment.starts_at > now:
            raise NotAllowed("the meeting has not begun")
        step = None
        if appointment.action_id is not None:
            step = await Action.get(id=appointment.action_id)
            # Rule 4: a meeting with someone else took place only on a step she agreed to.
            if step.status not in {ActionStatus.AGREED, ActionStatus.DONE}:
                raise NotAllowed("the step of this meeting is not agreed")
        status = AppointmentStatus.DONE if took_place else AppointmentStatus.MISSED
        await Appointment.filter(id=appointment.id, status=AppointmentStatus.ACCEPTED).update(
            status=status, outcome_at=now
        )
        appointment.status = status
        if took_place and step is not None and step.status is ActionStatus.AGREED:
            await actions.mark_done(worker, reference, step.id)
        event = Event.APPOINTMENT_DONE if took_place else Event.APPOINTMENT_MISSED
        await journal.record(locked, event, worker, _details(appointment))
    return appointment


ANSWERS = {
    "oui": AppointmentStatus.ACCEPTED,
    "non": AppointmentStatus.DECLINED,
    "autre": AppointmentStatus.OTHER_TIME_ASKED,
}
_ANSWER_EVENTS = {
    AppointmentStatus.ACCEPTED: Event.APPOINTMENT_ACCEPTED,
    AppointmentStatus.DECLINED: Event.APPOINTMENT_DECLINED,
    AppointmentStatus.OTHER_TIME_ASKED: Event.APPOINTMENT_OTHER_TIME_ASKED,
}


async def answer(
    subject: Person,
    reference: str,
    appointment_id: int,
    choice: AppointmentStatus,
    word: str = "",
    *,
    now: datetime | None = None,
    form_key: str | None = None,
) -> Appointment:
    """She accepts, declines, or asks for another time (with a word if she wants)."""
    if choice not in _ANSWER_EVENTS:
        raise NotFound("no such answer")
    said = clean_multiline(word) if choice is AppointmentStatus.OTHER_TIME_ASKED else ""
    if len(said) > MAX_WORD:
        raise Invalid("word", _l("At most 500 characters."))
    now = now or timezone.now()
    dossier = await own_dossier(subject, reference)
    if dossier.status is not DossierStatus.OPEN:
        raise NotAllowed("the help has ended")
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        appointment = await _appointment_of(locked, appointment_id)
        if appointment.status is not AppointmentStatus.PROPOSED:
            raise AlreadyDone("already answered")
        if choice is AppointmentStatus.ACCEPTED and appointment.starts_at <= now:
            raise NotAllowed("this moment has passed")
        step = None
        if appointment.action_id is not None:
            step = await Action.get(id=appointment.action_id)
        if choice is AppointmentStatus.ACCEPTED and step is not None:
            # Her agreement to the step: not through a worker's recovery link (rule 4).
            require_whole_account(subject)
            if step.status not in STEP_OPEN:
                # Her yes would agree to nothing: the worker proposes it again (``change``).
                raise NotAllowed("the step of this meeting was called off")
        await Appointment.filter(id=appointment.id, status=AppointmentStatus.PROPOSED).update(
            status=choice,
            answered_at=now,
            answer_word=keys.box(locked).seal(said, "appointment.answer_word"),
        )
        appointment.status = choice
        await journal.record(locked, _ANSWER_EVENTS[choice], subject, _details(appointment))
        if step is not None and step.status is ActionStatus.PROPOSED:
            if choice is AppointmentStatus.ACCEPTED:
                await actions.answer_action(subject, reference, step.id, True)
            elif choice is AppointmentStatus.DECLINED:
                await actions.answer_action(subject, reference, step.id, False)
        elif (
            step is not None
            and step.status is ActionStatus.AGREED
            and choice is AppointmentStatus.DECLINED
        ):
            await actions.withdraw_agreement(subject, reference, step.id)
    return appointment


# --- What the pages show ------------------------------------------------------------------------


@dataclass
class Coming:
    """A meeting to show: the dossier it belongs to, and whether its outcome is asked."""

    appointment: Appointment
    reference: str
    subject_name: str = ""
    # Accepted and its time has come: the worker is asked what happened.
    outcome_asked: bool = False

    @property
    def ends_at(self) -> datetime:
        return self.appointment.starts_at + timedelta(minutes=self.appointment.minutes)


def _open_words(dossier: Dossier, found: list[Appointment]) -> None:
    if dossier.wrapped_key is None:
        for appointment in found:
            for name in SEALED:
                setattr(appointment, name, "")
        return
    keys.open_fields(keys.box(dossier), found, "appointment", SEALED)


def _coming(appointment: Appointment, reference: str, now: datetime, name: str = "") -> Coming:
    asked = appointment.status is AppointmentStatus.ACCEPTED and appointment.starts_at <= now
    return Coming(appointment, reference, name, asked)


async def of_dossier(dossier: Dossier, now: datetime | None = None) -> list[Coming]:
    """A dossier's meetings still to come or to record, the soonest first: one query.

    An ended dossier has none: ending the help stops what was planned in it.
    """
    now = now or timezone.now()
    if dossier.status is not DossierStatus.OPEN:
        return []
    found = (
        await Appointment.filter(dossier_id=dossier.id, status__in=CHANGEABLE)
        .select_related("proposed_by")
        .order_by("starts_at", "id")
        .limit(20)
    )
    # A declined meeting long past is no longer "coming".
    shown = [
        a
        for a in found
        if a.status is AppointmentStatus.ACCEPTED or a.starts_at > now - timedelta(days=1)
    ]
    _open_words(dossier, shown)
    return [_coming(a, dossier.reference, now) for a in shown]


async def of_subject(dossiers: list[Dossier], now: datetime | None = None) -> list[Coming]:
    """Her meetings to come, in all her dossiers, the soonest first: one query."""
    now = now or timezone.now()
    by_id = {d.id: d for d in dossiers if d.status is DossierStatus.OPEN}
    found = (
        await Appointment.filter(
            dossier_id__in=list(by_id),
            status__in=COMING,
            starts_at__gt=now - timedelta(hours=2),
        )
        .select_related("proposed_by")
        .order_by("starts_at", "id")
        .limit(20)
    )
    for dossier_id in {a.dossier_id for a in found}:
        _open_words(by_id[dossier_id], [a for a in found if a.dossier_id == dossier_id])
    return [_coming(a, by_id[a.dossier_id].reference, now) for a in found]


async def of_worker(worker: Person, now: datetime | None = None) -> list[Coming]:
    """The meetings in the dossiers this worker follows, and the past ones to record: one
    query. No sealed word is read here: that would be a look at each dossier."""
    if worker.role is not Role.WORKER:
        raise NotFound("workers only")
    now = now or timezone.now()
    found = (
        await Appointment.filter(
            dossier__assignments__worker_id=worker.id,
            dossier__assignments__ended_at__isnull=True,
            dossier__status=DossierStatus.OPEN,
            status__in=COMING,
            starts_at__gt=now - timedelta(days=30),
        )
        .select_related("dossier__subject")
        .order_by("starts_at", "id")
        .limit(30)
        .distinct()
    )
    return [
        _coming(a, a.dossier.reference, now, a.dossier.subject.display_name)
        for a in found
        if a.status is AppointmentStatus.ACCEPTED or a.starts_at > now
    ]


async def for_calendar(reader: Person, reference: str, appointment_id: int) -> Appointment:
    """One meeting for the reader's phone calendar: its subject or a worker following it.

    A worker's download is a look at the dossier, journaled like a page of it.
    """
    dossier = await readable_dossier(reader, reference)
    if reader.id != dossier.subject_id and reader.role is not Role.WORKER:
        raise NotFound("only the subject and the workers")
    found = await Appointment.filter(
        id=appointment_id,
        dossier_id=dossier.id,
        status__in=COMING,
        dossier__status=DossierStatus.OPEN,
    ).first()
    if found is None:
        raise NotFound("no such appointment")
    if reader.id != dossier.subject_id:
        await journal.record_look(dossier, Event.DOSSIER_READ, reader)
    return found


def _ics_text(value: str) -> str:
    """A TEXT value of RFC 5545, escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines longer than 75 octets are folded (RFC 5545, 3.1)."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, start = [], 0
    while start < len(raw):
        size = 75 if start == 0 else 74
        end = min(start + size, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:
            end -= 1  # never cut a character in two
        parts.append(raw[start:end].decode())
        start = end
    return "\r\n ".join(parts)


def calendar_file(appointment: Appointment, title: str, now: datetime | None = None) -> str:
    """An iCalendar file with a neutral title and nothing else: no place, no service, no name.

    A phone's calendar is read by whoever holds the phone, and may be synced elsewhere.
    """
    stamp = "%Y%m%dT%H%M%SZ"
    utc = UTC
    start = appointment.starts_at.astimezone(utc)
    end = start + timedelta(minutes=appointment.minutes)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Portail//Rendez-vous//FR",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        # Random: the same meeting gives no stable trace across files or phones.
        f"UID:{secrets.token_hex(16)}@portail",
        f"DTSTAMP:{(now or timezone.now()).astimezone(utc).strftime(stamp)}",
        f"DTSTART:{start.strftime(stamp)}",
        f"DTEND:{end.strftime(stamp)}",
        f"SUMMARY:{_ics_text(title)}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)


# --- The reminder, the day before --------------------------------------------------------------


def reminder_due(starts_at: datetime, now: datetime) -> bool:
    """Within the next day, or tomorrow as people in Brussels count days (at most 36 h ahead)."""
    ahead = starts_at - now
    if ahead <= timedelta(0) or ahead > REMIND_AT_MOST:
        return False
    tomorrow = now.astimezone(BRUSSELS).date() + timedelta(days=1)
    return ahead <= REMIND_WITHIN or starts_at.astimezone(BRUSSELS).date() == tomorrow


async def send_reminders(now: datetime | None = None) -> int:
    """Write one reminder to the journal of each accepted meeting due one; return how many.

    The journal's entry becomes the notice to the young person and her workers (notices).
    Safe from several processes at once: the mark is set only where none was.
    """
    now = now or timezone.now()
    candidates = await Appointment.filter(
        status=AppointmentStatus.ACCEPTED,
        reminded_at__isnull=True,
        starts_at__gt=now,
        starts_at__lte=now + REMIND_AT_MOST,
        dossier__status=DossierStatus.OPEN,
    ).values_list("id", "dossier_id", "starts_at")
    sent = 0
    for appointment_id, dossier_id, starts_at in candidates:
        if not reminder_due(starts_at, now):
            continue
        async with acting_once(None):
            locked = await Dossier.select_for_update().get(id=dossier_id)
            marked = await Appointment.filter(
                id=appointment_id, reminded_at__isnull=True, status=AppointmentStatus.ACCEPTED
            ).update(reminded_at=now)
            if marked != 1:
                continue
            await journal.record(
                locked,
                Event.APPOINTMENT_REMINDER,
                None,
                {"appointment": appointment_id, "at": starts_at.isoformat()},
            )
            sent += 1
    return sent
