"""Rule 4: steps with a third party are proposed, and only done once the subject agreed."""

from __future__ import annotations

from tortoise import timezone
from tortoise.expressions import Q

from portal import keys
from portal.domain import concertation as meetings
from portal.domain import journal
from portal.domain.access import followed_dossier, readable_dossier
from portal.domain.accounts import require_whole_account
from portal.domain.errors import AlreadyDone, Invalid, NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.i18n import lazy as _l
from portal.models import (
    Action,
    ActionKind,
    ActionPartner,
    ActionStatus,
    Dossier,
    Partner,
    Person,
)
from portal.text import clean_multiline, clean_text

MAX_DESCRIPTION = 2000
MAX_REASON = 1000
# What happens between the subject and the AMO alone, recorded directly: the subject is
# informed, not asked (rule 4). Nothing else: conciliation, family support or accompanying to
# an authority involve the family or an authority, and are proposed like any other step.
DIRECT_KINDS = frozenset({ActionKind.LISTENING, ActionKind.INFORMATION, ActionKind.ORIENTATION})
# Every other kind is proposed first, and done only once the subject agreed.
PROPOSED_KINDS = frozenset(ActionKind) - DIRECT_KINDS


def parse_kind(value: str) -> ActionKind:
    try:
        return ActionKind(value)
    except ValueError as error:
        raise Invalid("kind", _l("Choose the kind of step.")) from error


def _description(value: str) -> str:
    text = clean_multiline(value)
    if not text:
        raise Invalid("description", _l("Say in a few words what this step is."))
    if len(text) > MAX_DESCRIPTION:
        raise Invalid("description", _l("At most 2,000 characters."))
    return text


async def record_action(
    worker: Person,
    reference: str,
    kind: ActionKind,
    description: str,
    *,
    form_key: str | None = None,
) -> Action:
    """A step between the subject and the worker alone: written down, the subject informed."""
    if kind not in DIRECT_KINDS:
        raise Invalid("kind", _l("A step with someone else must be proposed first."))
    text = _description(description)
    dossier = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        now = timezone.now()
        action = await Action.create(
            dossier_id=locked.id,
            kind=kind,
            involves_third_party=False,
            description=keys.box(locked).seal(text, "action.description"),
            status=ActionStatus.DONE,
            author_id=worker.id,
            done_at=now,
        )
        await journal.record(
            locked, Event.ACTION_RECORDED, worker, {"action": action.id, "kind": kind.value}
        )
    return action


async def propose_action(
    worker: Person,
    reference: str,
    kind: ActionKind,
    description: str,
    third_party: str,
    partner_ids: list[int] | None = None,
    *,
    asked_by: str = "",
    asked_at: str = "",
    form_key: str | None = None,
) -> Action:
    """A step involving someone else: proposed to the subject, who agrees or declines.

    The someone else is named in words (the school, an aunt) or chosen in the partner
    directory; a concertation meeting names one or more partners, members of the service's
    concertation, and starts its time frame from when it was asked and by whom.
    """
    text = _description(description)
    who = clean_text(third_party)
    if len(who) > 200:
        raise Invalid("third_party", _l("At most 200 characters."))
    wanted = list(dict.fromkeys(partner_ids or []))[:10]
    partners = await Partner.filter(id__in=wanted, is_active=True) if wanted else []
    if len(partners) != len(wanted):
        raise Invalid("partners", _l("Choose partners of the directory."))
    if kind in {ActionKind.CONCERTATION, ActionKind.RELAY} and not partners:
        raise Invalid("partners", _l("Choose the partner or partners from the directory."))
    if kind is ActionKind.RELAY and len(partners) > 1:
        raise Invalid("partners", _l("A relay goes to one partner."))
    # Who else is named, even for a direct kind proposed (an orientation that involves calling
    # the CPAS); a socio-educational support may be the AMO's alone, and is still proposed.
    if not who and not partners and kind is not ActionKind.SOCIO_EDUCATIONAL:
        raise Invalid("third_party", _l("Say who else is involved."))
    if not who and partners:
        who = ", ".join(p.name for p in partners)[:200]
    now = timezone.now()
    if kind is ActionKind.CONCERTATION:
        asker = meetings.parse_asked_by(asked_by)
        asked = meetings.check_asked_at(asked_at, now)
    dossier = await followed_dossier(worker, reference)
    if kind is ActionKind.CONCERTATION:
        await meetings.check_members(dossier.service_id, [p.id for p in partners])
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        action = await Action.create(
            dossier_id=locked.id,
            kind=kind,
            involves_third_party=bool(who),
            description=keys.box(locked).seal(text, "action.description"),
            third_party=keys.box(locked).seal(who, "action.third_party"),
            partner_id=partners[0].id if len(partners) == 1 else None,
            status=ActionStatus.PROPOSED,
            author_id=worker.id,
        )
        for partner in partners:
            await ActionPartner.create(action_id=action.id, partner_id=partner.id)
        await journal.record(
            locked, Event.ACTION_PROPOSED, worker, {"action": action.id, "kind": kind.value}
        )
        if kind is ActionKind.CONCERTATION:
            await meetings.start(locked, action, worker, asker, asked)
    return action


