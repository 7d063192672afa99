"""Working days with a fake clock: Easter Monday 2027, a service's closing week around 21 July,
a year's end, the change to summer time; the admin's closing days and the unanswered messages."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal import demo
from portal.domain import messages, workdays
from portal.domain.errors import Invalid, NotFound
from portal.models import ClosingPeriod, Message, Role
from tests import factories
from tests.helpers import count_queries

ON_DB = pytest.mark.asyncio(loop_scope="session")

BXL = ZoneInfo("Europe/Brussels")
UTC = ZoneInfo("UTC")
OPEN = workdays.Calendar()
# The demo's kind of summer: a closing week that holds the national holiday.
SUMMER = workdays.Calendar(((date(2027, 7, 19), date(2027, 7, 23)),))


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """A moment in Brussels, as the portal stores it (aware UTC)."""
    return datetime(year, month, day, hour, minute, tzinfo=BXL).astimezone(UTC)


def test_belgian_holidays_have_names_in_the_three_languages() -> None:
    assert len(workdays.public_holidays(2027)) == 12
    assert workdays.holiday_name(date(2027, 3, 29), "fr") == "Lundi de Pâques"
    assert workdays.holiday_name(date(2027, 3, 29), "nl") == "Paasmaandag"
    assert workdays.holiday_name(date(2027, 3, 29), "en") == "Easter Monday"
    assert workdays.holiday_name(date(2027, 3, 30), "fr") is None


@pytest.mark.parametrize(
    ("sent", "due_day"),
    [
        # Thursday evening: Friday 26 (1), Easter Monday skipped, Tuesday 30 (2), Wednesday 31.
        (at(2027, 3, 25, 20), date(2027, 3, 31)),
        # Friday evening: Tuesday 30, Wednesday 31, Thursday 1 April.
        (at(2027, 3, 26, 21), date(2027, 4, 1)),
        # Saturday (the night before summer time): the same as Friday.
        (at(2027, 3, 27, 23, 30), date(2027, 4, 1)),
        # Sunday 28, the day the clocks go forward.
        (at(2027, 3, 28, 3), date(2027, 4, 1)),
    ],
)
def test_three_working_days_around_easter_monday_2027(sent: datetime, due_day: date) -> None:
    assert not workdays.is_working_day(OPEN, date(2027, 3, 29))
    assert OPEN.due_day(sent, 3) == due_day
    deadline = workdays.add_working_days(OPEN, sent, 3)
    # Late from midnight in Brussels after the due day: 22:00 UTC in summer time.
    assert deadline == datetime.combine(due_day + timedelta(days=1), datetime.min.time(), BXL)
    assert deadline.utcoffset() == timedelta(0)
    assert deadline.hour == 22
    on_time = workdays.due(OPEN, sent, 3, deadline - timedelta(seconds=1))
    assert not on_time.late
    assert workdays.due(OPEN, sent, 3, deadline).late


def test_a_utc_moment_counts_from_its_day_in_brussels() -> None:
    # 23:30 UTC on Friday is already Saturday in Brussels: counting starts from Saturday.
    friday_night_utc = datetime(2027, 3, 26, 23, 30, tzinfo=UTC)
    assert workdays.local_day(friday_night_utc) == date(2027, 3, 27)
    # Before the change, 22:59 UTC on Saturday 27 is 23:59 in Brussels: still Saturday.
    assert workdays.local_day(datetime(2027, 3, 27, 22, 59, tzinfo=UTC)) == date(2027, 3, 27)
    # Thursday 25 at 23:30 UTC is Friday in Brussels: one day later than Thursday evening.
    assert OPEN.due_day(datetime(2027, 3, 25, 23, 30, tzinfo=UTC), 3) == date(2027, 4, 1)


def test_a_closing_week_and_the_national_holiday() -> None:
    assert not SUMMER.is_working_day(date(2027, 7, 21))
    assert not OPEN.is_working_day(date(2027, 7, 21))  # 21 July is a public holiday anyway
    assert OPEN.is_working_day(date(2027, 7, 20))
    assert not SUMMER.is_working_day(date(2027, 7, 20))
    # Friday 16 July: without the closing, Monday 19, Tuesday 20, Thursday 22.
    assert OPEN.due_day(at(2027, 7, 16, 18), 3) == date(2027, 7, 22)
    # With it: Monday 26, Tuesday 27, Wednesday 28.
    assert SUMMER.due_day(at(2027, 7, 16, 18), 3) == date(2027, 7, 28)
    # During the closing, a message waits for the reopening.
    assert SUMMER.due_day(at(2027, 7, 21, 10), 2) == date(2027, 7, 27)
    assert SUMMER.reopens_on(date(2027, 7, 21)) == date(2027, 7, 26)
    assert SUMMER.reopens_on(date(2027, 7, 26)) is None
    assert SUMMER.working_days_between(date(2027, 7, 16), date(2027, 7, 28)) == 3
    assert OPEN.working_days_between(date(2027, 7, 16), date(2027, 7, 28)) == 7


def test_across_the_end_of_the_year() -> None:
    # Thursday 23 December 2027: Friday 24 (1), Christmas is a Saturday, Monday 27 (2),
    # Tuesday 28 (3).
    assert OPEN.due_day(at(2027, 12, 23, 17), 3) == date(2027, 12, 28)
    # Thursday 30 December 2027: Friday 31 (1), 1 January 2028 is a Saturday, Monday 3 (2).
    assert OPEN.due_day(at(2027, 12, 30, 17), 2) == date(2028, 1, 3)
    # 2026: Christmas on Friday, New Year on Friday. Thursday 24 December: Monday 28 (1) …
    assert OPEN.due_day(at(2026, 12, 24, 9), 5) == date(2027, 1, 4)
    assert OPEN.working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 5


def test_the_order_of_a_list_urgent_then_late() -> None:
    late = workdays.due(OPEN, at(2027, 3, 26), 3, at(2027, 4, 2))
    fine = workdays.due(OPEN, at(2027, 3, 26), 3, at(2027, 3, 31))
    assert late.late and not fine.late
    keys = {
        "urgent": workdays.inbox_order(True, fine),
        "late": workdays.inbox_order(False, late),
        "plain": workdays.inbox_order(False, fine),
    }
    assert sorted(keys, key=keys.__getitem__) == ["urgent", "late", "plain"]


@ON_DB
async def test_an_admin_sets_closing_days_for_her_service_only(db: str) -> None:
    service = await factories.service()
    other = await factories.service("AMO Autre")
    admin = await factories.staff("admin", Role.ADMIN, service_=service)
    other_admin = await factories.staff("autre", Role.ADMIN, service_=other)
    worker = await factories.staff("amina", service_=service)
    now = at(2027, 3, 1)

    closing = await workdays.add_closing(admin, "2027-07-19", "2027-07-23", "Été", now)
    assert await workdays.coming_closings(admin, now) == [closing]
    assert await workdays.coming_closings(other_admin, now) == []
    calendar = await workdays.calendar_of(service.id, date(2027, 1, 1))
    assert calendar.closed == ((date(2027, 7, 19), date(2027, 7, 23)),)
    assert (await workdays.calendar_of(other.id, date(2027, 1, 1))).closed == ()

    for wrong, field in [
        (("2027-02-28", "2027-03-02"), "first_day"),  # before today
        (("2027-07-23", "2027-07-19"), "last_day"),  # the wrong way round
        (("2027-07-01", "2027-09-30"), "last_day"),  # longer than 60 days
        (("19/07/2027", "2027-07-23"), "first_day"),  # not the field's format
        (("2027-02-30", "2027-03-02"), "first_day"),  # a day that does not exist
        (("2027-W29-1", "2027-07-23"), "first_day"),  # ISO week: too loose
        (("", "2027-07-23"), "first_day"),
    ]:
        with pytest.raises(Invalid) as refused:
            await workdays.add_closing(admin, *wrong, "x", now)
        assert refused.value.field == field
    with pytest.raises(Invalid):
        await workdays.add_closing(admin, "2027-07-19", "2027-07-23", "x" * 81, now)
    for stranger in (worker, await factories.operator()):
        with pytest.raises(NotFound):
            await workdays.add_closing(stranger, "2027-07-19", "2027-07-23", "", now)
    with pytest.raises(NotFound):
        await workdays.remove_closing(other_admin, closing.id, now)
    # Once started, a closing stays: past days are what they were.
    with pytest.raises(Invalid):
        await workdays.remove_closing(admin, closing.id, at(2027, 7, 19, 8))
    assert await ClosingPeriod.filter(removed_at__isnull=True).count() == 1

    await workdays.remove_closing(admin, closing.id, now)
    kept = await ClosingPeriod.get(id=closing.id)
    assert kept.removed_by_id == admin.id and kept.removed_at == now
    assert await workdays.coming_closings(admin, now) == []
    assert (await workdays.calendar_of(service.id, date(2027, 1, 1))).closed == ()


@ON_DB
async def test_a_message_from_her_waits_for_a_reply_in_working_days(db: str) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    dossiers = []
    for number in range(3):
        subject = await factories.youth(f"young{number}", f"Jeune {number}")
        dossiers.append(await factories.followed_dossier(amina, subject, service))
    await ClosingPeriod.create(
        service_id=service.id,
        first_day=date(2027, 7, 19),
        last_day=date(2027, 7, 23),
        created_at=at(2027, 1, 1),
    )
    # Dossier 0: she wrote on Friday 16 July, nobody answered. Dossier 1: she wrote, Amina
    # answered. Dossier 2: Amina wrote last.
    first, second, third = dossiers
    for dossier in dossiers:
        await dossier.fetch_related("subject")
    await messages.send_message(first.subject, first.reference, "Tu es là ?")
    await Message.filter(dossier_id=first.id).update(created_at=at(2027, 7, 16, 18))
    await messages.send_message(second.subject, second.reference, "Allô ?")
    await Message.filter(dossier_id=second.id).update(created_at=at(2027, 7, 16, 9))
    await messages.send_message(amina, second.reference, "Oui.")
    await Message.filter(dossier_id=second.id, author_id=amina.id).update(
        created_at=at(2027, 7, 16, 10)
    )
    await messages.send_message(amina, third.reference, "Bonjour.")

    with count_queries() as counter:
        unanswered = await workdays.unanswered_messages(dossiers, 2, at(2027, 7, 27, 12))
    assert counter.count == 2
    assert set(unanswered) == {first.id}
    # Monday 26, Tuesday 27 (the closing week and 21 July do not count).
    assert unanswered[first.id].due.day == date(2027, 7, 27)
    assert not unanswered[first.id].due.late
    later = await workdays.unanswered_messages(dossiers, 2, at(2027, 7, 28, 0, 1))
    assert later[first.id].due.late


@ON_DB
async def test_the_demo_service_closes_a_week_next_summer(db: str) -> None:
    assert demo.summer_week(date(2026, 12, 7)) == (date(2027, 7, 19), date(2027, 7, 23))
    assert demo.summer_week(date(2027, 7, 1)) == (date(2028, 7, 17), date(2028, 7, 21))
    assert await demo.seed_demo(date(2026, 12, 7))
    closing = await ClosingPeriod.get().prefetch_related("service")
    assert closing.service.name.startswith("AMO Le Passage")
    assert (closing.first_day, closing.last_day) == (date(2027, 7, 19), date(2027, 7, 23))
