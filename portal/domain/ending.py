"""Rule 7: the subject ends the help at any time, comes back, takes their data, erases it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal import keys
from portal.domain import appointments as appointment_rules
from portal.domain import concertation as concertation_rules
from portal.domain import documents as document_rules
from portal.domain import journal
from portal.domain.access import is_assigned, own_dossier, readable_dossier
from portal.domain.accounts import require_whole_account
from portal.domain.consent import revoke_all
from portal.domain.errors import AlreadyDone, Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once, answer_if_repeat
from portal.domain.journal import Event, JournalProof
from portal.domain.requests import RequestForm, is_under_age_limit, make_request_in
from portal.i18n import lazy as _l
from portal.models import (
    Action,
    ActionStatus,
    Appointment,
    AppointmentStatus,
    Asker,
    Assignment,
    Concertation,
    Consent,
    Document,
    Dossier,
    DossierStatus,
    JournalEntry,
    Message,
    Person,
    Request,
    Role,
    Share,
)
from portal.text import clean_multiline

MAX_REASON = 1000


class NotErasable(NotAllowed):
    """A dossier is erased only after the help has ended, and only once."""


async def _end_locked(
    dossier: Dossier, actor: Person, event: Event, details: dict[str, Any]
) -> None:
    """What ending means, all in the caller's transaction: consents, steps, status."""
    await revoke_all(dossier, actor)
    pending = await Action.filter(
        dossier_id=dossier.id, status__in=[ActionStatus.PROPOSED, ActionStatus.AGREED]
    )
    for step in pending:
        await Action.filter(id=step.id).update(status=ActionStatus.CANCELLED)
        await journal.record(
            dossier, Event.ACTION_CANCELLED, actor, {"action": step.id, "because": event}
        )
    # Rule 4: no meeting outlives the help. One still to come is cancelled and said so in
    # the journal; one she declined is closed without a word (nothing was planned any more).
    # None comes back with her, and no reminder goes out for it.
    planned = await Appointment.filter(
        dossier_id=dossier.id, status__in=[*appointment_rules.CHANGEABLE]
    ).order_by("starts_at", "id")
    if planned:
        await Appointment.filter(id__in=[a.id for a in planned]).update(
            status=AppointmentStatus.CANCELLED
        )
    for meeting in planned:
        if meeting.status in appointment_rules.COMING:
            await journal.record(
                dossier,
                Event.APPOINTMENT_CANCELLED,
                actor,
                {
                    "appointment": meeting.id,
                    "at": meeting.starts_at.isoformat(),
                    "because": event,
                },
            )
    await Dossier.filter(id=dossier.id).update(status=DossierStatus.ENDED, ended_at=timezone.now())
    dossier.status = DossierStatus.ENDED
    await journal.record(dossier, event, actor, details)


def check_may_end(subject: Person, dossier: Dossier) -> None:
    """Whether the subject may end the help of her dossier (see ``end_help``), before she
    confirms it."""
    if dossier.status is DossierStatus.ENDED:
        raise AlreadyDone("already ended")
    require_whole_account(subject)


async def end_help(
    subject: Person, reference: str, reason: str = "", *, form_key: str | None = None
) -> Dossier:
    """One confirmation, no reason needed. Every consent and pending step stops with it.

    Not through a recovery link: its holder may be the worker who made it, and ending stops
    every consent and step at once; the young person ends the help herself.
    """
    require_whole_account(subject)
    dossier = await own_dossier(subject, reference)
    why = clean_multiline(reason)
    if len(why) > MAX_REASON:
        raise Invalid("reason", _l("At most 1,000 characters."))
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        if locked.status is DossierStatus.ENDED:
            raise AlreadyDone("already ended")
        if why and locked.wrapped_key is not None:
            await Dossier.filter(id=locked.id).update(
                end_reason=keys.box(locked).seal(why, "dossier.end_reason")
            )
        await _end_locked(locked, subject, Event.DOSSIER_ENDED, {"reason_given": bool(why)})
    return locked


async def close_inactive(
    worker: Person,
    reference: str,
    message: str,
    inactive_days: int,
    *,
    form_key: str | None = None,
) -> Dossier:
    """A worker closes a dossier where nothing happened for a while, telling the subject first."""
    if worker.role is not Role.WORKER:
        raise NotFound("workers only")
    dossier = await readable_dossier(worker, reference)
    text = clean_multiline(message)
    if not text:
        raise Invalid(
            "message",
            _l(
                "Write a few words for the young person (or the parent): "
                "they will read them in their dossier."
            ),
        )
    if len(text) > 4000:
        raise Invalid("message", _l("At most 4,000 characters."))
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        if locked.status is not DossierStatus.OPEN or not await is_assigned(worker, locked):
            raise NotAllowed("not open")
        last = locked.last_activity_at or locked.created_at
        if timezone.now() - last < timedelta(days=inactive_days):
            raise Invalid(
                "message",
                _l("Something happened in this dossier recently: it cannot be closed yet."),
            )
        sealed = keys.box(locked).seal(text, "message.body")
        note = await Message.create(dossier_id=locked.id, author_id=worker.id, body=sealed)
        await journal.record(locked, Event.MESSAGE_SENT, worker, {"message": note.id})
        await _end_locked(locked, worker, Event.DOSSIER_CLOSED, {"inactive_days": inactive_days})
    return locked


