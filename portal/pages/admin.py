"""Admin pages: staff accounts and their invitations. Admins read no dossier."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from tortoise.exceptions import DoesNotExist

from portal.domain import accounts
from portal.domain.errors import Invalid, NotFound
from portal.i18n import _
from portal.models import LinkKind, Partner, Person, Role
from portal.pages.common import as_id, kept, once, person_of, require
from portal.templating import render

INVITE_FIELDS = ("role", "display_name", "partner")


async def _staff_context(admin: Person, values: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "staff": await accounts.staff_list(admin),
        "partners": await Partner.filter(is_active=True).order_by("name"),
        "values": values or {"role": "worker", "display_name": "", "partner": ""},
        "errors": {},
        "invited": None,
        "link": None,
    }


@require(Role.ADMIN)
async def staff(request: Request) -> Response:
    admin = person_of(request)
    return render(request, "admin/staff.html", await _staff_context(admin))


async def invite_again(request: Request, outcome: str) -> Response:
    """The invitation form sent twice: the same invitation again, under a link that is shown."""
    admin = person_of(request)
    try:
        invited = await Person.get(id=int(outcome))
        token = await accounts.renew_link(admin, invited.id, LinkKind.INVITATION)
    except (ValueError, DoesNotExist, NotFound):
        return RedirectResponse("/admin/personnes", status_code=303)
    context = await _staff_context(admin)
    context["invited"] = invited
    context["link"] = str(request.url_for("invitation", token=token))
    return render(request, "admin/staff.html", context)


@require(Role.ADMIN)
@once(again=invite_again)
async def invite(request: Request) -> Response:
    admin = person_of(request)
    form = await request.form()
    values = kept(form, INVITE_FIELDS)
    partner_id: int | None = None
    try:
        if values["partner"]:
            partner_id = as_id(values["partner"])
            if partner_id is None:
                raise Invalid("partner", _("Choose the partner organisation."))
        person, token = await accounts.invite_staff(
            admin, values["role"], values["display_name"], partner_id
        )
    except Invalid as refusal:
        context = await _staff_context(admin, values)
        context["errors"] = {refusal.field: _(refusal.message)}
        return render(request, "admin/staff.html", context, status_code=422)
    # The link is shown once, here, and never stored in a readable form.
    request.state.outcome = str(person.id)
    context = await _staff_context(admin)
    context["invited"] = person
    context["link"] = str(request.url_for("invitation", token=token))
    return render(request, "admin/staff.html", context)


@require(Role.ADMIN)
async def end_sessions(request: Request) -> Response:
    admin = person_of(request)
    try:
        await accounts.end_staff_sessions(admin, int(request.path_params["person_id"]))
    except (ValueError, NotFound) as error:
        raise HTTPException(404) from error
    return RedirectResponse("/admin/personnes", status_code=303)


routes = [
    Route("/admin/personnes", staff, name="admin.staff"),
    Route("/admin/personnes/inviter", invite, methods=["POST"], name="admin.invite"),
    Route(
        "/admin/personnes/{person_id}/sessions/fin",
        end_sessions,
        methods=["POST"],
        name="admin.end_sessions",
    ),
]
