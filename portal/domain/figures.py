"""The service's anonymous activity figures: counts for the subsidising authority, nobody in them.

Only counts leave this module, already protected: a count that could point at a person is
replaced by a mark before any page, chart or export sees it. Nothing is read from what a
dossier holds (no words, no names, no references): erased dossiers count like the others,
since only their content was destroyed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum

from tortoise import timezone
from tortoise.expressions import Q
from tortoise.functions import Count

from portal.domain import workdays
from portal.domain.errors import Invalid, NotFound
from portal.domain.journal import Event
from portal.i18n import BRUSSELS
from portal.i18n import lazy as _l
from portal.models import (
    Action,
    ActionKind,
    ActionStatus,
    Asker,
    Consent,
    JournalEntry,
    Person,
    Request,
    Role,
    Sector,
    Service,
    Theme,
)

# --- Small cells ---------------------------------------------------------------------------------
#
# A count under 5 could point at a person ("the one 12-year-old who asked about the law in
# March"), so it is never shown or exported: it reads "< 5". So does 0, so that an empty row
# cannot be told from a row of one or two.
#
# Totals. A table whose rows add up to a population (the requests, the steps done, the consents,
# the endings) shows that total, because hiding it would not protect anything: the requests'
# total is the sum of the months as soon as no month is small, so it has to be taken as known.
# Knowing it, one hidden row is the total minus the rows shown. So once a row of such a table is
# hidden, more rows are hidden (marked "hidden": they hold 5 or more) until arithmetic on what is
# shown tells nothing beyond "< 5" about any small row:
#   - either the hidden rows hold nobody at all (then hiding them hides nothing), or
#   - at least one hidden row holds 5 or more, and the total minus the rows shown, minus 5 for
#     each such hidden row, still leaves at least 4: every small row could hold 0, and could
#     hold 4. The largest rows are hidden first, so someone who knows this rule can only tell
#     that a "hidden" row is at least as large as every row shown; that bound is used instead of
#     5 when larger, so it cannot narrow a small row either. (Hiding the smallest ones first
#     would tell them a hidden row is at most the smallest row shown, which on ties pins a small
#     row to its exact value.)
# When hiding every row of a table is still not enough (few people in all), the total is hidden
# too, and so is every table of that population: any table left whole would give the total back.
# Themes are not such a table (one request can name several) and show no total: the small-cell
# rule is all they need. Neither are the erasures, a count of their own.
# Not covered: two overlapping periods can be subtracted from each other. Send the authority one
# period (a calendar year, say), and read the others only for yourself.
SMALL = 5
MAX_MONTHS = 36
MONTH_RE = re.compile(r"(\d{4})-(\d{1,2})")


class Mark(StrEnum):
    SHOWN = "shown"
    SMALL = "small"  # under 5: reads "< 5"
    HIDDEN = "hidden"  # 5 or more, hidden so that a small row cannot be worked out


@dataclass(frozen=True)
class Cell:
    """One figure as it may be shown: its value only when ``mark`` is ``SHOWN``."""

    value: int | None
    mark: Mark


@dataclass(frozen=True)
class Row:
    key: str
    cell: Cell


@dataclass(frozen=True)
class Table:
    """A figure's rows; ``total`` is None for rows that do not add up (themes)."""

    key: str
    rows: tuple[Row, ...]
    total: Cell | None


def _small_or_shown(count: int) -> Cell:
    return Cell(count, Mark.SHOWN) if count >= SMALL else Cell(None, Mark.SMALL)


def _concealed(count: int) -> Cell:
    return Cell(None, Mark.SMALL) if count < SMALL else Cell(None, Mark.HIDDEN)


def _subtraction_proof(counts: Sequence[int], hidden: Sequence[bool]) -> bool:
    """Whether the total minus the rows shown says nothing more than "< 5" of a small row."""
    pairs = list(zip(counts, hidden, strict=True))
    held = sum(count for count, is_hidden in pairs if is_hidden)
    if held == 0:
        return True
    large = sum(1 for count, is_hidden in pairs if is_hidden and count >= SMALL)
    if large == 0:
        return False
    largest_shown = max((count for count, is_hidden in pairs if not is_hidden), default=SMALL)
    return held - large * max(SMALL, largest_shown) >= SMALL - 1


