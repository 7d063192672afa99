"""Rule 5: the journal is a chain, each entry MAC'd over its content and the previous one."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest
from tortoise import connections
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from portal.domain import journal
from portal.models import Dossier, JournalEntry, Person, Role, Service
from portal.sqlite_backend import ImmediateSqliteClient


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


async def test_a_failed_look_writes_nothing_and_frees_the_connection(db: str) -> None:
    """On SQLite a look is one transaction on the connection's thread: it must end cleanly."""
    client = connections.get("default")
    if not isinstance(client, ImmediateSqliteClient):
        pytest.skip("SQLite's own transaction: PostgreSQL looks go through the ORM's")
    dossier, worker = await _dossier()

    def half_then_fail(raw: sqlite3.Connection) -> None:
        raw.execute("UPDATE dossier SET journal_seq = 99 WHERE id = ?", [dossier.id])
        raise sqlite3.OperationalError("disk I/O error")

    with pytest.raises(sqlite3.OperationalError):
        await client.run_transaction(half_then_fail)
    # Rolled back, and the process's queries go on (its lock was released).
    assert (await Dossier.get(id=dossier.id)).journal_seq == 1
    await asyncio.wait_for(journal.record_look(dossier, "dossier.read", worker), 5)
    assert (await Dossier.get(id=dossier.id)).journal_seq == 2
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is None


def _sqlite_client() -> ImmediateSqliteClient:
    client = connections.get("default")
    if not isinstance(client, ImmediateSqliteClient):
        pytest.skip("SQLite's own connections: PostgreSQL looks go through the ORM's")
    return client


async def test_a_look_waits_its_turn_while_another_process_writes(db: str) -> None:
    """The look is written on the event loop's connection only when the file is free at once;
    otherwise it waits on the ORM's thread, never on the loop, and is written after."""
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
    # Then free: written at once, on the loop's connection.
    await journal.record_look(dossier, "dossier.read", worker)
    stored = await Dossier.get(id=dossier.id)
    assert stored.journal_seq == 3
    assert await journal.verify_dossier(stored) is None


async def test_looks_written_on_the_loop_have_their_log_checkpointed(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop's connection never checkpoints itself: the ORM's thread does it, now and then."""
    client = _sqlite_client()
    monkeypatch.setattr("portal.sqlite_backend.CHECKPOINT_EVERY", 3)
    dossier, worker = await _dossier()
    done: list[str] = []
    acquire = client.acquire_connection

    def spied() -> object:
        done.append("checkpoint")
        return acquire()

    monkeypatch.setattr(client, "acquire_connection", spied)
    client._written_here = 0
    for _ in range(2):
        await journal.record_look(dossier, "dossier.read", worker)
    assert done == [] and client._checkpoint is None
    await journal.record_look(dossier, "dossier.read", worker)
    assert client._checkpoint is not None
    await asyncio.wait_for(client._checkpoint, 5)
    assert done == ["checkpoint"] and client._checkpoint is None


async def test_a_connection_that_cannot_open_does_not_block_the_next_query(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at connect (its log cannot be made): the query fails, the next ones run."""
    client = _sqlite_client()
    await client._drop()
    opening = client.create_connection

    async def refused(with_db: bool) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(client, "create_connection", refused)
    with pytest.raises(OperationalError):
        await client.execute_query("SELECT 1")
    monkeypatch.setattr(client, "create_connection", opening)
    assert await asyncio.wait_for(client.execute_query("SELECT 1"), 5)


async def test_a_failed_checkpoint_is_logged_and_made_next_time(
    db: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = _sqlite_client()
    monkeypatch.setattr("portal.sqlite_backend.CHECKPOINT_EVERY", 1)
    dossier, worker = await _dossier()

    def closed() -> object:
        raise ValueError("no active connection")  # what aiosqlite says once closed

    monkeypatch.setattr(client, "acquire_connection", closed)
    client._written_here = 0
    await journal.record_look(dossier, "dossier.read", worker)
    assert client._checkpoint is not None
    await asyncio.wait_for(client._checkpoint, 5)  # ends without raising
    assert client._checkpoint is None
    assert "checkpoint of the write-ahead log failed" in caplog.text
    monkeypatch.undo()
    await journal.record_look(dossier, "dossier.read", worker)
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is None
