"""Working days as a service has them: Monday to Friday, minus Belgian public holidays, minus
the service's own closing days; the answer and reply targets counted in them.

The rule of a deadline: a target of ``n`` working days starting at a moment counts the working
days *after* that moment's day (in Brussels), whatever time it was; it is due at the end of the
``n``-th one. A request sent on Friday 26 March 2027 in the evening, with 3 working days, skips
the week-end and Easter Monday: Tuesday 30 (1), Wednesday 31 (2), due Thursday 1 April; late
from Friday 2 April 00:00 in Brussels. Sent on the Saturday or the Thursday before: the same
count from the day after.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from tortoise.functions import Max

from portal.domain.errors import Invalid, NotFound
from portal.domain.forms import acting_once
from portal.i18n import lazy as _l
from portal.models import (
    ClosingPeriod,
    Dossier,
    DossierStatus,
    Message,
    Person,
    Request,
    Role,
    Service,
)
from portal.text import clean_text

BRUSSELS = ZoneInfo("Europe/Brussels")
# The library's names for the portal's languages.
HOLIDAY_LANGUAGES = {"fr": "fr", "nl": "nl", "en": "en_US"}
# A closing period is a holiday week or a team day, not a way to close a service for months.
LONGEST_CLOSING = 60
LABEL_LENGTH = 80
# A count never walks further than this: a service closed for years is a mistake, not a date.
FURTHEST = 3 * 366
DAY_RE = re.compile(r"\d{4}-\d{2}-\d{2}")


@lru_cache(maxsize=64)
def public_holidays(year: int, language: str = "fr") -> dict[date, str]:
    """Belgium's public holidays of ``year`` with their names (cached: computed once a year)."""
    days = holidays.country_holidays(
        "BE", years=year, language=HOLIDAY_LANGUAGES.get(language, "fr")
    )
    return dict(days.items())


def holiday_name(day: date, language: str = "fr") -> str | None:
    return public_holidays(day.year, language).get(day)


def coming_holidays(today: date, language: str, days: int = 366) -> list[tuple[date, str]]:
    """The public holidays from ``today`` on, for ``days`` days, with their names."""
    end = today + timedelta(days=days)
    found = [
        (day, name)
        for year in range(today.year, end.year + 1)
        for day, name in public_holidays(year, language).items()
        if today <= day < end
    ]
    return sorted(found)


def local_day(moment: datetime) -> date:
    """The day in Brussels of an aware moment (the portal stores UTC)."""
    return moment.astimezone(BRUSSELS).date()


@dataclass(frozen=True)
class Calendar:
    """A service's working days: its closing periods loaded once, the rest computed."""

    closed: tuple[tuple[date, date], ...] = ()

    def closing_day(self, day: date) -> bool:
        return any(first <= day <= last for first, last in self.closed)

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() < 5 and day not in public_holidays(day.year) and not self.closing_day(day)
        )

    def due_day(self, start: datetime, days: int) -> date:
        """The ``days``-th working day after the Brussels day of ``start``."""
        current = local_day(start)
        left = days
        for _step in range(FURTHEST):
            if left <= 0:
                break
            current += timedelta(days=1)
            if self.is_working_day(current):
                left -= 1
        return current

    def deadline(self, start: datetime, days: int) -> datetime:
        """The moment it becomes late: midnight in Brussels after the due day (aware UTC)."""
        after = self.due_day(start, days) + timedelta(days=1)
        return datetime.combine(after, time(0), tzinfo=BRUSSELS).astimezone(ZoneInfo("UTC"))

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to ``end`` included (0 when ``end`` is not later)."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def reopens_on(self, today: date) -> date | None:
        """When ``today`` falls in a closing period: the next working day; else None."""
        if not self.closing_day(today):
            return None
        current = today
        for _step in range(FURTHEST):
            current += timedelta(days=1)
            if self.is_working_day(current):
                return current
        return None


# The functions the rest of the portal calls, on a calendar loaded once.


def is_working_day(calendar: Calendar, day: date) -> bool:
    return calendar.is_working_day(day)


def add_working_days(calendar: Calendar, start: datetime, days: int) -> datetime:
    """The deadline of a target of ``days`` working days from ``start`` (see the module)."""
    return calendar.deadline(start, days)


def working_days_between(calendar: Calendar, start: date, end: date) -> int:
    return calendar.working_days_between(start, end)


async def calendars_of(service_ids: Iterable[int], since: date) -> dict[int, Calendar]:
    """The calendars of these services, with one query for all their closing periods."""
    wanted = set(service_ids)
    periods: dict[int, list[tuple[date, date]]] = {number: [] for number in wanted}
    if wanted:
        rows = await ClosingPeriod.filter(
            removed_at__isnull=True, service_id__in=list(wanted), last_day__gte=since
        ).values_list("service_id", "first_day", "last_day")
        for service_id, first, last in rows:
            periods[service_id].append((first, last))
    return {number: Calendar(tuple(sorted(found))) for number, found in periods.items()}


async def calendar_of(service_id: int, since: date) -> Calendar:
    return (await calendars_of([service_id], since))[service_id]


# --- Targets and what is late -------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A target: the day it is due (Brussels) and whether it is already late at ``now``."""

    day: date
    at: datetime
    late: bool


def due(calendar: Calendar, start: datetime, days: int, now: datetime) -> Due:
    at = calendar.deadline(start, days)
    return Due(day=calendar.due_day(start, days), at=at, late=now >= at)


def inbox_order(urgent: bool, late: Due | None) -> tuple[bool, bool]:
    """How the worker's lists sort (stable, so the oldest stay first within a group): urgent
    requests first, then what is late, then the rest."""
    return (not urgent, not (late is not None and late.late))


