"""Rule 3: who may read a dossier. Everyone else finds nothing, and their try is journaled."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from portal.domain import journal
from portal.domain.errors import NotAllowed, NotFound
from portal.domain.journal import Event
from portal.models import Assignment, Dossier, DossierStatus, Person, Role


async def is_assigned(worker: Person, dossier: Dossier) -> bool:
    return await Assignment.filter(
        dossier_id=dossier.id, worker_id=worker.id, ended_at__isnull=True
    ).exists()


def _may_read(person: Person, dossier: Dossier, assigned: bool) -> bool:
    """The subject, or a worker of its service while assigned to it. Nobody else, ever.

    A subject signed in through a worker's recovery link (or a passkey made in such a
    session) reaches only the dossier the link was given for: whoever holds the link gets no
    more than the worker who made it could already read.
    """
    if not person.is_active:
        return False
    if person.id == dossier.subject_id:
        scope = person.scope_dossier_id
        return person.is_subject and (scope is None or scope == dossier.id)
    return person.role is Role.WORKER and person.service_id == dossier.service_id and assigned


async def can_read_dossier(person: Person, dossier: Dossier) -> bool:
    assigned = person.role is Role.WORKER and await is_assigned(person, dossier)
    return _may_read(person, dossier, assigned)


async def readable_dossier(person: Person, reference: str) -> Dossier:
    """The dossier with this reference if this person may read it; otherwise NotFound.

    A refused try on a dossier that exists is written to its journal, so its subject sees it.
    An erased dossier is gone from its subject's space (rule 7): she finds nothing, and her
    look is not a try to be journaled.
    """
    reference = reference.upper()[:12]
    dossier = await Dossier.filter(reference=reference).select_related("subject").first()
    if dossier is None:
        raise NotFound("no such dossier")
    if dossier.erased_at is not None and dossier.subject_id == person.id and person.is_subject:
        raise NotFound("erased")
    if not await can_read_dossier(person, dossier):
        async with in_transaction():
            locked = await Dossier.select_for_update().get(id=dossier.id)
            await journal.record(
                locked, Event.DOSSIER_READ_REFUSED, person, {"role": person.role.value}
            )
        raise NotFound("no such dossier")
    return dossier


async def own_dossier(subject: Person, reference: str) -> Dossier:
    """The dossier with this reference, for its subject only: a worker following it, or a
    young person signed in as someone else than its subject, finds nothing."""
    dossier = await readable_dossier(subject, reference)
    if dossier.subject_id != subject.id:
        raise NotFound("only the subject")
    return dossier


async def followed_dossier(worker: Person, reference: str) -> Dossier:
    """An open dossier this worker follows, to take a step in: anyone else finds nothing (the
    try journaled), and a dossier not open takes no step."""
    if worker.role is not Role.WORKER:
        raise NotFound("workers only")
    dossier = await readable_dossier(worker, reference)
    if dossier.status is not DossierStatus.OPEN:
        raise NotAllowed("the dossier is not open")
    return dossier
