"""A service's admin sets the days her service is closed: the working days count without them."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal import clock
from portal.domain import workdays
from portal.domain.errors import Invalid
from portal.i18n import _, current_language
from portal.models import Role
from portal.pages.common import form_key, kept, once, path_id, person_of, require
from portal.templating import render

FIELDS = ("first_day", "last_day", "label")
HOME = "/admin/fermetures"


async def _page(
    request: Request,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    admin = person_of(request)
    context: dict[str, Any] = {
        "closings": await workdays.coming_closings(admin, clock.now()),
        "values": values or dict.fromkeys(FIELDS, ""),
        "errors": errors or {},
        "done": request.query_params.get("fait", ""),
        "today": workdays.local_day(clock.now()),
        "holidays": workdays.coming_holidays(workdays.local_day(clock.now()), current_language()),
    }
    return render(request, "admin/closings.html", context, status_code=status_code)


@require(Role.ADMIN)
async def closings(request: Request) -> Response:
    return await _page(request)


@require(Role.ADMIN)
@once()
async def add(request: Request) -> Response:
    form = await request.form()
    values = kept(form, FIELDS)
    try:
        await workdays.add_closing(
            person_of(request),
            values["first_day"],
            values["last_day"],
            values["label"],
            clock.now(),
            form_key=form_key(request),
        )
    except Invalid as refusal:
        return await _page(request, values, {refusal.field: _(refusal.message)}, 422)
    return RedirectResponse(f"{HOME}?fait=ajout", status_code=303)


@require(Role.ADMIN)
@once()
async def remove(request: Request) -> Response:
    try:
        await workdays.remove_closing(
            person_of(request),
            path_id(request, "closing_id"),
            clock.now(),
            form_key=form_key(request),
        )
    except Invalid as refusal:
        return await _page(request, errors={refusal.field: _(refusal.message)}, status_code=422)
    return RedirectResponse(f"{HOME}?fait=retrait", status_code=303)


routes = [
    Route(HOME, closings, name="admin.closings"),
    Route(f"{HOME}/ajouter", add, methods=["POST"], name="admin.closing_add"),
    Route(f"{HOME}/{{closing_id}}/retirer", remove, methods=["POST"], name="admin.closing_remove"),
]
