"""An open page asks, every few seconds, what is new: messages, journal lines, the header's count.

Each answer is 204 No Content when nothing is new (htmx then changes nothing), or only what is
newer than what the page says it shows. Signed out meanwhile (idle, or from another device),
the page is told to reload itself, and shows the sign-in page as a whole: never inside a list.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.domain import live, notices
from portal.models import Person, Role
from portal.pages.common import Handler, person_of, reference_of
from portal.pages.timeline import lines
from portal.security.requestline import MAX_ID
from portal.security.sessions import current_session
from portal.templating import render

SUBJECTS = (Role.YOUTH, Role.RELATIVE)
# At most a person's news: a count in a header, never a number a database cannot hold.
MAX_COUNT = 1_000_000


def polled(*roles: Role) -> Callable[[Handler], Handler]:
    """``require`` for what a page asks by itself: no session is a reload, not a redirect.

    A redirect would be followed by the browser's request and the sign-in page swapped into
    the list; ``HX-Refresh`` reloads the whole page, which then goes to sign in.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            session = await current_session(request)
            if session is None or session.second_factor_pending:
                if request.headers.get("HX-Request") == "true":
                    return Response(status_code=204, headers={"HX-Refresh": "true"})
                return RedirectResponse(request.url_for("signin"), status_code=303)
            if session.person.role not in roles:
                raise HTTPException(404)
            request.state.person = session.person
            response = await handler(request)
            # Each answer is for this page and this moment only.
            response.headers["Cache-Control"] = "no-store"
            return response

        return guarded

    return decorate


def _number(request: Request, name: str, highest: int = MAX_ID) -> int:
    """A count or an id the page sent: ASCII digits, 0 to ``highest``; anything else is 400."""
    value = request.query_params.get(name, "")
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(highest)):
        raise HTTPException(400)
    number = int(value)
    if number > highest:
        raise HTTPException(400)
    return number


async def _dossier(request: Request, subject: bool, template: str) -> Response:
    person = person_of(request)
    # Who may ask first: to anyone else, the route does not exist, whatever it is asked.
    dossier = await live.readable(person, reference_of(request), subject=subject)
    fresh = await live.newer_than(
        person, dossier, _number(request, "apres"), _number(request, "message")
    )
    if fresh is None:
        return Response(status_code=204)
    shown = lines(fresh.entries, person, subject, fresh.seen_seq, fresh.partner_names)
    last_message = fresh.messages[-1].id if fresh.messages else _number(request, "message")
    context = {
        "dossier": fresh.dossier,
        "messages": fresh.messages,
        "lines": shown,
        "after": max(fresh.newest_seq, _number(request, "apres")),
        "last_message": last_message,
        "poll_url": request.url.path,
        "from_others": any(m.author_id != person.id for m in fresh.messages),
    }
    if subject and any(line.is_new for line in shown):
        # As her page does when she opens it: what she sees is seen.
        await notices.mark_news_seen(person)
    return render(request, template, context)


@polled(*SUBJECTS)
async def subject_news(request: Request) -> Response:
    return await _dossier(request, True, "live/fresh.html")


@polled(Role.WORKER)
async def worker_news(request: Request) -> Response:
    return await _dossier(request, False, "live/fresh.html")


@polled(*SUBJECTS, Role.WORKER)
async def news_count(request: Request) -> Response:
    """The header's count of what is new, if it changed since the page showed ``vu``."""
    person: Person = person_of(request)
    shown = _number(request, "vu", MAX_COUNT)
    count = await notices.news_count(person)
    if count == shown:
        return Response(status_code=204)
    # Every page's context reads the count from here (templating.page_context).
    request.state.news = count
    return render(request, "live/_badge.html")


routes = [
    Route("/espace/{reference}/nouveau", subject_news, name="live.subject"),
    Route("/travail/dossiers/{reference}/nouveau", worker_news, name="live.worker"),
    Route("/nouveau", news_count, name="live.news"),
]
