"""Dossiers: the workers' inbox, taking and giving a dossier, and what a page of it shows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise import timezone

from portal import keys
from portal.domain import documents as document_rules
from portal.domain import journal, workdays
from portal.domain.access import is_assigned, readable_dossier
from portal.domain.errors import Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import lazy as _l
from portal.models import (
    Action,
    ActionStatus,
    Assignment,
    Dossier,
    DossierStatus,
    JournalEntry,
    Message,
    Person,
    Request,
    Role,
)

TIMELINE_PAGE = 20
THREAD_LIMIT = 50
# The newest steps shown; older ones stay in the journal and the export.
ACTION_LIMIT = 100

# What a page shows of the people who wrote in a dossier: their name and role, not the rest of
# an account (its e-mail, its keys). Objects read with ``only`` are partial: the ORM refuses to
# save them.
AUTHOR = ("id", "display_name", "role")


def _with(relation: str, *fields: str) -> tuple[str, ...]:
    """For ``only``: these fields, and the author's fields of ``relation`` (one outer join)."""
    return (*fields, f"{relation}_id", *(f"{relation}__{name}" for name in AUTHOR))


# --- Workers: inbox, team, taking ---------------------------------------------------------------


@dataclass
class InboxItem:
    dossier: Dossier
    request: Request
    waiting_days: int
    overdue: bool
    # She came back after the help ended, and nobody who followed her then is still there.
    returned: bool = False
    # When an answer is due, in the service's working days (``portal.domain.workdays``).
    due: workdays.Due | None = None


def _require_worker(person: Person) -> None:
    if person.role is not Role.WORKER or person.service_id is None:
        raise NotFound("workers only")


async def inbox(worker: Person, now: datetime | None = None) -> list[InboxItem]:
    """Waiting requests of the worker's own service: the urgent ones first, then the late ones,
    then the oldest. Three queries whatever their number.

    Only what a worker needs to choose which to read: no words, no contact details (reading
    those is a journaled look, ``requests.read_waiting_request``).
    """
    _require_worker(worker)
    now = now or timezone.now()
    today = workdays.local_day(now)
    dossiers = (
        await Dossier.filter(service_id=worker.service_id, status=DossierStatus.WAITING)
        .select_related("service")
        .order_by("created_at")
    )
    requests: dict[int, Request] = {}
    returns: set[int] = set()
    for r in await Request.filter(dossier_id__in=[d.id for d in dossiers]).order_by("id"):
        if r.dossier_id in requests:
            returns.add(r.dossier_id)
        requests[r.dossier_id] = r
    since = min((workdays.local_day(r.created_at) for r in requests.values()), default=today)
    calendar = await workdays.calendar_of(worker.service_id or 0, since)
    items = []
    for dossier in dossiers:
        # A return waits since she came back, not since her first request.
        asked = requests[dossier.id].created_at
        target = workdays.due(calendar, asked, dossier.service.response_days, now)
        items.append(
            InboxItem(
                dossier=dossier,
                request=requests[dossier.id],
                waiting_days=calendar.working_days_between(workdays.local_day(asked), today),
                overdue=target.late,
                returned=dossier.id in returns,
                due=target,
            )
        )
    # Stable: within each group, the order of arrival stays.
    items.sort(key=lambda item: workdays.inbox_order(item.request.urgent, item.due))
    return items


@dataclass
class TeamItem:
    dossier: Dossier
    workers: list[Person]


async def team(worker: Person) -> list[TeamItem]:
    """The service's open dossiers, who follows each, and when something last happened."""
    _require_worker(worker)
    dossiers = await Dossier.filter(
        service_id=worker.service_id, status=DossierStatus.OPEN
    ).order_by("-last_activity_at")
    assignments = await Assignment.filter(
        dossier_id__in=[d.id for d in dossiers], ended_at__isnull=True
    ).select_related("worker")
    by_dossier: dict[int, list[Person]] = {}
    for assignment in assignments:
        by_dossier.setdefault(assignment.dossier_id, []).append(assignment.worker)
    return [TeamItem(dossier=d, workers=by_dossier.get(d.id, [])) for d in dossiers]


