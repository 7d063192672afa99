"""Asking for help: who may ask, and how a request becomes a dossier."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal.domain import journal
from portal.domain.errors import Invalid, NotAllowed
from portal.i18n import lazy as _l
from portal.models import (
    SUBJECT_ROLES,
    Asker,
    ContactChannel,
    Dossier,
    Person,
    Request,
    Role,
    Service,
    Theme,
)

AGE_LIMIT = 22
MAX_WORDS = 4000
# No 0/O, 1/I/L: a reference is read aloud on the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def is_under_age_limit(birth_year: int, birth_month: int, today: date) -> bool:
    """Under 22 on ``today``, knowing only the month of birth.

    The day of birth is not asked, so the benefit of the doubt goes to the young person: in the
    month of their 22nd birthday they are still taken as 21.
    """
    return (today.year, today.month) <= (birth_year + AGE_LIMIT, birth_month)


def check_birth(year: int, month: int, today: date, field_name: str) -> None:
    if not 1 <= month <= 12:
        raise Invalid(field_name, _l("Choose a month between 1 and 12."))
    if year < 1900 or (year, month) > (today.year, today.month):
        raise Invalid(field_name, _l("This date of birth is not possible."))


def new_reference() -> str:
    raw = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


@dataclass
class RequestForm:
    """What a subject wrote when asking; validated before anything is stored."""

    asker: Asker
    themes: list[Theme]
    words: str = ""
    contact_channel: ContactChannel = ContactChannel.PORTAL
    contact_details: str = ""
    contact_hours: str = ""
    no_voicemail: bool = False
    others_read_messages: bool = False
    concerned_birth_year: int | None = None
    concerned_birth_month: int | None = None
    errors: dict[str, str] = field(default_factory=dict)


async def make_request(
    subject: Person, service: Service, form: RequestForm, today: date | None = None
) -> Dossier:
    """Turn the subject's own request into a dossier waiting for a worker.

    Only the person asking becomes the subject: nobody opens a dossier for someone else.
    """
    if subject.role not in SUBJECT_ROLES:
        raise NotAllowed("only a young person or a relative can ask for help")
    today = today or timezone.now().date()
    if form.asker is Asker.YOUTH:
        if subject.role is not Role.YOUTH or subject.birth_year is None:
            raise NotAllowed("a young person asks for themselves")
        check_birth(subject.birth_year, subject.birth_month or 0, today, "birth")
        if not is_under_age_limit(subject.birth_year, subject.birth_month or 0, today):
            raise Invalid("birth", _l("The AMO helps young people under 22."))
    else:
        if subject.role is not Role.RELATIVE:
            raise NotAllowed("a relative asks as a relative")
        if form.concerned_birth_year is None or form.concerned_birth_month is None:
            raise Invalid(
                "concerned_birth", _l("Tell us the young person’s month and year of birth.")
            )
        check_birth(form.concerned_birth_year, form.concerned_birth_month, today, "concerned_birth")
        if not is_under_age_limit(form.concerned_birth_year, form.concerned_birth_month, today):
            raise Invalid("concerned_birth", _l("The AMO helps with young people under 22."))
    if not form.themes:
        raise Invalid("themes", _l("Choose at least one theme."))
    if len(form.words) > MAX_WORDS:
        raise Invalid("words", _l("At most 4,000 characters."))

    async with in_transaction():
        dossier = await Dossier.create(reference=new_reference(), service=service, subject=subject)
        await Request.create(
            dossier=dossier,
            asker=form.asker,
            concerned_birth_year=form.concerned_birth_year,
            concerned_birth_month=form.concerned_birth_month,
            themes=[theme.value for theme in form.themes],
            words=form.words,
            contact_channel=form.contact_channel,
            contact_details=form.contact_details,
            contact_hours=form.contact_hours,
            no_voicemail=form.no_voicemail,
            others_read_messages=form.others_read_messages,
        )
        await journal.record(dossier, "request.made", subject, {"service": service.id})
    return dossier
