"""The partner directory (the operator keeps it, workers search it) and the partner users' pages."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import consent as rules
from portal.domain import documents as document_rules
from portal.domain import partners as directory
from portal.domain import receipts
from portal.domain.errors import Invalid, Withdrawn
from portal.i18n import LANGUAGE_NAMES, _, format_when, lazy
from portal.labels import SECTORS, sector_name
from portal.models import Partner, PartnerChange, Role
from portal.pages.common import form_key, once, path_id, person_of, require, text
from portal.pages.consent import signed_receipt
from portal.templating import render

TEXTS = tuple(f"{field}{suffix}" for field in directory.TRANSLATED for suffix in ("", "_nl", "_en"))
FIELDS = ("name", "sector", "communes", *TEXTS, "contact")
FLAGS = ("bound_by_secrecy", "adheres_youth_code", "is_active")
FIELD_LABELS = {
    "name": lazy("Name"),
    "sector": lazy("Sector"),
    "communes": lazy("Communes"),
    "bound_by_secrecy": lazy("Bound by professional secrecy"),
    "secrecy_note": lazy("What its secrecy means for a young person, in plain words"),
    "ethics_code": lazy("Code of ethics it follows"),
    "adheres_youth_code": lazy("Follows the youth-aid code of ethics"),
    "description": lazy("In plain words, what it does"),
    "contact": lazy("Contact"),
    "is_active": lazy("Active in the directory"),
}


def _values(form: FormData | None, partner: Partner | None = None) -> dict[str, Any]:
    if form is not None:
        values: dict[str, Any] = {name: text(form, name, 3000) for name in FIELDS}
        values.update({flag: bool(form.get(flag)) for flag in FLAGS})
        return values
    if partner is not None:
        return {
            "name": partner.name,
            "sector": partner.sector.value,
            "communes": ", ".join(partner.communes),
            **{name: getattr(partner, name) for name in TEXTS},
            "contact": partner.contact,
            "bound_by_secrecy": partner.bound_by_secrecy,
            "adheres_youth_code": partner.adheres_youth_code,
            "is_active": partner.is_active,
        }
    return {
        **{name: "" for name in FIELDS},
        "bound_by_secrecy": False,
        "adheres_youth_code": False,
        "is_active": True,
    }


def _form(values: dict[str, Any]) -> directory.PartnerForm:
    return directory.PartnerForm(**{k: values[k] for k in (*FIELDS, *FLAGS)})


def _label(field: str) -> str:
    """A field's name in the history; a translation says its language."""
    base, _sep, code = field.rpartition("_")
    if code in ("nl", "en") and base in FIELD_LABELS:
        return f"{_(FIELD_LABELS[base])} ({LANGUAGE_NAMES[code]})"
    return _(FIELD_LABELS.get(field, field))


