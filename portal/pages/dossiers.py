"""The dossier, as its subject reads it and as an assigned worker reads and writes it."""

from __future__ import annotations

from functools import cache
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from tortoise import timezone

from portal import clock
from portal.domain import actions as action_rules
from portal.domain import appointments as appointment_rules
from portal.domain import concertation as meetings
from portal.domain import consent as consent_rules
from portal.domain import dossiers, drafts, workdays
from portal.domain import ending as ending_rules
from portal.domain import partners as directory
from portal.domain import requests as request_rules
from portal.domain.access import readable_dossier
from portal.domain.errors import AlreadyDone, Invalid
from portal.domain.messages import send_message
from portal.domain.notices import mark_news_seen
from portal.i18n import _, current_language, use_language
from portal.labels import kind_name
from portal.models import ActionKind, ActionStatus, Dossier, Person, Role
from portal.pages.common import (
    browser_id,
    form_key,
    ids_of,
    kept,
    once,
    own_dossier,
    path_id,
    person_of,
    reference_of,
    require,
    sent_form_key,
    text,
)
from portal.pages.timeline import lines
from portal.security.sessions import TOUCH_EVERY
from portal.templating import render, wants_fragment

SUBJECTS = (Role.YOUTH, Role.RELATIVE)


async def seen_news(request: Request, person: Person) -> None:
    """The person is looking: what was new is seen, and the header of this page says so."""
    state = request.scope["state"]
    seen = person.news_seen_at
    # With nothing new, a view need not write; but the count reads the journal since this
    # moment, so it must not stay far behind: moved at most once a minute, as sessions are.
    if state.get("news") or seen is None or timezone.now() - seen >= TOUCH_EVERY:
        await mark_news_seen(person)
    state["news"] = 0


def _answered_id(request: Request) -> int | None:
    value = request.query_params.get("reponse", "")
    return int(value) if value.isdigit() and len(value) <= 12 else None


def _page_number(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("page", "1")), 10_000))
    except ValueError:
        return 1


async def _view(request: Request, person: Person) -> dossiers.DossierView:
    view = await dossiers.open_dossier(person, reference_of(request), _page_number(request))
    view.appointments = await appointment_rules.of_dossier(view.dossier)
    return view


def _context(
    request: Request, person: Person, view: dossiers.DossierView, subject_view: bool, **extra: Any
) -> dict[str, Any]:
    timeline = lines(view.timeline, person, subject_view, view.new_since, view.partner_names)
    context: dict[str, Any] = {
        "view": view,
        "dossier": view.dossier,
        "timeline": timeline,
        "pending": dossiers.pending_answers(view),
        "kind_name": kind_name,
        "errors": {},
        "values": {"body": "", "description": "", "third_party": "", "kind": ""},
        "new_count": sum(line.count for line in timeline if line.is_new),
        "contact": request_rules.contact_choices_of(view.request),
        "contact_changed": False,
        "answered": None,
        # A step's form brought back from its draft opens by itself.
        "restored_step": False,
        "meetings": [],
    }
    context.update(extra)
    return context


# --- The subject ------------------------------------------------------------------------------


@require(*SUBJECTS)
async def space(request: Request) -> Response:
    """Where a subject lands after signing in: her dossiers, and what waits in each.

    Not a look at the news: what is new stays counted until she opens the dossier it is in.
    """
    person = person_of(request)
    mine = await dossiers.subject_dossiers(person)
    context = {
        "dossiers": mine,
        "answers": await dossiers.answers_awaited(mine),
        "appointments": await appointment_rules.of_subject(mine),
        # Back from erasing a dossier: it is gone from the list, and she is told it is done.
        # The address says only "done": a history read over her shoulder tells nothing.
        "erased": request.query_params.get("fait") == "1",
    }
    return render(request, "dossiers/space.html", context)


@require(*SUBJECTS)
async def subject_dossier(request: Request) -> Response:
    person = person_of(request)
    await seen_news(request, person)
    view = await _view(request, person)
    # After an answer or a taken-back agreement: what she decided, and how to change it.
    answered_id = _answered_id(request)
    answered = next((a for a in view.actions if a.id == answered_id), None)
    context = _context(
        request,
        person,
        view,
        True,
        answered=answered,
        contact_changed=request.query_params.get("joindre") == "ok",
        answer=await workdays.answer_target(view.dossier, clock.now()),
        meetings=await meetings.dossier_meetings(view.dossier, view.actions),
    )
    await _fill_from_drafts(request, person, context, (drafts.MESSAGE,))
    response = render(request, "dossiers/subject.html", context, block="timeline")
    await dossiers.mark_seen(view.dossier, view)
    return response


