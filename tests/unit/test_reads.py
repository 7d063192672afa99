"""The page reads in plain SQL give the very objects the ORM gives, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tortoise import Model, timezone
from tortoise.exceptions import IncompleteInstanceError
from tortoise.transactions import in_transaction

from portal import reads
from portal.domain import journal
from portal.models import (
    Action,
    ActionKind,
    ActionStatus,
    Asker,
    ContactChannel,
    Dossier,
    JournalEntry,
    Message,
    Partner,
    Person,
    Request,
    Role,
    Sector,
    Service,
    Session,
)
from tests.helpers import count_queries


async def _same_as_the_orm(model: type[Model], table: str, row_id: int) -> Model:
    sql = f"SELECT {{x}} FROM {table} x WHERE x.id = ?"  # noqa: S608 - the tests' own names
    found = await reads.rows(reads.statement(sql, x=model), [row_id])
    built = reads.build_all(model, found)
    stored = await model.get(id=row_id)
    assert len(built) == 1
    for name in model._meta.db_fields:
        assert getattr(built[0], name) == getattr(stored, name), name
        assert type(getattr(built[0], name)) is type(getattr(stored, name)), name
    # The ORM's own bookkeeping too: the object can be saved and compared as one it loaded.
    assert vars(built[0]) == vars(stored)
    assert built[0] == stored
    return built[0]


async def test_every_kind_of_column_reads_back_as_the_orm_reads_it(db: str) -> None:
    now = timezone.now()
    service = await Service.create(name="AMO", communes=["Namur"])
    partner = await Partner.create(name="CPAS", sector=Sector.CPAS, bound_by_secrecy=True)
    youth = await Person.create(role=Role.YOUTH, display_name="Lou", news_seen_at=now)
    worker = await Person.create(role=Role.WORKER, display_name="Amina", service=service)
    session = await Session.create(
        token_hash="a" * 64, person=youth, last_seen_at=now, expires_at=now + timedelta(hours=1)
    )
    dossier = await Dossier.create(
        reference="ABCD-EFGH", service=service, subject=youth, wrapped_key=b"\x00\xffkey"
    )
    request = await Request.create(
        dossier=dossier,
        asker=Asker.YOUTH,
        themes=["school", "family"],
        contact_channel=ContactChannel.PHONE,
        no_voicemail=True,
    )
    message = await Message.create(dossier=dossier, author=youth, body="Bonjour ✨")
    action = await Action.create(
        dossier=dossier,
        kind=ActionKind.ORIENTATION,
        involves_third_party=True,
        partner=partner,
        status=ActionStatus.PROPOSED,
        author=worker,
    )
    async with in_transaction():
        entry = await journal.record(dossier, "dossier.read", worker, {"partner": partner.id})

    read_session = await _same_as_the_orm(Session, "session", session.id)
    assert read_session.last_seen_at.tzinfo is not None
    person = await _same_as_the_orm(Person, "person", youth.id)
    assert person.role is Role.YOUTH and person.is_subject
    await _same_as_the_orm(Dossier, "dossier", dossier.id)
    read_request = await _same_as_the_orm(Request, "request", request.id)
    assert read_request.themes == ["school", "family"]
    await _same_as_the_orm(Message, "message", message.id)
    await _same_as_the_orm(Action, "action", action.id)
    read_entry = await _same_as_the_orm(JournalEntry, "journal_entry", entry.id)
    assert read_entry.details == {"partner": partner.id}
    await _same_as_the_orm(Partner, "partner", partner.id)
    await _same_as_the_orm(Service, "service", service.id)


async def test_an_empty_outer_join_builds_nothing(db: str) -> None:
    service = await Service.create(name="AMO")
    youth = await Person.create(role=Role.YOUTH, display_name="Lou")
    dossier = await Dossier.create(reference="ABCD-EFGH", service=service, subject=youth)
    async with in_transaction():
        await journal.record(dossier, "retention.notice", None)
    found = await reads.rows(
        reads.statement(
            "SELECT {e}, {p} FROM journal_entry e LEFT JOIN person p ON p.id = e.actor_id",
            e=JournalEntry,
            p=Person,
        )
    )
    assert len(found) == 1
    assert reads.build(JournalEntry, found[0]) is not None
    assert reads.build(Person, found[0], reads.width(JournalEntry)) is None


async def test_inside_a_transaction_a_read_sees_what_it_wrote(db: str) -> None:
    service = await Service.create(name="AMO")
    async with in_transaction():
        await Service.filter(id=service.id).update(name="Written, not yet committed")
        found = await reads.rows("SELECT name FROM service WHERE id = ?", [service.id])
        assert found[0][0] == "Written, not yet committed"


async def test_each_read_is_counted_as_a_statement(db: str) -> None:
    with count_queries() as counted:
        await reads.rows("SELECT 1")
        await reads.rows("SELECT 2")
    assert counted.count == 2


async def test_values_travel_as_parameters_never_in_the_sql(db: str) -> None:
    youth = await Person.create(role=Role.YOUTH, display_name="Lou")
    hostile = "x' OR '1'='1"
    found = await reads.rows("SELECT id FROM person WHERE display_name = ?", [hostile])
    assert found == []
    found = await reads.rows("SELECT id FROM person WHERE display_name = ?", ["Lou"])
    assert [row[0] for row in found] == [youth.id]


async def test_only_some_columns_make_a_partial_object_the_orm_will_not_save(db: str) -> None:
    youth = await Person.create(
        role=Role.YOUTH, display_name="Lou", email="lou@example.org", news_seen_at=timezone.now()
    )
    author = reads.Only(Person, ("id", "display_name", "role"))
    found = await reads.rows(reads.statement("SELECT {p} FROM person p", p=author))
    assert len(found[0]) == reads.width(author) == 3
    built = reads.build(author, found[0])
    assert built is not None
    assert (built.id, built.display_name, built.role) == (youth.id, "Lou", Role.YOUTH)
    # Nothing else of the account came along, and the object cannot be saved whole.
    assert not hasattr(built, "email") and not hasattr(built, "news_seen_at")
    assert built._partial
    with pytest.raises(IncompleteInstanceError):
        await built.save()
    assert (await Person.get(id=youth.id)).email == "lou@example.org"


def test_only_columns_of_the_model_and_its_key_are_read() -> None:
    with pytest.raises(ValueError, match="person"):
        reads.width(reads.Only(Person, ("display_name",)))
    with pytest.raises(ValueError, match="password"):
        reads.width(reads.Only(Person, ("id", "password")))
