"""Rule 6: nothing reaches a partner without the subject's active consent, per kind of information.

A consent is never edited: it is granted, then revoked or expired; a new grant is a new
consent. Sharing checks the consent and writes the share in one transaction, holding the
dossier's row, the same row a revoke holds: a revoke racing a share cannot leak.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise import timezone
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from portal import keys
from portal.domain import documents as document_rules
from portal.domain import journal
from portal.domain import partners as directory
from portal.domain.access import own_dossier, readable_dossier
from portal.domain.accounts import require_whole_account
from portal.domain.errors import AlreadyDone, Invalid, NotAllowed, NotFound, Withdrawn
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import lazy as _l
from portal.labels import category_name, kind_name, theme_names
from portal.models import (
    Action,
    ActionKind,
    ActionPartner,
    ActionStatus,
    Category,
    Consent,
    Dossier,
    DossierStatus,
    Message,
    Partner,
    Person,
    Request,
    Role,
    Share,
)
from portal.text import clean_text

DURATIONS = ("until_stop", "1_month", "3_months", "end_of_help")
MAX_PURPOSE = 300
# Kinds of steps whose description can be shared as an "item": a summary the subject read.
ITEM_KINDS = frozenset({ActionKind.INFORMATION_SHARED, ActionKind.RELAY, ActionKind.CONCERTATION})


def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month_index = moment.month - 1 + months
    year = moment.year + month_index // 12
    month = month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def is_active(consent: Consent, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if consent.revoked_at is not None:
        return False
    return consent.expires_at is None or now < consent.expires_at


def parse_categories(values: list[str]) -> list[Category]:
    categories: list[Category] = []
    for value in values[:10]:
        try:
            category = Category(value)
        except ValueError as error:
            raise Invalid(
                "categories", _l("Choose among the kinds of information shown.")
            ) from error
        if category not in categories:
            categories.append(category)
    if not categories:
        raise Invalid("categories", _l("Choose at least one kind of information."))
    return sorted(categories, key=list(Category).index)


def check_duration(value: str) -> str:
    if value not in DURATIONS:
        raise Invalid("duration", _l("Choose for how long."))
    return value


def check_purpose(value: str) -> str:
    purpose = clean_text(value)
    if not purpose:
        raise Invalid("purpose", _l("Say in one sentence what it is for."))
    if len(purpose) > MAX_PURPOSE:
        raise Invalid("purpose", _l("At most 300 characters."))
    return purpose


async def record_expiries(dossier: Dossier) -> None:
    """Journal the consents of this dossier that reached their end since anyone last looked."""
    now = timezone.now()
    due = await Consent.filter(
        dossier_id=dossier.id,
        revoked_at__isnull=True,
        expiry_recorded=False,
        expires_at__lte=now,
    )
    if not due:
        return
    async with in_transaction():
        locked = await Dossier.select_for_update().get(id=dossier.id)
        for consent in due:
            marked = await Consent.filter(id=consent.id, expiry_recorded=False).update(
                expiry_recorded=True
            )
            if marked == 1:
                await journal.record(
                    locked,
                    Event.CONSENT_EXPIRED,
                    None,
                    {"consent": consent.id, "partner": consent.partner_id},
                )


# --- The subject's page ------------------------------------------------------------------------


@dataclass
class PartnerConsents:
    partner: Partner
    active: list[Consent] = field(default_factory=list)
    past: list[Consent] = field(default_factory=list)
    shares: list[Share] = field(default_factory=list)
    proposed_by_worker: bool = False
    # Steps with this partner the subject agreed to, not done yet: she can take them back.
    agreed: list[Action] = field(default_factory=list)


@dataclass
class ConsentPage:
    dossier: Dossier
    groups: list[PartnerConsents]
    # Agreed steps with someone outside the directory (a school named in words, an aunt).
    agreed_elsewhere: list[Action]


async def consent_page(subject: Person, reference: str) -> ConsentPage:
    """Every partner involved in the dossier: proposed in a step, or consented to before; and
    every step with someone else she agreed to, beside the consents."""
    dossier = await own_dossier(subject, reference)
    await record_expiries(dossier)
    groups = await partners_involved(dossier)
    agreed = await Action.filter(dossier_id=dossier.id, status=ActionStatus.AGREED).order_by(
        "-answered_at", "-id"
    )
    keys.open_fields(keys.box(dossier), agreed, "action", ("description", "third_party"))
    links = await ActionPartner.filter(action_id__in=[a.id for a in agreed]).values_list(
        "action_id", "partner_id"
    )
    by_partner = {group.partner.id: group for group in groups}
    elsewhere: list[Action] = []
    for action in agreed:
        pids = {int(pid) for aid, pid in links if aid == action.id}
        if action.partner_id is not None:
            pids.add(action.partner_id)
        for pid in sorted(pids):
            by_partner[pid].agreed.append(action)
        if not pids:
            elsewhere.append(action)
    return ConsentPage(dossier, groups, elsewhere)


async def partners_involved(dossier: Dossier) -> list[PartnerConsents]:
    now = timezone.now()
    step_partners: list[Any] = [
        *await Action.filter(dossier_id=dossier.id, partner_id__isnull=False).values_list(
            "partner_id", flat=True
        ),
        *await ActionPartner.filter(action__dossier_id=dossier.id).values_list(
            "partner_id", flat=True
        ),
    ]
    from_steps = {int(pid) for pid in step_partners if pid is not None}
    consents = await Consent.filter(dossier_id=dossier.id).order_by("-granted_at")
    keys.open_fields(keys.box(dossier), consents, "consent", ("purpose",))
    shares = await Share.filter(dossier_id=dossier.id).order_by("-shared_at")
    ids = from_steps | {c.partner_id for c in consents}
    partners = {p.id: p for p in await Partner.filter(id__in=list(ids))}
    result: dict[int, PartnerConsents] = {
        pid: PartnerConsents(partner=partners[pid], proposed_by_worker=pid in from_steps)
        for pid in sorted(ids, key=lambda i: partners[i].name)
    }
    for consent in consents:
        group = result[consent.partner_id]
        (group.active if is_active(consent, now) else group.past).append(consent)
    for share in shares:
        if share.partner_id in result:
            result[share.partner_id].shares.append(share)
    return list(result.values())


async def grant(
    subject: Person,
    reference: str,
    partner_id: int,
    categories: list[str],
    duration: str,
    purpose: str,
    *,
    form_key: str | None = None,
    promises_read: str | None = None,
) -> Consent:
    """The subject allows one partner to receive some kinds of information, for a while.

    ``promises_read``: the digest of the partner's promises as her form showed them
    (``directory.promises_digest``); if the directory changed them since, she is asked to read
    them again rather than be recorded as agreeing to what she did not read.
    """
    dossier = await own_dossier(subject, reference)
    chosen, how_long, why = check_grant(subject, categories, duration, purpose)
    partner = await Partner.filter(id=partner_id, is_active=True).first()
    if partner is None:
        raise Invalid("partner", _l("This service is not in the directory."))
    now = timezone.now()
    expires_at = None
    if how_long == "1_month":
        expires_at = add_months(now, 1)
    elif how_long == "3_months":
        expires_at = add_months(now, 3)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        # Checked on the row as held, as ending does: a grant racing an end (two tabs) waits
        # for the end and is refused, never left active on an ended dossier.
        if locked.status is DossierStatus.ENDED:
            raise NotAllowed("the help has ended")
        if promises_read is not None:
            # Read again under the transaction: what is copied is what she read, or nothing.
            partner = await Partner.get(id=partner.id)
            if not partner.is_active or promises_read != directory.promises_digest(partner):
                raise Invalid(
                    "partner",
                    _l(
                        "What this service promises changed while you were reading. Read it "
                        "again, then choose."
                    ),
                )
        consent = await Consent.create(
            dossier_id=locked.id,
            partner_id=partner.id,
            categories=[c.value for c in chosen],
            purpose=keys.box(locked).seal(why, "consent.purpose"),
            granted_at=now,
            expires_at=expires_at,
            until_end_of_help=how_long == "end_of_help",
            # What the partner promises, as she read it before agreeing: kept as it is.
            promised=directory.promises_of(partner, now),
        )
        await journal.record(
            locked,
            Event.CONSENT_GRANTED,
            subject,
            {
                "consent": consent.id,
                "partner": partner.id,
                "categories": [c.value for c in chosen],
                "duration": how_long,
            },
        )
    return consent


def check_grant(
    subject: Person, categories: list[str], duration: str, purpose: str
) -> tuple[list[Category], str, str]:
    """What a grant says, checked before the subject confirms it, and again when she does."""
    # Not through a worker's recovery link: its holder could be the worker herself (rule 6).
    require_whole_account(subject)
    return parse_categories(categories), check_duration(duration), check_purpose(purpose)


async def revoke(
    subject: Person, reference: str, consent_id: int, *, form_key: str | None = None
) -> Consent:
    """Revoking is as easy as granting, and takes effect at once.

    The steps that involve this partner and wait for an answer or a worker are cancelled, and
    the workers see it in the journal.
    """
    dossier = await own_dossier(subject, reference)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        consent = await Consent.filter(id=consent_id, dossier_id=locked.id).first()
        if consent is None:
            raise NotFound("no such consent")
        if consent.revoked_at is not None:
            raise AlreadyDone("already revoked")
        return await _revoke_locked(locked, consent, subject)


async def _revoke_locked(dossier: Dossier, consent: Consent, actor: Person | None) -> Consent:
    now = timezone.now()
    await Consent.filter(id=consent.id, revoked_at__isnull=True).update(revoked_at=now)
    consent.revoked_at = now
    await journal.record(
        dossier,
        Event.CONSENT_REVOKED,
        actor,
        {"consent": consent.id, "partner": consent.partner_id},
    )
    open_steps = await Action.filter(
        Q(partner_id=consent.partner_id) | Q(partners__partner_id=consent.partner_id),
        dossier_id=dossier.id,
        status__in=[ActionStatus.PROPOSED, ActionStatus.AGREED],
    ).distinct()
    for step in open_steps:
        await Action.filter(id=step.id).update(status=ActionStatus.CANCELLED)
        await journal.record(
            dossier,
            Event.ACTION_CANCELLED,
            actor,
            {"action": step.id, "because": Event.CONSENT_REVOKED},
        )
    return consent


async def revoke_all(dossier: Dossier, actor: Person | None) -> int:
    """Used when the help ends: every active consent stops. The caller holds the dossier row."""
    now = timezone.now()
    count = 0
    for consent in await Consent.filter(dossier_id=dossier.id, revoked_at__isnull=True):
        if consent.expires_at is None or consent.expires_at > now:
            await _revoke_locked(dossier, consent, actor)
            count += 1
    return count


# --- Her consent, one by one (its receipt: portal/domain/receipts.py) -------------------------


async def consent_of(subject: Person, reference: str, consent_id: int) -> tuple[Dossier, Consent]:
    dossier = await own_dossier(subject, reference)
    await record_expiries(dossier)
    consent = (
        await Consent.filter(id=consent_id, dossier_id=dossier.id)
        .select_related("partner", "dossier__service")
        .first()
    )
    if consent is None:
        raise NotFound("no such consent")
    keys.open_fields(keys.box(dossier), [consent], "consent", ("purpose",))
    return dossier, consent


# --- Workers sharing ----------------------------------------------------------------------------


async def active_consents(dossier: Dossier) -> list[Consent]:
    """What the subject allows now, partner by partner: what a worker of the dossier may share.

    For a dossier its reader already reached (``readable_dossier``); one query.
    """
    now = timezone.now()
    consents = (
        await Consent.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            dossier_id=dossier.id,
            revoked_at__isnull=True,
        )
        .select_related("partner")
        .order_by("partner__name", "-granted_at")
    )
    keys.open_fields(keys.box(dossier), consents, "consent", ("purpose",))
    return consents


@dataclass
class ShareCheck:
    allowed: bool
    consent: Consent | None
    missing: list[Category]


def covering(
    consents: list[Consent], wanted: list[Category], now: datetime | None = None
) -> ShareCheck:
    """One active consent must cover every kind of information of the share."""
    now = now or timezone.now()
    best: Consent | None = None
    missing = list(wanted)
    for consent in consents:
        if not is_active(consent, now):
            continue
        lacking = [c for c in wanted if c.value not in consent.categories]
        if not lacking:
            return ShareCheck(True, consent, [])
        if len(lacking) < len(missing):
            best, missing = consent, lacking
    return ShareCheck(False, best, missing)


async def _content(dossier: Dossier, categories: list[Category], item: Action | None) -> str:
    """What the partner will read: a snapshot of the chosen kinds of information."""
    parts: list[str] = []
    box = keys.box(dossier)
    request = await Request.filter(dossier_id=dossier.id).order_by("-id").first()
    if request:
        keys.open_fields(box, [request], "request", ("words", "contact_details", "contact_hours"))
    subject = await Person.get(id=dossier.subject_id)
    for category in categories:
        if category is Category.IDENTITY:
            lines = [f"{subject.display_name}"]
            if request and request.contact_channel.value != "portal":
                lines.append(f"{request.contact_channel.value}: {request.contact_details}")
                if request.contact_hours:
                    lines.append(request.contact_hours)
                if request.no_voicemail:
                    lines.append("no voicemail")
            parts.append(f"[{category_name('identity')}]\n" + "\n".join(lines))
        elif category is Category.REQUEST and request:
            parts.append(
                f"[{category_name('request')}]\n"
                + theme_names(request.themes)
                + "\n"
                + request.words
            )
        elif category is Category.ACTIONS:
            steps = await Action.filter(dossier_id=dossier.id).order_by("created_at")
            keys.open_fields(box, steps, "action", ("description",))
            parts.append(
                f"[{category_name('actions')}]\n"
                + "\n".join(f"- {kind_name(s.kind)}: {s.description}" for s in steps)
            )
        elif category is Category.MESSAGES:
            messages = (
                await Message.filter(dossier_id=dossier.id)
                .select_related("author")
                .order_by("created_at")
            )
            keys.open_fields(box, messages, "message", ("body",))
            parts.append(
                f"[{category_name('messages')}]\n"
                + "\n".join(f"- {m.author.display_name}: {m.body}" for m in messages)
            )
        elif category is Category.ITEMS and item is not None:
            parts.append(
                f"[{category_name('items')}]\n" + box.open(item.description, "action.description")
            )
    return "\n\n".join(parts)


async def share(
    worker: Person,
    reference: str,
    partner_id: int,
    categories: list[str],
    item_id: int | None = None,
    *,
    document_ids: list[int] | None = None,
    form_key: str | None = None,
) -> Share:
    """Share with a partner what an active consent covers. Anything else is refused, unstored."""
    if worker.role is not Role.WORKER:
        raise NotFound("workers only")
    dossier = await readable_dossier(worker, reference)
    wanted = parse_categories(categories)
    partner = await Partner.filter(id=partner_id, is_active=True).first()
    if partner is None:
        raise Invalid("partner", _l("Choose a partner of the directory."))
    async with acting_once(form_key):
        # The dossier's row, held until the share is written: a revoke waits, or went first.
        locked = await Dossier.select_for_update().get(id=dossier.id)
        if locked.status is not DossierStatus.OPEN:
            raise NotAllowed("the dossier is not open")
        item: Action | None = None
        if Category.ITEMS in wanted:
            item = await Action.filter(
                id=item_id or 0,
                dossier_id=locked.id,
                kind__in=list(ITEM_KINDS),
                status__in=[ActionStatus.AGREED, ActionStatus.DONE],
            ).first()
            if item is None:
                raise Invalid("item", _l("Choose a summary the young person has agreed to."))
        chosen = await document_rules.chosen(locked, wanted, document_ids or [])
        consents = await Consent.filter(dossier_id=locked.id, partner_id=partner.id)
        check = covering(consents, wanted)
        if not check.allowed or check.consent is None:
            raise NotAllowed("no active consent covers this share")
        content = await _content(locked, wanted, item)
        if chosen:
            named = document_rules.named_in_share(locked, chosen)
            content = f"{content}\n\n{named}" if content else named
        record = await Share.create(
            dossier_id=locked.id,
            partner_id=partner.id,
            consent_id=check.consent.id,
            categories=[c.value for c in wanted],
            content=keys.box(locked).seal(content, "share.content"),
            shared_by_id=worker.id,
            action_id=item.id if item else None,
        )
        await journal.record(
            locked,
            Event.SHARE_MADE,
            worker,
            {
                "share": record.id,
                "partner": partner.id,
                "categories": [c.value for c in wanted],
            },
        )
        await document_rules.share_documents(locked, record, chosen, worker)
    return record


async def share_made(worker: Person, reference: str, share_id: int) -> tuple[Dossier, Share]:
    """A share of this dossier, for the confirmation its worker reads after sharing.

    What was passed on is the dossier's content: reading it again is a look, journaled.
    """
    if worker.role is not Role.WORKER:
        raise NotFound("workers only")
    dossier = await readable_dossier(worker, reference)
    found = (
        await Share.filter(id=share_id, dossier_id=dossier.id)
        .select_related("partner", "consent", "shared_by")
        .first()
    )
    if found is None or dossier.wrapped_key is None:
        raise NotFound("no such share")
    await journal.record_look(dossier, Event.DOSSIER_READ, worker)
    box = keys.box(dossier)
    keys.open_fields(box, [found], "share", ("content",))
    keys.open_fields(box, [found.consent], "consent", ("purpose",))
    return dossier, found


async def check_share(
    worker: Person, reference: str, partner_id: int, categories: list[str]
) -> ShareCheck:
    """What a share would need, to explain a refusal before anything is attempted."""
    dossier = await readable_dossier(worker, reference)
    wanted = parse_categories(categories)
    consents = await Consent.filter(dossier_id=dossier.id, partner_id=partner_id)
    return covering(consents, wanted)


# --- Partner users -----------------------------------------------------------------------------


def _visible(now: datetime) -> Q:
    return Q(consent__revoked_at__isnull=True) & (
        Q(consent__expires_at__isnull=True) | Q(consent__expires_at__gt=now)
    )


async def partner_inbox(partner_user: Person) -> list[Share]:
    """What was shared with this user's organisation, while the consent is still active."""
    if partner_user.role is not Role.PARTNER or partner_user.partner_id is None:
        raise NotFound("partner users only")
    now = timezone.now()
    return (
        await Share.filter(_visible(now), partner_id=partner_user.partner_id)
        # Who shared each, and from which service: the partner knows whom to call back.
        .select_related("dossier__service", "shared_by")
        .order_by("-shared_at")
    )