@require(*SUBJECTS)
@once()
async def subject_message(request: Request) -> Response:
    return await _message(request, "dossiers/subject.html", True)


async def _message(request: Request, template: str, subject_view: bool) -> Response:
    person = person_of(request)
    form = await request.form()
    body = text(form, "body", 10_000)
    try:
        await send_message(person, reference_of(request), body, form_key=form_key(request))
    except Invalid as refusal:
        view = await _view(request, person)
        errors = {refusal.field: _(refusal.message)}
        if subject_view:
            context = _context(request, person, view, True, errors=errors)
        else:
            # The worker's page needs its own lists (colleagues, partners, kinds of steps).
            context = await _worker_context(request, person, view, errors=errors)
        context["values"]["body"] = body
        return render(request, template, context, status_code=422)
    await drafts.drop(browser_id(request), person, reference_of(request), drafts.MESSAGE)
    return RedirectResponse(request.url.path.rsplit("/", 1)[0] + "#messages", status_code=303)


async def _fill_from_drafts(
    request: Request, person: Person, context: dict[str, Any], names: tuple[str, ...]
) -> None:
    """Put back in the page's forms what was typed in them and not sent (one query).

    Only a whole page: a part of it asked by htmx has no form to fill.
    """
    if wants_fragment(request) or context["dossier"].status.value == "ended":
        return
    found = await drafts.kept(browser_id(request), person, context["dossier"].reference, names)
    values = context["values"]
    if drafts.MESSAGE in found:
        values["body"] = found[drafts.MESSAGE]["body"]
    step = found.get(drafts.STEP)
    if step is not None and step.get("mode") in {"record", "propose"}:
        values.update(description=step.get("description", ""), mode=step["mode"])
        context["restored_step"] = True


async def _keep_draft(request: Request, dossier: Dossier, name: str) -> Response:
    """What htmx sends as she types: kept as this form's draft. Answers 204, nothing shown."""
    form = await request.form()
    values = {field: text(form, field) for field, _longest in drafts.PLACES[name].fields}
    await drafts.keep(
        browser_id(request),
        person_of(request),
        dossier,
        name,
        values,
        sent_key=sent_form_key(request, form),
    )
    return Response(status_code=204)


@require(*SUBJECTS)
async def subject_draft(request: Request) -> Response:
    """The draft of a form of her own dossier: a message, or the words of coming back.

    The same rule as the form: her own dossier only (anyone else: 404, nothing kept).
    """
    name = request.path_params["place"]
    if name == drafts.MESSAGE:
        dossier = await own_dossier(request)
    elif name == drafts.COME_BACK:
        dossier = await ending_rules.returnable(person_of(request), reference_of(request))
    else:
        raise HTTPException(404)
    return await _keep_draft(request, dossier, name)


@require(Role.WORKER)
async def worker_draft(request: Request) -> Response:
    """The draft of a message or a step in a dossier she follows (anyone else: 404)."""
    name = request.path_params["place"]
    if name not in {drafts.MESSAGE, drafts.STEP}:
        raise HTTPException(404)
    dossier = await readable_dossier(person_of(request), reference_of(request))
    return await _keep_draft(request, dossier, name)


@require(*SUBJECTS)
@once()
async def answer(request: Request) -> Response:
    """Agree or decline: first a confirmation page, then the answer (a POST)."""
    person = person_of(request)
    if request.path_params["choice"] not in {"oui", "non"}:
        raise HTTPException(404)
    agree = request.path_params["choice"] == "oui"
    action_id = path_id(request, "action_id")
    view = await _view(request, person)
    action = next((a for a in view.actions if a.id == action_id), None)
    if action is None:
        raise HTTPException(404)
    context = {
        "dossier": view.dossier,
        "action": action,
        "agree": agree,
        "errors": {},
        "reason": "",
        # Before agreeing to a step with a partner, she sees what she sees before a consent.
        "partners": await action_rules.partners_of(action),
    }
    if request.method == "GET":
        if action.status is not ActionStatus.PROPOSED:
            return RedirectResponse(f"/espace/{view.dossier.reference}", status_code=303)
        return render(request, "dossiers/answer.html", context)
    form = await request.form()
    reason = text(form, "reason", 5000)
    try:
        await action_rules.answer_action(
            person, view.dossier.reference, action_id, agree, reason, form_key=form_key(request)
        )
    except AlreadyDone:
        # Answered already (from another tab): the first answer stands.
        return RedirectResponse(f"/espace/{view.dossier.reference}", status_code=303)
    except Invalid as refusal:
        context.update(errors={refusal.field: _(refusal.message)}, reason=reason)
        return render(request, "dossiers/answer.html", context, status_code=422)
    return RedirectResponse(_answered_url(view.dossier.reference, action_id), status_code=303)


