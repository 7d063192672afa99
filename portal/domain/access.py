"""Rule 3: who may read a dossier. Everyone else finds nothing, and their try is journaled."""

from __future__ import annotations

from functools import cache

from tortoise.transactions import in_transaction

from portal import reads
from portal.domain import journal
from portal.domain.errors import NotFound
from portal.models import Assignment, Dossier, Person, Role


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


@cache
def _dossier_sql() -> str:
    # The dossier, its subject, and whether the reader follows it: one statement per page.
    return reads.statement(
        "SELECT {d}, {p}, EXISTS (SELECT 1 FROM assignment a"
        " WHERE a.dossier_id = d.id AND a.worker_id = ? AND a.ended_at IS NULL)"
        " FROM dossier d JOIN person p ON p.id = d.subject_id WHERE d.reference = ?",
        d=Dossier,
        p=Person,
    )


async def readable_dossier(person: Person, reference: str) -> Dossier:
    """The dossier with this reference if this person may read it; otherwise NotFound.

    A refused try on a dossier that exists is written to its journal, so its subject sees it.
    """
    reference = reference.upper()[:12]
    found = await reads.rows(_dossier_sql(), [person.id, reference])
    dossier = reads.build(Dossier, found[0]) if found else None
    if dossier is None:
        raise NotFound("no such dossier")
    reads.attach(dossier, "subject", reads.build(Person, found[0], reads.width(Dossier)))
    assigned = bool(found[0][-1])
    if not _may_read(person, dossier, assigned):
        async with in_transaction():
            locked = await Dossier.select_for_update().get(id=dossier.id)
            await journal.record(
                locked, "dossier.read_refused", person, {"role": person.role.value}
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
