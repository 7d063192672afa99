"""Asking for help: who may ask, and how a request becomes a dossier."""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal import keys
from portal.domain import drafts, journal
from portal.domain.access import own_dossier
from portal.domain.accounts import require_whole_account
from portal.domain.errors import DomainError, Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import lazy as _l
from portal.models import (
    SUBJECT_ROLES,
    Asker,
    ContactChannel,
    Dossier,
    DossierStatus,
    Person,
    Request,
    RequestDraft,
    Role,
    Service,
    Theme,
)
from portal.security.crypto import Box, CryptoError

AGE_LIMIT = 22
MAX_WORDS = 4000
# No 0/O, 1/I/L: a reference is read aloud on the phone.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
WRONG_ACCOUNT = {
    Role.YOUTH: _l("Your account is for a young person. A parent makes their own account."),
    Role.RELATIVE: _l(
        "Your account is for a parent or a relative. A young person makes their own account."
    ),
}


class NotASubject(NotAllowed):
    """Rule 1: a worker, a partner or an admin cannot open a dossier for someone else."""


class NotEligible(DomainError):
    """22 or older: a kind answer pointing elsewhere, and nothing stored."""


def may_ask(person: Person | None) -> None:
    """Whether this person may ask for help; nobody signed in may, making an account.

    A session opened by a recovery link reaches one dossier: it opens no new one.
    """
    if person is None:
        return
    if not person.is_subject:
        raise NotASubject("only a young person or a relative asks for help")
    require_whole_account(person)


def is_under_age_limit(birth_year: int, birth_month: int, today: date) -> bool:
    """Under 22 on ``today``, knowing only the month of birth.

    The day of birth is not asked, so the benefit of the doubt goes to the young person: in the
    month of their 22nd birthday they are still taken as 21.
    """
    return (today.year, today.month) <= (birth_year + AGE_LIMIT, birth_month)


async def make_request_in(
    dossier: Dossier, subject: Person, form: RequestForm, event: Event
) -> Request:
    """Store a request in a dossier, its texts sealed; the caller holds the transaction."""
    box = keys.box(dossier)
    request = await Request.create(
        dossier=dossier,
        asker=form.asker,
        concerned_birth_year=form.concerned_birth_year,
        concerned_birth_month=form.concerned_birth_month,
        themes=[theme.value for theme in form.themes],
        words=box.seal(form.words, "request.words"),
        contact_channel=form.contact_channel,
        contact_details=box.seal(form.contact_details, "request.contact_details"),
        contact_hours=box.seal(form.contact_hours, "request.contact_hours"),
        no_voicemail=form.no_voicemail,
        others_read_messages=form.others_read_messages,
        urgent=form.urgent,
    )
    await journal.record(dossier, event, subject, {"service": dossier.service_id})
    return request


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
    urgent: bool = False
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
        # The dossier's own key, wrapped by the master key: every text below is sealed with it.
        dossier.wrapped_key = keys.new_wrapped_key(dossier.id)
        await Dossier.filter(id=dossier.id).update(wrapped_key=dossier.wrapped_key)
        await make_request_in(dossier, subject, form, Event.REQUEST_MADE)
    return dossier


async def ask(
    subject: Person,
    service_id: int | None,
    form: RequestForm,
    *,
    own_birth: tuple[int, int] | None = None,
    form_key: str | None = None,
) -> Dossier:
    """The request form's last step: the request made and, for a young person asking for
    herself, her month of birth (``own_birth``: year, month) kept on her account, together."""
    may_ask(subject)
    service = await Service.filter(id=service_id).first() if service_id is not None else None
    if service is None:
        raise Invalid("service", _l("Choose the service you want to ask."))
    async with acting_once(form_key):
        if form.asker is Asker.YOUTH and own_birth is not None:
            year, month = own_birth
            await Person.filter(id=subject.id).update(birth_year=year, birth_month=month)
            subject.birth_year, subject.birth_month = year, month
        try:
            return await make_request(subject, service, form)
        except NotAllowed as refusal:
            raise Invalid("asker", _l("Your account cannot make this request.")) from refusal


async def ask_with_new_account(
    make_account: Callable[[], Awaitable[Person]],
    service_id: int | None,
    form: RequestForm,
    *,
    own_birth: tuple[int, int] | None = None,
    form_key: str | None = None,
) -> tuple[Dossier, Person]:
    """The request of someone without an account, who makes one (``make_account``: with a
    password, or the passkey the browser made). One transaction: a refused request leaves no
    account behind, and the reverse."""
    async with acting_once(form_key):
        person = await make_account()
        dossier = await ask(person, service_id, form, own_birth=own_birth)
    return dossier, person


# --- A worker reads a waiting request before taking it -------------------------------------


