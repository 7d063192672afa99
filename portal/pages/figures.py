"""The service's anonymous figures for admins: a page with charts and tables, and a CSV export."""

from __future__ import annotations

import csv
import io
import textwrap
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.domain import figures as rules
from portal.domain.errors import Invalid
from portal.i18n import _, current_language
from portal.labels import kind_name, sector_name, theme_name
from portal.models import Role
from portal.pages.common import person_of, require
from portal.templating import render

# The chart's drawing units: 320 wide, as many CSS pixels on a 360 px phone.
CHART_WIDTH = 320
BAR_SPACE = 250
ROW_HEIGHT = 46
# A label longer than this wraps onto more lines of the chart (a letter is about 8 units wide
# at its 14-unit size): on a narrow screen nothing runs past the chart's edge.
LABEL_LETTERS = 36
LABEL_LINE_HEIGHT = 17
MAX_PARAM = 20


@dataclass(frozen=True)
class Line:
    """One row as read in the table, drawn in the chart and written in the export."""

    key: str
    label: str
    shown: str
    exported: str
    mark: str
    bar: float

    @property
    def label_lines(self) -> list[str]:
        return textwrap.wrap(self.label, LABEL_LETTERS) or [""]

    @property
    def height(self) -> int:
        """Its row in the chart, taller for a label on several lines."""
        return ROW_HEIGHT + (len(self.label_lines) - 1) * LABEL_LINE_HEIGHT


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    note: str
    head: str
    lines: list[Line]
    total: str | None
    total_exported: str | None

    @property
    def chart_height(self) -> int:
        return sum(line.height for line in self.lines) + 4

    @property
    def chart_rows(self) -> list[tuple[int, Line]]:
        """Each line with the top of its row in the chart."""
        rows, top = [], 0
        for line in self.lines:
            rows.append((top, line))
            top += line.height
        return rows


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _month_label(key: str, *, capital: bool = True) -> str:
    month = date(int(key[:4]), int(key[5:7]), 1)
    label = format_date(month, "MMMM y", locale=Locale.parse(current_language()))
    return _capitalised(label) if capital else label


def _label(table: str, key: str) -> str:
    if table == "months":
        return _month_label(key)
    if table == "themes":
        return theme_name(key)
    if table == "actions":
        return _capitalised(kind_name(key))
    if table == "consents":
        return sector_name(key)
    names = {
        "youth": _("A young person"),
        "relative": _("A parent or a relative"),
        "under_12": _("Under 12"),
        "12_14": _("12 to 14"),
        "15_17": _("15 to 17"),
        "18_21": _("18 to 21"),
        "unknown": _("Not known"),
        "within": _("Within the target"),
        "later": _("Later than the target"),
        "waiting": _("Still waiting"),
        "ended_first": _("Ended by the person before an answer"),
        "ended": _("Ended by the person who asked"),
        "closed": _("Closed by a worker after a long silence"),
        "erased": _("Erased, at the person’s request or by the portal"),
    }
    return names.get(key, key)


def _shown(cell: rules.Cell) -> str:
    if cell.mark is rules.Mark.SHOWN and cell.value is not None:
        return format_decimal(cell.value, locale=Locale.parse(current_language()))
    return _("< 5") if cell.mark is rules.Mark.SMALL else _("hidden")


def _exported(cell: rules.Cell) -> str:
    if cell.mark is rules.Mark.SHOWN and cell.value is not None:
        return str(cell.value)
    return _("< 5") if cell.mark is rules.Mark.SMALL else _("hidden")


def _texts(data: rules.Figures) -> dict[str, tuple[str, str, str]]:
    """Each table's title, what to know to read it, and the head of its first column."""
    return {
        "months": (
            _("Requests per month"),
            _("Every request counts, including when someone comes back."),
            _("Month"),
        ),
        "themes": (
            _("Themes"),
            _("A request can name several themes: these rows do not add up to the requests."),
            _("Theme"),
        ),
        "askers": (_("Who asked"), "", _("Who")),
        "ages": (
            _("Age of the young person when asking"),
            _("Also when a parent or a relative asked about them."),
            _("Age"),
        ),
        "answers": (
            _("Time to a first answer"),
            _("Target: a first answer within %(days)s working days.")
            % {"days": data.response_days},
            _("First answer"),
        ),
        "actions": (_("Steps carried out"), "", _("Kind of step")),
        "consents": (_("Consents given, by partner sector"), "", _("Sector")),
        "endings": (_("How the help ended"), "", _("Ending")),
        "erasures": (
            _("Dossiers erased"),
            _("They still count above: only their content was destroyed."),
            _("Erasure"),
        ),
    }