def _may_come_back(dossier: Dossier) -> bool:
    return dossier.status is DossierStatus.ENDED and dossier.erased_at is None


async def returnable(subject: Person, reference: str) -> Dossier:
    """The subject's ended dossier, to come back to (see ``reopen``): an open or an erased
    dossier has no way back."""
    dossier = await own_dossier(subject, reference)
    if not _may_come_back(dossier):
        raise NotFound("only an ended dossier comes back")
    require_whole_account(subject)
    return dossier


async def reopen(
    subject: Person, reference: str, form: RequestForm, *, form_key: str | None = None
) -> Dossier:
    """Come back: a new request in the same dossier, which waits again with its history.

    Not in a session opened by a worker's recovery link: coming back is a new request, which
    only the young person makes (rule 1), and the link's holder may be the worker herself.
    """
    require_whole_account(subject)
    dossier = await own_dossier(subject, reference)
    today = timezone.now().date()
    if subject.role is Role.YOUTH:
        if subject.birth_year is None or not is_under_age_limit(
            subject.birth_year, subject.birth_month or 0, today
        ):
            raise Invalid("birth", _l("The AMO helps young people under 22."))
    else:
        last = await Request.filter(dossier_id=dossier.id).order_by("-id").first()
        form.asker = Asker.RELATIVE
        if (
            last is None
            or last.concerned_birth_year is None
            or not is_under_age_limit(
                last.concerned_birth_year, last.concerned_birth_month or 0, today
            )
        ):
            raise Invalid("birth", _l("The AMO helps with young people under 22."))
        form.concerned_birth_year = last.concerned_birth_year
        form.concerned_birth_month = last.concerned_birth_month
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        if not _may_come_back(locked):
            raise NotFound("only an ended dossier comes back")
        now = timezone.now()
        back_to = await _former_workers(locked)
        await (
            Assignment.filter(dossier_id=locked.id, ended_at__isnull=True)
            .exclude(worker_id__in=[w.id for w in back_to])
            .update(ended_at=now)
        )
        # Back to whoever followed her, if they still can; to the service's inbox otherwise.
        # Her old reason for ending is no longer the state of things: it goes with the end.
        status = DossierStatus.OPEN if back_to else DossierStatus.WAITING
        await Dossier.filter(id=locked.id).update(
            status=status, ended_at=None, opened_at=now if back_to else None, end_reason=""
        )
        locked.status, locked.end_reason = status, ""
        await make_request_in(locked, subject, form, Event.DOSSIER_REOPENED)
        if back_to:
            await journal.record(
                locked,
                Event.DOSSIER_RETURNED,
                None,
                {"to": [w.id for w in back_to], "to_names": [w.display_name for w in back_to]},
            )
    return locked


async def _former_workers(dossier: Dossier) -> list[Person]:
    """Who followed the dossier when it ended and still works in its service, first come first.

    A worker who left, or who now works for another service, is not given it back.
    """
    followed = (
        await Assignment.filter(dossier_id=dossier.id, ended_at__isnull=True)
        .select_related("worker")
        .order_by("assigned_at", "id")
    )
    still_there = {
        a.worker.id: a.worker
        for a in followed
        if a.worker.is_active
        and a.worker.role is Role.WORKER
        and a.worker.service_id == dossier.service_id
    }
    return list(still_there.values())


def check_erasable(dossier: Dossier) -> None:
    if dossier.status is not DossierStatus.ENDED or dossier.erased_at is not None:
        raise NotErasable("only an ended dossier, once")


async def erase(subject: Person, reference: str, *, form_key: str | None = None) -> Dossier:
    """Crypto-shredding: the dossier's key is destroyed and its texts are unreadable for good.

    The dossier then leaves its subject's space. What stays says nothing about the person:
    month, themes, durations, the journal's events, for the service's anonymous figures.
    Not in a session opened by a worker's recovery link: whoever holds it must not be able to
    destroy what the dossier holds.
    """
    require_whole_account(subject)
    try:
        dossier = await own_dossier(subject, reference)
    except NotFound:
        # Erased by this same form a moment ago: it gets its first answer, not a 404.
        await answer_if_repeat(form_key)
        raise
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        check_erasable(locked)
        await erase_locked(locked, subject)
    return locked