async def _action_of(dossier: Dossier, action_id: int) -> Action:
    action = await Action.filter(id=action_id, dossier_id=dossier.id).select_for_update().first()
    if action is None:
        raise NotFound("no such action")
    return action


async def _subjects_word(subject: Person, reference: str, reason: str) -> tuple[Dossier, str]:
    """Her own dossier (anyone else's is not found) and her reason, checked before any change."""
    dossier = await readable_dossier(subject, reference)
    if subject.id != dossier.subject_id:
        raise NotFound("only the subject answers for her steps")
    why = clean_multiline(reason)
    if len(why) > MAX_REASON:
        raise Invalid("reason", _l("At most 1,000 characters."))
    return dossier, why


async def answer_action(
    subject: Person,
    reference: str,
    action_id: int,
    agree: bool,
    reason: str = "",
    *,
    form_key: str | None = None,
) -> Action:
    """The subject agrees to a proposed step, or declines it (saying why if they want)."""
    if agree:
        # Not through a worker's recovery link: its holder could be the worker who proposed
        # the step (rule 4). Saying no stays possible.
        require_whole_account(subject)
    dossier, why = await _subjects_word(subject, reference, reason)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        action = await _action_of(locked, action_id)
        if action.status is not ActionStatus.PROPOSED:
            raise AlreadyDone("already answered")
        status = ActionStatus.AGREED if agree else ActionStatus.DECLINED
        await Action.filter(id=action.id, status=ActionStatus.PROPOSED).update(
            status=status,
            answered_at=timezone.now(),
            answer_reason=keys.box(locked).seal(why, "action.answer_reason"),
        )
        action.status = status
        await journal.record(
            locked,
            Event.ACTION_AGREED if agree else Event.ACTION_DECLINED,
            subject,
            {"action": action.id},
        )
    return action


async def withdraw_agreement(
    subject: Person,
    reference: str,
    action_id: int,
    reason: str = "",
    *,
    form_key: str | None = None,
) -> Action:
    """The subject takes back an agreement while the step is not done: it will not be done.

    Possible through a worker's recovery link too, as saying no is: taking back never lets
    anyone do more.
    """
    dossier, why = await _subjects_word(subject, reference, reason)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        action = await _action_of(locked, action_id)
        if action.status is ActionStatus.WITHDRAWN:
            raise AlreadyDone("already taken back")
        if action.status is not ActionStatus.AGREED:
            # Done already (what was done cannot be undone), or never agreed to.
            raise NotAllowed("only an agreed step not yet done can be taken back")
        changed = await Action.filter(id=action.id, status=ActionStatus.AGREED).update(
            status=ActionStatus.WITHDRAWN,
            answered_at=timezone.now(),
            answer_reason=keys.box(locked).seal(why, "action.answer_reason"),
        )
        if changed != 1:
            raise NotAllowed("the step changed meanwhile")
        action.status = ActionStatus.WITHDRAWN
        await journal.record(locked, Event.ACTION_WITHDRAWN, subject, {"action": action.id})
    return action


