"""Rule 5: the journal is a chain, each entry MAC'd over its content and the previous one."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from tortoise import connections
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.exceptions import DBConnectionError, OperationalError
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


async def _dossier() -> tuple[Dossier, Person]:
    service = await Service.create(name="AMO")
    youth = await Person.create(role=Role.YOUTH, display_name="Lou")
    worker = await Person.create(role=Role.WORKER, display_name="Amina", service=service)
    dossier = await Dossier.create(reference="ABCD-EFGH", service=service, subject=youth)
    async with in_transaction():
        await journal.record(dossier, "request.made", youth)
    return dossier, worker


async def test_a_look_is_an_entry_like_any_other_in_the_chain(db: str) -> None:
    dossier, worker = await _dossier()
    for _ in range(3):
        await journal.record_look(dossier, "dossier.read", worker)
    async with in_transaction():
        await journal.record(dossier, "message.sent", worker, {"message": 7})
    await journal.record_look(dossier, "share.read", worker, {"partner": 3})
    entries = await JournalEntry.filter(dossier_id=dossier.id).order_by("seq")
    assert [(e.seq, e.event, e.actor_id) for e in entries] == [
        (1, "request.made", dossier.subject_id),
        (2, "dossier.read", worker.id),
        (3, "dossier.read", worker.id),
        (4, "dossier.read", worker.id),
        (5, "message.sent", worker.id),
        (6, "share.read", worker.id),
    ]
    assert entries[-1].details == {"partner": 3}
    stored = await Dossier.get(id=dossier.id)
    assert stored.journal_seq == 6
    # Stored as the ORM stores it: the chain and the dossier's head verify.
    assert await journal.verify_dossier(stored) is None
    # A look is no activity in the dossier.
    assert stored.last_activity_at == entries[4].at


async def test_only_looks_go_without_the_callers_transaction(db: str) -> None:
    dossier, worker = await _dossier()
    with pytest.raises(ValueError, match="not a look"):
        await journal.record_look(dossier, "message.sent", worker)
    assert await JournalEntry.filter(dossier_id=dossier.id).count() == 1


async def test_a_transaction_failing_halfway_writes_nothing_and_frees_the_connection(
    db: str,
) -> None:
    dossier, worker = await _dossier()
    with pytest.raises(OperationalError):
        async with in_transaction() as connection:
            await Dossier.filter(id=dossier.id).update(journal_seq=99)
            await connection.execute_query("SELECT * FROM no_such_table")
    # Rolled back, and the process's queries go on (its turn was given back).
    assert (await Dossier.get(id=dossier.id)).journal_seq == 1
    await asyncio.wait_for(journal.record_look(dossier, "dossier.read", worker), 5)
    assert (await Dossier.get(id=dossier.id)).journal_seq == 2
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is None


def _sqlite_client() -> SqliteClient:
    client = connections.get("default")
    if not isinstance(client, SqliteClient):
        pytest.skip("SQLite's write lock and its one connection per process")
    return client


async def test_a_look_waits_its_turn_while_another_process_writes(db: str) -> None:
    """The look waits for the file's write lock on the connection's thread, never on the event
    loop, and is written after."""
    client = _sqlite_client()
    dossier, worker = await _dossier()
    other = sqlite3.connect(client.filename, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # Another process in the middle of a write.
        look = asyncio.create_task(journal.record_look(dossier, "dossier.read", worker))
        await asyncio.sleep(0.2)
        # Waiting, while the loop goes on: this coroutine ran.
        assert not look.done()
        other.execute("ROLLBACK")
        await asyncio.wait_for(look, 5)
    finally:
        other.close()
    await journal.record_look(dossier, "dossier.read", worker)
    stored = await Dossier.get(id=dossier.id)
    assert stored.journal_seq == 3
    assert await journal.verify_dossier(stored) is None


async def test_a_connection_that_cannot_open_does_not_block_the_next_query(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at connect (its log cannot be made): the query fails, the next ones run."""
    client = _sqlite_client()
    await client.close()

    async def refused(*args: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patched:
        patched.setattr("aiosqlite.connect", refused)
        with pytest.raises(DBConnectionError):
            await client.execute_query("SELECT 1")
        with pytest.raises(DBConnectionError):
            async with in_transaction():
                pass
    assert await asyncio.wait_for(client.execute_query("SELECT 1"), 5)
    dossier, worker = await _dossier()
    await asyncio.wait_for(journal.record_look(dossier, "dossier.read", worker), 5)
