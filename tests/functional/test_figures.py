"""The figures page and its export, as an admin sees them: counts only, nobody in them."""

from __future__ import annotations

import csv
import html
import io
import re

import httpx
from starlette.applications import Starlette

from portal.domain import ending
from portal.models import Asker, Person, Role, Service, Theme
from tests import factories
from tests.figures_data import (
    SECRET_PURPOSE,
    SECRET_STEP,
    SECRET_WORDS,
    ask_many,
    consent_to,
    follow,
    listen,
)

PAGE = "/admin/chiffres"
EXPORT = "/admin/chiffres.csv"


async def _admin(client: httpx.AsyncClient, name: str = "AMO Test") -> tuple[Service, Person]:
    service = await factories.service(name)
    worker = await factories.staff("amina", service_=service, name="Amina")
    await factories.staff("admin", Role.ADMIN, service_=service, name="Adèle")
    # Read in English, the language of the labels below (French is the default).
    client.headers["Accept-Language"] = "en"
    assert (await factories.sign_in_staff(client, "admin")).status_code == 303
    return service, worker


def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver")


def table(page: str, key: str) -> dict[str, str]:
    """A figure's table as a reader reads it: row label → what the cell says."""
    start = page.index(f'id="figure-{key}"')
    part = page[start : page.index("</section>", start)]
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th><td class="num[^"]*">([^<]*)</td>', part)
    return {html.unescape(label): html.unescape(value) for label, value in rows}