@dataclass
class Unanswered:
    """A message from the subject that no worker answered yet, and when an answer is due."""

    since: datetime
    due: Due


async def unanswered_messages(
    dossiers: Sequence[Dossier], reply_days: int, now: datetime
) -> dict[int, Unanswered]:
    """For each dossier whose subject wrote last: since when, and the reply's due date.

    Two queries whatever the number of dossiers: the latest message per dossier and author,
    and the services' closing periods.
    """
    if not dossiers:
        return {}
    rows = (
        await Message.filter(dossier_id__in=[d.id for d in dossiers])
        .annotate(latest=Max("created_at"))
        .group_by("dossier_id", "author_id")
        .values("dossier_id", "author_id", "latest")
    )
    by_id = {d.id: d for d in dossiers}
    theirs: dict[int, datetime] = {}
    ours: dict[int, datetime] = {}
    for row in rows:
        latest = _moment(row["latest"])
        dossier = by_id[row["dossier_id"]]
        into = theirs if row["author_id"] == dossier.subject_id else ours
        if row["dossier_id"] not in into or into[row["dossier_id"]] < latest:
            into[row["dossier_id"]] = latest
    waiting = {
        number: since
        for number, since in theirs.items()
        if number not in ours or ours[number] < since
    }
    if not waiting:
        return {}
    earliest = min(local_day(since) for since in waiting.values())
    calendars = await calendars_of({by_id[n].service_id for n in waiting}, earliest)
    return {
        number: Unanswered(
            since=since, due=due(calendars[by_id[number].service_id], since, reply_days, now)
        )
        for number, since in waiting.items()
    }


def _moment(value: object) -> datetime:
    """An aggregate's datetime: SQLite hands back text, PostgreSQL a datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment


def reply_order(dossier: Dossier, unanswered: dict[int, Unanswered]) -> tuple[bool, bool]:
    """A worker's own dossiers: late replies first, then the other unanswered, then the rest."""
    waiting = unanswered.get(dossier.id)
    return (not (waiting is not None and waiting.due.late), waiting is None)


# --- The admin's closing days --------------------------------------------------------------------


def _require_admin(person: Person) -> int:
    if person.role is not Role.ADMIN or person.service_id is None:
        raise NotFound("admins only")
    return person.service_id


def parse_day(value: str, name: str) -> date:
    """A day written YYYY-MM-DD (what a date field sends), nothing looser."""
    value = value.strip()
    if not DAY_RE.fullmatch(value):
        raise Invalid(name, _l("Write the date like this: 2027-07-19."))
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(name, _l("This date does not exist.")) from None


async def add_closing(
    admin: Person,
    first_day: str,
    last_day: str,
    label: str,
    now: datetime,
    *,
    form_key: str | None = None,
) -> ClosingPeriod:
    """The admin closes her service for some days: from today on, at most 60 days at once."""
    service_id = _require_admin(admin)
    first = parse_day(first_day, "first_day")
    last = parse_day(last_day, "last_day")
    today = local_day(now)
    if first < today:
        raise Invalid("first_day", _l("The first day cannot be in the past."))
    if last < first:
        raise Invalid("last_day", _l("The last day comes on or after the first day."))
    if (last - first).days + 1 > LONGEST_CLOSING:
        raise Invalid("last_day", _l("A closing lasts at most 60 days."))
    cleaned = clean_text(label)
    if len(cleaned) > LABEL_LENGTH:
        raise Invalid("label", _l("At most 80 characters."))
    async with acting_once(form_key):
        return await ClosingPeriod.create(
            service_id=service_id,
            first_day=first,
            last_day=last,
            label=cleaned,
            created_by_id=admin.id,
            created_at=now,
        )


async def coming_closings(admin: Person, now: datetime) -> list[ClosingPeriod]:
    """The service's closings that are not over yet, the nearest first."""
    service_id = _require_admin(admin)
    return (
        await ClosingPeriod.filter(
            service_id=service_id, removed_at__isnull=True, last_day__gte=local_day(now)
        )
        .order_by("first_day", "id")
        .all()
    )


async def remove_closing(
    admin: Person, closing_id: int, now: datetime, *, form_key: str | None = None
) -> ClosingPeriod:
    """Only a closing of her own service that has not started: past days stay as they were.

    The form's key is checked first, so a repeat gets the first answer, not a "not found".
    """
    service_id = _require_admin(admin)
    async with acting_once(form_key):
        closing = (
            await ClosingPeriod.select_for_update()
            .filter(id=closing_id, service_id=service_id, removed_at__isnull=True)
            .first()
        )
        if closing is None:
            raise NotFound("closing")
        if closing.first_day <= local_day(now):
            raise Invalid("closing", _l("A closing that has started cannot be removed."))
        closing.removed_at = now
        closing.removed_by_id = admin.id
        await closing.save(update_fields=["removed_at", "removed_by_id"])
    return closing


# --- What the young person or parent is told ------------------------------------------------------


@dataclass(frozen=True)
class AnswerTarget:
    """By when someone answers a waiting request, and whether the service is closed today."""

    days: int
    due: Due
    reopens_on: date | None


async def answer_target(dossier: Dossier, now: datetime) -> AnswerTarget | None:
    """For a waiting request: its latest asking (a return counts from the return) plus the
    service's target, in its working days. Three queries."""
    if dossier.status is not DossierStatus.WAITING:
        return None
    asked = await Request.filter(dossier_id=dossier.id).order_by("-id").first()
    service = await Service.get(id=dossier.service_id)
    start = asked.created_at if asked is not None else dossier.created_at
    calendar = await calendar_of(service.id, min(local_day(start), local_day(now)))
    return AnswerTarget(
        days=service.response_days,
        due=due(calendar, start, service.response_days, now),
        reopens_on=calendar.reopens_on(local_day(now)),
    )