async def colleagues(worker: Person) -> list[Person]:
    """The workers of one's service, to give a dossier to: their names (partial objects)."""
    _require_worker(worker)
    return (
        await Person.filter(service_id=worker.service_id, role=Role.WORKER, is_active=True)
        .only(*AUTHOR)
        .order_by("display_name", "id")
    )


async def find_by_reference(worker: Person, reference: str) -> Dossier:
    """A worker looks a dossier up by its reference: within their own service only."""
    _require_worker(worker)
    cleaned = "".join(ch for ch in reference.upper() if ch.isalnum())
    if len(cleaned) != 8:
        raise Invalid("reference", _l("A reference looks like this: ABCD-2345."))
    dossier = await Dossier.filter(
        reference=f"{cleaned[:4]}-{cleaned[4:]}", service_id=worker.service_id
    ).first()
    if dossier is None:
        raise Invalid("reference", _l("No dossier of your service has this reference."))
    return dossier


async def take(worker: Person, dossier_id: int, *, form_key: str | None = None) -> Dossier:
    """The worker takes a waiting request. Two at once: one gets it, the other is told."""
    _require_worker(worker)
    async with acting_once(form_key):
        dossier = (
            await Dossier.select_for_update()
            .filter(id=dossier_id, service_id=worker.service_id)
            .first()
        )
        if dossier is None:
            raise NotFound("no such dossier")
        now = timezone.now()
        # Conditional: only the first of two simultaneous takes changes the status.
        taken = await Dossier.filter(id=dossier.id, status=DossierStatus.WAITING).update(
            status=DossierStatus.OPEN, opened_at=now
        )
        if taken != 1:
            raise NotAllowed("already taken")
        await Assignment.create(dossier_id=dossier.id, worker_id=worker.id)
        dossier.status = DossierStatus.OPEN
        await journal.record(dossier, Event.DOSSIER_TAKEN, worker)
    return dossier


async def assign(
    worker: Person, dossier_id: int, colleague_id: int, *, form_key: str | None = None
) -> Dossier:
    """Give a dossier to a colleague of the same service (a waiting one opens with it)."""
    _require_worker(worker)
    async with acting_once(form_key):
        dossier = (
            await Dossier.select_for_update()
            .filter(id=dossier_id, service_id=worker.service_id)
            .first()
        )
        if dossier is None:
            raise NotFound("no such dossier")
        if dossier.status is DossierStatus.OPEN and not await is_assigned(worker, dossier):
            raise NotFound("not assigned")
        if dossier.status is DossierStatus.ENDED:
            raise NotAllowed("ended")
        colleague = await Person.filter(
            id=colleague_id, service_id=worker.service_id, role=Role.WORKER, is_active=True
        ).first()
        if colleague is None:
            raise Invalid("colleague", _l("Choose a colleague of your service."))
        if await is_assigned(colleague, dossier):
            raise Invalid("colleague", _l("This colleague already follows this dossier."))
        if dossier.status is DossierStatus.WAITING:
            await Dossier.filter(id=dossier.id).update(
                status=DossierStatus.OPEN, opened_at=timezone.now()
            )
            dossier.status = DossierStatus.OPEN
        await Assignment.create(dossier_id=dossier.id, worker_id=colleague.id)
        await journal.record(dossier, Event.DOSSIER_ASSIGNED, worker, {"to": colleague.id})
    return dossier


# --- What a page of the dossier shows ------------------------------------------------------------


@dataclass
class DossierView:
    dossier: Dossier
    request: Request
    workers: list[Person]
    messages: list[Message]
    actions: list[Action]
    timeline: list[JournalEntry]
    page: int
    has_more: bool
    new_since: int
    partner_names: dict[int, str]
    # Why the subject ended the help, if they said, while it is ended: their own words.
    end_reason: str = ""
    # Its photos and PDFs, without their bytes.
    documents: list[document_rules.Listed] = field(default_factory=list)
    # The meetings to come (appointments.Coming), shown first: filled by the page.
    appointments: list[Any] = field(default_factory=list)


