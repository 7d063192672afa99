"""The partner directory: organisations, their guarantees and their history; finding a relay."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise import timezone
from tortoise.expressions import Q

from portal.domain import journal
from portal.domain.errors import Invalid, NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import lazy as _l
from portal.models import Consent, Dossier, Partner, PartnerChange, Person, Role, Sector
from portal.text import clean_multiline, clean_text

MAX_NAME = 200
MAX_DESCRIPTION = 1500
MAX_SECRECY_NOTE = 500
MAX_ETHICS_CODE = 300
# Texts kept in French (the field itself), Dutch (``_nl``) and English (``_en``).
TRANSLATED = ("secrecy_note", "ethics_code", "description")


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
    # The texts a young person reads, in Dutch and English; French above is the reference.
    secrecy_note: str = ""
    secrecy_note_nl: str = ""
    secrecy_note_en: str = ""
    ethics_code_nl: str = ""
    ethics_code_en: str = ""
    description_nl: str = ""
    description_en: str = ""


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
    texts: dict[str, str] = {}
    for field in TRANSLATED:
        for key in (field, f"{field}_nl", f"{field}_en"):
            value = str(getattr(form, key))
            if field == "description":
                texts[key] = clean_multiline(value)
                if len(texts[key]) > MAX_DESCRIPTION:
                    raise Invalid(key, _l("At most 1,500 characters."))
                continue
            texts[key] = clean_text(value)
            if field == "secrecy_note" and len(texts[key]) > MAX_SECRECY_NOTE:
                raise Invalid(key, _l("At most 500 characters."))
            if field == "ethics_code" and len(texts[key]) > MAX_ETHICS_CODE:
                raise Invalid(key, _l("At most 300 characters."))
    contact = clean_text(form.contact)
    if len(contact) > 300:
        raise Invalid("contact", _l("At most 300 characters."))
    return {
        "name": name,
        "sector": sector,
        "communes": communes,
        "bound_by_secrecy": form.bound_by_secrecy,
        "adheres_youth_code": form.adheres_youth_code,
        **texts,
        "contact": contact,
        "is_active": form.is_active,
    }


# What a young person agreed with: who the partner is, and what it promises. A change of any
# of them is told to everyone whose consent for this partner is active.
PROMISES = (
    "name",
    "sector",
    "bound_by_secrecy",
    "secrecy_note",
    "secrecy_note_nl",
    "secrecy_note_en",
    "ethics_code",
    "ethics_code_nl",
    "ethics_code_en",
    "adheres_youth_code",
    "is_active",
)
RECORDED = (*PROMISES, "communes", "description", "description_nl", "description_en", "contact")
# What is copied onto a consent when she agrees: every promise but being in the directory.
PROMISED = tuple(field for field in PROMISES if field != "is_active")
# The journal names a promise once, whatever language of it changed; the explanation of its
# secrecy is part of its secrecy.
PROMISE_NAMED = {
    "secrecy_note": "bound_by_secrecy",
    "secrecy_note_nl": "bound_by_secrecy",
    "secrecy_note_en": "bound_by_secrecy",
    "ethics_code_nl": "ethics_code",
    "ethics_code_en": "ethics_code",
}


def _require_operator(person: Person) -> None:
    # The directory is shared by every service of the installation: only its operator keeps
    # it. Anyone else (a service's admin included) finds no such page.
    if person.role is not Role.OPERATOR:
        raise NotFound("the operator's only")


def _stored(value: Any) -> Any:
    """A value as the history keeps it (JSON: a sector by its name, a list as a list)."""
    if isinstance(value, Sector):
        return value.value
    if isinstance(value, list):
        return list(value)
    return value


def promises_of(partner: Partner, now: datetime) -> dict[str, Any]:
    """What the partner promises now, as copied onto a consent: kept as it is for good."""
    return {
        **{field: _stored(getattr(partner, field)) for field in PROMISED},
        "copied_at": now.isoformat(timespec="seconds"),
    }


def promises_digest(partner: Partner) -> str:
    """A short digest of what the partner promises now: the grant form carries the one of what
    she read, and the grant refuses if the directory changed it meanwhile."""
    stated = {field: _stored(getattr(partner, field)) for field in PROMISED}
    form = json.dumps(stated, sort_keys=True, ensure_ascii=True, default=str).encode()
    return hashlib.sha256(form).hexdigest()[:32]


def promises_changed(promised: dict[str, Any], partner: Partner) -> list[str]:
    """The promises the directory now states otherwise than the copy kept with a consent."""
    return list(
        dict.fromkeys(
            PROMISE_NAMED.get(field, field)
            for field in PROMISED
            if field in promised and promised[field] != _stored(getattr(partner, field))
        )
    )


async def create_partner(
    operator: Person, form: PartnerForm, *, form_key: str | None = None
) -> Partner:
    _require_operator(operator)
    values = _check(form)
    async with acting_once(form_key):
        partner = await Partner.create(**values)
        # The entry's first state is its history's first line.
        await PartnerChange.create(
            partner=partner,
            changed_by=operator,
            at=timezone.now(),
            changes={field: [None, _stored(values[field])] for field in RECORDED},
        )
    return partner


async def update_partner(
    operator: Person, partner_id: int, form: PartnerForm, *, form_key: str | None = None
) -> Partner:
    """Change an entry; keep who changed what, and tell the young people it concerns.

    Every field that changed is kept, before and after, with who and when. When what the
    partner promises changes, each dossier with an active consent for it gets a journal entry,
    in the same transaction, so its subject reads it before consenting further.
    """
    _require_operator(operator)
    values = _check(form)
    async with acting_once(form_key):
        partner = await Partner.filter(id=partner_id).select_for_update().first()
        if partner is None:
            raise NotFound("no such partner")
        changes = {
            field: [_stored(getattr(partner, field)), _stored(values[field])]
            for field in RECORDED
            if _stored(getattr(partner, field)) != _stored(values[field])
        }
        if not changes:
            return partner
        await Partner.filter(id=partner_id).update(**values)
        now = timezone.now()
        await PartnerChange.create(partner=partner, changed_by=operator, at=now, changes=changes)
        promised = list(
            dict.fromkeys(PROMISE_NAMED.get(field, field) for field in PROMISES if field in changes)
        )
        if promised:
            await _tell_consenting(partner, operator, promised, now)
        await partner.refresh_from_db()
    return partner


async def _tell_consenting(
    partner: Partner, operator: Person, fields: list[str], now: datetime
) -> None:
    """A journal entry in every dossier whose subject's consent for this partner is active."""
    consents = await Consent.filter(partner_id=partner.id, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    # In the order of the dossiers' ids, as every writer holds them: no two wait on each other.
    for dossier_id in sorted({c.dossier_id for c in consents}):
        dossier = await Dossier.select_for_update().get(id=dossier_id)
        await journal.record(
            dossier, Event.PARTNER_CHANGED, operator, {"partner": partner.id, "fields": fields}
        )


async def all_partners(operator: Person) -> list[Partner]:
    _require_operator(operator)
    return await Partner.all().order_by("name")


async def partner_history(operator: Person, partner_id: int) -> list[PartnerChange]:
    """Who changed the entry, when and what: newest first."""
    _require_operator(operator)
    return (
        await PartnerChange.filter(partner_id=partner_id)
        .select_related("changed_by")
        .order_by("-at", "-id")
    )


async def get_partner(partner_id: int, *, active_only: bool = True) -> Partner:
    query = Partner.filter(id=partner_id)
    if active_only:
        query = query.filter(is_active=True)
    partner = await query.first()
    if partner is None:
        raise NotFound("no such partner")
    return partner


async def active_partners() -> list[Partner]:
    """Every partner one can work with, by name: on every worker's dossier page, a checkbox
    with its name. Only that of each (partial objects, which the ORM refuses to save)."""
    return await Partner.filter(is_active=True).only("id", "name").order_by("name", "id")


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
