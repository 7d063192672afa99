"""Checking the journal a page of entries and a batch of dossiers at a time: nothing slips
between two pages."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from portal.domain import journal
from portal.models import Dossier, JournalEntry, Person, Role, Service


async def _dossiers(count: int, entries: int) -> list[Dossier]:
    service = await Service.create(name="AMO")
    found = []
    for number in range(count):
        youth = await Person.create(role=Role.YOUTH, display_name="Lou")
        dossier = await Dossier.create(
            reference=f"ABCD-{number:04}", service=service, subject=youth
        )
        async with in_transaction():
            for _ in range(entries):
                await journal.record(dossier, "dossier.read", youth)
        found.append(dossier)
    return found


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal, "VERIFY_PAGE", 2)
    monkeypatch.setattr(journal, "VERIFY_BATCH", 2)


async def test_pages_and_batches_check_every_entry_of_every_dossier(
    db: str, small_pages: None
) -> None:
    dossiers = await _dossiers(5, 5)
    assert await journal.verify_all() == (5, [])

    # A change on the second page of the fourth dossier (in the second batch) is found.
    await JournalEntry.filter(dossier_id=dossiers[3].id, seq=4).update(event="dossier.ended")
    # An entry gone at a page's edge, in the last batch, is found too.
    await JournalEntry.filter(dossier_id=dossiers[4].id, seq=3).delete()
    checked, breaks = await journal.verify_all()
    assert checked == 5
    assert [(b.dossier_id, b.seq) for b in breaks] == [(dossiers[3].id, 4), (dossiers[4].id, 4)]
    assert "changed" in breaks[0].reason
    assert "entry 3 is missing" in breaks[1].reason


async def test_a_journal_ending_on_a_page_edge_checks_its_head(db: str, small_pages: None) -> None:
    (dossier,) = await _dossiers(1, 4)
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is None
    await JournalEntry.filter(dossier_id=dossier.id, seq=4).delete()
    found = await journal.verify_dossier(await Dossier.get(id=dossier.id))
    assert found is not None
    assert "says 4 entries, the journal has 3" in found.reason