async def open_dossier(reader: Person, reference: str, page: int = 1) -> DossierView:
    """Everything a page of the dossier shows, in a fixed number of queries.

    A read by anyone but the subject is written to the journal: one entry per page view.
    """
    dossier = await readable_dossier(reader, reference)
    page = max(1, min(page, 10_000))
    if reader.id != dossier.subject_id:
        await journal.record_look(dossier, Event.DOSSIER_READ, reader)
    return await _view(dossier, page)


# Each one's own fields a page shows, for ``only``: the journal's MACs are not shown.
MESSAGE = ("id", "dossier_id", "body", "created_at")
ACTION = (
    "id",
    "dossier_id",
    "kind",
    "involves_third_party",
    "partner_id",
    "description",
    "third_party",
    "status",
    "answer_reason",
    "created_at",
    "answered_at",
    "done_at",
)
ENTRY = ("id", "dossier_id", "seq", "event", "at", "details")


async def _view(dossier: Dossier, page: int) -> DossierView:
    request = await Request.filter(dossier_id=dossier.id).order_by("-id").first()
    if request is None:
        raise NotFound("dossier without request")
    followed = (
        await Assignment.filter(dossier_id=dossier.id, ended_at__isnull=True)
        .only(*_with("worker", "id"))
        .order_by("id")
    )
    workers = [assignment.worker for assignment in followed]
    newest_first = (
        await Message.filter(dossier_id=dossier.id)
        .only(*_with("author", *MESSAGE))
        .order_by("-created_at", "-id")
        .limit(THREAD_LIMIT)
    )
    messages = newest_first[::-1]
    actions = (
        await Action.filter(dossier_id=dossier.id)
        .only(*_with("author", *ACTION))
        .order_by("-created_at", "-id")
        .limit(ACTION_LIMIT)
    )
    end_reason = ""
    if dossier.wrapped_key is not None:
        box = keys.box(dossier)
        if dossier.status is DossierStatus.ENDED:
            end_reason = box.open(dossier.end_reason, "dossier.end_reason")
        keys.open_fields(box, [request], "request", ("words", "contact_details", "contact_hours"))
        keys.open_fields(box, messages, "message", ("body",))
        keys.open_fields(box, actions, "action", ("description", "third_party", "answer_reason"))
    else:
        # Erased: the sealed texts are noise now; show nothing of them.
        blank: list[tuple[Any, tuple[str, ...]]] = [
            (request, ("words", "contact_details", "contact_hours")),
            *((m, ("body",)) for m in messages),
            *((a, ("description", "third_party", "answer_reason")) for a in actions),
        ]
        for obj, fields in blank:
            for field_name in fields:
                setattr(obj, field_name, "")
    journal_page = await read_journal_page(dossier, page)
    return DossierView(
        dossier=dossier,
        request=request,
        workers=workers,
        messages=messages,
        actions=actions,
        timeline=journal_page.entries,
        page=page,
        has_more=journal_page.has_more,
        new_since=dossier.subject_seen_seq,
        partner_names=journal_page.partner_names,
        end_reason=end_reason,
        documents=await document_rules.listed(dossier),
    )


@dataclass(frozen=True)
class JournalPage:
    entries: list[JournalEntry]  # newest first, at most TIMELINE_PAGE
    has_more: bool
    partner_names: dict[int, str]  # the partners these entries name, by id


async def read_journal_page(dossier: Dossier, page: int) -> JournalPage:
    """One page of the dossier's journal, newest first, with the partners it names: two
    queries, whatever the page holds."""
    entries = (
        await JournalEntry.filter(dossier_id=dossier.id)
        .only(*_with("actor", *ENTRY))
        .order_by("-seq")
        .offset((page - 1) * TIMELINE_PAGE)
        .limit(TIMELINE_PAGE + 1)
    )
    shown = entries[:TIMELINE_PAGE]
    names = await journal.partner_names(shown)
    return JournalPage(shown, len(entries) > TIMELINE_PAGE, names)