def sections(data: rules.Figures) -> list[Section]:
    texts = _texts(data)
    result = []
    for table in data.tables:
        # Bars only for the figures shown, scaled on them alone: a hidden one moves nothing.
        largest = max((r.cell.value or 0 for r in table.rows), default=0)
        lines = [
            Line(
                key=row.key,
                label=_label(table.key, row.key),
                shown=_shown(row.cell),
                exported=_exported(row.cell),
                mark=row.cell.mark.value,
                bar=round(BAR_SPACE * (row.cell.value or 0) / largest, 1) if largest else 0.0,
            )
            for row in table.rows
        ]
        title, note, head = texts[table.key]
        result.append(
            Section(
                key=table.key,
                title=title,
                note=note,
                head=head,
                lines=lines,
                total=_shown(table.total) if table.total else None,
                total_exported=_exported(table.total) if table.total else None,
            )
        )
    return result


@dataclass(frozen=True)
class Asked:
    """The months the form asked for, and either their figures or what to fix in them."""

    values: dict[str, str]
    data: rules.Figures | None
    errors: dict[str, str]


async def _asked(request: Request) -> Asked:
    params = request.query_params
    values = {name: params.get(name, "")[:MAX_PARAM] for name in ("from", "to")}
    try:
        period = rules.parse_period(values["from"], values["to"])
        data = await rules.service_figures(person_of(request), period)
    except Invalid as refusal:
        return Asked(values, None, {refusal.field: _(refusal.message)})
    return Asked(values, data, {})


def _refused(request: Request, asked: Asked) -> Response:
    """The form again, with what was typed and what to fix: no figures."""
    context: dict[str, Any] = {
        "values": asked.values,
        "errors": asked.errors,
        "data": None,
        "sections": [],
    }
    return render(request, "figures/page.html", context, status_code=422)


def _month_key(month: date) -> str:
    return month.isoformat()[:7]


@require(Role.ADMIN)
async def page(request: Request) -> Response:
    asked = await _asked(request)
    if asked.data is None:
        return _refused(request, asked)
    result = asked.data
    period = {"from": _month_key(result.period.first), "to": _month_key(result.period.last)}
    context: dict[str, Any] = {
        "values": period,
        "errors": {},
        "data": result,
        "sections": sections(result),
        # In a sentence: "from June 2025 to May 2026", "de juin 2025 à mai 2026".
        "first_month": _month_label(period["from"], capital=False),
        "last_month": _month_label(period["to"], capital=False),
        "requests_total": _shown(result.requests),
        "csv_query": urlencode(period),
        "chart_width": CHART_WIDTH,
        "row_height": ROW_HEIGHT,
        "label_line_height": LABEL_LINE_HEIGHT,
    }
    return render(request, "figures/page.html", context)


def _safe(value: str) -> str:
    # A spreadsheet would run a cell that starts like a formula.
    return "'" + value if value[:1] in {"=", "+", "-", "@", "\t", "\r"} else value


def export_csv(data: rules.Figures) -> str:
    """The figures as a spreadsheet reads them: the same marks, no name, no reference, no text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rows: list[list[str]] = [
        [_("Figure"), _("Row"), _("Number")],
        [_("Service"), data.service_name, ""],
        [_("Period"), f"{_month_key(data.period.first)} – {_month_key(data.period.last)}", ""],
        [_("Requests in the period"), _("Total"), _exported(data.requests)],
    ]
    for section in sections(data):
        for line in section.lines:
            label = line.key if section.key == "months" else line.label
            rows.append([section.title, label, line.exported])
        if section.total_exported is not None:
            rows.append([section.title, _("Total"), section.total_exported])
    rows.append([_("< 5"), _("fewer than 5, or none"), ""])
    rows.append(
        [_("hidden"), _("5 or more, hidden so that a smaller number cannot be worked out"), ""]
    )
    writer.writerows([[_safe(cell) for cell in row] for row in rows])
    return out.getvalue()


@require(Role.ADMIN)
async def export(request: Request) -> Response:
    asked = await _asked(request)
    if asked.data is None:
        return _refused(request, asked)
    result = asked.data
    name = f"figures-{_month_key(result.period.first)}-{_month_key(result.period.last)}.csv"
    return Response(
        # With a byte order mark, spreadsheets read the accents right.
        "\ufeff" + export_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


routes = [
    Route("/admin/chiffres", page, name="figures.page"),
    Route("/admin/chiffres.csv", export, name="figures.csv"),
]
