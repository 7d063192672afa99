"""The services of an installation: the operator creates them and keeps their public details."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from portal.domain.errors import Invalid, NotFound
from portal.domain.forms import acting_once
from portal.i18n import lazy as _l
from portal.models import Person, Role, Service
from portal.text import clean_text

MAX_NAME = 200
MAX_ADDRESS = 300
MAX_HOURS = 300
MAX_PHONE = 40
MAX_EMAIL = 254
MAX_COMMUNES = 100
MAX_COMMUNE = 60
MIN_RESPONSE_DAYS = 1
MAX_RESPONSE_DAYS = 30
# A contact address, not a sign-in name: upper case is kept as written.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
PHONE_RE = re.compile(r"^[0-9+ ./()-]*$")


@dataclass
class ServiceForm:
    """A service's details as typed (in a form or on the command line)."""

    name: str
    address: str = ""
    hours: str = ""
    hours_nl: str = ""
    hours_en: str = ""
    phone: str = ""
    email: str = ""
    communes: str = ""
    response_days: str = "3"


def check_service_form(form: ServiceForm) -> dict[str, Any]:
    """The values to store, or ``Invalid`` naming the first field that is not right."""
    name = clean_text(form.name)
    if not name:
        raise Invalid("name", _l("Write the service's name."))
    if len(name) > MAX_NAME:
        raise Invalid("name", _l("At most 200 characters."))
    address = clean_text(form.address)
    if len(address) > MAX_ADDRESS:
        raise Invalid("address", _l("At most 300 characters."))
    phone = clean_text(form.phone)
    if len(phone) > MAX_PHONE or not PHONE_RE.match(phone):
        raise Invalid("phone", _l("A phone number: digits, spaces, +, dots or dashes."))
    email = clean_text(form.email)
    if email and (len(email) > MAX_EMAIL or not EMAIL_RE.match(email)):
        raise Invalid("email", _l("Write an e-mail address, like contact@service.be."))
    # French first (shown when a translation is missing), then Dutch and English.
    hours = {key: clean_text(getattr(form, key)) for key in ("hours", "hours_nl", "hours_en")}
    for key, value in hours.items():
        if len(value) > MAX_HOURS:
            raise Invalid(key, _l("At most 300 characters."))
    communes: list[str] = []
    for part in form.communes.split(","):
        commune = clean_text(part)
        if not commune or commune in communes:
            continue
        if len(commune) > MAX_COMMUNE:
            raise Invalid("communes", _l("A commune name has at most 60 characters."))
        communes.append(commune)
    if len(communes) > MAX_COMMUNES:
        raise Invalid("communes", _l("At most 100 communes."))
    days_text = clean_text(form.response_days)
    if not days_text.isascii() or not days_text.isdigit() or len(days_text) > 2:
        raise Invalid("response_days", _l("A number of working days, from 1 to 30."))
    days = int(days_text)
    if not MIN_RESPONSE_DAYS <= days <= MAX_RESPONSE_DAYS:
        raise Invalid("response_days", _l("A number of working days, from 1 to 30."))
    return {
        "name": name,
        "address": address,
        **hours,
        "phone": phone,
        "email": email,
        "communes": communes,
        "response_days": days,
    }


def _require_operator(person: Person | None) -> None:
    # ``None`` is the command line, run by whoever runs the server.
    if person is not None and person.role is not Role.OPERATOR:
        raise NotFound("the operator's only")


async def create_service(
    operator: Person | None, form: ServiceForm, *, form_key: str | None = None
) -> Service:
    """A new service; ``operator`` is None when the command line makes it."""
    _require_operator(operator)
    values = check_service_form(form)
    async with acting_once(form_key):
        return await Service.create(**values)


async def update_service(
    operator: Person, service_id: int, form: ServiceForm, *, form_key: str | None = None
) -> Service:
    _require_operator(operator)
    values = check_service_form(form)
    async with acting_once(form_key):
        service = await Service.filter(id=service_id).select_for_update().first()
        if service is None:
            raise NotFound("no such service")
        await Service.filter(id=service_id).update(**values)
        await service.refresh_from_db()
    return service


async def get_service(operator: Person, service_id: int) -> Service:
    _require_operator(operator)
    service = await Service.filter(id=service_id).first()
    if service is None:
        raise NotFound("no such service")
    return service


@dataclass(frozen=True)
class ServiceRow:
    """One line of the operator's list: the service and how many staff it has, nothing more."""

    service: Service
    staff: int


async def all_services(operator: Person) -> list[ServiceRow]:
    """Every service by name, with its number of staff accounts (no dossier, no count of them)."""
    _require_operator(operator)
    services = await Service.all().order_by("name", "id")
    staff_of = await Person.filter(
        role__in=[Role.WORKER.value, Role.ADMIN.value], service_id__isnull=False
    ).values_list("service_id", flat=True)
    counts: dict[int, int] = {}
    for service_id in staff_of:
        if isinstance(service_id, int):
            counts[service_id] = counts.get(service_id, 0) + 1
    return [ServiceRow(s, counts.get(s.id, 0)) for s in services]
