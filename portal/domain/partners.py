"""The partner directory: organisations, their guarantees, and finding a relay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal import reads
from portal.domain.accounts import clean_multiline, clean_text
from portal.domain.errors import Invalid, NotFound
from portal.i18n import lazy as _l
from portal.models import Partner, Person, Role, Sector

MAX_NAME = 200
MAX_DESCRIPTION = 1500


@dataclass
class PartnerForm:
    name: str
    sector: str
    communes: str
    bound_by_secrecy: bool
    ethics_code: str
    adheres_youth_code: bool
    description: str
    contact: str
    is_active: bool


def _check(form: PartnerForm) -> dict[str, Any]:
    name = clean_text(form.name)
    if not name:
        raise Invalid("name", _l("Write the organisation's name."))
    if len(name) > MAX_NAME:
        raise Invalid("name", _l("At most 200 characters."))
    try:
        sector = Sector(form.sector)
    except ValueError as error:
        raise Invalid("sector", _l("Choose a sector.")) from error
    communes = [c for c in (clean_text(part) for part in form.communes.split(",")) if c][:50]
    if any(len(c) > 60 for c in communes):
        raise Invalid("communes", _l("A commune name has at most 60 characters."))
    ethics = clean_text(form.ethics_code)
    if len(ethics) > 300:
        raise Invalid("ethics_code", _l("At most 300 characters."))
    description = clean_multiline(form.description)
    if len(description) > MAX_DESCRIPTION:
        raise Invalid("description", _l("At most 1,500 characters."))
    contact = clean_text(form.contact)
    if len(contact) > 300:
        raise Invalid("contact", _l("At most 300 characters."))
    return {
        "name": name,
        "sector": sector,
        "communes": communes,
        "bound_by_secrecy": form.bound_by_secrecy,
        "ethics_code": ethics,
        "adheres_youth_code": form.adheres_youth_code,
        "description": description,
        "contact": contact,
        "is_active": form.is_active,
    }


def _require_admin(person: Person) -> None:
    if person.role is not Role.ADMIN:
        raise NotFound("admins only")


async def create_partner(admin: Person, form: PartnerForm) -> Partner:
    _require_admin(admin)
    return await Partner.create(**_check(form))


async def update_partner(admin: Person, partner_id: int, form: PartnerForm) -> Partner:
    _require_admin(admin)
    partner = await Partner.filter(id=partner_id).first()
    if partner is None:
        raise NotFound("no such partner")
    values = _check(form)
    await Partner.filter(id=partner_id).update(**values)
    await partner.refresh_from_db()
    return partner


async def all_partners(admin: Person) -> list[Partner]:
    _require_admin(admin)
    return await Partner.all().order_by("name")


async def get_partner(partner_id: int, *, active_only: bool = True) -> Partner:
    query = Partner.filter(id=partner_id)
    if active_only:
        query = query.filter(is_active=True)
    partner = await query.first()
    if partner is None:
        raise NotFound("no such partner")
    return partner


# What a worker's dossier page shows of each partner: a checkbox with its name.
LISTED = reads.Only(Partner, ("id", "name"))


async def active_partners() -> list[Partner]:
    """Every partner one can work with, by name: on every worker's dossier page (see reads).

    Only their names: the objects are partial (see ``reads.Only``)."""
    found = await reads.rows(
        reads.statement(
            "SELECT {x} FROM partner x WHERE x.is_active = ? ORDER BY x.name, x.id", x=LISTED
        ),
        [True],
    )
    return reads.build_all(LISTED, found)


async def search(
    sector: str = "",
    commune: str = "",
    secrecy_only: bool = False,
    youth_code_only: bool = False,
) -> list[Partner]:
    """Find a relay with the same guarantees: by sector, commune, secrecy, code of ethics."""
    query = Partner.filter(is_active=True)
    if sector:
        try:
            query = query.filter(sector=Sector(sector))
        except ValueError as error:
            raise Invalid("sector", _l("Choose a sector.")) from error
    if secrecy_only:
        query = query.filter(bound_by_secrecy=True)
    if youth_code_only:
        query = query.filter(adheres_youth_code=True)
    partners = await query.order_by("name")
    wanted = clean_text(commune).lower()[:60]
    if wanted:
        # Communes are a short JSON list per partner: filtered here, the same on both backends.
        partners = [p for p in partners if any(wanted in c.lower() for c in p.communes)]
    return partners