def protect_partition(counts: Sequence[int]) -> list[Cell] | None:
    """The rows of a table whose total is known; None when even hiding them all is not enough."""
    hidden = [count < SMALL for count in counts]
    while not _subtraction_proof(counts, hidden):
        shown = [index for index, is_hidden in enumerate(hidden) if not is_hidden]
        if not shown:
            return None
        # The largest first (the first of equals): see the comment at the top.
        hidden[max(shown, key=lambda index: counts[index])] = True
    return [
        _concealed(count) if is_hidden else Cell(count, Mark.SHOWN)
        for count, is_hidden in zip(counts, hidden, strict=True)
    ]


def protect_population(
    total: int, partitions: Sequence[Sequence[int]]
) -> tuple[Cell, list[list[Cell]]]:
    """A population's total and the tables that split it, protected together."""
    if total < SMALL:
        return Cell(None, Mark.SMALL), [[_small_or_shown(c) for c in p] for p in partitions]
    protected = [protect_partition(partition) for partition in partitions]
    if all(cells is not None for cells in protected):
        return Cell(total, Mark.SHOWN), [cells for cells in protected if cells is not None]
    return Cell(None, Mark.HIDDEN), [[_concealed(c) for c in p] for p in partitions]


# --- The period ----------------------------------------------------------------------------------


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    """The first moment of a month in Brussels, in UTC (the database's time)."""
    return datetime(month.year, month.month, 1, tzinfo=BRUSSELS).astimezone(UTC)


def this_month() -> date:
    return timezone.now().astimezone(BRUSSELS).date().replace(day=1)


@dataclass(frozen=True)
class Period:
    """Whole months, from ``first`` to ``last`` included (each the first day of its month)."""

    first: date
    last: date

    @property
    def months(self) -> list[date]:
        count = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month + 1
        return [add_months(self.first, i) for i in range(count)]

    @property
    def start(self) -> datetime:
        return month_start(self.first)

    @property
    def end(self) -> datetime:
        return month_start(add_months(self.last, 1))

    @staticmethod
    def default(today_month: date | None = None) -> Period:
        last = today_month or this_month()
        return Period(add_months(last, -11), last)


