"""Ending the help, coming back, taking one's data, erasing it; a worker closing a quiet dossier."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import drafts
from portal.domain import ending as rules
from portal.domain import requests as request_rules
from portal.domain.concertation import MeetingView
from portal.domain.errors import AlreadyDone, Invalid
from portal.i18n import _, current_language
from portal.labels import (
    appointment_status_name,
    asked_by_name,
    category_name,
    kind_name,
    minutes_status_name,
    place_name,
    theme_names,
)
from portal.models import Asker, Person, Role
from portal.pages.common import (
    browser_id,
    form_key,
    once,
    own_dossier,
    person_of,
    reference_of,
    require,
    text,
)
from portal.pages.timeline import describe
from portal.templating import render

SUBJECTS = (Role.YOUTH, Role.RELATIVE)


@require(*SUBJECTS)
@once()
async def end(request: Request) -> Response:
    person = person_of(request)
    dossier = await own_dossier(request)
    context: dict[str, Any] = {"dossier": dossier, "errors": {}, "reason": ""}
    if request.method == "GET":
        try:
            rules.check_may_end(person, dossier)
        except AlreadyDone:
            return RedirectResponse(f"/espace/{dossier.reference}", status_code=303)
        return render(request, "ending/end.html", context)
    form = await request.form()
    reason = text(form, "reason", 5000)
    try:
        await rules.end_help(person, dossier.reference, reason, form_key=form_key(request))
    except AlreadyDone:
        pass  # ended already (from another tab): it stays ended
    except Invalid as refusal:
        context.update(errors={refusal.field: _(refusal.message)}, reason=reason)
        return render(request, "ending/end.html", context, status_code=422)
    return RedirectResponse(f"/espace/{dossier.reference}/fin", status_code=303)


@require(*SUBJECTS)
async def ended(request: Request) -> Response:
    dossier = await own_dossier(request)
    if dossier.status.value != "ended":
        return RedirectResponse(f"/espace/{dossier.reference}", status_code=303)
    return render(request, "ending/ended.html", {"dossier": dossier})


@require(*SUBJECTS)
@once()
async def come_back(request: Request) -> Response:
    person = person_of(request)
    if request.method == "GET":
        dossier = await rules.returnable(person, reference_of(request))
    else:
        # Whether it may come back is checked with the change (a form sent twice finds it
        # back already, and gets its first answer).
        dossier = await own_dossier(request)
    values: dict[str, Any] = {
        "themes": [],
        "words": "",
        "contact_channel": "portal",
        "contact_details": "",
        "contact_hours": "",
        "no_voicemail": False,
        "others_read_messages": False,
    }
    context: dict[str, Any] = {"dossier": dossier, "values": values, "errors": {}}
    if request.method == "GET":
        # What she wrote before a reload (kept as she typed, with JavaScript).
        found = await drafts.kept(
            browser_id(request), person, dossier.reference, (drafts.COME_BACK,)
        )
        if drafts.COME_BACK in found:
            values["words"] = found[drafts.COME_BACK]["words"]
        return render(request, "ending/come_back.html", context)
    form = await request.form()
    values.update(
        themes=[str(t)[:30] for t in form.getlist("themes")][:20],
        words=text(form, "words", 5000),
        contact_channel=text(form, "contact_channel", 20),
        contact_details=text(form, "contact_details", 500),
        contact_hours=text(form, "contact_hours", 500),
        no_voicemail=bool(form.get("no_voicemail")),
        others_read_messages=bool(form.get("others_read_messages")),
    )
    try:
        channel, details, hours = request_rules.check_contact(
            values["contact_channel"], values["contact_details"], values["contact_hours"]
        )
        request_form = request_rules.RequestForm(
            asker=Asker.YOUTH if person.role is Role.YOUTH else Asker.RELATIVE,
            themes=request_rules.parse_themes(values["themes"]),
            words=request_rules.check_words(values["words"]),
            contact_channel=channel,
            contact_details=details,
            contact_hours=hours,
            no_voicemail=values["no_voicemail"],
            others_read_messages=values["others_read_messages"],
        )
        await rules.reopen(person, dossier.reference, request_form, form_key=form_key(request))
    except Invalid as refusal:
        context["errors"] = {refusal.field: _(refusal.message)}
        return render(request, "ending/come_back.html", context, status_code=422)
    await drafts.drop(browser_id(request), person, dossier.reference, drafts.COME_BACK)
    return RedirectResponse(f"/espace/{dossier.reference}/envoye", status_code=303)


@require(*SUBJECTS)
async def export(request: Request) -> Response:
    person = person_of(request)
    data = await rules.export(
        person, reference_of(request), origin=request.app.state.settings.origin
    )
    dossier = data.dossier
    if request.path_params.get("format", "html") == "json":
        payload = _export_json(data, person)
        return Response(
            json.dumps(payload, ensure_ascii=False, indent=2),
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="dossier-{dossier.reference}.json"'
            },
        )
    if "format" in request.path_params:
        raise HTTPException(404)
    lines = [(e, describe(e, person, True, data.partner_names)) for e in data.journal]
    return render(request, "ending/export.html", {"data": data, "lines": lines})


def _export_json(data: rules.Export, person: Person) -> dict[str, Any]:
    """The whole dossier as data, in the subject's language (GDPR art. 15 and 20)."""
    return {
        "language": current_language(),
        "dossier": {
            "reference": data.dossier.reference,
            "status": data.dossier.status.value,
            "created": data.dossier.created_at.isoformat(),
            "ended": data.dossier.ended_at.isoformat() if data.dossier.ended_at else None,
            "why_ended": data.end_reason,
        },
        "subject": person.display_name,
        "requests": [
            {
                "date": r.created_at.isoformat(),
                "themes": theme_names(r.themes),
                "words": r.words,
                "contact": r.contact_channel.value,
                "contact_details": r.contact_details,
                "contact_hours": r.contact_hours,
                "do_not_leave_a_message": r.no_voicemail,
                "someone_else_reads_messages": r.others_read_messages,
            }
            for r in data.requests
        ],
        "messages": [
            {"date": m.created_at.isoformat(), "from": m.author.display_name, "text": m.body}
            for m in data.messages
        ],
        "steps": [
            {
                "date": a.created_at.isoformat(),
                "kind": kind_name(a.kind),
                "what": a.description,
                "with": a.third_party,
                "status": a.status.value,
                "your_reason": a.answer_reason,
            }
            for a in data.actions
        ],
        "consents": [
            {
                "partner": c.partner.name,
                "kinds": [category_name(k) for k in c.categories],
                "purpose": c.purpose,
                "given": c.granted_at.isoformat(),
                "until": c.expires_at.isoformat() if c.expires_at else None,
                "taken_back": c.revoked_at.isoformat() if c.revoked_at else None,
            }
            for c in data.consents
        ],
        "shares": [
            {
                "partner": s.partner.name,
                "date": s.shared_at.isoformat(),
                "kinds": [category_name(k) for k in s.categories],
                "content": s.content,
            }
            for s in data.shares
        ],
        "documents": [
            {
                "name": d.listed.name,
                "type": d.listed.media_type,
                "size": d.listed.size,
                "date": d.listed.created_at.isoformat(),
                "content": base64.b64encode(d.data).decode("ascii"),
            }
            for d in data.documents
        ],
        "appointments": [
            {
                "when": a.starts_at.isoformat(),
                "minutes": a.minutes,
                "where": place_name(a.place_kind.value),
                "place": a.place,
                "with": a.with_whom,
                "proposed_by": a.proposed_by.display_name,
                "status": appointment_status_name(a.status.value),
                "your_word": a.answer_word,
            }
            for a in data.appointments
        ],
        "concertation_meetings": [_meeting_json(m) for m in data.meetings],
        "journal": [
            {
                "seq": e.seq,
                "date": e.at.isoformat(),
                "event": e.event,
                "in_words": describe(e, person, True, data.partner_names),
                "hash": e.hash,
            }
            for e in data.journal
        ],
        # The same journal as public things, and its signed head: what /verifier, the
        # verify-journal command and the README's script check.
        "journal_proof": data.proof.as_json() if data.proof else None,
    }


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _meeting_json(meeting: MeetingView) -> dict[str, Any]:
    """A concertation meeting in her copy: who asked and when, who was there, the minutes."""
    c = meeting.concertation
    return {
        "asked": c.asked_at.isoformat(),
        "asked_by": asked_by_name(c.asked_by.value),
        "meeting": _when(c.meeting_at),
        "held": _when(c.held_at),
        "attendees": [
            {"partner": a.partner.name, "was_there": a.attended} for a in meeting.attendees
        ],
        "minutes": meeting.minutes,
        "minutes_status": minutes_status_name(c.minutes_status.value),
        "you_approved": _when(c.approved_at),
    }


