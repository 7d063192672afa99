"""The worker's dossier page cut down to the throughput goal's list, served beside the portal.

The goal's page (bench/RESULTS.md) looks the session up, reads the dossier and its latest 20
journal entries, journals the read and renders them. The worker's dossier page does all that
and shows much more: the request, the messages, the steps, the colleagues and partners to
choose from, and seven forms. This page keeps only the header and the journal, and goes
through what every signed-in page of the portal goes through (its middleware, the count of
news in the header, its layout) with the portal's own functions and templates. The bench can
then tell how much of the distance to the goal is the worker's page's content and how much is
what any journaled page of the portal costs. It is never part of the portal: only the bench
serves it, on a server of its own, on the portal's data::

    python -m bench.floor   (with the portal's environment: PORTAL_VAR_DIR, PORT and the rest)
"""

from __future__ import annotations

import sys
from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.__main__ import run
from portal.app import create_app
from portal.domain import dossiers, journal
from portal.domain.access import readable_dossier
from portal.models import Role
from portal.pages.common import person_of, reference_of, require
from portal.pages.timeline import lines
from portal.settings import Settings, load_settings
from portal.templating import render

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
PATH = "/banc/journal/{reference}"


@require(Role.WORKER)
async def journal_only(request: Request) -> Response:
    person = person_of(request)
    dossier = await readable_dossier(person, reference_of(request))
    await journal.record_look(dossier, "dossier.read", person)
    page = await dossiers.read_journal_page(dossier, 1)
    timeline = lines(page.entries, person, False, 0, page.partner_names)
    context = {
        "dossier": dossier,
        "view": {"page": 1, "has_more": page.has_more},
        "timeline": timeline,
    }
    return render(request, "journal_only.html", context)


def create_floor_app(
    settings: Settings | None = None, *, manage_database: bool = True
) -> Starlette:
    """The portal as ``python -m portal run`` serves it, with the page above added."""
    app = create_app(settings, manage_database=manage_database)
    # The middleware is built around the router at the first request, so it wraps this one.
    app.router.routes.insert(0, Route(PATH, journal_only, name="bench.journal_only"))
    env = app.state.templates.env
    env.loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(TEMPLATES_DIR), env.loader])
    return app


def main() -> int:
    return run(load_settings(), app="bench.floor:create_floor_app", factory=True)


if __name__ == "__main__":
    sys.exit(main())
