"""An open dossier page asks what is new: 204 when nothing, only what is newer otherwise."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from starlette.applications import Starlette
from tortoise import timezone

from portal.domain.dossiers import assign, open_dossier
from portal.domain.ending import end_help, erase
from portal.domain.journal import Event
from portal.domain.messages import send_message
from portal.models import Dossier, JournalEntry, Person, Session
from tests import factories
from tests.helpers import count_queries

HX = {"HX-Request": "true", "X-Live": "1"}
POLL_RE = re.compile(r'id="live-poll" hx-get="([^"]+)"')


@asynccontextmanager
async def _closing(*clients: httpx.AsyncClient) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for client in clients:
            await client.aclose()


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


async def _world(
    app: Starlette,
) -> tuple[Dossier, Person, Person, httpx.AsyncClient, httpx.AsyncClient]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, words="Mes mots")
    her, worker = _client(app), _client(app)
    assert (await factories.sign_in(her, "lou")).status_code == 303
    assert (await factories.sign_in_staff(worker, "amina")).status_code == 303
    return dossier, lou, amina, her, worker


def _poll_url(html: str) -> str:
    match = POLL_RE.search(html)
    assert match, "the page does not ask what is new"
    return match.group(1).replace("&amp;", "&")


async def _looks(dossier: Dossier, worker: Person) -> int:
    return await JournalEntry.filter(
        dossier_id=dossier.id, actor_id=worker.id, event=Event.DOSSIER_READ
    ).count()


async def test_a_quiet_poll_is_204_and_costs_two_queries(app: Starlette, db: str) -> None:
    dossier, _lou, amina, her, worker = await _world(app)
    async with _closing(her, worker):
        page = await her.get(f"/espace/{dossier.reference}")
        url = _poll_url(page.text)
        with count_queries() as queries:
            answer = await her.get(url, headers=HX)
        assert answer.status_code == 204
        assert answer.content == b""
        # Her session, and the dossier's row (which knows its newest journal entry).
        assert queries.count == 2, queries.queries
        work_page = await worker.get(f"/travail/dossiers/{dossier.reference}")
        looks = await _looks(dossier, amina)
        with count_queries() as queries:
            answer = await worker.get(_poll_url(work_page.text), headers=HX)
        assert answer.status_code == 204
        # The worker's: and whether she still follows the dossier. Nothing written.
        assert queries.count == 3, queries.queries
        assert await _looks(dossier, amina) == looks


async def test_her_message_appears_on_the_workers_open_page_and_is_a_journaled_look(
    app: Starlette, db: str
) -> None:
    dossier, lou, amina, her, worker = await _world(app)
    async with _closing(her, worker):
        page = await worker.get(f"/travail/dossiers/{dossier.reference}")
        url = _poll_url(page.text)
        looks = await _looks(dossier, amina)
        await send_message(lou, dossier.reference, "Je peux venir jeudi ?")
        with count_queries() as queries:
            answer = await worker.get(url, headers=HX)
        assert answer.status_code == 200
        assert "Je peux venir jeudi ?" in answer.text
        assert 'hx-swap-oob="beforeend:#thread"' in answer.text
        assert 'hx-swap-oob="afterbegin:#journal-lines"' in answer.text
        assert "Nouveau message" in answer.text
        # Only what is new: not the request's words, not the older lines.
        assert "Mes mots" not in answer.text
        # One message; two lines (her message, this look), each with the id that keeps it
        # from being added twice to a page that shows it already (live.js).
        assert answer.text.count("<li") == 1 + 2
        assert answer.text.count('<li id="message-') == 1
        assert answer.text.count('<li id="line-') == 2
        # A read: journaled as one look, and the next ask starts after it.
        assert await _looks(dossier, amina) == looks + 1
        assert queries.count <= 14, queries.queries
        next_url = _poll_url(answer.text)
        assert next_url != url
        assert (await worker.get(next_url, headers=HX)).status_code == 204
        assert await _looks(dossier, amina) == looks + 1


async def test_only_looks_by_others_are_not_worth_a_workers_read(app: Starlette, db: str) -> None:
    dossier, _lou, amina, _her, worker = await _world(app)
    tom = await factories.staff("tom", service_=await dossier.service, name="Tom")
    await assign(amina, dossier.id, tom.id)
    async with _closing(worker):
        page = await worker.get(f"/travail/dossiers/{dossier.reference}")
        url = _poll_url(page.text)
        await open_dossier(tom, dossier.reference)
        looks = await _looks(dossier, amina)
        with count_queries() as queries:
            assert (await worker.get(url, headers=HX)).status_code == 204
        assert queries.count == 4, queries.queries
        assert await _looks(dossier, amina) == looks


async def test_the_workers_message_appears_on_her_page_and_is_seen(app: Starlette, db: str) -> None:
    dossier, _lou, amina, her, worker = await _world(app)
    async with _closing(her, worker):
        page = await her.get(f"/espace/{dossier.reference}")
        url = _poll_url(page.text)
        entries = await JournalEntry.filter(dossier_id=dossier.id).count()
        await send_message(amina, dossier.reference, "Oui, jeudi 15 h.")
        assert 'class="badge"' in (await her.get("/espace")).text
        with count_queries() as queries:
            answer = await her.get(url, headers=HX)
        assert answer.status_code == 200
        assert "Oui, jeudi 15 h." in answer.text
        assert "Nouveau message" in answer.text
        assert 'class=" new"' in answer.text or 'class="new"' in answer.text
        assert queries.count <= 10, queries.queries
        # Her own asks are not journaled.
        assert await JournalEntry.filter(dossier_id=dossier.id).count() == entries + 1
        # Shown on her open page: seen, as when she opens it.
        fresh = await Dossier.get(id=dossier.id)
        assert fresh.subject_seen_seq == fresh.journal_seq
        assert 'class="badge"' not in (await her.get("/espace")).text
        assert (await her.get(_poll_url(answer.text), headers=HX)).status_code == 204


@pytest.mark.parametrize(
    "query",
    [
        "",
        "apres=1",
        "message=0",
        "apres=-1&message=0",
        "apres=abc&message=0",
        "apres=%C2%B2&message=0",
        "apres=99999999999999999999&message=0",
        "apres=2147483648&message=0",
        "apres=0&message=1.5",
    ],
)
async def test_a_bad_number_is_400_never_500(app: Starlette, db: str, query: str) -> None:
    dossier, _lou, _amina, her, worker = await _world(app)
    async with _closing(her, worker):
        answer = await her.get(f"/espace/{dossier.reference}/nouveau?{query}", headers=HX)
        assert answer.status_code == 400
        answer = await worker.get(f"/travail/dossiers/{dossier.reference}/nouveau?{query}")
        assert answer.status_code == 400


@pytest.mark.parametrize(
    "query", ["", "vu=", "vu=-1", "vu=abc", "vu=%C2%B2", "vu=1e3", "vu=1000001", "vu=9" * 30]
)
async def test_a_bad_count_is_400_never_500(app: Starlette, db: str, query: str) -> None:
    await factories.youth()
    client = _client(app)
    async with _closing(client):
        assert (await factories.sign_in(client, "lou")).status_code == 303
        assert (await client.get(f"/nouveau?{query}", headers=HX)).status_code == 400


async def test_whoever_may_not_read_gets_404_and_nothing_new(app: Starlette, db: str) -> None:
    dossier, _lou, amina, her, worker = await _world(app)
    service = await dossier.service
    await factories.staff("tom", service_=service)
    await factories.youth("noa", "Noa")
    await send_message(amina, dossier.reference, "Secret du fil")
    tom, noa = _client(app), _client(app)
    async with _closing(her, worker, tom, noa):
        assert (await factories.sign_in_staff(tom, "tom")).status_code == 303
        assert (await factories.sign_in(noa, "noa")).status_code == 303
        query = "?apres=0&message=0"
        for client, path in (
            (tom, f"/travail/dossiers/{dossier.reference}/nouveau"),
            (noa, f"/espace/{dossier.reference}/nouveau"),
            # Each page's own route: a worker on the subject's, the subject on the worker's.
            (worker, f"/espace/{dossier.reference}/nouveau"),
            (her, f"/travail/dossiers/{dossier.reference}/nouveau"),
            (noa, "/travail/dossiers/XXXX-0000/nouveau"),
        ):
            answer = await client.get(path + query, headers=HX)
            assert answer.status_code == 404, path
            assert "Secret du fil" not in answer.text


async def test_signed_out_the_page_reloads_rather_than_swapping_a_sign_in_page(
    app: Starlette, db: str
) -> None:
    dossier, lou, _amina, her, worker = await _world(app)
    async with _closing(her, worker):
        page = await her.get(f"/espace/{dossier.reference}")
        url = _poll_url(page.text)
        await Session.filter(person_id=lou.id).update(ended_at=timezone.now())
        answer = await her.get(url, headers=HX)
        assert answer.status_code == 204
        assert answer.headers["HX-Refresh"] == "true"
        # Not from htmx (a link followed by hand): the usual way to sign in.
        answer = await her.get(url)
        assert answer.status_code == 303
        assert answer.headers["location"].endswith("/connexion")


async def test_a_poll_does_not_keep_an_idle_session_alive(app: Starlette, db: str) -> None:
    dossier, lou, _amina, her, worker = await _world(app)
    async with _closing(her, worker):
        url = _poll_url((await her.get(f"/espace/{dossier.reference}")).text)
        before = timezone.now() - timedelta(minutes=20)
        await Session.filter(person_id=lou.id).update(last_seen_at=before)
        assert (await her.get(url, headers=HX)).status_code == 204
        session = await Session.get(person_id=lou.id, ended_at__isnull=True)
        assert session.last_seen_at == before
        # A page she opens does.
        await her.get("/espace")
        session = await Session.get(person_id=lou.id, ended_at__isnull=True)
        assert session.last_seen_at > before


async def test_the_header_count_changes_alone(app: Starlette, db: str) -> None:
    dossier, lou, amina, her, worker = await _world(app)
    async with _closing(her, worker):
        space = await her.get("/espace")
        match = re.search(r'id="news-count" hx-get="([^"]+)"', space.text)
        assert match
        url = match.group(1)
        with count_queries() as queries:
            answer = await her.get(url, headers=HX)
        assert answer.status_code == 204
        assert queries.count == 2, queries.queries
        await send_message(amina, dossier.reference, "Du nouveau")
        answer = await her.get(url, headers=HX)
        assert answer.status_code == 200
        assert 'id="news-count"' in answer.text
        shown = re.search(r'<span class="badge">(\d+)<', answer.text)
        assert shown and int(shown.group(1)) >= 1
        assert f"vu={shown.group(1)}" in answer.text
        assert "Du nouveau" not in answer.text
        # The count is not a look: nothing marked seen, the same count the next time.
        assert (await her.get(f"/nouveau?vu={shown.group(1)}", headers=HX)).status_code == 204
        # The worker's count: her inbox.
        match = re.search(r'id="news-count" hx-get="([^"]+)"', (await worker.get("/travail")).text)
        assert match
        assert (await worker.get(match.group(1), headers=HX)).status_code == 204
        await send_message(lou, dossier.reference, "Merci")
        assert (await worker.get(match.group(1), headers=HX)).status_code == 200


async def test_without_javascript_the_page_shows_everything_on_reload(
    app: Starlette, db: str
) -> None:
    dossier, _lou, amina, her, worker = await _world(app)
    async with _closing(her, worker):
        await send_message(amina, dossier.reference, "Premier")
        page = await her.get(f"/espace/{dossier.reference}")
        assert "Premier" in page.text
        assert 'id="live-said"' in page.text
        assert 'aria-live="polite"' in page.text
        # The second page of the journal does not ask (new lines belong on the first).
        assert 'id="live-poll"' not in (await her.get(f"/espace/{dossier.reference}?page=2")).text


async def test_an_ended_dossier_still_tells_her_and_an_erased_one_is_gone(
    app: Starlette, db: str
) -> None:
    dossier, lou, _amina, her, worker = await _world(app)
    async with _closing(her, worker):
        url = _poll_url((await her.get(f"/espace/{dossier.reference}")).text)
        await end_help(lou, dossier.reference, "")
        # Her own step: shown on her open page, nothing to announce.
        answer = await her.get(url, headers=HX)
        assert answer.status_code == 200
        assert "Nouveau message" not in answer.text
        url = _poll_url(answer.text)
        assert (await her.get(url, headers=HX)).status_code == 204
        await erase(lou, dossier.reference)
        # Gone from her space: the page stops asking (live.js drops the ask on 404).
        assert (await her.get(url, headers=HX)).status_code == 404
