"""Consent pages: the subject decides who sees what; workers share only what is allowed."""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import actions as action_rules
from portal.domain import consent as rules
from portal.domain import documents as document_rules
from portal.domain import journal, receipts
from portal.domain import partners as directory
from portal.domain.access import readable_dossier
from portal.domain.errors import AlreadyDone, Invalid, NotAllowed
from portal.domain.journal import Event
from portal.i18n import _
from portal.labels import CATEGORIES
from portal.models import (
    Action,
    ActionKind,
    ActionPartner,
    ActionStatus,
    Consent,
    Dossier,
    Partner,
    Role,
)
from portal.pages.common import (
    as_id,
    form_key,
    ids_of,
    once,
    own_dossier,
    path_id,
    person_of,
    reference_of,
    require,
    text,
)
from portal.pages.timeline import PROMISES as PROMISE_WORDS
from portal.templating import render

SUBJECTS = (Role.YOUTH, Role.RELATIVE)


# --- The subject ------------------------------------------------------------------------------


@require(*SUBJECTS)
async def consents(request: Request) -> Response:
    person = person_of(request)
    page = await rules.consent_page(person, reference_of(request))
    return render(
        request,
        "consent/page.html",
        {
            "dossier": page.dossier,
            "groups": page.groups,
            "agreed_elsewhere": page.agreed_elsewhere,
        },
    )


@require(*SUBJECTS)
async def choose_partner(request: Request) -> Response:
    """The subject picks a service from the directory, seeing its guarantees first."""
    dossier = await own_dossier(request)
    partners = await directory.search()
    return render(request, "consent/directory.html", {"dossier": dossier, "partners": partners})


def _grant_values(form: Any = None) -> dict[str, Any]:
    if form is None:
        return {"categories": [], "duration": "", "purpose": "", "promises": ""}
    return {
        "categories": [str(c)[:20] for c in form.getlist("categories")][:10],
        "duration": text(form, "duration", 20),
        "purpose": text(form, "purpose", 2000),
        # The digest of the promises the first step showed her (``directory.promises_digest``).
        "promises": text(form, "promises", 64),
    }


@require(*SUBJECTS)
@once()
async def grant(request: Request) -> Response:
    """Grant in two steps: choose, then see exactly what will be possible, then confirm."""
    person = person_of(request)
    dossier = await own_dossier(request)
    partner = await directory.get_partner(path_id(request, "partner_id"))
    context: dict[str, Any] = {
        "dossier": dossier,
        "partner": partner,
        "values": _grant_values(),
        "errors": {},
        "categories": CATEGORIES,
        "durations": rules.DURATIONS,
        "confirm": False,
        "promises_digest": directory.promises_digest,
    }
    if request.method == "GET":
        return render(request, "consent/grant.html", context)
    form = await request.form()
    values = _grant_values(form)
    context["values"] = values
    try:
        rules.check_grant(person, values["categories"], values["duration"], values["purpose"])
        if text(form, "step", 10) != "confirm":
            context["confirm"] = True
            return render(request, "consent/grant.html", context)
        consent = await rules.grant(
            person,
            dossier.reference,
            partner.id,
            values["categories"],
            values["duration"],
            values["purpose"],
            form_key=form_key(request),
            # The page's form always carries it; a client that leaves it out is checked as
            # before (the promises copied are those of the moment it agrees).
            promises_read=values["promises"] or None,
        )
    except Invalid as refusal:
        context["errors"] = {refusal.field: _(refusal.message)}
        if refusal.field == "partner":
            # Back to the first step, with the promises as the directory states them now.
            context["confirm"] = False
            context["partner"] = await directory.get_partner(partner.id)
        return render(request, "consent/grant.html", context, status_code=422)
    return RedirectResponse(
        f"/espace/{dossier.reference}/consentements/{consent.id}", status_code=303
    )


async def _consent(request: Request) -> tuple[Dossier, Consent]:
    """The consent of the URL, for the subject of its dossier only; anyone else gets 404."""
    return await rules.consent_of(
        person_of(request), reference_of(request), path_id(request, "consent_id")
    )