async def subject_step(subject: Person, reference: str, action_id: int) -> tuple[Dossier, Action]:
    """One step of the subject's own dossier, its words unsealed, for the subject only."""
    dossier = await readable_dossier(subject, reference)
    if subject.id != dossier.subject_id or dossier.wrapped_key is None:
        raise NotFound("only the subject, while the dossier is not erased")
    action = (
        await Action.filter(id=action_id, dossier_id=dossier.id).select_related("author").first()
    )
    if action is None:
        raise NotFound("no such action")
    keys.open_fields(
        keys.box(dossier), [action], "action", ("description", "third_party", "answer_reason")
    )
    return dossier, action


async def partners_of(action: Action) -> list[Partner]:
    """The directory's partners a step involves: one, or the several of a meeting (one query)."""
    return (
        await Partner.filter(Q(id=action.partner_id or 0) | Q(action_links__action_id=action.id))
        .distinct()
        .order_by("name")
    )


async def mark_done(
    worker: Person, reference: str, action_id: int, *, form_key: str | None = None
) -> Action:
    """Only an agreed step can be carried out."""
    dossier = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        action = await _action_of(locked, action_id)
        if action.status is not ActionStatus.AGREED:
            raise NotAllowed("only an agreed step can be done")
        await Action.filter(id=action.id, status=ActionStatus.AGREED).update(
            status=ActionStatus.DONE, done_at=timezone.now()
        )
        action.status = ActionStatus.DONE
        await journal.record(locked, Event.ACTION_DONE, worker, {"action": action.id})
    return action


async def cancel_action(
    worker: Person, reference: str, action_id: int, *, form_key: str | None = None
) -> Action:
    """A proposed or agreed step the worker will not take after all: it stays visible."""
    dossier = await followed_dossier(worker, reference)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        action = await _action_of(locked, action_id)
        if action.status not in {ActionStatus.PROPOSED, ActionStatus.AGREED}:
            raise NotAllowed("nothing to cancel")
        await Action.filter(id=action.id).update(status=ActionStatus.CANCELLED)
        action.status = ActionStatus.CANCELLED
        await journal.record(locked, Event.ACTION_CANCELLED, worker, {"action": action.id})
    return action


async def record_meeting(
    worker: Person,
    reference: str,
    action_id: int,
    attended: list[int],
    categories: list[str],
    *,
    form_key: str | None = None,
) -> Action:
    """A concertation meeting took place: who was there, and what its minutes may carry.

    Shared secrecy: each partner present must hold her active consent for these kinds of
    information (one without it, and nothing is recorded at all). Nothing reaches them now:
    the minutes do, once she has read and approved them.
    """
    from portal.domain.consent import covering, parse_categories
    from portal.models import Consent

    dossier = await followed_dossier(worker, reference)
    wanted = parse_categories(categories)
    async with acting_once(form_key):
        locked = await Dossier.select_for_update().get(id=dossier.id)
        action = await _action_of(locked, action_id)
        if action.kind is not ActionKind.CONCERTATION or action.status is not ActionStatus.AGREED:
            raise NotAllowed("only an agreed concertation meeting is recorded")
        links = {link.partner_id: link for link in await ActionPartner.filter(action_id=action.id)}
        present = [pid for pid in dict.fromkeys(attended) if pid in links]
        if not present or len(present) != len(set(attended)):
            raise Invalid("attended", _l("Tick the partners who were there."))
        consents = await Consent.filter(dossier_id=locked.id, partner_id__in=present)
        for partner_id in present:
            check = covering([c for c in consents if c.partner_id == partner_id], wanted)
            if not check.allowed or check.consent is None:
                raise NotAllowed("a partner has no active consent for this")
        for partner_id, link in links.items():
            await ActionPartner.filter(id=link.id).update(attended=partner_id in present)
        now = timezone.now()
        await Action.filter(id=action.id).update(status=ActionStatus.DONE, done_at=now)
        action.status = ActionStatus.DONE
        await meetings.held(locked, action, [c.value for c in wanted], now)
        await journal.record(locked, Event.ACTION_DONE, worker, {"action": action.id})
    return action
