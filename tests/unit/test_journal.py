"""Rule 5: the journal is a chain, each entry MAC'd over its content and the previous one."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from portal.domain import journal
from portal.models import Dossier, JournalEntry, Person, Role, Service


async def test_entries_are_numbered_and_chained(db: str) -> None:
    service = await Service.create(name="AMO")
    youth = await Person.create(role=Role.YOUTH, display_name="Lou")
    dossier = await Dossier.create(reference="ABCD-EFGH", service=service, subject=youth)
    async with in_transaction():
        first = await journal.record(dossier, "request.made", youth)
    async with in_transaction():
        second = await journal.record(dossier, "dossier.read", None, {"n": 1})
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == journal.GENESIS
    assert second.prev_hash == first.hash

    stored = await JournalEntry.get(id=second.id)
    # What was stored recomputes to the same MAC: nothing lost on the way to the database.
    assert stored.hash == journal.entry_mac(
        dossier.id,
        stored.seq,
        stored.actor_id,
        stored.event,
        stored.at,
        stored.details,
        stored.prev_hash,
    )
    # Any change to what an entry says gives another MAC.
    assert stored.hash != journal.entry_mac(
        dossier.id,
        stored.seq,
        stored.actor_id,
        "dossier.ended",
        stored.at,
        stored.details,
        stored.prev_hash,
    )
