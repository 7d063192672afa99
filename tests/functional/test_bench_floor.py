"""The bench's journal-only page (bench/floor.py) does each thing the throughput goal lists.

The session, the dossier (refused to a worker who does not follow it), the journaled read, the
latest 20 journal entries, the render; and the portal itself has no such page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from bench.floor import create_floor_app
from portal.models import JournalEntry
from portal.settings import Settings
from tests import factories
from tests.helpers import count_queries


@pytest_asyncio.fixture(loop_scope="session")
async def floor(settings: Settings, db: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_floor_app(settings, manage_database=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client


async def test_the_journal_only_page_journals_its_read_and_shows_the_latest_entries(
    floor: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    marc = await factories.staff("marc", service_=service, name="Marc")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service)
    path = f"/banc/journal/{dossier.reference}"

    assert (await floor.get(path)).status_code == 303  # anonymous: to sign in
    await factories.sign_in_staff(floor, "amina")
    for _ in range(25):
        assert (await floor.get(path)).status_code == 200
    looks = await JournalEntry.filter(dossier_id=dossier.id, event="dossier.read").count()
    with count_queries() as queries:
        page = await floor.get(path)
    assert page.status_code == 200
    assert await JournalEntry.filter(dossier_id=dossier.id, event="dossier.read").count() == (
        looks + 1
    )
    # The newest 20 entries, newest first: the look just written heads the page.
    newest = await JournalEntry.filter(dossier_id=dossier.id).order_by("-seq").limit(20)
    shown = page.text.split('<time datetime="')[1:]
    assert [moment.split('"', 1)[0] for moment in shown] == [e.at.isoformat() for e in newest]
    assert "Plus ancien" in page.text  # the pager: more than one page of journal
    # The session, the news, the dossier and whether the worker follows it, the look (the
    # dossier row held, the chain's end, the entry, the head), a page of the journal and the
    # partners it names.
    assert queries.count <= 10, queries.queries

    # A worker who does not follow the dossier: 404, nothing shown, and the try journaled.
    floor.cookies.clear()
    await factories.sign_in_staff(floor, "marc")
    refused = await floor.get(path)
    assert refused.status_code == 404
    assert "<time datetime=" not in refused.text
    assert await JournalEntry.filter(
        dossier_id=dossier.id, event="dossier.read_refused", actor_id=marc.id
    ).exists()

    # The portal as it is served has no such page.
    await factories.sign_in_staff(client, "amina")
    assert (await client.get(path)).status_code == 404
