"""The service's figures: the right counts, and none that could single out a person."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, timedelta

import pytest
from tortoise import timezone

from portal.domain import ending, figures
from portal.domain.dossiers import assign
from portal.domain.errors import Invalid, NotFound
from portal.domain.figures import SMALL, Cell, Figures, Mark, Table
from portal.models import Asker, ClosingPeriod, Dossier, Person, Role, Sector, Service, Theme
from tests import factories
from tests.figures_data import (
    ask,
    ask_many,
    backdate,
    consent_to,
    follow,
    listen,
    subject_of,
)
from tests.helpers import count_queries

# --- What a reader can work out ------------------------------------------------------------------


def reader_range(cells: Sequence[Cell], total: int, index: int) -> range:
    """Every value a "< 5" row could hold, for a reader who has the rows shown and the total.

    They know a small row holds 0 to 4, and (knowing the rule) that a hidden row holds at least
    5 and at least as much as every row shown, since the largest are hidden first.
    """
    shown = [c.value or 0 for c in cells if c.mark is Mark.SHOWN]
    left = total - sum(shown)
    others_small = sum(1 for i, c in enumerate(cells) if c.mark is Mark.SMALL and i != index)
    large = sum(1 for c in cells if c.mark is Mark.HIDDEN)
    floor = max([SMALL, *shown]) if large else 0
    possible = []
    for value in range(SMALL):
        rest = left - value
        # The others: small ones hold 0..4 each, large ones `floor` or more each (no ceiling).
        low = large * floor
        high = others_small * (SMALL - 1) if not large else rest
        if low <= rest <= high:
            possible.append(value)
    return range(min(possible), max(possible) + 1) if possible else range(0)


def assert_nothing_to_work_out(cells: Sequence[Cell], counts: Sequence[int]) -> None:
    """Each small row could hold anything from 0 to 4, unless every hidden row is empty."""
    total = sum(counts)
    hidden_hold = sum(n for n, c in zip(counts, cells, strict=True) if c.mark is not Mark.SHOWN)
    for index, cell in enumerate(cells):
        assert (cell.mark is Mark.SHOWN) == (cell.value is not None)
        if cell.mark is Mark.SHOWN:
            assert cell.value == counts[index] >= SMALL
            continue
        if cell.mark is Mark.HIDDEN:
            assert counts[index] >= SMALL
            continue
        assert counts[index] < SMALL
        if hidden_hold:
            assert reader_range(cells, total, index) == range(SMALL), (counts, cells)


def marks(cells: Sequence[Cell]) -> list[str]:
    return [str(c.value) if c.mark is Mark.SHOWN else c.mark.value for c in cells]


def test_a_count_under_5_is_never_shown() -> None:
    cells = figures.protect_partition([0, 4, 12, 0, 3, 25])
    assert cells is not None
    assert [c.mark for c in cells][:2] == [Mark.SMALL, Mark.SMALL]
    assert all(c.value is None or c.value >= SMALL for c in cells)


def test_one_small_row_is_not_given_away_by_the_total() -> None:
    # 12 young people and 3 parents: with the total (15) shown, "12" would give the 3 away.
    cells = figures.protect_partition([12, 3])
    assert cells is not None and marks(cells) == ["hidden", "small"]
    # The largest row is hidden with it, and what is left still leaves 0 to 4 possible.
    cells = figures.protect_partition([20, 10, 3])
    assert cells is not None and marks(cells) == ["hidden", "10", "small"]
    assert_nothing_to_work_out(cells, [20, 10, 3])


def test_rows_that_hold_nobody_need_no_cover() -> None:
    cells = figures.protect_partition([15, 0, 0, 7])
    assert cells is not None and marks(cells) == ["15", "small", "small", "7"]


def test_equal_rows_do_not_pin_a_small_one() -> None:
    # Had the smallest row been hidden with the 4 (a 6, of two), a reader who knows the rule
    # would know it holds at most 6 (the other one, shown), so the small row at least 10 - 6.
    # The largest goes instead, and what it leaves still allows 0 to 4.
    for counts in ([4, 6, 6], [4, 6, 6, 30], [1, 5, 5, 5, 20], [3, 9, 9, 9]):
        cells = figures.protect_partition(counts)
        assert cells is not None
        assert_nothing_to_work_out(cells, counts)


def test_too_few_in_all_hides_the_total_and_every_table() -> None:
    total, tables = figures.protect_population(7, [[2, 5], [7, 0]])
    assert total.mark is Mark.HIDDEN
    assert [marks(t) for t in tables] == [["small", "hidden"], ["hidden", "small"]]
    total, tables = figures.protect_population(3, [[2, 1], [3, 0]])
    assert total.mark is Mark.SMALL and all(c.mark is Mark.SMALL for t in tables for c in t)


def test_no_table_ever_lets_a_small_row_be_worked_out() -> None:
    chance = random.Random(2026)
    for _ in range(3000):
        size = chance.randint(1, 12)
        counts = [chance.choice([0, 0, 1, 2, 3, 4, 5, 5, 6, 7, 9, 12, 20]) for _ in range(size)]
        cells = figures.protect_partition(counts)
        if cells is None:
            # Then the whole population is hidden, its total with it.
            total, (hidden,) = figures.protect_population(sum(counts), [counts])
            assert total.mark is not Mark.SHOWN
            assert all(c.mark is not Mark.SHOWN for c in hidden)
            continue
        assert_nothing_to_work_out(cells, counts)


# --- The period ----------------------------------------------------------------------------------


def test_the_period_is_the_last_12_months_by_default() -> None:
    period = figures.parse_period("", "", date(2026, 5, 1))
    assert (period.first, period.last) == (date(2025, 6, 1), date(2026, 5, 1))
    assert len(period.months) == 12
    assert figures.parse_period("2026-01", "2026-03", date(2026, 5, 1)).months == [
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    ]
    # Months start in Brussels: 1 January 00:00 there is 31 December 23:00 UTC.
    assert figures.Period(date(2026, 1, 1), date(2026, 1, 1)).start.hour == 23


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("abc", "", "from"),
        ("2026-13", "", "from"),
        ("", "2026/03", "to"),
        ("2026-04", "2026-02", "from"),
        ("", "2026-06", "to"),
        ("2023-01", "2026-05", "from"),
        ("1999-12", "2000-01", "from"),
    ],
)
def test_a_bad_period_is_refused_with_a_reason(first: str, last: str, field: str) -> None:
    with pytest.raises(Invalid) as refusal:
        figures.parse_period(first, last, date(2026, 5, 1))
    assert refusal.value.field == field and refusal.value.message


def test_the_age_band_counts_the_birth_month_as_not_yet_older() -> None:
    assert figures.age_band(2014, 3, date(2026, 3, 1)) == "under_12"  # 11 until April
    assert figures.age_band(2014, 3, date(2026, 4, 1)) == "12_14"
    assert figures.age_band(2009, 1, date(2026, 2, 1)) == "15_17"
    assert figures.age_band(2005, 1, date(2026, 2, 1)) == "18_21"
    assert figures.age_band(None, None, date(2026, 2, 1)) == "unknown"


# --- The counts ----------------------------------------------------------------------------------


def row(table: Table, key: str) -> Cell:
    return next(r.cell for r in table.rows if r.key == key)


def value(table: Table, key: str) -> int | None:
    cell = row(table, key)
    return cell.value if cell.mark is Mark.SHOWN else None


async def _admin_of(service_name: str = "AMO Test") -> tuple[Service, Person, Person]:
    service = await factories.service(service_name)
    admin = await factories.staff(f"admin{service.id}", Role.ADMIN, service_=service)
    worker = await factories.staff(f"amina{service.id}", service_=service)
    return service, admin, worker


async def _figures(admin: Person) -> Figures:
    return await figures.service_figures(admin, figures.Period.default())


async def test_requests_are_counted_by_month_theme_asker_and_age(db: str) -> None:
    service, admin, worker = await _admin_of()
    young = await ask_many(service, 6, [Theme.SCHOOL], age=16)
    parents = await ask_many(service, 5, [Theme.FAMILY, Theme.SCHOOL], asker=Asker.RELATIVE, age=13)
    await follow(worker, [*young, *parents])
    data = await _figures(admin)
    assert data.requests == Cell(11, Mark.SHOWN)
    assert value(data.months, figures.this_month().isoformat()[:7]) == 11
    assert value(data.themes, "school") == 11 and value(data.themes, "family") == 5
    assert value(data.askers, "youth") == 6 and value(data.askers, "relative") == 5
    # The parents asked about a 12- or 13-year-old: the young person's age, not theirs.
    assert value(data.ages, "15_17") == 6 and value(data.ages, "12_14") == 5
    assert value(data.answers, "within") == 11
    assert data.months.total == data.askers.total == data.ages.total == data.requests


async def test_four_of_a_theme_read_under_5_and_five_read_5(db: str) -> None:
    service, admin, _ = await _admin_of()
    await ask_many(service, 4, [Theme.HOUSING])
    await ask_many(service, 5, [Theme.MONEY])
    data = await _figures(admin)
    assert row(data.themes, "housing") == Cell(None, Mark.SMALL)
    assert row(data.themes, "money") == Cell(5, Mark.SHOWN)
    assert row(data.themes, "legal") == Cell(None, Mark.SMALL)  # none reads "< 5" too


async def test_the_total_does_not_give_a_small_row_away(db: str) -> None:
    service, admin, _ = await _admin_of()
    await ask_many(service, 12, [Theme.SCHOOL])
    await ask_many(service, 3, [Theme.SCHOOL], asker=Asker.RELATIVE)
    data = await _figures(admin)
    assert data.requests == Cell(15, Mark.SHOWN)
    assert row(data.askers, "relative").mark is Mark.SMALL
    assert row(data.askers, "youth").mark is Mark.HIDDEN
    counts = {"youth": 12, "relative": 3}
    assert_nothing_to_work_out([r.cell for r in data.askers.rows], list(counts.values()))
    # No table of the requests shows a number that, with 15, would give the 3 away.
    for table in (data.months, data.askers, data.ages, data.answers):
        shown = [r.cell.value or 0 for r in table.rows if r.cell.mark is Mark.SHOWN]
        hidden = [r for r in table.rows if r.cell.mark is not Mark.SHOWN]
        assert not (len(hidden) == 1 and 0 < 15 - sum(shown) < SMALL)


async def test_another_services_dossiers_are_not_counted(db: str) -> None:
    service, admin, _ = await _admin_of("AMO Namur")
    other, _, other_worker = await _admin_of("AMO Liège")
    await follow(other_worker, await ask_many(other, 7, [Theme.LEGAL]))
    await ask_many(service, 5, [Theme.HEALTH])
    data = await _figures(admin)
    assert data.requests == Cell(5, Mark.SHOWN)
    assert row(data.themes, "legal").mark is Mark.SMALL
    assert value(data.answers, "waiting") == 5


async def test_requests_outside_the_period_are_not_counted(db: str) -> None:
    service, admin, _ = await _admin_of()
    old = await ask_many(service, 6, [Theme.SCHOOL])
    for dossier in old:
        await backdate(dossier, 400)
    await ask_many(service, 5, [Theme.MONEY])
    data = await _figures(admin)
    assert data.requests == Cell(5, Mark.SHOWN)
    assert row(data.themes, "school").mark is Mark.SMALL


async def test_time_to_a_first_answer_against_the_target(db: str) -> None:
    service, admin, worker = await _admin_of()
    late = await ask_many(service, 5, [Theme.SCHOOL])
    for dossier in late:
        await backdate(dossier, 14)  # ten working days at least, the target is 3
    await follow(worker, late)
    await follow(worker, await ask_many(service, 6, [Theme.SCHOOL]))
    await ask_many(service, 7, [Theme.SCHOOL])  # nobody took them yet
    gave_up = await ask_many(service, 5, [Theme.SCHOOL])
    for dossier in gave_up:
        await ending.end_help(await subject_of(dossier), dossier.reference)
    data = await _figures(admin)
    assert value(data.answers, "later") == 5
    assert value(data.answers, "within") == 6
    assert value(data.answers, "waiting") == 7
    assert value(data.answers, "ended_first") == 5
    assert data.answers.total == Cell(23, Mark.SHOWN)


async def test_the_time_to_answer_skips_the_services_closing_days(db: str) -> None:
    service, admin, worker = await _admin_of()
    asked = await ask_many(service, 5, [Theme.SCHOOL])
    for dossier in asked:
        await backdate(dossier, 14)  # eight working days at least, without the closing
    await follow(worker, asked)
    today = timezone.now().date()
    # The service was closed every day since: at most today counts.
    await ClosingPeriod.create(
        service_id=service.id,
        first_day=today - timedelta(days=13),
        last_day=today - timedelta(days=1),
        created_at=timezone.now(),
    )
    data = await _figures(admin)
    assert value(data.answers, "within") == 5


async def test_steps_consents_endings_and_erasures(db: str) -> None:
    service, admin, worker = await _admin_of()
    cpas = await factories.partner("CPAS de Namur")
    followed = await follow(worker, await ask_many(service, 12, [Theme.MONEY]))
    await listen(worker, followed[:6])
    await consent_to(cpas, followed[:7])
    for item in followed[:6]:
        await ending.end_help(item.subject, item.dossier.reference, "Ça va mieux")
    for item in followed[:5]:
        await ending.erase(item.subject, item.dossier.reference)
    silent = followed[6:11]
    for item in silent:
        await Dossier.filter(id=item.dossier.id).update(
            last_activity_at=timezone.now() - timedelta(days=90)
        )
        await ending.close_inactive(worker, item.dossier.reference, "On se reparle ?", 60)
    data = await _figures(admin)
    assert value(data.actions, "listening") == 6
    assert data.actions.total == Cell(6, Mark.SHOWN)
    assert value(data.consents, Sector.CPAS.value) == 7
    assert value(data.endings, "ended") == 6 and value(data.endings, "closed") == 5
    assert data.endings.total == Cell(11, Mark.SHOWN)
    assert row(data.erasures, "erased") == Cell(5, Mark.SHOWN)
    # Erased dossiers still count: only their content was destroyed.
    assert data.requests == Cell(12, Mark.SHOWN)
    assert value(data.themes, "money") == 12


async def test_giving_a_waiting_request_to_a_colleague_answers_it(db: str) -> None:
    service, admin, worker = await _admin_of()
    colleague = await factories.staff("tom", service_=service)
    for dossier in await ask_many(service, 5, [Theme.HEALTH]):
        await assign(worker, dossier.id, colleague.id)
    data = await _figures(admin)
    assert value(data.answers, "within") == 5


async def test_a_return_is_a_request_answered_on_its_own(db: str) -> None:
    from portal.domain.requests import RequestForm

    service, admin, worker = await _admin_of()
    followed = await follow(worker, await ask_many(service, 5, [Theme.FAMILY]))
    for item in followed:
        await ending.end_help(item.subject, item.dossier.reference)
        await ending.reopen(
            item.subject,
            item.dossier.reference,
            RequestForm(asker=Asker.YOUTH, themes=[Theme.FAMILY], words="Je reviens"),
        )
    data = await _figures(admin)
    assert data.requests == Cell(10, Mark.SHOWN)
    assert value(data.answers, "within") == 5 and value(data.answers, "waiting") == 5


async def test_only_an_admin_of_a_service_gets_figures(db: str) -> None:
    _, admin, worker = await _admin_of()
    with pytest.raises(NotFound):
        await figures.service_figures(worker, figures.Period.default())
    admin.service_id = None
    with pytest.raises(NotFound):
        await figures.service_figures(admin, figures.Period.default())


async def test_the_number_of_queries_does_not_grow_with_the_data(db: str) -> None:
    service, admin, worker = await _admin_of()
    cpas = await factories.partner("CPAS")
    first = await follow(worker, await ask_many(service, 2, [Theme.SCHOOL]))
    await listen(worker, first)
    with count_queries() as few:
        await _figures(admin)
    more = await follow(worker, await ask_many(service, 12, [Theme.HOUSING, Theme.MONEY], age=8))
    await ask_many(service, 5, [Theme.OTHER], asker=Asker.RELATIVE, age=20)
    await listen(worker, more)
    await consent_to(cpas, more)
    for item in more[:5]:
        await ending.end_help(item.subject, item.dossier.reference)
    with count_queries() as many:
        await _figures(admin)
    assert many.count == few.count <= 10


async def test_nothing_written_reaches_the_figures(db: str) -> None:
    service, admin, worker = await _admin_of()
    dossier = await ask(service, [Theme.SCHOOL])
    await follow(worker, [dossier])
    data = await _figures(admin)
    text = repr(data)
    person = await subject_of(dossier)
    for secret in (dossier.reference, person.display_name, person.login or "-", "peur"):
        assert secret not in text
