"""The plain chain beside the MACs: written with each entry, checked by the server too, and
filled by the migration for the entries written before it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tortoise.transactions import in_transaction

from portal import proof
from portal.domain import journal
from portal.models import Dossier, JournalEntry, Person, Role, Service
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, create_database, drop_database
from tests.helpers import count_queries


async def _dossier(entries: int) -> Dossier:
    service = await Service.create(name="AMO")
    youth = await Person.create(role=Role.YOUTH, display_name="Lou")
    dossier = await Dossier.create(reference="ABCD-0001", service=service, subject=youth)
    async with in_transaction():
        for number in range(entries):
            actor = youth if number % 2 else None
            await journal.record(dossier, journal.Event.DOSSIER_READ, actor, {"n": number})
    return dossier


async def test_each_entry_holds_the_plain_chain_anyone_recomputes(db: str) -> None:
    dossier = await _dossier(3)
    entries = await JournalEntry.filter(dossier_id=dossier.id).order_by("seq")
    given = [journal.entry_form(dossier.reference, e) for e in entries]
    # What proof computes from the entries alone, without any key, is what was stored.
    assert proof.chain_of(given) == [e.chain for e in entries]
    assert given[0]["dossier"] == "ABCD-0001" and given[0]["actor"] is None
    assert given[1]["at"].endswith("+00:00") and len(given[1]["at"].split(".")[1]) == 12


async def test_recording_reads_the_last_chain_with_the_last_mac(db: str) -> None:
    dossier = await _dossier(1)
    with count_queries() as counted:
        async with in_transaction():
            await journal.record(dossier, journal.Event.DOSSIER_READ)
    # The last entry read once, the new one written, the dossier's head updated.
    assert counted.count == 3
    assert "chain" in counted.queries[0]


async def test_the_servers_check_finds_a_chain_hash_not_recomputed(db: str) -> None:
    dossier = await _dossier(3)
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is None
    await JournalEntry.filter(dossier_id=dossier.id, seq=2).update(chain="f" * 64)
    found = await journal.verify_dossier(await Dossier.get(id=dossier.id))
    assert found is not None and found.seq == 2
    assert "plain chain" in found.reason


MIGRATION_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate
    from tortoise.transactions import in_transaction
    from portal import keys
    from portal.db import tortoise_config

    keys.configure(sys.argv[2], sys.argv[3])

    async def main(url):
        config = tortoise_config(url)
        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        from portal.domain import journal
        from portal.models import Dossier, JournalEntry, Person, Role, Service
        service = await Service.create(name="AMO")
        for n in range(3):
            youth = await Person.create(role=Role.YOUTH, display_name="Lou")
            dossier = await Dossier.create(reference=f"ABCD-{n:04}", service=service, subject=youth)
            async with in_transaction():
                for i in range(4):
                    await journal.record(
                        dossier, journal.Event.DOSSIER_READ, youth if i % 2 else None, {"i": i}
                    )
        before = await JournalEntry.all().order_by("id").values_list("id", "chain")
        await Tortoise.close_connections()
        # Back to before the chain (its column dropped), then forward: the migration fills it.
        await migrate(config=config, target="models.0023_receipts")
        await Tortoise.close_connections()
        await migrate(config=config)
        await Tortoise.close_connections()
        await Tortoise.init(config=config)
        after = await JournalEntry.all().order_by("id").values_list("id", "chain")
        checked, breaks = await journal.verify_all()
        await Tortoise.close_connections()
        assert len(after) == 12 and all(len(chain) == 64 for _, chain in after), after
        assert after == before, (before, after)
        assert (checked, breaks) == (3, []), breaks
        print("filled")

    asyncio.run(main(sys.argv[1]))
    """
)


async def test_the_migration_fills_the_chain_of_entries_written_before_it(tmp_path: Path) -> None:
    # A database of its own (a SQLite file, or a new PostgreSQL database), in a process of
    # its own: going back and forth through the migrations must not touch the run's.
    url = await create_database(tmp_path)
    script = tmp_path / "migrate_chain.py"
    script.write_text(MIGRATION_SCRIPT)
    command = [sys.executable, str(script), url, TEST_JOURNAL_KEY, TEST_MASTER_KEY]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    try:
        done = await asyncio.to_thread(
            subprocess.run, command, env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        await drop_database(url)
    assert done.returncode == 0, done.stderr
    assert "filled" in done.stdout
