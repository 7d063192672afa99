"""Concertation pages: the admin keeps the members and the charter; the worker follows each
meeting's time frame and writes its minutes; the young person approves them or asks a change."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import concertation as rules
from portal.domain import journal
from portal.domain import partners as directory
from portal.domain.access import readable_dossier
from portal.domain.errors import AlreadyDone, Invalid
from portal.domain.journal import Event
from portal.i18n import _
from portal.models import Role
from portal.pages.common import (
    as_id,
    form_key,
    once,
    path_id,
    person_of,
    reference_of,
    require,
    text,
)
from portal.templating import render

SUBJECTS = (Role.YOUTH, Role.RELATIVE)


# --- The admin --------------------------------------------------------------------------------


async def _admin_context(request: Request, **extra: Any) -> dict[str, Any]:
    service, members = await rules.admin_page(person_of(request))
    context: dict[str, Any] = {
        "service": service,
        "members": members,
        "partners": await directory.active_partners(),
        "charter": {name: getattr(service, name) for name in rules.CHARTER_FIELDS},
        "member": {"partner": "", "membership": "", "adhered_on": ""},
        "errors": {},
    }
    context.update(extra)
    return context


@require(Role.ADMIN)
async def admin_page(request: Request) -> Response:
    return render(request, "concertation/admin.html", await _admin_context(request))


@require(Role.ADMIN)
@once()
async def save_charter(request: Request) -> Response:
    form = await request.form()
    texts = {name: text(form, name, rules.MAX_CHARTER + 100) for name in rules.CHARTER_FIELDS}
    try:
        await rules.save_charter(person_of(request), texts, form_key=form_key(request))
    except Invalid as refusal:
        context = await _admin_context(
            request, charter=texts, errors={refusal.field: _(refusal.message)}
        )
        return render(request, "concertation/admin.html", context, status_code=422)
    return RedirectResponse("/admin/concertation#charte", status_code=303)


@require(Role.ADMIN)
@once()
async def save_member(request: Request) -> Response:
    form = await request.form()
    values = {name: text(form, name, 20) for name in ("partner", "membership", "adhered_on")}
    try:
        await rules.save_member(
            person_of(request),
            as_id(values["partner"]) or 0,
            values["membership"],
            values["adhered_on"],
            form_key=form_key(request),
        )
    except Invalid as refusal:
        context = await _admin_context(
            request, member=values, errors={refusal.field: _(refusal.message)}
        )
        return render(request, "concertation/admin.html", context, status_code=422)
    return RedirectResponse("/admin/concertation#membres", status_code=303)


@require(Role.ADMIN)
@once()
async def remove_member(request: Request) -> Response:
    await rules.remove_member(
        person_of(request), path_id(request, "partner_id"), form_key=form_key(request)
    )
    return RedirectResponse("/admin/concertation#membres", status_code=303)


# --- The worker -------------------------------------------------------------------------------


@require(Role.WORKER)
@once()
async def worker_step(request: Request) -> Response:
    """Told the young person (otherwise than by her agreement), the date, the minutes."""
    worker = person_of(request)
    reference = reference_of(request)
    action_id = path_id(request, "action_id")
    step = request.path_params["step"]
    if step not in {"informee", "date", "pv"}:
        raise HTTPException(404)
    form = await request.form()
    values = {
        "when": text(form, "when", 40),
        "minutes": text(form, "minutes", rules.MAX_MINUTES + 100),
    }
    try:
        if step == "informee":
            await rules.mark_informed(
                worker, reference, action_id, values["when"], form_key=form_key(request)
            )
        elif step == "date":
            await rules.plan_meeting(
                worker, reference, action_id, values["when"], form_key=form_key(request)
            )
        else:
            await rules.write_minutes(
                worker, reference, action_id, values["minutes"], form_key=form_key(request)
            )
    except AlreadyDone:
        pass  # Done already (from another tab): what was done stands.
    except Invalid as refusal:
        dossier = await readable_dossier(worker, reference)
        # The form comes back with the minutes and her words: a read, so it is journaled.
        await journal.record_look(dossier, Event.DOSSIER_READ, worker)
        meeting = next(
            (m for m in await rules.dossier_meetings(dossier) if m.action.id == action_id), None
        )
        if meeting is None:
            raise HTTPException(404) from refusal
        context = {
            "dossier": dossier,
            "meeting": meeting,
            "values": values,
            "step": step,
            "errors": {refusal.field: _(refusal.message)},
        }
        return render(request, "concertation/worker_form.html", context, status_code=422)
    return RedirectResponse(f"/travail/dossiers/{reference}#reunion-{action_id}", status_code=303)


# --- The young person -------------------------------------------------------------------------


@require(*SUBJECTS)
@once()
async def subject_answer(request: Request) -> Response:
    """She approves the minutes (then they go to the partners who were there), or asks for a
    change with a word."""
    person = person_of(request)
    reference = reference_of(request)
    action_id = path_id(request, "action_id")
    choice = request.path_params["choice"]
    if choice not in {"approuver", "changer"}:
        raise HTTPException(404)
    form = await request.form()
    word = text(form, "word", rules.MAX_WORD + 100)
    try:
        if choice == "approuver":
            await rules.approve_minutes(person, reference, action_id, form_key=form_key(request))
        else:
            await rules.ask_change(person, reference, action_id, word, form_key=form_key(request))
    except AlreadyDone:
        pass  # Answered already (from another tab): the first answer stands.
    except Invalid as refusal:
        dossier = await readable_dossier(person, reference)
        meeting = next(
            (m for m in await rules.dossier_meetings(dossier) if m.action.id == action_id), None
        )
        if meeting is None or dossier.subject_id != person.id:
            raise HTTPException(404) from refusal
        context = {
            "dossier": dossier,
            "meeting": meeting,
            "word": word,
            "errors": {refusal.field: _(refusal.message)},
        }
        return render(request, "concertation/subject_form.html", context, status_code=422)
    return RedirectResponse(f"/espace/{reference}#reunion-{action_id}", status_code=303)


routes = [
    Route("/admin/concertation", admin_page, name="concertation.admin"),
    Route(
        "/admin/concertation/charte",
        save_charter,
        methods=["POST"],
        name="concertation.charter",
    ),
    Route(
        "/admin/concertation/membres",
        save_member,
        methods=["POST"],
        name="concertation.member",
    ),
    Route(
        "/admin/concertation/membres/{partner_id}/retirer",
        remove_member,
        methods=["POST"],
        name="concertation.remove_member",
    ),
    Route(
        "/travail/dossiers/{reference}/reunions/{action_id}/{step:str}",
        worker_step,
        methods=["POST"],
        name="concertation.worker_step",
    ),
    Route(
        "/espace/{reference}/reunions/{action_id}/{choice:str}",
        subject_answer,
        methods=["POST"],
        name="concertation.subject_answer",
    ),
]