@require(*SUBJECTS)
@once()
async def revoke(request: Request) -> Response:
    person = person_of(request)
    dossier, consent = await _consent(request)
    if request.method == "GET":
        if not rules.is_active(consent):
            return RedirectResponse(f"/espace/{dossier.reference}/partenaires", status_code=303)
        return render(request, "consent/revoke.html", {"dossier": dossier, "consent": consent})
    # Revoked already (from another tab): it stays revoked.
    with contextlib.suppress(AlreadyDone):
        await rules.revoke(person, dossier.reference, consent.id, form_key=form_key(request))
    return RedirectResponse(
        f"/espace/{dossier.reference}/consentements/{consent.id}", status_code=303
    )


async def _receipt(request: Request) -> receipts.Receipt:
    return await receipts.for_subject(
        person_of(request),
        reference_of(request),
        path_id(request, "consent_id"),
        request.app.state.settings.origin,
    )


@require(*SUBJECTS)
async def receipt(request: Request) -> Response:
    """Her receipt, readable: what she agreed to, what the partner promised then, its history."""
    made = await _receipt(request)
    return render(
        request,
        "consent/receipt.html",
        {
            "dossier": made.dossier,
            "consent": made.consent,
            "receipt": made.claims,
            "summary": made.summary,
            "promised": made.promised,
            "changed": ", ".join(_(PROMISE_WORDS[f]) for f in made.promised.changed_since),
            "steps": made.steps,
            "active": rules.is_active(made.consent),
        },
    )


@require(*SUBJECTS)
async def receipt_file(request: Request) -> Response:
    """The same receipt, signed: the file she keeps, and anyone checks with the public key."""
    made = await _receipt(request)
    return signed_receipt(await made.signed(), made.consent.id)


def signed_receipt(token: str, consent_id: int) -> Response:
    """A signed receipt as a file to keep: never cached, named by the consent's number only."""
    return Response(
        token,
        media_type="application/jwt",
        headers={
            "Content-Disposition": f'attachment; filename="consent-receipt-{consent_id}.jwt"',
            "Cache-Control": "no-store",
        },
    )


# --- Workers ----------------------------------------------------------------------------------


async def _share_context(request: Request, reference: str, **extra: Any) -> dict[str, Any]:
    worker = person_of(request)
    dossier = await readable_dossier(worker, reference)
    # The form shows her agreed steps and her documents' names: a read, so it is journaled.
    await journal.record_look(dossier, Event.DOSSIER_READ, worker)
    items = await Action.filter(
        dossier_id=dossier.id,
        kind__in=list(rules.ITEM_KINDS),
        status__in=[ActionStatus.AGREED, ActionStatus.DONE],
    ).order_by("-created_at")
    from portal import keys

    keys.open_fields(keys.box(dossier), items, "action", ("description",))
    meetings = await Action.filter(
        dossier_id=dossier.id, kind=ActionKind.CONCERTATION, status=ActionStatus.AGREED
    ).order_by("-created_at")
    keys.open_fields(keys.box(dossier), meetings, "action", ("description",))
    links = await ActionPartner.filter(action_id__in=[m.id for m in meetings]).select_related(
        "partner"
    )
    context: dict[str, Any] = {
        "dossier": dossier,
        "partners": await directory.search(),
        "categories": CATEGORIES,
        "items": items,
        "meetings": [
            (m, [link.partner for link in links if link.action_id == m.id]) for m in meetings
        ],
        "values": {"partner": "", "categories": [], "item": "", "documents": []},
        "errors": {},
        "refusal": None,
        "documents": await document_rules.listed(dossier),
    }
    context.update(extra)
    return context