def _answered_url(reference: str, action_id: int) -> str:
    return f"/espace/{reference}?reponse={action_id}#reponse"


@require(*SUBJECTS)
@once()
async def withdraw(request: Request) -> Response:
    """Take back an agreement while the step is not done: a confirmation page, then a POST."""
    person = person_of(request)
    action_id = path_id(request, "action_id")
    dossier, action = await action_rules.subject_step(person, reference_of(request), action_id)
    if request.method == "GET":
        if action.status is not ActionStatus.AGREED:
            return RedirectResponse(_answered_url(dossier.reference, action.id), status_code=303)
        context = {"dossier": dossier, "action": action, "errors": {}, "reason": ""}
        return render(request, "dossiers/withdraw.html", context)
    form = await request.form()
    reason = text(form, "reason", 5000)
    try:
        await action_rules.withdraw_agreement(
            person, dossier.reference, action_id, reason, form_key=form_key(request)
        )
    except AlreadyDone:
        pass  # Taken back already (from another tab): it stays taken back.
    except Invalid as refusal:
        context = {
            "dossier": dossier,
            "action": action,
            "errors": {refusal.field: _(refusal.message)},
            "reason": reason,
        }
        return render(request, "dossiers/withdraw.html", context, status_code=422)
    return RedirectResponse(_answered_url(dossier.reference, action_id), status_code=303)


CONTACT_FIELDS = ("contact_channel", "contact_details", "contact_hours")
CONTACT_FLAGS = ("no_voicemail", "others_read_messages")


@require(*SUBJECTS)
@once()
async def contact(request: Request) -> Response:
    """How to reach the subject safely, changed whenever they want: a form, POST → 303."""
    person = person_of(request)
    reference = reference_of(request)
    current = await request_rules.current_contact(person, reference)
    values: dict[str, Any] = {
        "contact_channel": current.channel.value,
        "contact_details": current.details,
        "contact_hours": current.hours,
        "no_voicemail": current.no_voicemail,
        "others_read_messages": current.others_read_messages,
    }
    context: dict[str, Any] = {"reference": reference, "values": values, "errors": {}}
    if request.method == "GET":
        return render(request, "dossiers/contact.html", context)
    form = await request.form()
    values.update(kept(form, CONTACT_FIELDS))
    values.update({flag: bool(form.get(flag)) for flag in CONTACT_FLAGS})
    try:
        choices = request_rules.check_contact_choices(
            values["contact_channel"],
            values["contact_details"],
            values["contact_hours"],
            values["no_voicemail"],
            values["others_read_messages"],
        )
        await request_rules.change_contact(person, reference, choices, form_key=form_key(request))
    except Invalid as refusal:
        context["errors"] = {refusal.field: _(refusal.message)}
        return render(request, "dossiers/contact.html", context, status_code=422)
    return RedirectResponse(f"/espace/{reference}?joindre=ok#contact", status_code=303)


# --- The worker -------------------------------------------------------------------------------


@require(Role.WORKER)
async def worker_dossier(request: Request) -> Response:
    person = person_of(request)
    view = await _view(request, person)
    context = await _worker_context(request, person, view)
    await _fill_from_drafts(request, person, context, (drafts.MESSAGE, drafts.STEP))
    return render(request, "dossiers/worker.html", context, block="timeline")


async def _worker_context(
    request: Request, person: Person, view: dossiers.DossierView, **extra: Any
) -> dict[str, Any]:
    context = _context(request, person, view, False, **extra)
    context["colleagues"] = [
        c for c in await dossiers.colleagues(person) if c.id not in {w.id for w in view.workers}
    ]
    context["partners"] = await directory.active_partners()
    context["direct_kinds"] = _kind_options(action_rules.DIRECT_KINDS, current_language())
    context["proposed_kinds"] = _kind_options(action_rules.PROPOSED_KINDS, current_language())
    context["consents"] = (
        await consent_rules.active_consents(view.dossier) if view.dossier.wrapped_key else []
    )
    context["meetings"] = await meetings.dossier_meetings(view.dossier, view.actions)
    return context


