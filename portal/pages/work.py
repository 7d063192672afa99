"""The workers' side: the inbox of waiting requests, the team's dossiers, finding one."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal import clock
from portal.domain import accounts, appointments, concertation, dossiers
from portal.domain import requests as asking
from portal.domain.access import readable_dossier
from portal.domain.errors import Invalid, NotAllowed
from portal.i18n import _
from portal.models import LinkKind, Role
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
from portal.pages.dossiers import seen_news
from portal.templating import render


async def _inbox_context(request: Request, **extra: Any) -> dict[str, Any]:
    worker = person_of(request)
    now = clock.now()
    mine, replies = await dossiers.followed(
        worker, request.app.state.settings.reply_target_days, now
    )
    context: dict[str, Any] = {
        "items": await dossiers.inbox(worker, now),
        "mine": mine,
        "replies": replies,
        "appointments": await appointments.of_worker(worker),
        "ended": await dossiers.recently_ended(worker),
        "returned": await dossiers.recently_returned(worker),
        "colleagues": await dossiers.colleagues(worker),
        "meetings": await concertation.worker_deadlines(worker),
        "errors": {},
        "notice": None,
        "reference": "",
    }
    context.update(extra)
    return context


@require(Role.WORKER)
async def inbox(request: Request) -> Response:
    await seen_news(request, person_of(request))
    return render(request, "work/inbox.html", await _inbox_context(request), block="inbox")


@require(Role.WORKER)
async def waiting(request: Request) -> Response:
    """A waiting request, read before taking it (the read is journaled)."""
    worker = person_of(request)
    dossier, asked = await asking.read_waiting_request(worker, path_id(request, "dossier_id"))
    context = {
        "dossier": dossier,
        "asked": asked,
        "contact": asking.contact_choices_of(asked),
        "colleagues": await dossiers.colleagues(worker),
    }
    return render(request, "work/waiting.html", context)


@require(Role.WORKER)
@once()
async def take(request: Request) -> Response:
    worker = person_of(request)
    try:
        dossier = await dossiers.take(
            worker, path_id(request, "dossier_id"), form_key=form_key(request)
        )
    except NotAllowed:
        notice = _("A colleague took this request just before you. It is in the team's list.")
        return render(
            request,
            "work/inbox.html",
            await _inbox_context(request, notice=notice),
            status_code=409,
            block="inbox",
        )
    return RedirectResponse(f"/travail/dossiers/{dossier.reference}", status_code=303)


@require(Role.WORKER)
@once()
async def assign(request: Request) -> Response:
    worker = person_of(request)
    form = await request.form()
    colleague_id = as_id(text(form, "colleague", 20)) or 0
    try:
        dossier = await dossiers.assign(
            worker, path_id(request, "dossier_id"), colleague_id, form_key=form_key(request)
        )
    except NotAllowed:
        notice = _("This dossier can no longer be given to someone.")
        return render(
            request,
            "work/inbox.html",
            await _inbox_context(request, notice=notice),
            status_code=409,
        )
    except Invalid as refusal:
        return render(
            request,
            "work/inbox.html",
            await _inbox_context(request, errors={refusal.field: _(refusal.message)}),
            status_code=422,
        )
    back = text(form, "back", 200)
    if back.startswith("/travail/dossiers/"):
        return RedirectResponse(f"/travail/dossiers/{dossier.reference}", status_code=303)
    return RedirectResponse("/travail", status_code=303)


@require(Role.WORKER)
async def team(request: Request) -> Response:
    worker = person_of(request)
    return render(request, "work/team.html", {"items": await dossiers.team(worker)})


@require(Role.WORKER)
async def find(request: Request) -> Response:
    worker = person_of(request)
    form = await request.form()
    reference = text(form, "reference", 40)
    try:
        dossier = await dossiers.find_by_reference(worker, reference)
    except Invalid as refusal:
        return render(
            request,
            "work/inbox.html",
            await _inbox_context(
                request, errors={refusal.field: _(refusal.message)}, reference=reference
            ),
            status_code=422,
        )
    if dossier.status.value == "waiting":
        notice = _("This request is waiting in the inbox below: take it to read it.")
        return render(request, "work/inbox.html", await _inbox_context(request, notice=notice))
    return RedirectResponse(f"/travail/dossiers/{dossier.reference}", status_code=303)


async def recovery_link_again(request: Request, outcome: str) -> Response:
    """The form sent twice: the same link again (one link, one journal entry), now shown."""
    worker = person_of(request)
    dossier = await readable_dossier(worker, reference_of(request))
    token = await accounts.renew_link(worker, dossier.subject_id, LinkKind.RECOVERY)
    link = str(request.url_for("recovery_link", token=token))
    return render(request, "work/recovery_link.html", {"dossier": dossier, "link": link})


@require(Role.WORKER)
@once(again=recovery_link_again)
async def recovery_link(request: Request) -> Response:
    """Give the subject, in person, a link to get back into their account (30 minutes)."""
    worker = person_of(request)
    dossier = await readable_dossier(worker, reference_of(request))
    token = await accounts.issue_recovery_link(worker, dossier.id, form_key=form_key(request))
    request.state.outcome = dossier.reference
    link = str(request.url_for("recovery_link", token=token))
    return render(request, "work/recovery_link.html", {"dossier": dossier, "link": link})


routes = [
    Route("/travail", inbox, name="work.inbox"),
    Route("/travail/equipe", team, name="work.team"),
    Route("/travail/chercher", find, methods=["POST"], name="work.find"),
    Route("/travail/demandes/{dossier_id}", waiting, name="work.waiting"),
    Route("/travail/demandes/{dossier_id}/prendre", take, methods=["POST"], name="work.take"),
    Route("/travail/demandes/{dossier_id}/confier", assign, methods=["POST"], name="work.assign"),
    Route(
        "/travail/dossiers/{reference}/lien-de-secours",
        recovery_link,
        methods=["POST"],
        name="work.recovery_link",
    ),
]