@require(*SUBJECTS)
@once()
async def erase(request: Request) -> Response:
    """Two confirmations, the consequence in plain words, then the key is destroyed and the
    dossier leaves her space: she lands on her space, told that it is done."""
    step = "first"
    if request.method == "POST":
        step = "second"
        if text(await request.form(), "confirm", 20) == "second":
            try:
                await rules.erase(
                    person_of(request), reference_of(request), form_key=form_key(request)
                )
            except rules.NotErasable:
                return await _not_erasable(request, 409)
            return RedirectResponse("/espace?fait=1", status_code=303)
    dossier = await own_dossier(request)
    try:
        rules.check_erasable(dossier)
    except rules.NotErasable:
        return await _not_erasable(request, 409 if request.method == "POST" else 200)
    return render(request, "ending/erase.html", {"dossier": dossier, "step": step})


async def _not_erasable(request: Request, status: int) -> Response:
    dossier = await own_dossier(request)
    context = {"dossier": dossier, "step": "refused"}
    return render(request, "ending/erase.html", context, status_code=status)


@require(Role.WORKER)
@once()
async def close(request: Request) -> Response:
    worker = person_of(request)
    form = await request.form()
    await rules.close_inactive(
        worker,
        reference_of(request),
        text(form, "message", 5000),
        request.app.state.settings.inactive_days,
        form_key=form_key(request),
    )
    return RedirectResponse("/travail", status_code=303)


routes = [
    Route("/espace/{reference}/arreter", end, methods=["GET", "POST"], name="ending.end"),
    Route("/espace/{reference}/fin", ended, name="ending.ended"),
    Route(
        "/espace/{reference}/revenir", come_back, methods=["GET", "POST"], name="ending.come_back"
    ),
    Route("/espace/{reference}/export", export, name="ending.export"),
    Route("/espace/{reference}/export.{format:str}", export, name="ending.export_file"),
    Route("/espace/{reference}/effacer", erase, methods=["GET", "POST"], name="ending.erase"),
    Route("/travail/dossiers/{reference}/fermer", close, methods=["POST"], name="ending.close"),
]
