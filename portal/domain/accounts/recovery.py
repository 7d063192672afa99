"""Recovery links: a worker opens one dossier's account for its young person, in the open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal.domain import journal
from portal.domain.accounts.invitations import consume_link, find_link
from portal.domain.accounts.names import require_whole_account
from portal.domain.errors import NotFound
from portal.domain.forms import acting_once
from portal.domain.journal import Event
from portal.models import (
    Assignment,
    Dossier,
    LinkKind,
    OneTimeLink,
    Person,
    Role,
    Service,
)
from portal.security.tokens import new_token, token_hash

RECOVERY_LINK_LIFETIME = timedelta(minutes=30)


@dataclass
class RecoveryLinkSeen:
    """A recovery link made for one's account, as its owner is shown it at her next sign-in."""

    id: int
    by_name: str
    service_name: str
    made_at: datetime
    used_at: datetime | None


async def _write_in_every_dossier(
    subject_id: int,
    event: Event,
    details: dict[str, object],
    actor: Person | None = None,
    actor_dossier_id: int | None = None,
) -> None:
    """The same entry in each dossier of the account, every service's: each row held.

    ``actor`` is named as the one who acted only in ``actor_dossier_id`` (the dossier she
    follows); the others carry her name in the details, which only the young person reads
    (see the timeline's sentences).
    """
    dossiers = await Dossier.filter(subject_id=subject_id, erased_at__isnull=True).only("id")
    ids = [d.id for d in dossiers]
    for dossier_id in sorted(ids):
        locked = await Dossier.select_for_update().get(id=dossier_id)
        who = actor if dossier_id == actor_dossier_id else None
        await journal.record(locked, event, who, details)


async def _link_details(issuer: Person | None) -> dict[str, object]:
    if issuer is None:
        return {}
    service = await Service.filter(id=issuer.service_id).first() if issuer.service_id else None
    return {
        "by": issuer.id,
        "by_name": issuer.display_name,
        "service": issuer.service_id,
        "service_name": service.name if service else "",
    }


async def issue_recovery_link(
    worker: Person, dossier_id: int, *, form_key: str | None = None
) -> str:
    """A worker assigned to a subject's dossier gives them a 30-minute link to get back in.

    The link opens only this dossier (see ``use_recovery_link``). That it was made, and by
    whom, is written in every dossier of the account, of every service.
    """
    if worker.role is not Role.WORKER or not worker.is_active:
        raise NotFound("no such dossier")
    async with acting_once(form_key):
        dossier = await Dossier.filter(id=dossier_id, service_id=worker.service_id).first()
        assigned = (
            dossier
            and await Assignment.filter(
                dossier_id=dossier.id, worker_id=worker.id, ended_at__isnull=True
            ).exists()
        )
        if dossier is None or not assigned or dossier.erased_at is not None:
            raise NotFound("no such dossier")
        token = new_token()
        await OneTimeLink.create(
            kind=LinkKind.RECOVERY,
            token_hash=token_hash(token),
            person_id=dossier.subject_id,
            issued_by=worker,
            dossier_id=dossier.id,
            expires_at=timezone.now() + RECOVERY_LINK_LIFETIME,
        )
        await _write_in_every_dossier(
            dossier.subject_id,
            Event.RECOVERY_LINK_ISSUED,
            await _link_details(worker),
            actor=worker,
            actor_dossier_id=dossier.id,
        )
    return token


async def open_recovery_link(token: str, signed_in: Person | None = None) -> OneTimeLink:
    """A link a worker gave in person, still valid. Staff, the worker who made it first,
    cannot use it from their own session: for them it does not exist."""
    if signed_in is not None and signed_in.is_staff:
        raise NotFound("no such link")
    return await find_link(token, LinkKind.RECOVERY)


async def use_recovery_link(token: str, signed_in: Person | None = None) -> Person:
    """Sign in through the link: the person, limited to the dossier the link was given for.

    The use is written in every dossier of the account, naming who made the link.
    """
    link = await open_recovery_link(token, signed_in)
    if link.dossier_id is None or not link.person.is_subject:
        # A link of before links were tied to one dossier opens nothing.
        raise NotFound("no such link")
    async with in_transaction():
        issuer = await Person.filter(id=link.issued_by_id).first() if link.issued_by_id else None
        # Whoever holds it gets no more than its maker can read: once she no longer follows
        # the dossier (it came back and waits, she left), the link opens nothing.
        following = (
            issuer is not None
            and issuer.is_active
            and await Assignment.filter(
                dossier_id=link.dossier_id, worker_id=issuer.id, ended_at__isnull=True
            ).exists()
        )
        if not following:
            raise NotFound("its maker no longer follows the dossier")
        await consume_link(link)
        await _write_in_every_dossier(
            link.person_id, Event.RECOVERY_LINK_USED, await _link_details(issuer)
        )
    person = link.person
    person.scope_dossier_id = link.dossier_id
    return person


async def recovery_links_to_show(person: Person) -> list[RecoveryLinkSeen]:
    """The recovery links made for this account that its owner has not been shown yet."""
    if not person.is_subject:
        return []
    query = OneTimeLink.filter(person_id=person.id, kind=LinkKind.RECOVERY, shown_at__isnull=True)
    if person.scope_dossier_id is not None:
        # A session opened by a link: whoever holds it (the worker herself, maybe) learns
        # nothing of the account's other dossiers, such as who follows her in another service.
        # The others stay to be shown once she is back in her whole account.
        query = query.filter(dossier_id=person.scope_dossier_id)
    links = await query.select_related("issued_by", "issued_by__service").order_by("id")
    seen = []
    for link in links:
        issuer = link.issued_by
        seen.append(
            RecoveryLinkSeen(
                id=link.id,
                by_name=issuer.display_name if issuer else "",
                service_name=issuer.service.name if issuer and issuer.service else "",
                made_at=link.created_at,
                used_at=link.used_at,
            )
        )
    return seen


async def mark_recovery_links_shown(person: Person, up_to: int) -> int:
    """The owner saw the list: the links shown to her (up to that id) are not shown again.

    Only in a session that reaches the whole account: in one opened by a recovery link, the
    holder of the link could otherwise hide from the owner that it was made and used.
    """
    require_whole_account(person)
    if not 0 < up_to < 2**31:
        return 0
    return await OneTimeLink.filter(
        person_id=person.id, kind=LinkKind.RECOVERY, shown_at__isnull=True, id__lte=up_to
    ).update(shown_at=timezone.now())
