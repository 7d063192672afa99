"""Appointments: the worker proposes, changes, cancels and records; the young person answers."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import appointments as rules
from portal.domain.access import readable_dossier
from portal.domain.errors import AlreadyDone, Invalid
from portal.i18n import _
from portal.labels import PLACE_NAMES
from portal.models import Appointment, AppointmentStatus, Dossier, Person, Role
from portal.pages.common import (
    form_key,
    kept,
    once,
    path_id,
    person_of,
    reference_of,
    require,
    text,
)
from portal.templating import render

SUBJECTS = (Role.YOUTH, Role.RELATIVE)
FIELDS = ("day", "hour", "minutes", "place_kind", "place", "with_whom")


def _worker_url(reference: str) -> str:
    return f"/travail/dossiers/{reference}#rendez-vous"


def _subject_url(reference: str) -> str:
    return f"/espace/{reference}#rendez-vous"


def _form_page(
    request: Request,
    refusal: Invalid,
    values: dict[str, str],
    appointment: Appointment | None = None,
) -> Response:
    """The form again, with what was typed and what is wrong: 422."""
    context: dict[str, Any] = {
        "reference": reference_of(request),
        "values": values,
        "errors": {refusal.field: _(refusal.message)},
        "appointment": appointment,
        "place_names": PLACE_NAMES,
    }
    return render(request, "appointments/form.html", context, status_code=422)


@require(Role.WORKER)
@once()
async def propose(request: Request) -> Response:
    person = person_of(request)
    form = await request.form()
    values = kept(form, FIELDS)
    try:
        proposal = rules.check_proposal(
            values["day"],
            values["hour"],
            values["minutes"],
            values["place_kind"],
            values["place"],
            values["with_whom"],
        )
        await rules.propose(person, reference_of(request), proposal, form_key=form_key(request))
    except Invalid as refusal:
        # Someone else's dossier is not found before any word is shown back.
        await readable_dossier(person, reference_of(request))
        return _form_page(request, refusal, values)
    return RedirectResponse(_worker_url(reference_of(request)), status_code=303)


@require(Role.WORKER)
@once()
async def change(request: Request) -> Response:
    """A new time for a meeting (she asked for another, or the worker must move it)."""
    person = person_of(request)
    form = await request.form()
    values = kept(form, ("day", "hour", "minutes"))
    appointment_id = path_id(request, "appointment_id")
    try:
        starts_at = rules.parse_when(values["day"], values["hour"])
        minutes = rules.parse_minutes(values["minutes"])
        await rules.change(
            person,
            reference_of(request),
            appointment_id,
            starts_at,
            minutes,
            form_key=form_key(request),
        )
    except Invalid as refusal:
        dossier = await readable_dossier(person, reference_of(request))
        found = await Appointment.filter(id=appointment_id, dossier_id=dossier.id).first()
        if found is None:
            raise HTTPException(404) from refusal
        return _form_page(request, refusal, values, found)
    return RedirectResponse(_worker_url(reference_of(request)), status_code=303)


@require(Role.WORKER)
@once()
async def step(request: Request) -> Response:
    """Cancel, or after the time: it took place, or she could not come. One click each."""
    person = person_of(request)
    name = request.path_params["step"]
    reference, appointment_id = reference_of(request), path_id(request, "appointment_id")
    if name == "annuler":
        await rules.cancel(person, reference, appointment_id, form_key=form_key(request))
    elif name in {"fait", "manque"}:
        await rules.record_outcome(
            person, reference, appointment_id, name == "fait", form_key=form_key(request)
        )
    else:
        raise HTTPException(404)
    return RedirectResponse(_worker_url(reference), status_code=303)


async def _her_meeting(request: Request, person: Person) -> tuple[Dossier, Appointment]:
    """The meeting of the URL in her own open dossier, its words opened; anyone else: 404."""
    dossier = await readable_dossier(person, reference_of(request))
    if dossier.subject_id != person.id:
        raise HTTPException(404)
    appointment_id = path_id(request, "appointment_id")
    found = await rules.of_dossier(dossier)
    appointment = next((c.appointment for c in found if c.appointment.id == appointment_id), None)
    if appointment is None:
        raise HTTPException(404)
    return dossier, appointment


@require(*SUBJECTS)
@once()
async def answer(request: Request) -> Response:
    """Accept, decline, or ask for another time: a page to confirm (and say a word), a POST."""
    person = person_of(request)
    choice = rules.ANSWERS.get(request.path_params["choice"])
    if choice is None:
        raise HTTPException(404)
    reference = reference_of(request)
    if request.method == "GET":
        dossier, appointment = await _her_meeting(request, person)
        if appointment.status is not AppointmentStatus.PROPOSED:
            return RedirectResponse(_subject_url(dossier.reference), status_code=303)
        return render(
            request, "appointments/answer.html", _answer_context(request, dossier, appointment)
        )
    form = await request.form()
    word = text(form, "word", 5000)
    try:
        await rules.answer(
            person,
            reference,
            path_id(request, "appointment_id"),
            choice,
            word,
            form_key=form_key(request),
        )
    except AlreadyDone:
        pass  # Answered already (from another tab): the first answer stands.
    except Invalid as refusal:
        dossier, appointment = await _her_meeting(request, person)
        context = _answer_context(request, dossier, appointment)
        context.update(errors={refusal.field: _(refusal.message)}, word=word)
        return render(request, "appointments/answer.html", context, status_code=422)
    return RedirectResponse(_subject_url(reference.upper()), status_code=303)


def _answer_context(request: Request, dossier: Dossier, appointment: Appointment) -> dict[str, Any]:
    return {
        "dossier": dossier,
        "appointment": appointment,
        "choice": request.path_params["choice"],
        "errors": {},
        "word": "",
    }


async def _calendar(request: Request) -> Response:
    person = person_of(request)
    appointment = await rules.for_calendar(
        person, reference_of(request), path_id(request, "appointment_id")
    )
    body = rules.calendar_file(appointment, _("Appointment"))
    return Response(
        body.encode(),
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="rendez-vous.ics"',
            "Cache-Control": "no-store",
        },
    )


@require(*SUBJECTS)
async def subject_calendar(request: Request) -> Response:
    return await _calendar(request)


@require(Role.WORKER)
async def worker_calendar(request: Request) -> Response:
    return await _calendar(request)


routes = [
    Route(
        "/espace/{reference}/rendez-vous/{appointment_id}/rendez-vous.ics",
        subject_calendar,
        name="appointment.subject_calendar",
    ),
    Route(
        "/espace/{reference}/rendez-vous/{appointment_id}/{choice:str}",
        answer,
        methods=["GET", "POST"],
        name="appointment.answer",
    ),
    Route(
        "/travail/dossiers/{reference}/rendez-vous",
        propose,
        methods=["POST"],
        name="appointment.propose",
    ),
    Route(
        "/travail/dossiers/{reference}/rendez-vous/{appointment_id}/rendez-vous.ics",
        worker_calendar,
        name="appointment.worker_calendar",
    ),
    Route(
        "/travail/dossiers/{reference}/rendez-vous/{appointment_id}/changer",
        change,
        methods=["POST"],
        name="appointment.change",
    ),
    Route(
        "/travail/dossiers/{reference}/rendez-vous/{appointment_id}/{step:str}",
        step,
        methods=["POST"],
        name="appointment.step",
    ),
]
