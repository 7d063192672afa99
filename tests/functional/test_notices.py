"""Telling people safely: a count of what is new, and neutral e-mails through a real SMTP server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message as EmailMessage

import httpx
import pytest
from aiosmtpd.controller import Controller
from tortoise import timezone
from tortoise.transactions import in_transaction

from portal.db import sql_rows
from portal.domain import journal, notices
from portal.domain.actions import propose_action
from portal.domain.messages import send_message
from portal.models import ActionKind, Dossier, Notice, Person, Theme
from tests import factories
from tests.conftest import on_postgres
from tests.helpers import csrf_token


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _mailer(port: int) -> notices.Mailer:
    return notices.Mailer(
        host="127.0.0.1", port=port, sender="portail@localhost", site_url="https://aide.example.be"
    )


async def _dossier() -> tuple[Dossier, Person, Person]:
    service = await factories.service("AMO Secrète du Centre")
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(
        amina, lou, service, "Chez moi ça crie", Theme.FAMILY
    )
    return dossier, lou, amina


async def test_the_header_counts_what_is_new_until_it_is_seen(client: httpx.AsyncClient) -> None:
    dossier, _lou, amina = await _dossier()
    await factories.sign_in(client, "lou")
    await client.get(f"/espace/{dossier.reference}")
    await send_message(amina, dossier.reference, "Bonjour")
    await send_message(amina, dossier.reference, "Tu es là ?")
    page = await client.get("/compte")
    assert '<span class="badge">2<' in page.text
    # Her list of dossiers is not the news itself: the count stays until she opens it.
    assert '<span class="badge">2<' in (await client.get("/espace")).text
    await client.get(f"/espace/{dossier.reference}")
    assert 'class="badge"' not in (await client.get("/compte")).text


async def test_the_page_she_lands_on_shows_the_news_and_the_step_waiting_for_her(
    client: httpx.AsyncClient,
) -> None:
    dossier, lou, amina = await _dossier()
    # She saw everything until now; then a step is proposed to her.
    await Person.filter(id=lou.id).update(news_seen_at=timezone.now())
    await propose_action(
        amina, dossier.reference, ActionKind.PARTNER_CONTACT, "Appeler l’école", "L’école"
    )
    signed_in = await factories.sign_in(client, "lou")
    assert signed_in.status_code == 303
    landing = await client.get(signed_in.headers["location"])
    assert landing.status_code == 200
    # In the header (the step proposed is new), and on the card of the dossier it waits in.
    assert '<span class="badge">1<' in landing.text
    assert "Une démarche attend ta réponse" in landing.text
    assert f'href="/espace/{dossier.reference}#actions"' in landing.text
    # A boosted sign-in (htmx follows the redirect) lands on the same full page.
    boosted = await client.get("/espace", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert '<span class="badge">1<' in boosted.text
    # Seen once she opens the dossier; the step still waits on her list.
    await client.get(f"/espace/{dossier.reference}")
    again = await client.get("/espace")
    assert 'class="badge"' not in again.text
    assert "Une démarche attend ta réponse" in again.text
    # Another young person's step never shows on her list.
    await factories.youth("noa", "Noa")
    client.cookies.clear()
    await factories.sign_in(client, "noa")
    assert "attend ta réponse" not in (await client.get("/espace")).text


async def _plan(sql: str, params: list[object]) -> str:
    """How the database would run ``sql``: the index it picks, on either database."""
    if not on_postgres():
        return str(await sql_rows(f"EXPLAIN QUERY PLAN {sql}", params))
    async with in_transaction() as connection:
        # A test's tables are tiny: without this, reading them whole is cheapest.
        await connection.execute_script("SET LOCAL enable_seqscan = off")
        plan = await sql_rows(f"EXPLAIN {sql}", params)
    return str(plan)


async def test_counting_news_reads_steps_only_through_the_partial_index(db: str) -> None:
    """Every look by a worker is an entry: a count that read them all would slow every page."""
    dossier, lou, amina = await _dossier()
    lou.news_seen_at = amina.news_seen_at = timezone.now()
    await send_message(amina, dossier.reference, "Bonjour")
    for _ in range(30):
        async with in_transaction():
            await journal.record(dossier, "dossier.read", amina)
    await send_message(lou, dossier.reference, "Oui")
    # Looks are never news, and one's own steps neither.
    assert await notices.news_count(lou) == 1
    assert await notices.news_count(amina) == 1
    since = timezone.now() - timedelta(days=1)
    subject = await _plan(notices._SUBJECT_NEWS, [lou.id, since])
    worker = await _plan(notices._WORKER_NEWS, [amina.id, since, amina.service_id, "waiting"])
    assert "journal_entry_news" in subject, subject
    assert "journal_entry_news" in worker, worker


async def test_an_address_is_optional_and_checked(client: httpx.AsyncClient) -> None:
    await factories.youth()
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, "/compte")
    bad = await client.post(
        "/compte/avis", data={"csrf_token": token, "email": "pas une adresse", "notify": "1"}
    )
    assert bad.status_code == 422 and 'value="pas une adresse"' in bad.text
    empty = await client.post(
        "/compte/avis", data={"csrf_token": token, "email": "", "notify": "1"}
    )
    assert empty.status_code == 422
    ok = await client.post(
        "/compte/avis", data={"csrf_token": token, "email": "lou@example.be", "notify": "1"}
    )
    assert ok.status_code == 303
    lou = await Person.get(login="lou")
    assert lou.email == "lou@example.be" and lou.notify_by_email


async def test_a_neutral_email_goes_once_for_several_news(smtp: tuple[Inbox, int], db: str) -> None:
    inbox, port = smtp
    dossier, lou, amina = await _dossier()
    await notices.set_email_notices(lou, "lou@example.be", True)
    await send_message(amina, dossier.reference, "Un message très personnel")
    await send_message(amina, dossier.reference, "Et un autre")
    # The notices read the journal once its entries have settled.
    assert await notices.read_journal() == 0
    soon = timezone.now() + notices.SETTLE
    assert await notices.read_journal(soon) >= 2
    assert await Notice.filter(person=lou, sent_at__isnull=True).count() == 1
    assert await notices.send_due(_mailer(port), now=soon) == 1
    await asyncio.sleep(0.2)
    assert len(inbox.messages) == 1
    mail = inbox.messages[0]
    body = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    text = f"{mail['Subject']}\n{body}"
    assert "Tu as du nouveau sur ton espace." in body
    for secret in ("AMO", "Secrète", "personnel", "Amina", "Lou", "crie", dossier.reference):
        assert secret not in text
    assert mail["To"] == "lou@example.be"
    # Nothing more to send: each entry is read once.
    assert await notices.send_due(_mailer(port), now=soon) == 0
    assert await notices.read_journal(soon) == 0


async def test_workers_are_told_of_new_requests_and_answers(
    smtp: tuple[Inbox, int], db: str
) -> None:
    inbox, port = smtp
    dossier, lou, amina = await _dossier()
    await notices.set_email_notices(amina, "amina@amo.example.be", True)
    await send_message(lou, dossier.reference, "Merci")
    await notices.send_due(_mailer(port), now=timezone.now() + notices.SETTLE)
    await asyncio.sleep(0.2)
    assert [m["To"] for m in inbox.messages] == ["amina@amo.example.be"]


async def test_nobody_is_written_to_without_asking(smtp: tuple[Inbox, int], db: str) -> None:
    inbox, port = smtp
    dossier, lou, amina = await _dossier()
    await Person.filter(id=lou.id).update(email="lou@example.be")  # an address, no wish
    await send_message(amina, dossier.reference, "Bonjour")
    assert await notices.send_due(_mailer(port), now=timezone.now() + notices.SETTLE) == 0
    assert await Notice.all().count() == 0
    assert inbox.messages == []


async def test_a_server_away_is_retried_later_and_never_blocks_a_request(
    smtp: tuple[Inbox, int], db: str
) -> None:
    inbox, port = smtp
    dossier, lou, amina = await _dossier()
    await notices.set_email_notices(lou, "lou@example.be", True)
    # The message is written at once: the e-mail waits in the queue.
    await send_message(amina, dossier.reference, "Bonjour")
    closed = _free_port()
    soon = timezone.now() + notices.SETTLE
    assert await notices.send_due(_mailer(closed), now=soon) == 0
    notice = await Notice.get(person=lou)
    assert notice.attempts == 1 and notice.sent_at is None
    assert notice.next_try_at > soon
    # Not before its time…
    assert await notices.send_due(_mailer(port), now=soon) == 0
    # …then it goes.
    later = soon + timedelta(minutes=2)
    assert await notices.send_due(_mailer(port), now=later) == 1
    await asyncio.sleep(0.2)
    assert len(inbox.messages) == 1