def withdrawn(consent: Consent) -> Withdrawn:
    """What a partner learns of a share whose consent ended: that it ended, nothing more."""
    return Withdrawn("consent no longer active", revoked=consent.revoked_at is not None)


async def partner_read(partner_user: Person, share_id: int) -> Share:
    """One share, read by a partner user: the look is written in the subject's journal.

    A share of this user's organisation whose consent has ended raises ``Withdrawn``: the
    partner saw it in its list, and learns only that the agreement is over, nothing of its
    content. Any other share is ``NotFound``, as if it did not exist.
    """
    if partner_user.role is not Role.PARTNER or partner_user.partner_id is None:
        raise NotFound("partner users only")
    async with in_transaction():
        now = timezone.now()
        found = (
            await Share.filter(id=share_id, partner_id=partner_user.partner_id)
            .select_related("dossier__service", "partner", "shared_by", "consent")
            .first()
        )
        if found is None:
            raise NotFound("no such share")
        if not is_active(found.consent, now):
            raise withdrawn(found.consent)
        locked = await Dossier.select_for_update().get(id=found.dossier_id)
        # Checked again under the dossier's row: a revoke that just committed wins.
        consent = await Consent.get(id=found.consent_id)
        if not is_active(consent, now):
            raise withdrawn(consent)
        await journal.record(
            locked, Event.SHARE_READ, partner_user, {"share": found.id, "partner": found.partner_id}
        )
    box = keys.box(locked)
    keys.open_fields(box, [found], "share", ("content",))
    # What the partner may use it for, and until when: the subject's own terms.
    keys.open_fields(box, [consent], "consent", ("purpose",))
    found.consent = consent
    return found


async def partner_document(
    partner_user: Person, share_id: int, document_id: int
) -> document_rules.Opened:
    """A document sent with a share, for the partner's user, under the same rule as the share:
    its consent active (else ``Withdrawn``), and the look written in the subject's journal."""
    found = await partner_read(partner_user, share_id)
    return await document_rules.in_share(found, found.dossier, document_id)
