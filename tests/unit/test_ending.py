"""Rules 5, 7 and 8: end at any time, come back, take your data, erase it; a chain nobody bends."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tortoise import connections

from portal import keys
from portal.domain import consent as consent_rules
from portal.domain import ending, journal
from portal.domain.actions import propose_action
from portal.domain.errors import NotAllowed, NotFound
from portal.domain.messages import send_message
from portal.domain.requests import RequestForm
from portal.models import (
    ActionKind,
    ActionStatus,
    Asker,
    Dossier,
    DossierStatus,
    JournalEntry,
    Person,
    Role,
    Share,
    Theme,
)
from portal.security.crypto import CryptoError, Erased, new_master_key, parse_master_key, rewrap
from tests import factories
from tests.conftest import on_postgres

ORIGIN = "https://amo.example"
SECRET_SENTENCE = "Mon grand frère me fait peur quand il rentre tard"


async def _setup() -> tuple[Dossier, Person, Person, Person]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, SECRET_SENTENCE, Theme.FAMILY)
    cpas = await factories.partner("CPAS")
    julie = await factories.staff("julie", Role.PARTNER, partner_=cpas)
    return dossier, lou, amina, julie


async def test_ending_revokes_every_consent_and_cancels_every_pending_step(db: str) -> None:
    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    await consent_rules.grant(
        lou, dossier.reference, julie.partner_id, ["request"], "until_stop", "Pour l’aide"
    )
    shared = await consent_rules.share(amina, dossier.reference, julie.partner_id, ["request"])
    step = await propose_action(
        amina, dossier.reference, ActionKind.PARTNER_CONTACT, "Appeler l’école", "L’école"
    )
    await ending.end_help(lou, dossier.reference, "Ça va mieux")
    ended = await Dossier.get(id=dossier.id)
    assert ended.status is DossierStatus.ENDED and ended.ended_at is not None
    assert SECRET_SENTENCE not in ended.end_reason and "Ça va mieux" not in ended.end_reason
    with pytest.raises(NotFound):
        await consent_rules.partner_read(julie, shared.id)
    from portal.models import Action

    assert (await Action.get(id=step.id)).status is ActionStatus.CANCELLED
    with pytest.raises(NotAllowed):
        await ending.end_help(lou, dossier.reference)
    with pytest.raises(NotAllowed):
        await send_message(amina, dossier.reference, "encore là ?")


async def test_ending_while_sharing_never_leaks(db: str) -> None:
    dossier, lou, amina, julie = await _setup()
    assert julie.partner_id is not None
    partner_id = julie.partner_id
    await consent_rules.grant(lou, dossier.reference, partner_id, ["request"], "until_stop", "x")

    async def attempt() -> object:
        try:
            return await consent_rules.share(amina, dossier.reference, partner_id, ["request"])
        except NotAllowed as refusal:
            return refusal

    tasks = [asyncio.create_task(attempt()) for _ in range(20)]
    await asyncio.sleep(0)
    await asyncio.gather(*tasks, ending.end_help(lou, dossier.reference))
    ended = await Dossier.get(id=dossier.id)
    assert ended.ended_at is not None
    for share in await Share.all():
        assert share.shared_at <= ended.ended_at
    events = (
        await JournalEntry.filter(dossier=dossier).order_by("seq").values_list("event", flat=True)
    )
    assert "share.made" not in events[events.index("dossier.ended") :]


async def test_coming_back_keeps_the_whole_history(db: str) -> None:
    dossier, lou, _amina, _julie = await _setup()
    before = await JournalEntry.filter(dossier=dossier).count()
    await ending.end_help(lou, dossier.reference)
    form = RequestForm(asker=Asker.YOUTH, themes=[Theme.SCHOOL], words="Je reviens")
    await ending.reopen(lou, dossier.reference, form)
    again = await Dossier.get(id=dossier.id)
    # Back to Amina, who followed it: ended, reopened, returned to her.
    assert again.status is DossierStatus.OPEN
    assert await JournalEntry.filter(dossier=dossier).count() == before + 3
    from portal.models import Request

    assert await Request.filter(dossier=dossier).count() == 2


@pytest.mark.parametrize("who", ["amina", "julie", "noa", "sam"])
async def test_nobody_else_ends_reopens_exports_or_erases(db: str, who: str) -> None:
    dossier, lou, amina, julie = await _setup()
    people = {
        "amina": amina,
        "julie": julie,
        "noa": await factories.youth("noa", "Noa"),
        "sam": await factories.youth("sam", "Sam", Role.RELATIVE),
    }
    person = people[who]
    form = RequestForm(asker=Asker.YOUTH, themes=[Theme.SCHOOL])
    with pytest.raises(NotFound):
        await ending.end_help(person, dossier.reference)
    await ending.end_help(lou, dossier.reference)
    for attempt in (
        ending.reopen(person, dossier.reference, form),
        ending.export(person, dossier.reference, origin=ORIGIN),
        ending.erase(person, dossier.reference),
    ):
        with pytest.raises(NotFound):
            await attempt
    assert (await Dossier.get(id=dossier.id)).wrapped_key is not None


async def test_an_erased_key_leaves_no_bytes_in_the_database_file(db: str) -> None:
    # A copy of the file taken after the erasure must not hold the old wrapped key in the free
    # space of its pages: SQLite's secure_delete overwrites what an update frees. Other dossiers
    # share the page, as they do in a real file (alone on its page, the row left no trace).
    if on_postgres():
        pytest.skip("SQLite's file: PostgreSQL's dead rows are its VACUUM's business")
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    subjects = []
    for number in range(12):
        youth = await factories.youth(f"young{number}", f"Young {number}")
        subjects.append(
            (youth, await factories.followed_dossier(amina, youth, service, "mots", Theme.FAMILY))
        )
    lou, dossier = subjects[6]
    wrapped = bytes((await Dossier.get(id=dossier.id)).wrapped_key or b"")
    assert len(wrapped) >= 32
    await ending.end_help(lou, dossier.reference)
    await ending.erase(lou, dossier.reference)
    await connections.get("default").execute_query("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(db.removeprefix("sqlite://").split("?", 1)[0])
    files = [p for p in path.parent.glob(path.name + "*") if p.is_file()]
    assert files and all(wrapped not in p.read_bytes() for p in files)


async def test_an_open_dossier_cannot_be_erased(db: str) -> None:
    dossier, lou, _amina, _julie = await _setup()
    with pytest.raises(NotAllowed):
        await ending.erase(lou, dossier.reference)
    assert (await Dossier.get(id=dossier.id)).wrapped_key is not None


async def test_the_export_holds_everything_and_is_journaled(db: str) -> None:
    dossier, lou, amina, _julie = await _setup()
    await send_message(amina, dossier.reference, "Bonjour Lou")
    data = await ending.export(lou, dossier.reference, origin=ORIGIN)
    assert data.requests[0].words == SECRET_SENTENCE
    assert data.messages[0].body == "Bonjour Lou"
    assert data.journal[-1].event == "dossier.exported"


async def test_after_erasure_nothing_can_be_read_and_the_text_is_nowhere(
    db: str, database: str
) -> None:
    dossier, lou, amina, _julie = await _setup()
    await send_message(amina, dossier.reference, SECRET_SENTENCE + " (message)")
    await ending.end_help(lou, dossier.reference)
    await ending.erase(lou, dossier.reference)
    erased = await Dossier.get(id=dossier.id)
    assert erased.wrapped_key is None and erased.erased_at is not None
    with pytest.raises(Erased):
        keys.box(erased)
    with pytest.raises(NotFound):
        await ending.export(lou, dossier.reference, origin=ORIGIN)
    # What stays is content-free and the chain still verifies.
    assert await journal.verify_dossier(erased) is None
    # Nothing in the database holds the sentence: it was never stored in clear.
    await _assert_nowhere(database, SECRET_SENTENCE)


async def _assert_nowhere(database: str, sentence: str) -> None:
    if on_postgres():
        conn = connections.get("default")
        tables = await conn.execute_query_dict(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        for row in tables:
            name = row["tablename"]
            # Table names come from the catalogue itself, not from anyone's input.
            dump = await conn.execute_query_dict(f'SELECT t::text AS row FROM "{name}" t')  # noqa: S608
            assert all(sentence not in r["row"] for r in dump), name
        return
    await connections.get("default").execute_script("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(database.removeprefix("sqlite://"))
    # Read the files from another process: closing any handle on a SQLite file in this process
    # would drop the locks its open connection holds.
    script = (
        "import sys, pathlib\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "found = [str(f) for f in (p, p.with_name(p.name + '-wal'))\n"
        "         if f.exists() and sys.argv[2].encode() in f.read_bytes()]\n"
        "print(found)\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        str(path),
        sentence,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert out.decode().strip() == "[]", out


async def test_rotating_the_master_key_rewraps_without_touching_texts(db: str) -> None:
    dossier, _lou, _amina, _julie = await _setup()
    old = keys.master_key()
    new = parse_master_key(new_master_key())
    wrapped = bytes(dossier.wrapped_key or b"")
    rotated = rewrap(old, new, dossier.id, wrapped)
    from portal.security.crypto import Box, unwrap

    data_key = unwrap(new, dossier.id, rotated)
    from portal.models import Request

    stored = await Request.get(dossier=dossier)
    assert Box(dossier.id, data_key).open(stored.words, "request.words") == SECRET_SENTENCE
    with pytest.raises(CryptoError):
        unwrap(old, dossier.id, rotated)


async def test_a_sealed_text_moved_to_another_place_does_not_open(db: str) -> None:
    dossier, _lou, _amina, _julie = await _setup()
    from portal.models import Request

    stored = await Request.get(dossier=dossier)
    with pytest.raises(CryptoError):
        keys.box(dossier).open(stored.words, "message.body")


# --- The journal ------------------------------------------------------------------------------


async def _chain() -> Dossier:
    dossier, _lou, amina, _julie = await _setup()
    for text in ("un", "deux", "trois"):
        await send_message(amina, dossier.reference, text)
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is None
    return dossier


async def _sql(statement: str, values: list[object] | None = None) -> None:
    await connections.get("default").execute_query(statement, values or [])


def _p(n: int) -> str:
    return f"${n}" if on_postgres() else "?"


@pytest.mark.parametrize("column", ["event", "at", "details", "actor_id", "prev_hash", "hash"])
async def test_changing_any_field_of_an_entry_is_found(db: str, column: str) -> None:
    dossier = await _chain()
    entry = await JournalEntry.get(dossier=dossier, seq=3)
    values = {
        "event": "dossier.read",
        "at": datetime(2020, 1, 1, tzinfo=UTC),
        "details": {"message": 999},
        "actor_id": None,
        "prev_hash": "0" * 64,
        "hash": "f" * 64,
    }
    if column == "actor_id":
        await JournalEntry.filter(id=entry.id).update(actor_id=None)
    else:
        await JournalEntry.filter(id=entry.id).update(**{column: values[column]})
    found = await journal.verify_dossier(await Dossier.get(id=dossier.id))
    assert found is not None and found.seq in {3, 4}, found


async def test_deleting_an_entry_is_found(db: str) -> None:
    dossier = await _chain()
    await JournalEntry.filter(dossier=dossier, seq=2).delete()
    found = await journal.verify_dossier(await Dossier.get(id=dossier.id))
    assert found is not None and found.seq == 3


async def test_deleting_the_newest_entry_is_found(db: str) -> None:
    dossier = await _chain()
    newest = await JournalEntry.filter(dossier=dossier).order_by("-seq").first()
    assert newest is not None
    await JournalEntry.filter(id=newest.id).delete()
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is not None


async def test_reordering_two_entries_is_found(db: str) -> None:
    dossier = await _chain()
    a = await JournalEntry.get(dossier=dossier, seq=2)
    b = await JournalEntry.get(dossier=dossier, seq=3)
    await JournalEntry.filter(id=a.id).update(seq=-1)
    await JournalEntry.filter(id=b.id).update(seq=2)
    await JournalEntry.filter(id=a.id).update(seq=3)
    found = await journal.verify_dossier(await Dossier.get(id=dossier.id))
    assert found is not None and found.seq == 2


async def test_inserting_an_entry_is_found(db: str) -> None:
    dossier = await _chain()
    last = await JournalEntry.filter(dossier=dossier).order_by("-seq").first()
    assert last is not None
    from tortoise import timezone

    # A forger without the journal key: a plausible hash, chained on the real last one.
    await JournalEntry.create(
        dossier_id=dossier.id,
        seq=last.seq + 1,
        actor_id=None,
        event="dossier.read",
        at=timezone.now(),
        details={},
        prev_hash=last.hash,
        hash="a" * 64,
    )
    found = await journal.verify_dossier(await Dossier.get(id=dossier.id))
    assert found is not None and found.seq == last.seq + 1


def test_no_code_updates_or_deletes_a_journal_row() -> None:
    import re

    root = Path(__file__).resolve().parents[2] / "portal"
    pattern = re.compile(
        r"JournalEntry\.[^\n]*\.(update|delete)\(|UPDATE\s+\"?journal_entry|"
        r"DELETE\s+FROM\s+\"?journal_entry",
        re.IGNORECASE,
    )
    offenders = [str(p) for p in root.rglob("*.py") if pattern.search(p.read_text())]
    assert offenders == []


async def test_a_worker_closes_only_a_quiet_dossier_and_tells_the_subject_first(db: str) -> None:
    from datetime import timedelta

    from tortoise import timezone

    from portal.domain.errors import Invalid
    from portal.models import Message

    dossier, _lou, amina, julie = await _setup()
    with pytest.raises(Invalid):
        await ending.close_inactive(amina, dossier.reference, "Je ferme ?", 90)
    await Dossier.filter(id=dossier.id).update(last_activity_at=timezone.now() - timedelta(days=91))
    with pytest.raises(Invalid):
        await ending.close_inactive(amina, dossier.reference, "   ", 90)
    with pytest.raises(NotFound):
        await ending.close_inactive(julie, dossier.reference, "Je ferme", 90)
    await ending.close_inactive(amina, dossier.reference, "On n’a plus de nouvelles.", 90)
    closed = await Dossier.get(id=dossier.id)
    assert closed.status is DossierStatus.ENDED
    note = await Message.filter(dossier=dossier).order_by("-id").first()
    assert note is not None
    assert keys.box(closed).open(note.body, "message.body") == "On n’a plus de nouvelles."
    events = (
        await JournalEntry.filter(dossier=dossier).order_by("seq").values_list("event", flat=True)
    )
    assert events[-2:] == ["message.sent", "dossier.closed"]