def _parse_month(value: str, field_name: str) -> date:
    match = MONTH_RE.fullmatch(value.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise Invalid(field_name, _l("Write the month like this: 2026-03."))
    return date(int(match.group(1)), int(match.group(2)), 1)


def parse_period(first: str, last: str, today_month: date | None = None) -> Period:
    """The months asked for; an empty field takes the default (the last 12 months)."""
    current = today_month or this_month()
    end = _parse_month(last, "to") if last.strip() else current
    start = _parse_month(first, "from") if first.strip() else add_months(end, -11)
    if end > current:
        raise Invalid("to", _l("The last month cannot be after this month."))
    if start > end:
        raise Invalid("from", _l("The first month cannot be after the last one."))
    period = Period(start, end)
    if len(period.months) > MAX_MONTHS:
        raise Invalid("from", _l("Choose at most 36 months."))
    return period


# --- The figures ---------------------------------------------------------------------------------

ASKERS = [asker.value for asker in Asker]
AGE_BANDS = ["under_12", "12_14", "15_17", "18_21"]
UNKNOWN_AGE = "unknown"
ANSWERS = ["within", "later", "waiting", "ended_first"]
ENDINGS = ["ended", "closed"]
ENDING_EVENTS = {Event.DOSSIER_ENDED: "ended", Event.DOSSIER_CLOSED: "closed"}
ERASED_EVENT = Event.DOSSIER_ERASED
# A waiting request is answered when a worker takes it, or gives it to a colleague (which opens
# it as well); a subject may also end it before anyone did.
ANSWER_EVENTS = (Event.DOSSIER_TAKEN, Event.DOSSIER_ASSIGNED)


def age_band(birth_year: int | None, birth_month: int | None, month: date) -> str:
    """The age band of a young person in a month, knowing only the month of birth.

    In their birth month they are taken as not yet a year older, as for the age limit.
    """
    if birth_year is None or birth_month is None:
        return UNKNOWN_AGE
    age = month.year - birth_year - (1 if month.month <= birth_month else 0)
    if age < 12:
        return "under_12"
    if age < 15:
        return "12_14"
    if age < 18:
        return "15_17"
    return "18_21"


@dataclass(frozen=True)
class Figures:
    """What the figures page shows and the export holds: protected counts only."""

    period: Period
    service_name: str
    response_days: int
    requests: Cell
    months: Table
    themes: Table
    askers: Table
    ages: Table
    answers: Table
    actions: Table
    consents: Table
    endings: Table
    erasures: Table

    @property
    def tables(self) -> list[Table]:
        return [
            self.months,
            self.themes,
            self.askers,
            self.ages,
            self.answers,
            self.actions,
            self.consents,
            self.endings,
            self.erasures,
        ]


def _table(key: str, keys: Sequence[str], cells: Sequence[Cell], total: Cell | None) -> Table:
    return Table(key, tuple(Row(k, c) for k, c in zip(keys, cells, strict=True)), total)


def _population(key: str, counts: dict[str, int]) -> Table:
    """A table whose rows add up to its own population (steps done, consents, endings)."""
    keys = list(counts)
    total, (cells,) = protect_population(sum(counts.values()), [list(counts.values())])
    return _table(key, keys, cells, total)


async def service_figures(admin: Person, period: Period) -> Figures:
    """The admin's own service's figures for a period, in a fixed number of queries."""
    if admin.role is not Role.ADMIN or admin.service_id is None:
        raise NotFound("admins of a service only")
    service = await Service.get(id=admin.service_id)
    months = period.months
    start = period.start
    # Everything counted up to one moment, so that the tables of the requests add up to the
    # same total even if someone asks for help while the queries run.
    until = min(period.end, timezone.now())
    bounds = [(month_start(m), min(month_start(add_months(m, 1)), until)) for m in months]
    in_period = {"created_at__gte": start, "created_at__lt": until}

    # 1. Requests by month, by who asked and by birth month of the young person: one row per
    # distinct (asker, birth month), which does not grow with the number of requests.
    columns = {
        f"m{index}": Count("id", _filter=Q(created_at__gte=low, created_at__lt=high))
        for index, (low, high) in enumerate(bounds)
    }
    births = ("concerned_birth_year", "concerned_birth_month")
    subject_births = ("dossier__subject__birth_year", "dossier__subject__birth_month")
    grouped = (
        await Request.filter(dossier__service_id=service.id, **in_period)
        .annotate(**columns)
        .group_by("asker", *births, *subject_births)
        .values("asker", *births, *subject_births, *columns)
    )
    by_month = dict.fromkeys(range(len(months)), 0)
    by_asker = dict.fromkeys(ASKERS, 0)
    by_age = dict.fromkeys(AGE_BANDS, 0)
    for group in grouped:
        asker = str(group["asker"].value if isinstance(group["asker"], Asker) else group["asker"])
        # A young person's own birth month; for a parent's request, the young person's.
        year, month_of_birth = (
            (group[births[0]], group[births[1]])
            if asker == Asker.RELATIVE.value
            else (group[subject_births[0]], group[subject_births[1]])
        )
        for index, month in enumerate(months):
            count = int(group[f"m{index}"] or 0)
            if not count:
                continue
            by_month[index] += count
            by_asker[asker] = by_asker.get(asker, 0) + count
            band = age_band(year, month_of_birth, month)
            by_age[band] = by_age.get(band, 0) + count

    # 2. Themes: grouped by the list each request chose, a bounded number of combinations.
    by_theme = dict.fromkeys([theme.value for theme in Theme], 0)
    for chosen, count in await (
        Request.filter(dossier__service_id=service.id, **in_period)
        .annotate(n=Count("id"))
        .group_by("themes")
        .values_list("themes", "n")
    ):
        for theme in set(chosen or []):
            if theme in by_theme:
                by_theme[theme] += int(count)

    # 3. Time to a first answer, per request: working days need the calendar, so this reads two
    # moments per request of the period (a few hundred a year) and the answering events.
    by_answer = await _answers(service, start, until)

    # 4-6. Steps done, consents given, endings: counted and grouped by the database.
    by_kind = dict.fromkeys([kind.value for kind in ActionKind], 0)
    for kind, count in await (
        Action.filter(
            dossier__service_id=service.id,
            status=ActionStatus.DONE,
            done_at__gte=start,
            done_at__lt=until,
        )
        .annotate(n=Count("id"))
        .group_by("kind")
        .values_list("kind", "n")
    ):
        by_kind[str(getattr(kind, "value", kind))] += int(count)
    by_sector = dict.fromkeys([sector.value for sector in Sector], 0)
    for sector, count in await (
        Consent.filter(dossier__service_id=service.id, granted_at__gte=start, granted_at__lt=until)
        .annotate(n=Count("id"))
        .group_by("partner__sector")
        .values_list("partner__sector", "n")
    ):
        by_sector[str(getattr(sector, "value", sector))] += int(count)
    by_ending = dict.fromkeys(ENDINGS, 0)
    erased = 0
    for event, count in await (
        JournalEntry.filter(
            dossier__service_id=service.id,
            event__in=[*ENDING_EVENTS, ERASED_EVENT],
            at__gte=start,
            at__lt=until,
        )
        .annotate(n=Count("id"))
        .group_by("event")
        .values_list("event", "n")
    ):
        if event == ERASED_EVENT:
            erased += int(count)
        else:
            by_ending[ENDING_EVENTS[Event(event)]] += int(count)

    # The requests: one population split four ways, protected together.
    if by_age.get(UNKNOWN_AGE):
        age_keys = [*AGE_BANDS, UNKNOWN_AGE]
    else:
        age_keys = list(AGE_BANDS)
        by_age.pop(UNKNOWN_AGE, None)
    total = sum(by_month.values())
    requests, (month_cells, asker_cells, age_cells, answer_cells) = protect_population(
        total,
        [
            list(by_month.values()),
            [by_asker[k] for k in ASKERS],
            [by_age[k] for k in age_keys],
            [by_answer[k] for k in ANSWERS],
        ],
    )
    return Figures(
        period=period,
        service_name=service.name,
        response_days=service.response_days,
        requests=requests,
        months=_table("months", [m.isoformat()[:7] for m in months], month_cells, requests),
        themes=_table(
            "themes", list(by_theme), [_small_or_shown(c) for c in by_theme.values()], None
        ),
        askers=_table("askers", ASKERS, asker_cells, requests),
        ages=_table("ages", age_keys, age_cells, requests),
        answers=_table("answers", ANSWERS, answer_cells, requests),
        actions=_population("actions", by_kind),
        consents=_population("consents", by_sector),
        endings=_population("endings", by_ending),
        erasures=_table("erasures", ["erased"], [_small_or_shown(erased)], None),
    )


async def _answers(service: Service, start: datetime, until: datetime) -> dict[str, int]:
    """Each request of the period: answered within the target, later, not yet, or ended first."""
    asked = await Request.filter(
        dossier__service_id=service.id, created_at__gte=start, created_at__lt=until
    ).values_list("dossier_id", "created_at")
    events = (
        await JournalEntry.filter(
            dossier__service_id=service.id,
            event__in=[*ANSWER_EVENTS, Event.DOSSIER_ENDED],
            at__gte=start,
        )
        .order_by("at", "id")
        .values_list("dossier_id", "event", "at")
    )
    by_dossier: dict[int, list[tuple[datetime, str]]] = {}
    for dossier_id, event, at in events:
        by_dossier.setdefault(int(dossier_id), []).append((at, str(event)))
    counts = dict.fromkeys(ANSWERS, 0)
    # The service's working days: its closing days and public holidays do not count.
    calendar = await workdays.calendar_of(service.id, workdays.local_day(start))
    for dossier_id, created_at in asked:
        # The first answer or ending after the request: a request made when coming back is
        # answered by the take that follows it, not by the one of the first time.
        first = next((e for e in by_dossier.get(int(dossier_id), []) if e[0] >= created_at), None)
        if first is None:
            counts["waiting"] += 1
        elif first[1] == Event.DOSSIER_ENDED:
            counts["ended_first"] += 1
        else:
            waited = calendar.working_days_between(
                workdays.local_day(created_at), workdays.local_day(first[0])
            )
            counts["within" if waited <= service.response_days else "later"] += 1
    return counts