def exported(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


async def test_an_admin_reads_the_figures_with_charts_and_tables(
    client: httpx.AsyncClient,
) -> None:
    service, worker = await _admin(client)
    followed = await follow(worker, await ask_many(service, 5, [Theme.MONEY]))
    await ask_many(service, 4, [Theme.HOUSING])
    await listen(worker, followed)
    page = await client.get(PAGE)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    assert table(text, "themes")["Money"] == "5"
    assert table(text, "themes")["A place to live"] == "< 5"
    assert table(text, "months")["Total"] == "9"
    assert table(text, "actions")["Listening"] == "5"
    # A chart per table, drawn by the server: an image with a name, text labels, no script.
    assert text.count('role="img"') == text.count("<table") == 9
    assert 'aria-labelledby="chart-themes-title chart-themes-desc"' in text
    assert '<title id="chart-themes-title">Themes</title>' in text
    assert not re.search(r"\sstyle=", text) and "<script>" not in text
    # The admin's menu leads here.
    assert f'href="{PAGE}"' in text


async def test_four_read_under_5_and_five_read_5_in_the_page_and_the_export(
    client: httpx.AsyncClient,
) -> None:
    service, _ = await _admin(client)
    await ask_many(service, 4, [Theme.LEGAL])
    await ask_many(service, 5, [Theme.HEALTH])
    page = (await client.get(PAGE)).text
    assert table(page, "themes")["The law, the police, a judge"] == "< 5"
    assert table(page, "themes")["Health, well-being"] == "5"
    response = await client.get(EXPORT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    rows = exported(response.text)
    themes = {r[1]: r[2] for r in rows if r[0] == "Themes"}
    assert themes["The law, the police, a judge"] == "< 5"
    assert themes["Health, well-being"] == "5"
    # Every count in the export is 5 or more, or a mark.
    for line in rows[1:]:
        if line[2].isdigit() and line[0] != "Period":
            assert int(line[2]) >= 5, line


async def test_totals_do_not_give_a_small_row_away(client: httpx.AsyncClient) -> None:
    service, _ = await _admin(client)
    await ask_many(service, 12, [Theme.SCHOOL])
    await ask_many(service, 3, [Theme.SCHOOL], asker=Asker.RELATIVE)
    page = (await client.get(PAGE)).text
    askers = table(page, "askers")
    assert askers == {"A young person": "hidden", "A parent or a relative": "< 5", "Total": "15"}
    rows = exported((await client.get(EXPORT)).text)
    by_asker = {r[1]: r[2] for r in rows if r[0] == "Who asked"}
    assert by_asker == askers
    # In no table of the export does the total minus the rows shown leave one small row.
    sections: dict[str, list[list[str]]] = {}
    for line in rows[4:]:
        sections.setdefault(line[0], []).append(line)
    for lines in sections.values():
        total = [line[2] for line in lines if line[1] == "Total"]
        if not total or not total[0].isdigit():
            continue
        cells = [line[2] for line in lines if line[1] != "Total"]
        left = int(total[0]) - sum(int(c) for c in cells if c.isdigit())
        masked = [c for c in cells if not c.isdigit()]
        assert not (len(masked) == 1 and 0 < left < 5), lines
        if left and masked:
            assert "hidden" in masked or left >= 9, lines


async def test_nothing_about_a_person_in_the_page_or_the_export(
    client: httpx.AsyncClient,
) -> None:
    service, worker = await _admin(client)
    cpas = await factories.partner("CPAS de Namur")
    followed = await follow(worker, await ask_many(service, 6, [Theme.FAMILY]))
    await listen(worker, followed)
    await consent_to(cpas, followed)
    for item in followed[:5]:
        await ending.end_help(item.subject, item.dossier.reference, "Mon père a changé")
    page = (await client.get(PAGE)).text
    export = (await client.get(EXPORT)).text
    people = await Person.filter(role__in=[Role.YOUTH, Role.RELATIVE, Role.WORKER])
    assert people
    for text in (html.unescape(page), export):
        for item in followed:
            assert item.dossier.reference not in text
        for person in people:
            assert person.display_name not in text
            assert person.login is None or person.login not in text
        for written in (SECRET_WORDS, SECRET_STEP, SECRET_PURPOSE, "Mon père a changé"):
            assert written not in text
        assert "CPAS de Namur" not in text  # a sector, never a partner's name
    assert "Amina" not in export and "Adèle" not in export


async def test_another_services_dossiers_are_not_counted(
    client: httpx.AsyncClient,
) -> None:
    service, _ = await _admin(client)
    other = await factories.service("AMO Ailleurs")
    await ask_many(other, 8, [Theme.LEGAL])
    await ask_many(service, 5, [Theme.HEALTH])
    page = (await client.get(PAGE)).text
    assert table(page, "months")["Total"] == "5"
    assert table(page, "themes")["The law, the police, a judge"] == "< 5"
    assert "AMO Ailleurs" not in page


async def test_a_bad_period_gets_a_kind_answer_and_keeps_what_was_typed(
    client: httpx.AsyncClient,
) -> None:
    await _admin(client)
    page = await client.get(PAGE, params={"from": "mars", "to": "2026-03"})
    assert page.status_code == 422
    assert "Write the month like this: 2026-03." in page.text
    assert 'value="mars"' in page.text and 'value="2026-03"' in page.text
    assert 'aria-invalid="true"' in page.text and 'role="img"' not in page.text
    backwards = await client.get(PAGE, params={"from": "2026-02", "to": "2025-11"})
    assert backwards.status_code == 422
    assert "The first month cannot be after the last one." in backwards.text
    assert (await client.get(EXPORT, params={"from": "<script>"})).status_code == 422
    chosen = await client.get(PAGE, params={"from": "2025-11", "to": "2026-01"})
    assert chosen.status_code == 200
    assert 'value="2025-11"' in chosen.text
    assert f"{EXPORT}?from=2025-11&amp;to=2026-01" in chosen.text
    months = table(chosen.text, "months")
    assert list(months) == ["November 2025", "December 2025", "January 2026", "Total"]


async def test_only_admins_see_the_figures(client: httpx.AsyncClient, app: Starlette) -> None:
    service, _ = await _admin(client)
    await ask_many(service, 1, [Theme.SCHOOL])
    await factories.youth("lou", "Lou")
    async with _client(app) as anonymous:
        for path in (PAGE, EXPORT):
            response = await anonymous.get(path)
            assert response.status_code == 303 and response.headers["location"].endswith(
                "/connexion"
            )
    async with _client(app) as desk:
        await factories.sign_in_staff(desk, "amina")
        for path in (PAGE, EXPORT):
            assert (await desk.get(path)).status_code == 404
        assert f'href="{PAGE}"' not in (await desk.get("/travail")).text
    async with _client(app) as phone:
        assert (await factories.sign_in(phone, "lou")).status_code == 303
        for path in (PAGE, EXPORT):
            assert (await phone.get(path)).status_code == 404
