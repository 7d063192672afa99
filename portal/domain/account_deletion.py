"""Rule 7, to its end: a young person or a parent deletes their whole account, once nothing
of theirs is still open.

What is ended is erased with it (each dossier's key destroyed, as ``ending.erase`` does); the
person's ways in go (passkeys, password, sessions, recovery codes, links, notices, the devices
told by push), and so do their name, sign-in name and e-mail address. The sign-in name is free
again: kept, it would be a piece of who they were, and nothing is attached to it any more. What
stays is a row without a name, which the journals' entries point to (their MACs cover it),
holding only the month of birth that the service's anonymous figures count in age bands.
"""

from __future__ import annotations

from tortoise import timezone

from portal.domain.accounts import require_whole_account
from portal.domain.ending import erase_locked
from portal.domain.errors import NotAllowed, NotFound
from portal.domain.forms import acting_once
from portal.models import (
    Credential,
    Dossier,
    DossierStatus,
    FirstCodes,
    Notice,
    OneTimeLink,
    PasskeyChallenge,
    Person,
    PushSubscription,
    RecoveryCode,
    Session,
)

# The name a deleted account keeps in the journals its workers read: no one's.
NO_NAME = "—"


class SomethingOpen(NotAllowed):
    """A request still waits or a dossier is open: end it first (the account page says how)."""


async def open_dossiers(person: Person) -> list[Dossier]:
    """The person's dossiers that are still waiting or open: they keep the account."""
    if not person.is_subject:
        raise NotFound("subjects only")
    return await Dossier.filter(
        subject_id=person.id, status__in=[DossierStatus.WAITING, DossierStatus.OPEN]
    ).order_by("created_at")


def check_may_delete(person: Person) -> None:
    """Only a young person or a parent, for their own account, in a session that reaches all
    of it (a recovery link's holder may be the worker who made it)."""
    if not person.is_subject or not person.is_active:
        raise NotFound("subjects only")
    require_whole_account(person)


async def delete_account(person: Person, *, form_key: str | None = None) -> int:
    """Delete the account, erasing its ended dossiers; return how many were erased now.

    Refused (``SomethingOpen``) while a request waits or a dossier is open: ending it is one
    tap, and a worker may be about to answer. Everything happens in one transaction.
    """
    check_may_delete(person)
    async with acting_once(form_key):
        mine = await Dossier.select_for_update().filter(subject_id=person.id).order_by("id")
        if any(d.status is not DossierStatus.ENDED for d in mine):
            raise SomethingOpen("a dossier is still open")
        erased = 0
        for dossier in mine:
            if dossier.erased_at is None:
                await erase_locked(dossier, person, {"because": "account_deleted"})
                erased += 1
        for model in (
            Credential,
            Session,
            RecoveryCode,
            OneTimeLink,
            PasskeyChallenge,
            Notice,
            PushSubscription,
            FirstCodes,
        ):
            await model.filter(person_id=person.id).delete()
        kept_birth = bool(mine)
        await Person.filter(id=person.id).update(
            login=None,
            display_name=NO_NAME,
            email="",
            notify_by_email=False,
            user_handle=None,
            news_seen_at=None,
            is_active=False,
            deactivated_at=timezone.now(),
            deactivated_by_id=person.id,
            # Counted in the figures' age bands only through a request: none, nothing kept.
            birth_year=person.birth_year if kept_birth else None,
            birth_month=person.birth_month if kept_birth else None,
        )
    person.is_active = False
    return erased