async def erase_locked(
    locked: Dossier, actor: Person | None, details: dict[str, Any] | None = None
) -> None:
    """Destroy the key of a dossier the caller holds locked, and journal it in that transaction.

    The actor is None when the portal itself erases (retention).
    """
    now = timezone.now()
    await Dossier.filter(id=locked.id).update(wrapped_key=None, erased_at=now)
    # Files are the bulk of what a dossier holds: their rows go too, not only their key.
    await Document.filter(dossier_id=locked.id).delete()
    # Meetings and concertation minutes keep, in clear, when and where (a hearing, a school)
    # and who asked: no figure counts them, so their rows go too. The steps stay, for the
    # figures and the journal's events.
    await Appointment.filter(dossier_id=locked.id).delete()
    await Concertation.filter(dossier_id=locked.id).delete()
    locked.wrapped_key = None
    locked.erased_at = now
    await journal.record(locked, Event.DOSSIER_ERASED, actor, details)


# --- Export (GDPR art. 15 and 20) ----------------------------------------------------------------


@dataclass
class Export:
    dossier: Dossier
    requests: list[Request]
    messages: list[Message]
    actions: list[Action]
    consents: list[Consent]
    shares: list[Share]
    journal: list[JournalEntry]
    # Why the subject ended the help, if they said, while it is ended: theirs to read.
    end_reason: str = ""
    # The partners the journal names, by id: named as the dossier's page names them.
    partner_names: dict[int, str] = field(default_factory=dict)
    # Its photos and PDFs, their bytes opened.
    documents: list[document_rules.Exported] = field(default_factory=list)
    # Every meeting proposed to her, its words opened, the earliest first.
    appointments: list[Appointment] = field(default_factory=list)
    # Every concertation meeting: who asked, when, who attended, the minutes.
    meetings: list[concertation_rules.MeetingView] = field(default_factory=list)
    # Every journal entry as public things, and the head the service signed over them.
    proof: JournalProof | None = None


async def export(subject: Person, reference: str, *, origin: str) -> Export:
    """Everything the dossier holds, for its subject only; the export itself is journaled.

    Its journal comes whole, with the head the service signs (``origin`` names the service
    as the issuer): every entry is hers to read, and the chain needs every one of them.
    Read through a recovery link (a session scoped to this dossier, maybe held by the worker
    who made the link), there is no proof: its entries, as they are, would name who follows
    her in another service, which that way in does not tell. Her whole account gets it.
    """
    dossier = await own_dossier(subject, reference)
    if dossier.wrapped_key is None:
        raise NotFound("erased: nothing left to export")
    async with in_transaction():
        locked = await Dossier.select_for_update().get(id=dossier.id)
        await journal.record(locked, Event.DOSSIER_EXPORTED, subject)
    box = keys.box(dossier)
    requests = await Request.filter(dossier_id=dossier.id).order_by("id")
    keys.open_fields(box, requests, "request", ("words", "contact_details", "contact_hours"))
    messages = (
        await Message.filter(dossier_id=dossier.id)
        .select_related("author")
        .order_by("created_at", "id")
    )
    keys.open_fields(box, messages, "message", ("body",))
    actions = (
        await Action.filter(dossier_id=dossier.id)
        .select_related("author")
        .order_by("created_at", "id")
    )
    keys.open_fields(box, actions, "action", ("description", "third_party", "answer_reason"))
    consents = (
        await Consent.filter(dossier_id=dossier.id).select_related("partner").order_by("granted_at")
    )
    keys.open_fields(box, consents, "consent", ("purpose",))
    shares = (
        await Share.filter(dossier_id=dossier.id).select_related("partner").order_by("shared_at")
    )
    keys.open_fields(box, shares, "share", ("content",))
    entries = (
        await JournalEntry.filter(dossier_id=dossier.id).select_related("actor").order_by("seq")
    )
    meetings = (
        await Appointment.filter(dossier_id=dossier.id)
        .select_related("proposed_by")
        .order_by("starts_at", "id")
    )
    keys.open_fields(box, meetings, "appointment", appointment_rules.SEALED)
    # A dossier she came back to is no longer ended: an old reason for ending is not hers now
    # (coming back clears it; a dossier reopened before that still holds one).
    end_reason = ""
    if dossier.status is DossierStatus.ENDED:
        end_reason = box.open(dossier.end_reason, "dossier.end_reason")
    return Export(
        dossier,
        requests,
        messages,
        actions,
        consents,
        shares,
        entries,
        end_reason,
        await journal.partner_names(entries),
        await document_rules.exported(dossier),
        meetings,
        # The earliest first, as the rest of her copy.
        list(reversed(await concertation_rules.dossier_meetings(dossier))),
        None
        if subject.scope_dossier_id is not None
        else await journal.journal_proof(dossier, entries, origin),
    )