@require(Role.WORKER)
@once()
async def share(request: Request) -> Response:
    worker = person_of(request)
    reference = reference_of(request)
    if request.method == "GET":
        return render(request, "consent/share.html", await _share_context(request, reference))
    form = await request.form()
    partner_value = text(form, "partner", 20)
    item_value = text(form, "item", 20)
    categories = [str(c)[:20] for c in form.getlist("categories")][:10]
    chosen = ids_of(form.getlist("documents"), at_most=50)
    values: dict[str, Any] = {
        "partner": partner_value,
        "categories": categories,
        "item": item_value,
        "documents": chosen,
    }
    partner_id = as_id(partner_value) or 0
    try:
        made = await rules.share(
            worker,
            reference,
            partner_id,
            categories,
            as_id(item_value),
            document_ids=chosen,
            form_key=form_key(request),
        )
    except Invalid as refusal:
        return render(
            request,
            "consent/share.html",
            await _share_context(
                request, reference, values=values, errors={refusal.field: _(refusal.message)}
            ),
            status_code=422,
        )
    except NotAllowed:
        check = await rules.check_share(worker, reference, partner_id, categories)
        partner = await Partner.filter(id=partner_id).first()
        return render(
            request,
            "consent/share.html",
            await _share_context(
                request,
                reference,
                values=values,
                refusal={"partner": partner, "missing": check.missing},
            ),
            status_code=409,
        )
    # A confirmation: what was shared, with whom, under which agreement.
    return RedirectResponse(f"/travail/dossiers/{reference}/partages/{made.id}", status_code=303)


@require(Role.WORKER)
async def shared(request: Request) -> Response:
    dossier, made = await rules.share_made(
        person_of(request), reference_of(request), path_id(request, "share_id")
    )
    return render(request, "consent/shared.html", {"dossier": dossier, "share": made})


@require(Role.WORKER)
@once()
async def propose_share(request: Request) -> Response:
    """A refused share becomes a proposal: the young person decides."""
    worker = person_of(request)
    reference = reference_of(request)
    form = await request.form()
    partner = await directory.get_partner(as_id(text(form, "partner", 20)) or 0)
    await action_rules.propose_action(
        worker,
        reference,
        ActionKind.INFORMATION_SHARED,
        # Stored as typed by no one in particular: the partner's name, which reads the same
        # in every language; the kind of step says what it is about.
        partner.name,
        "",
        [partner.id],
        form_key=form_key(request),
    )
    return RedirectResponse(f"/travail/dossiers/{reference}#actions", status_code=303)


@require(Role.WORKER)
@once()
async def record_meeting(request: Request) -> Response:
    worker = person_of(request)
    reference = reference_of(request)
    form = await request.form()
    attended = ids_of(form.getlist("attended"))
    categories = [str(c)[:20] for c in form.getlist("categories")][:10]
    try:
        await action_rules.record_meeting(
            worker,
            reference,
            path_id(request, "action_id"),
            attended,
            categories,
            form_key=form_key(request),
        )
    except Invalid as refusal:
        return render(
            request,
            "consent/share.html",
            await _share_context(request, reference, errors={refusal.field: _(refusal.message)}),
            status_code=422,
        )
    except NotAllowed:
        return render(
            request,
            "consent/share.html",
            await _share_context(
                request,
                reference,
                errors={
                    "attended": _(
                        "A partner who was there has no active consent for this. "
                        "Nothing was recorded."
                    )
                },
            ),
            status_code=409,
        )
    return RedirectResponse(f"/travail/dossiers/{reference}#actions", status_code=303)


routes = [
    Route("/espace/{reference}/partenaires", consents, name="consent.page"),
    Route("/espace/{reference}/partenaires/annuaire", choose_partner, name="consent.directory"),
    Route(
        "/espace/{reference}/partenaires/{partner_id}/accord",
        grant,
        methods=["GET", "POST"],
        name="consent.grant",
    ),
    Route("/espace/{reference}/consentements/{consent_id}", receipt, name="consent.receipt"),
    Route(
        "/espace/{reference}/consentements/{consent_id}/recu.jwt",
        receipt_file,
        name="consent.receipt_file",
    ),
    Route(
        "/espace/{reference}/consentements/{consent_id}/retirer",
        revoke,
        methods=["GET", "POST"],
        name="consent.revoke",
    ),
    Route(
        "/travail/dossiers/{reference}/partager",
        share,
        methods=["GET", "POST"],
        name="consent.share",
    ),
    Route("/travail/dossiers/{reference}/partages/{share_id}", shared, name="consent.shared"),
    Route(
        "/travail/dossiers/{reference}/partager/proposer",
        propose_share,
        methods=["POST"],
        name="consent.propose_share",
    ),
    Route(
        "/travail/dossiers/{reference}/reunions/{action_id}",
        record_meeting,
        methods=["POST"],
        name="consent.record_meeting",
    ),
]
