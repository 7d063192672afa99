"""Staff pages: a service's admin manages her service's staff, the operator the admins and the
partner users. Invitations travel by e-mail, never through these pages; nobody here reads a
dossier."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import staff as staff_rules
from portal.domain.errors import Invalid
from portal.i18n import _
from portal.models import Partner, Person, Role, Service
from portal.pages.common import as_id, form_key, kept, once, path_id, person_of, require, text
from portal.templating import render

INVITE_FIELDS = ("role", "display_name", "email", "service", "partner")
# Where each manager's pages live.
HOME = {Role.ADMIN: "/admin/personnes", Role.OPERATOR: "/operateur/personnes"}
TEMPLATE = {Role.ADMIN: "admin/staff.html", Role.OPERATOR: "admin/operator_staff.html"}


def _post(request: Request) -> staff_rules.Post:
    return staff_rules.Post.of(request.app.state.settings)


def _link_for(request: Request) -> staff_rules.LinkFor:
    # The link goes into the e-mail only: no page, log or answer of the inviter holds it.
    return lambda token: str(request.url_for("invitation", token=token))


async def _notice(request: Request, manager: Person) -> dict[str, Any]:
    """What the redirect after an invitation or a departure asks the page to say."""
    number = as_id(request.query_params.get("personne", ""))
    if number is None:
        return {}
    person = await staff_rules.managed_by(manager).filter(id=number).first()
    if person is None:
        return {}
    return {"person": person, "what": request.query_params.get("fait", "")}


async def _context(
    request: Request, manager: Person, values: dict[str, str] | None = None
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "values": values
        or {"role": "", "display_name": "", "email": "", "service": "", "partner": ""},
        "errors": {},
        "notice": await _notice(request, manager),
        "post_ready": _post(request).ready,
        "pending": staff_rules.is_pending,
    }
    if manager.role is Role.ADMIN:
        context["staff"] = await staff_rules.service_staff(manager)
        context["service"] = await Service.filter(id=manager.service_id).first()
    else:
        context["installation"] = await staff_rules.installation_staff(manager)
        context["services"] = await Service.all().order_by("name", "id")
        context["partners"] = await Partner.filter(is_active=True).order_by("name", "id")
    return context


def _done(manager: Person, person_id: int, what: str) -> RedirectResponse:
    return RedirectResponse(f"{HOME[manager.role]}?personne={person_id}&fait={what}", 303)


# --- Handlers shared by the admin's and the operator's pages -----------------------------------


async def _list(request: Request) -> Response:
    manager = person_of(request)
    return render(request, TEMPLATE[manager.role], await _context(request, manager))


async def _invite(request: Request) -> Response:
    manager = person_of(request)
    form = await request.form()
    values = kept(form, INVITE_FIELDS)
    try:
        new = await staff_rules.check_invitation(
            manager,
            values["role"],
            values["display_name"],
            values["email"],
            values["service"],
            values["partner"],
        )
        invited = await staff_rules.invite(
            manager, new, _post(request), _link_for(request), form_key=form_key(request)
        )
    except Invalid as refusal:
        context = await _context(request, manager, values)
        context["errors"] = {refusal.field: _(refusal.message)}
        return render(request, TEMPLATE[manager.role], context, status_code=422)
    return _done(manager, invited.person.id, "envoi" if invited.sent else "echec")


async def _send_again(request: Request) -> Response:
    manager = person_of(request)
    try:
        invited = await staff_rules.send_again(
            manager,
            path_id(request, "person_id"),
            _post(request),
            _link_for(request),
            form_key=form_key(request),
        )
    except Invalid as refusal:
        context = await _context(request, manager)
        context["errors"] = {refusal.field: _(refusal.message)}
        return render(request, TEMPLATE[manager.role], context, status_code=422)
    return _done(manager, invited.person.id, "envoi" if invited.sent else "echec")


def _handover_choices(form: FormData) -> tuple[dict[int, int], int | None]:
    """The colleague chosen per dossier (fields ``dossier-<id>``) and for all the others."""

    per_dossier: dict[int, int] = {}
    for name in form:
        if name.startswith("dossier-"):
            dossier_id, colleague = as_id(name[8:]), as_id(text(form, name, 20))
            if dossier_id is not None and colleague is not None:
                per_dossier[dossier_id] = colleague
    return per_dossier, as_id(text(form, "all", 20))


async def _leaving_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, str] | None = None
) -> Response:
    manager = person_of(request)
    leaving = await staff_rules.leaving(manager, path_id(request, "person_id"))
    if leaving.person.deactivated_at is not None:
        return RedirectResponse(HOME[manager.role], status_code=303)
    context = {"leaving": leaving, "errors": errors or {}, "values": values or {}}
    return render(request, "admin/leaving.html", context, status_code=422 if errors else 200)


async def _deactivate(request: Request) -> Response:
    manager = person_of(request)
    form = await request.form()
    per_dossier, everything_to = _handover_choices(form)
    try:
        person = await staff_rules.deactivate(
            manager,
            path_id(request, "person_id"),
            per_dossier,
            everything_to,
            form_key=form_key(request),
        )
    except Invalid as refusal:
        values = {name: text(form, name, 20) for name in form if name != "csrf_token"}
        return await _leaving_page(request, {refusal.field: _(refusal.message)}, values)
    return _done(manager, person.id, "depart")


async def _end_sessions(request: Request) -> Response:
    manager = person_of(request)
    person = await staff_rules.end_sessions(manager, path_id(request, "person_id"))
    return _done(manager, person.id, "sessions")


# --- The routes, each guarded by its role ------------------------------------------------------

staff = require(Role.ADMIN)(_list)
invite = require(Role.ADMIN)(once()(_invite))
send_again = require(Role.ADMIN)(once()(_send_again))
handover = require(Role.ADMIN)(_leaving_page)
deactivate = require(Role.ADMIN)(once()(_deactivate))
end_sessions = require(Role.ADMIN)(_end_sessions)

operator_staff = require(Role.OPERATOR)(_list)
operator_invite = require(Role.OPERATOR)(once()(_invite))
operator_send_again = require(Role.OPERATOR)(once()(_send_again))
operator_deactivate = require(Role.OPERATOR)(once()(_deactivate))
operator_end_sessions = require(Role.OPERATOR)(_end_sessions)

routes = [
    Route("/admin/personnes", staff, name="admin.staff"),
    Route("/admin/personnes/inviter", invite, methods=["POST"], name="admin.invite"),
    Route(
        "/admin/personnes/{person_id}/renvoyer",
        send_again,
        methods=["POST"],
        name="admin.send_again",
    ),
    Route("/admin/personnes/{person_id}/depart", handover, name="admin.handover"),
    Route(
        "/admin/personnes/{person_id}/desactiver",
        deactivate,
        methods=["POST"],
        name="admin.deactivate",
    ),
    Route(
        "/admin/personnes/{person_id}/sessions/fin",
        end_sessions,
        methods=["POST"],
        name="admin.end_sessions",
    ),
    Route("/operateur/personnes", operator_staff, name="operator.staff"),
    Route(
        "/operateur/personnes/inviter",
        operator_invite,
        methods=["POST"],
        name="operator.invite",
    ),
    Route(
        "/operateur/personnes/{person_id}/renvoyer",
        operator_send_again,
        methods=["POST"],
        name="operator.send_again",
    ),
    Route(
        "/operateur/personnes/{person_id}/desactiver",
        operator_deactivate,
        methods=["POST"],
        name="operator.deactivate",
    ),
    Route(
        "/operateur/personnes/{person_id}/sessions/fin",
        operator_end_sessions,
        methods=["POST"],
        name="operator.end_sessions",
    ),
]