@cache
def _kind_options(kinds: frozenset[ActionKind], language: str) -> tuple[tuple[str, str], ...]:
    """Kinds of step as (value, name) in ``language``, in the order of the model: the same
    lists at every view, so named once."""
    with use_language(language):
        return tuple((kind.value, kind_name(kind)) for kind in ActionKind if kind in kinds)


@require(Role.WORKER)
@once()
async def worker_message(request: Request) -> Response:
    return await _message(request, "dossiers/worker.html", False)


async def _worker_refusal(request: Request, refusal: Invalid, values: dict[str, str]) -> Response:
    person = person_of(request)
    view = await _view(request, person)
    context = await _worker_context(
        request, person, view, errors={refusal.field: _(refusal.message)}
    )
    context["values"].update(values)
    return render(request, "dossiers/worker.html", context, status_code=422)


@require(Role.WORKER)
@once()
async def worker_action(request: Request) -> Response:
    """Record a step done with the subject alone, or propose one that involves someone else."""
    person = person_of(request)
    form = await request.form()
    values = kept(form, ("kind", "description", "third_party", "mode", "asked_by", "asked_at"))
    try:
        kind = action_rules.parse_kind(values["kind"])
        if values["mode"] == "propose":
            partner_ids = ids_of(form.getlist("partners"))
            await action_rules.propose_action(
                person,
                reference_of(request),
                kind,
                values["description"],
                values["third_party"],
                partner_ids,
                asked_by=values["asked_by"],
                asked_at=values["asked_at"],
                form_key=form_key(request),
            )
        else:
            await action_rules.record_action(
                person,
                reference_of(request),
                kind,
                values["description"],
                form_key=form_key(request),
            )
    except Invalid as refusal:
        return await _worker_refusal(request, refusal, values)
    await drafts.drop(browser_id(request), person, reference_of(request), drafts.STEP)
    return RedirectResponse(f"/travail/dossiers/{reference_of(request)}#actions", status_code=303)


@require(Role.WORKER)
@once()
async def worker_action_step(request: Request) -> Response:
    person = person_of(request)
    steps = {"fait": action_rules.mark_done, "annuler": action_rules.cancel_action}
    step = steps.get(request.path_params["step"])
    if step is None:
        raise HTTPException(404)
    await step(
        person, reference_of(request), path_id(request, "action_id"), form_key=form_key(request)
    )
    return RedirectResponse(f"/travail/dossiers/{reference_of(request)}#actions", status_code=303)


routes = [
    Route("/espace", space, name="space"),
    Route("/espace/{reference}", subject_dossier, name="dossier.subject"),
    Route(
        "/espace/{reference}/messages",
        subject_message,
        methods=["POST"],
        name="dossier.subject_message",
    ),
    Route(
        "/espace/{reference}/brouillon/{place:str}",
        subject_draft,
        methods=["POST"],
        name="dossier.subject_draft",
    ),
    # Before the answer's route, whose last part would take "retirer" as a choice.
    Route(
        "/espace/{reference}/demarches/{action_id}/retirer",
        withdraw,
        methods=["GET", "POST"],
        name="dossier.withdraw",
    ),
    Route(
        "/espace/{reference}/demarches/{action_id}/{choice:str}",
        answer,
        methods=["GET", "POST"],
        name="dossier.answer",
    ),
    Route(
        "/espace/{reference}/joindre",
        contact,
        methods=["GET", "POST"],
        name="dossier.contact",
    ),
    Route("/travail/dossiers/{reference}", worker_dossier, name="dossier.worker"),
    Route(
        "/travail/dossiers/{reference}/messages",
        worker_message,
        methods=["POST"],
        name="dossier.worker_message",
    ),
    Route(
        "/travail/dossiers/{reference}/brouillon/{place:str}",
        worker_draft,
        methods=["POST"],
        name="dossier.worker_draft",
    ),
    Route(
        "/travail/dossiers/{reference}/demarches",
        worker_action,
        methods=["POST"],
        name="dossier.worker_action",
    ),
    Route(
        "/travail/dossiers/{reference}/demarches/{action_id}/{step:str}",
        worker_action_step,
        methods=["POST"],
        name="dossier.worker_action_step",
    ),
]