def _shown(field: str, value: object) -> str:
    """A value of the history as the operator reads it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if field == "sector" and isinstance(value, str):
        return sector_name(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value) or "—"


def _history(changes: list[PartnerChange]) -> list[dict[str, Any]]:
    """Each change: who, when, and each field before and after, in words."""
    return [
        {
            "who": change.changed_by.display_name if change.changed_by else _("someone gone"),
            "when": format_when(change.at),
            "iso": change.at.isoformat(),
            "fields": [
                {
                    "label": _label(field),
                    "before": _shown(field, values[0]),
                    "after": _shown(field, values[1]),
                }
                for field, values in change.changes.items()
                if isinstance(values, list) and len(values) == 2
            ],
        }
        for change in changes
    ]


@require(Role.OPERATOR)
async def admin_list(request: Request) -> Response:
    operator = person_of(request)
    return render(
        request,
        "partners/admin.html",
        {
            "partners": await directory.all_partners(operator),
            "values": _values(None),
            "errors": {},
            "sectors": SECTORS,
            "editing": None,
            "history": [],
        },
    )


@require(Role.OPERATOR)
@once()
async def admin_save(request: Request) -> Response:
    operator = person_of(request)
    form = await request.form()
    values = _values(form)
    partner_id = path_id(request, "partner_id") if "partner_id" in request.path_params else None
    try:
        if partner_id is None:
            await directory.create_partner(operator, _form(values), form_key=form_key(request))
        else:
            await directory.update_partner(
                operator, partner_id, _form(values), form_key=form_key(request)
            )
    except Invalid as refusal:
        editing = await Partner.filter(id=partner_id).first() if partner_id else None
        history = await directory.partner_history(operator, editing.id) if editing else []
        return render(
            request,
            "partners/admin.html",
            {
                "partners": await directory.all_partners(operator),
                "values": values,
                "errors": {refusal.field: _(refusal.message)},
                "sectors": SECTORS,
                "editing": editing,
                "history": _history(history),
            },
            status_code=422,
        )
    return RedirectResponse("/operateur/partenaires", status_code=303)


@require(Role.OPERATOR)
async def admin_edit(request: Request) -> Response:
    operator = person_of(request)
    partner = await directory.get_partner(path_id(request, "partner_id"), active_only=False)
    return render(
        request,
        "partners/admin.html",
        {
            "partners": await directory.all_partners(operator),
            "values": _values(None, partner),
            "errors": {},
            "sectors": SECTORS,
            "editing": partner,
            "history": _history(await directory.partner_history(operator, partner.id)),
        },
    )


@require(Role.WORKER)
async def search(request: Request) -> Response:
    """Find a relay by sector, commune and guarantees."""
    params = request.query_params
    sector = params.get("sector", "")[:30]
    commune = params.get("commune", "")[:60]
    secrecy = params.get("secrecy") == "1"
    youth_code = params.get("youth_code") == "1"
    values = {"sector": sector, "commune": commune, "secrecy": secrecy, "youth_code": youth_code}
    errors: dict[str, str] = {}
    try:
        found = await directory.search(sector, commune, secrecy, youth_code)
    except Invalid as refusal:
        errors = {refusal.field: _(refusal.message)}
        found = []
    return render(
        request,
        "partners/search.html",
        {
            "partners": found,
            "values": values,
            "errors": errors,
            "sectors": SECTORS,
        },
        block="results",
    )


@require(Role.PARTNER)
async def partner_inbox(request: Request) -> Response:
    shares = await rules.partner_inbox(person_of(request))
    return render(request, "partners/inbox.html", {"shares": shares})


@require(Role.PARTNER)
async def partner_share(request: Request) -> Response:
    try:
        found = await rules.partner_read(person_of(request), path_id(request, "share_id"))
    except Withdrawn as ended:
        # 410: this share was theirs and is no more. The page says only that the agreement
        # ended (no date, no content), which its vanishing from the list already told.
        return render(
            request, "partners/withdrawn.html", {"revoked": ended.revoked}, status_code=410
        )
    context = {"share": found, "documents": await document_rules.of_share(found, found.dossier)}
    return render(request, "partners/share.html", context)


@require(Role.PARTNER)
async def partner_receipt(request: Request) -> Response:
    """The signed receipt of the consent a share was made under: what she agreed to, for this
    partner only, while it holds."""
    try:
        made = await receipts.for_partner(
            person_of(request), path_id(request, "share_id"), request.app.state.settings.origin
        )
    except Withdrawn as ended:
        return render(
            request, "partners/withdrawn.html", {"revoked": ended.revoked}, status_code=410
        )
    return signed_receipt(await made.signed(), made.consent.id)


routes = [
    Route("/operateur/partenaires", admin_list, name="partners.admin"),
    Route("/operateur/partenaires/nouveau", admin_save, methods=["POST"], name="partners.create"),
    Route("/operateur/partenaires/{partner_id}", admin_edit, name="partners.edit"),
    Route(
        "/operateur/partenaires/{partner_id}/modifier",
        admin_save,
        methods=["POST"],
        name="partners.update",
    ),
    Route("/travail/annuaire", search, name="partners.search"),
    Route("/partenaire", partner_inbox, name="partners.inbox"),
    Route("/partenaire/partages/{share_id}", partner_share, name="partners.share"),
    Route("/partenaire/partages/{share_id}/recu.jwt", partner_receipt, name="partners.receipt"),
]
