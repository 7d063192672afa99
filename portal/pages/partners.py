"""The partner directory (admins keep it, workers search it) and the partner users' pages."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import consent as rules
from portal.domain import partners as directory
from portal.domain.errors import Invalid, NotFound
from portal.i18n import _
from portal.labels import SECTORS
from portal.models import Partner, Role
from portal.pages.common import once, person_of, require, text
from portal.templating import render

FIELDS = ("name", "sector", "communes", "ethics_code", "description", "contact")
FLAGS = ("bound_by_secrecy", "adheres_youth_code", "is_active")


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
            "ethics_code": partner.ethics_code,
            "description": partner.description,
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


@require(Role.ADMIN)
async def admin_list(request: Request) -> Response:
    admin = person_of(request)
    return render(
        request,
        "partners/admin.html",
        {
            "partners": await directory.all_partners(admin),
            "values": _values(None),
            "errors": {},
            "sectors": SECTORS,
            "editing": None,
        },
    )


@require(Role.ADMIN)
@once()
async def admin_save(request: Request) -> Response:
    admin = person_of(request)
    form = await request.form()
    values = _values(form)
    partner_id = request.path_params.get("partner_id")
    try:
        if partner_id is None:
            await directory.create_partner(admin, _form(values))
        else:
            await directory.update_partner(admin, int(partner_id), _form(values))
    except ValueError as error:
        raise HTTPException(404) from error
    except NotFound as error:
        raise HTTPException(404) from error
    except Invalid as refusal:
        editing = await Partner.filter(id=int(partner_id)).first() if partner_id else None
        return render(
            request,
            "partners/admin.html",
            {
                "partners": await directory.all_partners(admin),
                "values": values,
                "errors": {refusal.field: _(refusal.message)},
                "sectors": SECTORS,
                "editing": editing,
            },
            status_code=422,
        )
    return RedirectResponse("/admin/partenaires", status_code=303)


@require(Role.ADMIN)
async def admin_edit(request: Request) -> Response:
    admin = person_of(request)
    try:
        partner = await directory.get_partner(
            int(request.path_params["partner_id"]), active_only=False
        )
    except (ValueError, NotFound) as error:
        raise HTTPException(404) from error
    return render(
        request,
        "partners/admin.html",
        {
            "partners": await directory.all_partners(admin),
            "values": _values(None, partner),
            "errors": {},
            "sectors": SECTORS,
            "editing": partner,
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
    person = person_of(request)
    try:
        shares = await rules.partner_inbox(person)
    except NotFound as error:
        raise HTTPException(404) from error
    return render(request, "partners/inbox.html", {"shares": shares})


@require(Role.PARTNER)
async def partner_share(request: Request) -> Response:
    person = person_of(request)
    try:
        found = await rules.partner_read(person, int(request.path_params["share_id"]))
    except (ValueError, NotFound) as error:
        raise HTTPException(404) from error
    return render(request, "partners/share.html", {"share": found})


routes = [
    Route("/admin/partenaires", admin_list, name="partners.admin"),
    Route("/admin/partenaires/nouveau", admin_save, methods=["POST"], name="partners.create"),
    Route("/admin/partenaires/{partner_id}", admin_edit, name="partners.edit"),
    Route(
        "/admin/partenaires/{partner_id}/modifier",
        admin_save,
        methods=["POST"],
        name="partners.update",
    ),
    Route("/travail/annuaire", search, name="partners.search"),
    Route("/partenaire", partner_inbox, name="partners.inbox"),
    Route("/partenaire/partages/{share_id}", partner_share, name="partners.share"),
]