async def read_waiting_request(worker: Person, dossier_id: int | None) -> tuple[Dossier, Request]:
    """A waiting request of the worker's own service, with its words and safe-contact choices.

    Reading it is a look, journaled like any read of a dossier by someone else (rule 5): the
    person who asked sees it. Anyone else, or a request already taken, finds nothing.
    """
    dossier = await Dossier.filter(id=dossier_id).first() if dossier_id is not None else None
    if dossier is None:
        raise NotFound("no such dossier")
    own_service = (
        worker.role is Role.WORKER
        and worker.is_active
        and worker.service_id is not None
        and worker.service_id == dossier.service_id
    )
    if not own_service:
        # Someone else's dossier: nothing shown, and the try is in its journal (rule 3).
        if worker.id != dossier.subject_id:
            await journal.record_look(
                dossier, Event.DOSSIER_READ_REFUSED, worker, {"role": worker.role.value}
            )
        raise NotFound("workers of the dossier's service only")
    if dossier.status is not DossierStatus.WAITING or dossier.wrapped_key is None:
        # Taken (its page is for the workers who follow it), ended or erased.
        raise NotFound("no such waiting request")
    request = await Request.filter(dossier_id=dossier.id).order_by("-id").first()
    if request is None:
        raise NotFound("dossier without request")
    await journal.record_look(dossier, Event.DOSSIER_READ, worker, {"waiting": True})
    keys.open_fields(
        keys.box(dossier), [request], "request", ("words", "contact_details", "contact_hours")
    )
    return dossier, request


# --- Reading the form, step by step ----------------------------------------------------------

MAX_CONTACT = 200
MAX_HOURS = 200


def parse_int(value: str, field_name: str, message: str) -> int:
    try:
        number = int(value.strip())
    except (ValueError, AttributeError) as error:
        raise Invalid(field_name, message) from error
    if not -10_000 < number < 10_000:
        raise Invalid(field_name, message)
    return number


def check_who(
    asker: str, month: str, year: str, today: date, person: Person | None = None
) -> tuple[Asker, int, int]:
    """Step one: who asks, as whom ``person`` is signed in, and whether the AMO may help (under
    22 on the day)."""
    try:
        who = Asker(asker)
    except ValueError as error:
        raise Invalid("asker", _l("Tell us who is asking.")) from error
    birth_month = parse_int(month, "birth", _l("Choose a month."))
    birth_year = parse_int(year, "birth", _l("Write the year with 4 digits, like 2010."))
    check_birth(birth_year, birth_month, today, "birth")
    if person is not None and person.is_subject and person.role.value != who.value:
        raise Invalid("asker", WRONG_ACCOUNT[person.role])
    if not is_under_age_limit(birth_year, birth_month, today):
        raise NotEligible("22 or older")
    return who, birth_month, birth_year


def parse_themes(values: list[str]) -> list[Theme]:
    themes: list[Theme] = []
    for value in values[:20]:
        try:
            theme = Theme(value)
        except ValueError as error:
            raise Invalid("themes", _l("Choose among the themes shown.")) from error
        if theme not in themes:
            themes.append(theme)
    if not themes:
        raise Invalid("themes", _l("Choose at least one theme."))
    return themes


def check_words(words: str) -> str:
    from portal.text import clean_multiline

    text = clean_multiline(words)
    if len(text) > MAX_WORDS:
        raise Invalid("words", _l("At most 4,000 characters."))
    return text


def check_contact(channel: str, details: str, hours: str) -> tuple[ContactChannel, str, str]:
    """How to reach the person safely. Through the portal only needs nothing more."""
    from portal.text import clean_text

    try:
        how = ContactChannel(channel)
    except ValueError as error:
        raise Invalid("contact_channel", _l("Choose how we may reach you.")) from error
    details = clean_text(details)
    hours = clean_text(hours)
    if len(details) > MAX_CONTACT:
        raise Invalid("contact_details", _l("At most 200 characters."))
    if len(hours) > MAX_HOURS:
        raise Invalid("contact_hours", _l("At most 200 characters."))
    if how is ContactChannel.PORTAL:
        return how, "", ""
    if how is ContactChannel.EMAIL:
        if "@" not in details or " " in details or len(details) < 5:
            raise Invalid("contact_details", _l("Write an e-mail address, like name@example.be."))
    else:
        digits = "".join(ch for ch in details if ch.isdigit())
        if not 8 <= len(digits) <= 15 or any(ch not in "0123456789 +./-()" for ch in details):
            raise Invalid("contact_details", _l("Write a phone number, like 0470 12 34 56."))
    return how, details, hours


# --- Changing how to reach her, at any time -----------------------------------------------------


@dataclass(frozen=True)
class ContactChoices:
    """How and when the subject may be reached safely, checked as the request form checks it."""

    channel: ContactChannel
    details: str
    hours: str
    no_voicemail: bool
    others_read_messages: bool

    @property
    def no_calls(self) -> bool:
        """Only "by phone" lets a worker call: any other way means "do not call"."""
        return self.channel is not ContactChannel.PHONE