async def mark_seen(dossier: Dossier, view: DossierView) -> None:
    """The subject saw the first page of their timeline: what is on it is no longer new."""
    if view.page == 1 and view.timeline and view.timeline[0].seq > view.new_since:
        # Conditional, should another view of the same dossier have gone further meanwhile.
        newest = view.timeline[0].seq
        await Dossier.filter(id=dossier.id, subject_seen_seq__lt=newest).update(
            subject_seen_seq=newest
        )


async def subject_dossiers(subject: Person) -> list[Dossier]:
    if not subject.is_subject:
        raise NotFound("subjects only")
    # An erased dossier leaves nothing in its subject's space: no card, no date, no journal.
    query = Dossier.filter(subject_id=subject.id, erased_at__isnull=True)
    if subject.scope_dossier_id is not None:
        # A session opened by a recovery link: the one dossier it was given for.
        query = query.filter(id=subject.scope_dossier_id)
    return await query.order_by("-created_at")


async def answers_awaited(dossiers: list[Dossier]) -> dict[int, int]:
    """How many proposed steps wait for the subject's answer, by dossier: one query."""
    waiting = await Action.filter(
        dossier_id__in=[d.id for d in dossiers], status=ActionStatus.PROPOSED
    ).values_list("dossier_id", "id")
    return dict(Counter(dossier_id for dossier_id, _ in waiting))


async def assigned_dossiers(worker: Person) -> list[Dossier]:
    _require_worker(worker)
    ids = await Assignment.filter(worker_id=worker.id, ended_at__isnull=True).values_list(
        "dossier_id", flat=True
    )
    return await Dossier.filter(id__in=list(ids), status=DossierStatus.OPEN).order_by(
        "-last_activity_at"
    )


async def followed(
    worker: Person, reply_days: int, now: datetime
) -> tuple[list[Dossier], dict[int, workdays.Unanswered]]:
    """The worker's own dossiers, the late replies first, with what waits for an answer."""
    mine = await assigned_dossiers(worker)
    waiting = await workdays.unanswered_messages(mine, reply_days, now)
    mine.sort(key=lambda dossier: workdays.reply_order(dossier, waiting))
    return mine, waiting


async def recently_ended(worker: Person, days: int = 30) -> list[Dossier]:
    """Dossiers this worker followed that ended lately: this is how the worker is told."""
    _require_worker(worker)
    ids = await Assignment.filter(worker_id=worker.id, ended_at__isnull=True).values_list(
        "dossier_id", flat=True
    )
    since = timezone.now() - timedelta(days=days)
    return await Dossier.filter(
        id__in=list(ids), status=DossierStatus.ENDED, ended_at__gte=since
    ).order_by("-ended_at")


async def recently_returned(worker: Person, days: int = 30) -> list[tuple[str, datetime]]:
    """The references of the dossiers this worker follows whose young person (or parent)
    came back lately, with when, newest first: a return goes back to whoever followed it,
    and this is how they are told."""
    _require_worker(worker)
    followed = dict(
        await Dossier.filter(
            assignments__worker_id=worker.id,
            assignments__ended_at__isnull=True,
            status=DossierStatus.OPEN,
        ).values_list("id", "reference")
    )
    made = await Request.filter(dossier_id__in=list(followed)).values_list(
        "dossier_id", "created_at"
    )
    count: dict[int, int] = {}
    latest: dict[int, datetime] = {}
    for dossier_id, created_at in made:
        count[dossier_id] = count.get(dossier_id, 0) + 1
        latest[dossier_id] = max(created_at, latest.get(dossier_id, created_at))
    since = timezone.now() - timedelta(days=days)
    back = [(followed[d], latest[d]) for d in count if count[d] > 1 and latest[d] >= since]
    return sorted(back, key=lambda pair: pair[1], reverse=True)


def pending_answers(view: DossierView) -> list[Action]:
    return [a for a in view.actions if a.status is ActionStatus.PROPOSED]
