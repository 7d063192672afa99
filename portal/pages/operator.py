"""The installation's operator: its services and their public details. No dossier, no share."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import services as rules
from portal.domain.errors import Invalid
from portal.i18n import _
from portal.models import Role, Service
from portal.pages.common import form_key, once, path_id, person_of, require, text
from portal.templating import render

FIELDS = (
    "name",
    "address",
    "phone",
    "email",
    "hours",
    "hours_nl",
    "hours_en",
    "communes",
    "response_days",
)


def _values(form: FormData | None = None, service: Service | None = None) -> dict[str, str]:
    if form is not None:
        return {name: text(form, name, 3000) for name in FIELDS}
    if service is not None:
        return {
            "name": service.name,
            "address": service.address,
            "phone": service.phone,
            "email": service.email,
            "hours": service.hours,
            "hours_nl": service.hours_nl,
            "hours_en": service.hours_en,
            "communes": ", ".join(service.communes),
            "response_days": str(service.response_days),
        }
    return {**{name: "" for name in FIELDS}, "response_days": "3"}


def _form(values: dict[str, str]) -> rules.ServiceForm:
    return rules.ServiceForm(**values)


@require(Role.OPERATOR)
async def home(request: Request) -> Response:
    operator = person_of(request)
    return render(
        request,
        "operator/home.html",
        {"services": await rules.all_services(operator), "values": _values(), "errors": {}},
    )


@require(Role.OPERATOR)
@once()
async def create(request: Request) -> Response:
    operator = person_of(request)
    values = _values(await request.form())
    try:
        service = await rules.create_service(operator, _form(values), form_key=form_key(request))
    except Invalid as refusal:
        context: dict[str, Any] = {
            "services": await rules.all_services(operator),
            "values": values,
            "errors": {refusal.field: _(refusal.message)},
        }
        return render(request, "operator/home.html", context, status_code=422)
    return RedirectResponse(f"/operateur/services/{service.id}", status_code=303)


@require(Role.OPERATOR)
async def edit(request: Request) -> Response:
    operator = person_of(request)
    service = await rules.get_service(operator, path_id(request, "service_id"))
    return render(
        request,
        "operator/service.html",
        {"service": service, "values": _values(None, service), "errors": {}},
    )


@require(Role.OPERATOR)
@once()
async def update(request: Request) -> Response:
    operator = person_of(request)
    service_id = path_id(request, "service_id")
    values = _values(await request.form())
    service = await rules.get_service(operator, service_id)
    try:
        await rules.update_service(operator, service_id, _form(values), form_key=form_key(request))
    except Invalid as refusal:
        return render(
            request,
            "operator/service.html",
            {
                "service": service,
                "values": values,
                "errors": {refusal.field: _(refusal.message)},
            },
            status_code=422,
        )
    return RedirectResponse("/operateur", status_code=303)


routes = [
    Route("/operateur", home, name="operator.home"),
    Route("/operateur/services/nouveau", create, methods=["POST"], name="operator.create"),
    Route("/operateur/services/{service_id}", edit, name="operator.service"),
    Route(
        "/operateur/services/{service_id}/modifier",
        update,
        methods=["POST"],
        name="operator.update",
    ),
]