def check_contact_choices(
    channel: str, details: str, hours: str, no_voicemail: bool, others_read_messages: bool
) -> ContactChoices:
    how, details, hours = check_contact(channel, details, hours)
    return ContactChoices(how, details, hours, no_voicemail, others_read_messages)


def contact_choices_of(request: Request) -> ContactChoices:
    """The choices a request holds, its texts already opened (see ``keys.open_fields``)."""
    return ContactChoices(
        request.contact_channel,
        request.contact_details,
        request.contact_hours,
        request.no_voicemail,
        request.others_read_messages,
    )


async def current_contact(subject: Person, reference: str) -> ContactChoices:
    """The choices the workers read now, for the subject's form that changes them."""
    require_whole_account(subject)
    dossier = await own_dossier(subject, reference)
    request = await Request.filter(dossier_id=dossier.id).order_by("-id").first()
    if dossier.wrapped_key is None or request is None:
        raise NotFound("erased: nothing to reach")
    keys.open_fields(keys.box(dossier), [request], "request", ("contact_details", "contact_hours"))
    return contact_choices_of(request)


async def change_contact(
    subject: Person, reference: str, choices: ContactChoices, *, form_key: str | None = None
) -> None:
    """The subject changes how to reach them, in their own dossier, whenever they want.

    The newest request holds the choices the workers read; the old ones are replaced, not
    kept. The journal says that they changed, never what they are: a phone number has no
    place in an entry that outlives an erasure. A session opened by a recovery link changes
    nothing here: whoever holds the link must not be able to redirect the worker's calls.
    """
    require_whole_account(subject)
    dossier = await own_dossier(subject, reference)
    if dossier.wrapped_key is None:
        raise NotFound("erased: nothing to reach")
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        request = await Request.filter(dossier_id=locked.id).order_by("-id").first()
        if request is None:
            raise NotFound("dossier without request")
        box = keys.box(locked)
        await Request.filter(id=request.id).update(
            contact_channel=choices.channel,
            contact_details=box.seal(choices.details, "request.contact_details"),
            contact_hours=box.seal(choices.hours, "request.contact_hours"),
            no_voicemail=choices.no_voicemail,
            others_read_messages=choices.others_read_messages,
        )
        await journal.record(locked, Event.CONTACT_CHANGED, subject)


# --- What was typed before sending: a draft, so a reload loses nothing ------------------------

# The form's fields are bounded one by one; a larger draft is a forged one, and is not kept.
DRAFT_CHARS = 100_000


def _draft_keys(browser: str) -> tuple[str, Box]:
    """Where a browser's draft is stored, and the key that seals it; both from the browser's own
    random cookie, which the server does not keep: without the browser, a draft is noise. The
    request form's draft is stored under the browser's own hash, as ``drafts`` names it."""
    return drafts.browser_hash(browser), drafts.sealing_box(browser)


async def save_draft(browser: str, values: dict[str, Any], *, only_at: str | None = None) -> None:
    """Keep what this browser typed in the request form (replacing its previous draft).

    ``only_at``: keep it only while the draft is still at that step (or there is none yet). The
    counter's request can arrive after "Continue" was sent: it must not take the form back.
    """
    if len(browser) < drafts.MIN_BROWSER:
        return
    where, box = _draft_keys(browser)
    data = json.dumps(values, ensure_ascii=False)
    if len(data) > DRAFT_CHARS:
        return
    now = timezone.now()
    async with in_transaction():
        await RequestDraft.filter(expires_at__lt=now).delete()
        if only_at is not None:
            current = await RequestDraft.select_for_update().filter(key_hash=where).first()
            if current is not None and _step_of(box, current.sealed) != only_at:
                return
        await RequestDraft.filter(key_hash=where).delete()
        # Its own key is the browser's hash: ``drafts.drop_all`` (sign-out) drops it too.
        await RequestDraft.create(
            key_hash=where,
            browser_hash=where,
            sealed=box.seal(data, "request.draft"),
            expires_at=now + drafts.LIFETIME,
        )


def _step_of(box: Box, sealed: str) -> str | None:
    try:
        values = json.loads(box.open(sealed, "request.draft"))
    except (CryptoError, ValueError):
        return None
    step = values.get("step") if isinstance(values, dict) else None
    return step if isinstance(step, str) else None


async def load_draft(browser: str) -> dict[str, Any] | None:
    """What this browser typed and did not send yet, if it is still kept."""
    if len(browser) < drafts.MIN_BROWSER:
        return None
    where, box = _draft_keys(browser)
    draft = await RequestDraft.filter(key_hash=where, expires_at__gte=timezone.now()).first()
    if draft is None:
        return None
    try:
        values = json.loads(box.open(draft.sealed, "request.draft"))
    except (CryptoError, ValueError):
        return None
    return values if isinstance(values, dict) else None


async def drop_draft(browser: str) -> None:
    """Forget the draft: the request is sent, or could not be made here."""
    if len(browser) < drafts.MIN_BROWSER:
        return
    where, _box = _draft_keys(browser)
    await RequestDraft.filter(key_hash=where).delete()
